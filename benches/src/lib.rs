//! Shared setup for lockstep's criterion benches (`benches/*.rs`): the
//! generated workload, a build helper, and the regression gate ([`gate`],
//! run as the `bench-gate` binary).
//!
//! The workload size comes from `LOCKSTEP_BENCH_SIZE` (`MODULESxFUNCTIONS`,
//! default `50x40`, the size the acceptance figures are quoted at; `large`
//! is 200x50 and is never chosen unless asked for, since a clean build of
//! it takes most of a minute on the 2-core CI machines). CI runs the benches
//! once each (`cargo test --benches`) at a small size.
//!
//! # Regression gate
//!
//! Criterion keeps named baselines; `bench-gate` turns a comparison with one
//! into an exit status:
//!
//! ```sh
//! cargo bench -p lockstep-benches --bench cache -- --save-baseline before   # on the old code
//! cargo bench -p lockstep-benches --bench cache -- --baseline before        # on the new code
//! cargo run -p lockstep-benches --bin bench-gate -- --baseline before [--threshold 10] [--filter revert/]
//! ```
//!
//! The gate compares the median of the latest run (criterion's `new/`) with
//! the baseline's for every benchmark, prints a table, and exits 1 if any
//! median grew by more than the threshold (percent, default 10). Give the
//! same filter to both runs and to the gate: a benchmark not rerun since the
//! baseline was saved is reported as stale, not compared.
//!
//! `LOCKSTEP_BENCH_PLANT_SLOWDOWN=PERCENT` makes [`build`] that much slower,
//! to check that the gate catches a regression; `benches/gate-demo` does so
//! end to end.

pub mod gate;

use lockstep_core::driver::{self, BuildOptions};
use lockstep_core::engine::report::BuildReport;
use lockstep_harness::program::{generate, GenConfig};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `(modules, functions per module)` from `LOCKSTEP_BENCH_SIZE`.
pub fn workload_size() -> (usize, usize) {
    let value = std::env::var("LOCKSTEP_BENCH_SIZE").unwrap_or_default();
    if value.trim() == "large" {
        return (200, 50);
    }
    let (m, f) = value.split_once('x').unwrap_or(("", ""));
    match (m.trim().parse(), f.trim().parse()) {
        (Ok(m), Ok(f)) => (m, f),
        _ => (50, 40),
    }
}

/// A generated project in a temporary directory.
#[derive(Debug)]
pub struct Workload {
    pub dir: tempfile::TempDir,
    pub modules: usize,
    pub functions: usize,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        let (modules, functions) = workload_size();
        let dir = tempfile::tempdir().expect("tempdir");
        generate(seed, &GenConfig::bench(modules, functions)).write_lks(&dir.path().join("proj")).expect("write");
        Workload { dir, modules, functions }
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("proj")
    }

    pub fn options(&self, tag: &str) -> BuildOptions {
        let mut o = BuildOptions::new(self.project());
        o.cache_dir = Some(self.dir.path().join(format!("cache-{tag}")));
        o.output = Some(self.dir.path().join(format!("exe-{tag}")));
        o
    }

    /// The wall time of a clean build of state `tag`, its options changed by
    /// `configure` first.
    pub fn time_clean_build(&self, tag: &str, configure: impl Fn(&mut BuildOptions)) -> Duration {
        self.forget(tag);
        let mut o = self.options(tag);
        configure(&mut o);
        let start = Instant::now();
        build(&o);
        start.elapsed()
    }

    /// Removes the cache of `tag`, so its next build is clean.
    pub fn forget(&self, tag: &str) {
        let _ = std::fs::remove_dir_all(self.dir.path().join(format!("cache-{tag}")));
        let _ = std::fs::remove_dir_all(self.project().join(".lockstep"));
    }

    /// The module [`Workload::edit_one_body`] edits, and where its
    /// unedited text is kept.
    fn edited_module(&self) -> (PathBuf, PathBuf) {
        let mut modules: Vec<PathBuf> = std::fs::read_dir(self.project())
            .expect("project")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "lks") && !p.ends_with("main.lks"))
            .collect();
        modules.sort();
        let path = modules[modules.len() / 2].clone();
        let module = path.file_stem().expect("stem").to_string_lossy().into_owned();
        let original_path = self.dir.path().join(format!("{module}.lks.orig"));
        (path, original_path)
    }

    /// Makes a one-function body edit in the middle module: the first
    /// function body starts with `print(VARIANT);`. Each call writes the
    /// module afresh from its generated text with a new `variant`, so every
    /// edit is a real change to exactly one function.
    pub fn edit_one_body(&self, variant: u64) {
        let (path, original_path) = self.edited_module();
        if !original_path.exists() {
            std::fs::copy(&path, &original_path).expect("keep the original");
        }
        let text = std::fs::read_to_string(&original_path).expect("read module");
        let open = text.find("fn ").and_then(|at| text[at..].find('{').map(|o| at + o + 1)).expect("a function body");
        let edited = format!("{} print({variant});{}", &text[..open], &text[open..]);
        std::fs::write(&path, edited).expect("write module");
    }

    /// Undoes [`Workload::edit_one_body`]: the module's generated text,
    /// byte for byte, so the next build sees the original content hashes.
    pub fn revert_edit(&self) {
        let (path, original_path) = self.edited_module();
        if original_path.exists() {
            std::fs::copy(&original_path, &path).expect("restore the original");
        }
    }
}

/// `LOCKSTEP_BENCH_PLANT_SLOWDOWN` as a fraction; read once, so a bench
/// pays for the lookup only at its first build.
fn planted_slowdown() -> f64 {
    static PLANT: OnceLock<f64> = OnceLock::new();
    *PLANT.get_or_init(|| match std::env::var("LOCKSTEP_BENCH_PLANT_SLOWDOWN") {
        Err(_) => 0.0,
        // A typo must not quietly measure an unplanted run: the gate would
        // then "miss" a regression that was never there.
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(percent) if percent >= 0.0 && percent.is_finite() => percent / 100.0,
            _ => panic!("LOCKSTEP_BENCH_PLANT_SLOWDOWN: `{v}` is not a percentage"),
        },
    })
}

/// Burns `extra` of CPU time on this thread. A spin rather than a sleep:
/// a planted regression should look like slower code, which keeps a core
/// busy, not like waiting, which frees it for the codegen workers.
fn spin_for(extra: Duration) {
    let until = Instant::now() + extra;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

pub fn build(options: &BuildOptions) -> BuildReport {
    let start = Instant::now();
    let report = driver::build(options).unwrap_or_else(|e| panic!("benchmark build failed: {e}"));
    let plant = planted_slowdown();
    if plant > 0.0 {
        spin_for(start.elapsed().mul_f64(plant));
    }
    report
}
