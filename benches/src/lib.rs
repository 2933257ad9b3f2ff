//! Shared setup for lockstep's criterion benches (`benches/*.rs`): the
//! generated workload and a build helper.
//!
//! The workload size comes from `LOCKSTEP_BENCH_SIZE` (`MODULESxFUNCTIONS`,
//! default `50x40`, the size the acceptance figures are quoted at). CI runs
//! the benches once each (`cargo test --benches`) at a small size.

use lockstep_core::driver::{self, BuildOptions};
use lockstep_core::engine::report::BuildReport;
use lockstep_harness::program::{generate, GenConfig};
use std::path::PathBuf;

/// `(modules, functions per module)` from `LOCKSTEP_BENCH_SIZE`.
pub fn workload_size() -> (usize, usize) {
    std::env::var("LOCKSTEP_BENCH_SIZE")
        .ok()
        .and_then(|v| {
            let (m, f) = v.split_once('x')?;
            Some((m.trim().parse().ok()?, f.trim().parse().ok()?))
        })
        .unwrap_or((50, 40))
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

    /// Removes the cache of `tag`, so its next build is clean.
    pub fn forget(&self, tag: &str) {
        let _ = std::fs::remove_dir_all(self.dir.path().join(format!("cache-{tag}")));
        let _ = std::fs::remove_dir_all(self.project().join(".lockstep"));
    }

    /// Makes a one-function body edit in the middle module: the first
    /// function body starts with `print(VARIANT);`. Each call writes the
    /// module afresh from its generated text with a new `variant`, so every
    /// edit is a real change to exactly one function.
    pub fn edit_one_body(&self, variant: u64) {
        let mut modules: Vec<PathBuf> = std::fs::read_dir(self.project())
            .expect("project")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "lks") && !p.ends_with("main.lks"))
            .collect();
        modules.sort();
        let path = modules[modules.len() / 2].clone();
        let module = path.file_stem().expect("stem").to_string_lossy().into_owned();
        let original_path = self.dir.path().join(format!("{module}.lks.orig"));
        if !original_path.exists() {
            std::fs::copy(&path, &original_path).expect("keep the original");
        }
        let text = std::fs::read_to_string(&original_path).expect("read module");
        let open = text.find("fn ").and_then(|at| text[at..].find('{').map(|o| at + o + 1)).expect("a function body");
        let edited = format!("{} print({variant});{}", &text[..open], &text[open..]);
        std::fs::write(&path, edited).expect("write module");
    }
}

pub fn build(options: &BuildOptions) -> BuildReport {
    driver::build(options).unwrap_or_else(|e| panic!("benchmark build failed: {e}"))
}
