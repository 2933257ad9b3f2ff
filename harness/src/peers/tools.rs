//! The contestants: lockstep, make with a C compiler, cargo with rustc's incremental compilation.
//!
//! Each tool owns one directory per profile, holding its rendering of the program and its build state, and is
//! driven the way its users drive it: one command per build, timed from spawn to exit, output discarded.

use super::workload::{sync_files, Files};
use crate::program::c::render_c_project;
use crate::program::model::Program;
use crate::program::rust::render_rust_crate;
use lockstep_core::link::on_path;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debug (no optimisation) or release (lockstep `--release`, `-O2`, cargo `--release`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// What a tool is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The lockstep executable under test.
    Lockstep { exe: PathBuf },
    /// `make` over the C project, with this C compiler.
    Make { cc: String },
    /// `cargo build` over the Rust crate.
    Cargo,
}

/// One tool at one profile, in its own directory.
#[derive(Debug)]
pub struct Tool {
    pub name: String,
    pub kind: Kind,
    pub profile: Profile,
    pub dir: PathBuf,
    /// `-fuse-ld=NAME` for every link, or `None` for the driver's own linker.
    pub ld: Option<String>,
    pub jobs: usize,
    /// What was last written to `dir`.
    written: Files,
}

/// A failed build or run, with what the tool said.
pub type ToolError = String;

impl Tool {
    pub fn new(name: &str, kind: Kind, profile: Profile, root: &Path, ld: Option<String>, jobs: usize) -> Tool {
        let dir = root.join(format!("{}-{}", name.replace([' ', '+'], ""), profile.name()));
        Tool { name: name.to_string(), kind, profile, dir, ld, jobs, written: Vec::new() }
    }

    /// Renders `program` in this tool's language and writes the files that changed; how many.
    pub fn write(&mut self, program: &Program) -> Result<usize, ToolError> {
        let files: Files = match &self.kind {
            Kind::Lockstep { .. } => program.files().into_iter().map(|(m, text)| (format!("{m}.lks"), text)).collect(),
            Kind::Make { .. } => render_c_project(program).ok_or("the program has no C rendering")?,
            Kind::Cargo => render_rust_crate(program, "peer").ok_or("the program has no Rust rendering")?,
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let n = sync_files(&self.dir, &files, &self.written).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        self.written = files;
        Ok(n)
    }

    /// Removes every build product, so the next build is clean (sources stay).
    pub fn wipe(&self) -> Result<(), ToolError> {
        let remove_dir = |p: PathBuf| match std::fs::remove_dir_all(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", p.display())),
            _ => Ok(()),
        };
        match &self.kind {
            Kind::Lockstep { .. } => remove_dir(self.dir.join(".lockstep"))?,
            Kind::Cargo => remove_dir(self.dir.join("target"))?,
            Kind::Make { .. } => {
                let entries = std::fs::read_dir(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "o" || e == "d") {
                        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    }
                }
            }
        }
        match std::fs::remove_file(self.executable()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", self.executable().display())),
            _ => Ok(()),
        }
    }

    /// Where the built program is.
    pub fn executable(&self) -> PathBuf {
        match &self.kind {
            Kind::Lockstep { .. } | Kind::Make { .. } => self.dir.join("program"),
            Kind::Cargo => self.dir.join("target").join(self.profile.name()).join("peer"),
        }
    }

    /// The build command, ready to spawn.
    pub fn command(&self, jobs: usize) -> Command {
        let fuse_ld = self.ld.as_ref().map(|ld| format!("-fuse-ld={ld}"));
        match &self.kind {
            Kind::Lockstep { exe } => {
                let mut c = Command::new(exe);
                c.arg("build").arg(&self.dir).arg("-q").arg("-j").arg(jobs.to_string());
                c.arg("-o").arg(self.executable());
                c.arg("--ld").arg(self.ld.as_deref().unwrap_or("default"));
                if self.profile == Profile::Release {
                    c.arg("--release");
                }
                // Our own make jobserver (if we run under one) is not the build's to share.
                c.env_remove("MAKEFLAGS").env_remove("CARGO_MAKEFLAGS");
                c
            }
            Kind::Make { cc } => {
                let mut c = Command::new("make");
                c.arg("-C").arg(&self.dir).arg("-s").arg(format!("-j{jobs}"));
                c.arg(format!("CC={cc}"));
                c.arg(match self.profile {
                    Profile::Debug => "CFLAGS=-O0",
                    Profile::Release => "CFLAGS=-O2",
                });
                c.arg(format!("LDFLAGS={}", fuse_ld.unwrap_or_default()));
                c.env_remove("MAKEFLAGS").env_remove("MFLAGS").env_remove("CARGO_MAKEFLAGS");
                c
            }
            Kind::Cargo => {
                let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                c.arg("build").arg("-q").arg("--offline").arg("-j").arg(jobs.to_string());
                c.arg("--manifest-path").arg(self.dir.join("Cargo.toml"));
                if self.profile == Profile::Release {
                    c.arg("--release");
                }
                c.env("CARGO_TARGET_DIR", self.dir.join("target"));
                // The crate is built as its users would: rustc's defaults (incremental in dev), nothing from an
                // enclosing cargo invocation.
                for var in ["CARGO_INCREMENTAL", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_WRAPPER", "CARGO_BUILD_TARGET"] {
                    c.env_remove(var);
                }
                c.env_remove("MAKEFLAGS").env_remove("CARGO_MAKEFLAGS");
                c.env("RUSTFLAGS", fuse_ld.map(|f| format!("-Clink-arg={f}")).unwrap_or_default());
                c
            }
        }
    }

    /// Runs one build with `jobs` workers; its wall time.
    pub fn build(&self, jobs: usize) -> Result<Duration, ToolError> {
        let mut command = self.command(jobs);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let start = Instant::now();
        let out = command.output().map_err(|e| format!("{}: cannot run {command:?}: {e}", self.name))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} ({}) failed: {command:?}: {}\n{}{}",
                self.name,
                self.profile.name(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(elapsed)
    }
}

/// The first of `names` that is an executable on `PATH`.
pub fn first_on_path(names: &[&str]) -> Option<String> {
    names.iter().find(|n| on_path(n)).map(|n| n.to_string())
}
