//! Child processes observed through files and bounded by deadlines.
//!
//! Output goes to anonymous temporary files rather than pipes: a chatty
//! child cannot block on a full pipe while the parent is busy polling it
//! (or sleeping until the moment it means to kill it). Every wait has a
//! deadline, so nothing here waits forever on a wedged child.

use lockstep_scheduler::clock::Stopwatch;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A running child whose stdout and stderr go to files.
#[derive(Debug)]
pub(crate) struct CapturedChild {
    child: Child,
    stdout: File,
    stderr: File,
    started: Stopwatch,
}

/// How a wait ended.
#[derive(Debug)]
pub(crate) enum Waited {
    Exited(ExitStatus),
    /// The deadline passed first; the child is still running.
    StillRunning,
}

impl CapturedChild {
    /// Spawns `command` with stdin empty and stdout and stderr captured.
    pub fn spawn(command: &mut Command) -> io::Result<CapturedChild> {
        let stdout = tempfile::tempfile()?;
        let stderr = tempfile::tempfile()?;
        let child = command.stdin(Stdio::null()).stdout(stdout.try_clone()?).stderr(stderr.try_clone()?).spawn()?;
        Ok(CapturedChild { child, stdout, stderr, started: Stopwatch::start() })
    }

    /// Time since the child was spawned.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until the child exits or `deadline` (counted from the spawn)
    /// has passed, whichever comes first.
    pub fn wait_until(&mut self, deadline: Duration) -> io::Result<Waited> {
        // Poll, backing off from 1 ms to 10 ms: short programs are seen to
        // end promptly, long builds cost little.
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Waited::Exited(status));
            }
            let elapsed = self.elapsed();
            if elapsed >= deadline {
                return Ok(Waited::StillRunning);
            }
            std::thread::sleep(pause.min(deadline - elapsed));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Sends SIGKILL (on unix; `Child::kill` is that signal) and reaps the
    /// child. A child that already exited is just reaped.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        // Fails only if the child was already reaped, which `wait` reports.
        let _ = self.child.kill();
        self.child.wait()
    }

    /// What the child wrote, once it has ended.
    pub fn output(mut self) -> io::Result<(Vec<u8>, Vec<u8>)> {
        Ok((read_from_start(&mut self.stdout)?, read_from_start(&mut self.stderr)?))
    }
}

fn read_from_start(file: &mut File) -> io::Result<Vec<u8>> {
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The signal that ended a process, if one did.
#[cfg(unix)]
pub(crate) fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
pub(crate) fn signal_of(_status: &ExitStatus) -> Option<i32> {
    None
}
