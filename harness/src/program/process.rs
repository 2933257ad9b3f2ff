//! A rendered program on disk: its `.lks` project and its C translation, compiled and run by gcc.

use super::model::Program;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One generated program: its `.lks` modules and the equivalent C program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedProgram {
    /// The seed it was generated from.
    pub seed: u64,
    /// `(module name, source)`, imported modules before importers, `main` last.
    pub files: Vec<(String, String)>,
    /// A single C11 translation unit with the same stdout bytes and exit status.
    pub c_source: String,
}

impl GeneratedProgram {
    /// Renders `program`, generated from `seed`.
    pub fn render(seed: u64, program: &Program) -> GeneratedProgram {
        let title = format!("lockstep_harness::program seed {seed}");
        let c_source = super::c::render_c(program, &title).expect("a generated program always translates");
        GeneratedProgram { seed, files: program.files(), c_source }
    }
}

impl GeneratedProgram {
    /// Writes every module as `DIR/NAME.lks` (creating `dir`), so `dir` is a lockstep project.
    pub fn write_lks(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        for (name, text) in &self.files {
            fs::write(dir.join(format!("{name}.lks")), text)?;
        }
        Ok(())
    }

    /// Writes the C translation to `path`.
    pub fn write_c(&self, path: &Path) -> io::Result<()> {
        fs::write(path, &self.c_source)
    }

    /// The source of module `name`, if there is one.
    pub fn module(&self, name: &str) -> Option<&str> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, s)| s.as_str())
    }
}

/// Compiles the C translation with `$CC` (default `cc`) `-O1 -w` in `workdir` and runs it with a 20 s limit.
///
/// Returns the program's stdout, stderr and exit status. Compile failures, timeouts and deaths by signal are
/// errors, because the oracle itself must never misbehave.
pub fn run_c_oracle(program: &GeneratedProgram, workdir: &Path) -> io::Result<(Vec<u8>, Vec<u8>, i32)> {
    let exe = compile_c_oracle(program, workdir)?;
    run_with_timeout(&exe, workdir, Duration::from_secs(20))
}

/// Writes `workdir/oracle.c` and compiles it with `$CC` (default `cc`) `-O1 -w` into `workdir/oracle`.
pub fn compile_c_oracle(program: &GeneratedProgram, workdir: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(workdir)?;
    let c_path = workdir.join("oracle.c");
    let exe = workdir.join("oracle");
    program.write_c(&c_path)?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc).arg("-O1").arg("-w").arg("-o").arg(&exe).arg(&c_path).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cc} failed on {}: {}",
            c_path.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(exe)
}

/// Runs `exe` (no arguments, stdin empty) and returns its stdout, stderr and exit status; it suits the
/// lockstep-built executable as well as the oracle, so both are observed the same way.
///
/// The outputs go through files in `workdir` rather than pipes, so a chatty program cannot block on a full
/// pipe while this polls. Running over `timeout` (the child is killed and reaped) and death by a signal are
/// errors.
pub fn run_with_timeout(exe: &Path, workdir: &Path, timeout: Duration) -> io::Result<(Vec<u8>, Vec<u8>, i32)> {
    fs::create_dir_all(workdir)?;
    let stem = exe.file_name().map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let stdout_path = workdir.join(format!("{stem}.stdout"));
    let stderr_path = workdir.join(format!("{stem}.stderr"));
    let mut child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path)?)
        .stderr(fs::File::create(&stderr_path)?)
        .spawn()?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            // Only our own child is killed; the error reports the timeout.
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{} ran over {timeout:?}", exe.display())));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let code = status.code().ok_or_else(|| io::Error::other(format!("{} died: {status}", exe.display())))?;
    Ok((fs::read(&stdout_path)?, fs::read(&stderr_path)?, code))
}
