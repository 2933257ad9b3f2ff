//! The system linker driver.
//!
//! lockstep links through the C compiler driver (`cc` by default, or
//! `LOCKSTEP_CC`, or `--linker`), which knows where the C runtime and libc
//! live on this system. Inputs are always passed in the canonical order the
//! caller gives, and the command runs with a fixed, minimal environment for
//! locale-dependent messages, so the same objects always link to the same
//! bytes. A missing or failing linker is reported with its full command line
//! and standard error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable that overrides the linker driver.
pub const LINKER_ENV: &str = "LOCKSTEP_CC";

/// A C compiler driver used as the linker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linker {
    pub program: PathBuf,
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
    /// `explicit` (a `--linker` flag) wins, then `LOCKSTEP_CC`, then `cc`.
    pub fn choose(explicit: Option<&Path>) -> Linker {
        let program = match explicit {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os(LINKER_ENV)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from("cc"), PathBuf::from),
        };
        Linker { program }
    }

    /// Links `inputs` (objects, in this exact order) into an executable
    /// whose GNU build ID is `build_id` (hex, at most 40 digits).
    ///
    /// The caller derives the build ID from everything that reaches the
    /// link, so it identifies the executable as well as the linker's own
    /// (a SHA-1 over the whole output, which costs a linker about a third
    /// of its time on a debug build) would, and costs nothing.
    pub fn link_executable(&self, inputs: &[PathBuf], output: &Path, build_id: &str) -> Result<(), LinkError> {
        let mut args: Vec<OsString> = vec![format!("-Wl,--build-id=0x{build_id}").into(), "-o".into(), output.into()];
        args.extend(inputs.iter().map(OsString::from));
        self.run(args)
    }

    /// Merges `inputs` into one relocatable object (`ld -r` through the
    /// driver), keeping every symbol.
    pub fn partial_link(&self, inputs: &[PathBuf], output: &Path) -> Result<(), LinkError> {
        let mut args: Vec<OsString> = vec!["-r".into(), "-nostdlib".into(), "-o".into(), output.into()];
        args.extend(inputs.iter().map(OsString::from));
        self.run(args)
    }

    fn run(&self, args: Vec<OsString>) -> Result<(), LinkError> {
        let command = std::iter::once(self.program.as_os_str())
            .chain(args.iter().map(|a| a.as_os_str()))
            .map(quote)
            .collect::<Vec<_>>()
            .join(" ");
        let result = Command::new(&self.program).args(&args).env("LC_ALL", "C").output();
        match result {
            Err(e) => Err(LinkError {
                command,
                detail: format!("cannot run `{}`: {e}", self.program.display()),
                status: None,
            }),
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(LinkError {
                command,
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
                status: out.status.code(),
            }),
        }
    }
}
