//! The system linker driver.
//!
//! lockstep links through the C compiler driver (`cc` by default, or
//! `LOCKSTEP_CC`, or `--linker`), which knows where the C runtime and libc
//! live on this system. Inputs are always passed in the canonical order the
//! caller gives, and the command runs with a fixed, minimal environment for
//! locale-dependent messages, so the same objects always link to the same
//! bytes. A missing or failing linker is reported with its full command line
//! and standard error.
//!
//! The driver runs a linker of its choice; `-fuse-ld=NAME` picks another.
//! With the default driver, lockstep asks for the fastest one the system has,
//! as measured on the 2-core machines CI runs on: gold, then lld, then mold
//! (each if `ld.NAME` is on `PATH`), and otherwise the driver's own (GNU
//! ld). Linking the 4 MB debug executable of 2000 functions, median of 9:
//! gold 31.7 ms, lld 14 43.8, GNU ld 48.4, mold 1.10 60.0 (mold's threads
//! cost more than they save on two cores; with many cores it is the one to
//! pick, with `--ld mold`). A body edit is mostly link time. `--ld NAME` (or `LOCKSTEP_LD`) chooses explicitly;
//! `--ld default` keeps the driver's own. The choice is part of every key
//! that covers linking, so switching linkers relinks.
//!
//! A build that has a work directory runs the linker straight, with the
//! command line the driver resolved once ([`direct`]), and falls back to the
//! driver when that is not possible.

pub mod direct;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable that overrides the linker driver.
pub const LINKER_ENV: &str = "LOCKSTEP_CC";

/// Environment variable that chooses the linker the driver runs.
pub const LD_ENV: &str = "LOCKSTEP_LD";

/// The linkers the default driver is asked for, fastest first (on two cores).
pub const PREFERRED_LDS: [&str; 3] = ["gold", "lld", "mold"];

/// A C compiler driver used as the linker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linker {
    pub program: PathBuf,
    /// The linker the driver runs (`-fuse-ld=NAME`); `None` for its own.
    pub ld: Option<String>,
    /// Where the linker command the driver resolves to is remembered
    /// between builds, so links skip the driver ([`direct`]); `None` links
    /// through the driver every time.
    pub remember_in: Option<PathBuf>,
}

/// A link that did not produce its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkError {
    /// The command line, shell-quoted, exactly as run.
    pub command: String,
    /// What went wrong: the linker's stderr, or why it could not start.
    pub detail: String,
    pub status: Option<i32>,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(code) => write!(f, "linking failed (exit status {code})")?,
            None => write!(f, "linking failed")?,
        }
        write!(f, "\n  command: {}", self.command)?;
        let detail = self.detail.trim_end();
        if !detail.is_empty() {
            write!(f, "\n  {}", detail.replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

impl std::error::Error for LinkError {}

fn quote(arg: &std::ffi::OsStr) -> String {
    let s = arg.to_string_lossy();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=+,:@".contains(c)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Linker {
    /// The driver: `explicit` (a `--linker` flag) wins, then
    /// `LOCKSTEP_CC`, then `cc`. The linker it runs: `ld` (an `--ld` flag),
    /// then `LOCKSTEP_LD`, then, for the default driver only (another may
    /// not know `-fuse-ld`), the first of [`PREFERRED_LDS`] on `PATH`.
    /// `default` (or empty) means the driver's own.
    pub fn choose(explicit: Option<&Path>, ld: Option<&str>) -> Linker {
        let chosen_driver = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(LINKER_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
        let ld = match ld.map(str::to_string).or_else(|| std::env::var(LD_ENV).ok()) {
            Some(name) => Some(name).filter(|n| !n.is_empty() && n != "default"),
            None if chosen_driver.is_none() => {
                PREFERRED_LDS.iter().find(|n| on_path(&format!("ld.{n}"))).map(|n| n.to_string())
            }
            None => None,
        };
        Linker { program: chosen_driver.unwrap_or_else(|| PathBuf::from("cc")), ld, remember_in: None }
    }

    /// This linker, running the linker straight with the command its driver
    /// resolves to, remembered in `dir` ([`direct`]).
    pub fn remembering_in(self, dir: PathBuf) -> Linker {
        Linker { remember_in: Some(dir), ..self }
    }

    /// What identifies this linker in keys: the driver and the linker it runs.
    pub fn identity(&self) -> Vec<u8> {
        let mut id = self.program.as_os_str().as_encoded_bytes().to_vec();
        if let Some(ld) = &self.ld {
            id.extend_from_slice(b"\0-fuse-ld=");
            id.extend_from_slice(ld.as_bytes());
        }
        id
    }

    /// The driver's arguments that choose the linker.
    fn ld_args(&self) -> Vec<OsString> {
        self.ld.iter().map(|ld| OsString::from(format!("-fuse-ld={ld}"))).collect()
    }

    /// Links `inputs` (objects, in this exact order) into an executable
    /// whose GNU build ID is `build_id` (hex, at most 40 digits).
    ///
    /// The caller derives the build ID from everything that reaches the
    /// link, so it identifies the executable as well as the linker's own
    /// (a SHA-1 over the whole output, which costs a linker about a third
    /// of its time on a debug build) would, and costs nothing.
    ///
    /// With a directory to remember it in, the link runs the linker straight
    /// ([`direct`]); if that fails, the driver links, and its report is the
    /// one returned.
    pub fn link_executable(&self, inputs: &[PathBuf], output: &Path, build_id: &str) -> Result<(), LinkError> {
        if let Some(dir) = &self.remember_in {
            if let Some(command) = direct::command_for(self, dir) {
                let (program, args) = command.instantiate(inputs, output, build_id);
                if run(&program, args).is_ok() {
                    return Ok(());
                }
                direct::forget(self, dir);
            }
        }
        let mut args = self.ld_args();
        args.extend([format!("-Wl,--build-id=0x{build_id}").into(), "-o".into(), output.into()]);
        args.extend(inputs.iter().map(OsString::from));
        self.run(args)
    }

    /// Merges `inputs` into one relocatable object (`ld -r` through the
    /// driver), keeping every symbol.
    pub fn partial_link(&self, inputs: &[PathBuf], output: &Path) -> Result<(), LinkError> {
        let mut args = self.ld_args();
        args.extend(["-r".into(), "-nostdlib".into(), "-o".into(), output.into()]);
        args.extend(inputs.iter().map(OsString::from));
        self.run(args)
    }

    fn run(&self, args: Vec<OsString>) -> Result<(), LinkError> {
        run(&self.program, args)
    }
}

/// Runs `program` with `args` in the linker's fixed environment.
fn run(program: &Path, args: Vec<OsString>) -> Result<(), LinkError> {
    let command = std::iter::once(program.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    match Command::new(program).args(&args).env("LC_ALL", "C").output() {
        Err(e) => Err(LinkError { command, detail: format!("cannot run `{}`: {e}", program.display()), status: None }),
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(LinkError {
            command,
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status.code(),
        }),
    }
}

/// Whether an executable file `name` is in one of `PATH`'s directories.
pub fn on_path(name: &str) -> bool {
    find_on_path(name).is_some()
}

/// The first executable file `name` in `PATH`'s directories.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && is_executable(&m)))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}
