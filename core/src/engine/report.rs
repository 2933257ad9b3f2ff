//! The build report: what a build did, as JSON (`--report FILE`).
//!
//! Written for every build, successful or not. Lists are sorted, so two
//! builds that did the same work write the same report (except `output`,
//! which is where the user asked for the executable).

use serde::Serialize;

/// Lookups in one cache layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HitMiss {
    pub hits: usize,
    pub misses: usize,
}

/// Something that failed: a function or unit (as far as known) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub error: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    /// `"ok"` or `"failed"`.
    pub status: &'static str,
    /// Functions in the program (module initialisers not counted).
    pub functions: usize,
    /// Layer 1 lookups, one per function.
    pub ir: HitMiss,
    /// Layer 2 lookups, one per codegen unit (the entry object not counted).
    pub objects: HitMiss,
    /// Functions whose IR was recomputed, `module::function`, sorted.
    pub recompiled_functions: Vec<String>,
    /// Modules whose initialiser (all global initialisers: module-level
    /// state, which function-level tracking cannot split) was recomputed.
    pub recompiled_initializers: Vec<String>,
    /// Codegen units whose artifact was regenerated, sorted.
    pub codegened_units: Vec<String>,
    /// Whether the final link ran.
    pub relinked: bool,
    /// Absolute path of the executable.
    pub output: Option<String>,
    pub failed: Vec<Failure>,
    /// Steps not run because something they need failed, by plan label
    /// (`link(m3)`, `link(program)`), sorted.
    pub skipped: Vec<String>,
    /// Cache entries that were present but unusable (each was a miss).
    pub cache_problems: Vec<String>,
    /// True when the sources and options matched the previous build and
    /// the executable was intact: nothing was parsed, nothing rebuilt.
    pub up_to_date: bool,
    /// Modules the front end parsed and checked in this build (the others
    /// were unchanged and restored from their summaries).
    pub modules_checked: usize,
    /// The codegen unit partitioning used (`module` or `function`).
    pub cgu: &'static str,
    /// `--explain`'s answer, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<String>,
    /// The fuzzed scheduler's recorded schedule, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How many steps of that schedule departed from the default event
    /// (what `fuzz::shrink` minimises), when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemptions: Option<usize>,
    /// What the remote cache tier did, when one was configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::engine::remote::RemoteReport>,
}

impl BuildReport {
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"status\":\"failed\",\"error\":\"{e}\"}}"));
        text.push('\n');
        text
    }
}
