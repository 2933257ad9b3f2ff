//! The oracles a verify step is judged by, and what a failure says.

use std::fmt;

/// Each check `lockstep verify` makes, cheapest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Oracle {
    /// A valid program builds (an engine error or panic on one is a failure of its own).
    Build,
    /// The reported recompiled functions and initialisers are the predicted ones; nothing-changed builds
    /// do not relink.
    Precision,
    /// The incremental executable and every staged object equal a clean build's, byte for byte.
    CleanEquality,
    /// The executable's stdout and exit status equal the MIR interpreter's and gcc's.
    Behaviour,
    /// A build under a fuzzed schedule gives the same bytes as the `-j1` clean build.
    Schedule,
    /// `--verify-cache` passes: every cache hit recompiles to the same bytes.
    VerifyCache,
    /// A broken program is rejected with `FILE:LINE:COL: error:` and the last good executable survives.
    Diagnostics,
    /// Faults (injected codegen failure, a killed build, damage, a race) neither panic nor wedge the tool,
    /// and are reported as what they are.
    Faults,
}

impl Oracle {
    pub const ALL: [Oracle; 8] = [
        Oracle::Build,
        Oracle::Precision,
        Oracle::CleanEquality,
        Oracle::Behaviour,
        Oracle::Schedule,
        Oracle::VerifyCache,
        Oracle::Diagnostics,
        Oracle::Faults,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Oracle::Build => "build",
            Oracle::Precision => "precision",
            Oracle::CleanEquality => "clean-equality",
            Oracle::Behaviour => "behaviour",
            Oracle::Schedule => "schedule",
            Oracle::VerifyCache => "verify-cache",
            Oracle::Diagnostics => "diagnostics",
            Oracle::Faults => "faults",
        }
    }

    pub fn parse(text: &str) -> Option<Oracle> {
        Oracle::ALL.into_iter().find(|o| o.name() == text)
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An oracle that fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub oracle: Oracle,
    /// The build step it fired on: 0 is the first build of the starting program, then one per intent (two
    /// for a broken build and its fix).
    pub step: usize,
    /// The intent being carried out (`None`: the first build).
    pub intent: Option<usize>,
    /// What the intent did, in words (e.g. "body of alpha::calc3: result + 5").
    pub action: String,
    /// The smallest difference that shows it.
    pub detail: String,
    /// For a schedule failure: the recorded schedule of the failing build, and its preemptions.
    pub schedule: Option<String>,
    pub preemptions: Option<usize>,
}

impl Failure {
    /// Whether `other` is the same failure for a shrinker: the same oracle.
    pub fn same_kind(&self, other: &Failure) -> bool {
        self.oracle == other.oracle
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oracle `{}` failed at step {} ({}): {}", self.oracle, self.step, self.action, self.detail)
    }
}
