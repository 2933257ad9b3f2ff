//! The engine's side of `FrontEnd::module_key`: a module whose key the
//! previous build recorded keeps its recorded content hashes, so a front end
//! that breaks the promise gets stale code, and `--verify-cache` catches it.

use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::{LksFrontEnd, LlvmBackends};
use lockstep_core::engine::cache::ArtifactCache;
use lockstep_core::engine::config::OptLevel;
use lockstep_core::engine::hash::ContentHash;
use lockstep_core::engine::manifest::Manifest;
use lockstep_core::engine::session::{run_session, CguMode, SessionOptions, SessionResult};
use lockstep_core::engine::{FrontEnd, ProgramFacts};
use lockstep_core::exec::ExecMode;
use lockstep_core::link::Linker;
use lockstep_core::lks::{self, modules::ProjectSources, modules::SourceFile};
use lockstep_core::mir;
use lockstep_scheduler::parallelism::Parallelism;
use std::path::Path;

/// The reference front end, except that every module claims one key
/// forever, whatever its text: the promise broken on purpose.
struct SameKeyForever(LksFrontEnd);

impl FrontEnd for SameKeyForever {
    fn facts(&self) -> &ProgramFacts {
        self.0.facts()
    }

    fn lower(&self, symbol: &mir::Symbol) -> Option<mir::Function> {
        self.0.lower(symbol)
    }

    fn module_key(&self, _module: usize) -> Option<ContentHash> {
        Some(ContentHash::of(b"never changes"))
    }
}

fn program(result: i64) -> SameKeyForever {
    let text = format!("fn answer() -> i64 {{ return {result}; }}\nfn main() -> i64 {{ return answer(); }}\n");
    let sources = ProjectSources { files: vec![SourceFile::new("main", "main.lks", text)], stamps: None };
    let checked = lks::check_sources(Path::new("."), &sources, DiagnosticStyle::Short).expect("a valid program");
    SameKeyForever(LksFrontEnd::new(checked))
}

fn build(dir: &Path, frontend: &SameKeyForever, verify_cache: bool) -> SessionResult {
    let cache = ArtifactCache::open(dir.join("cache")).expect("cache");
    let manifest_path = dir.join("state.manifest");
    let previous = Manifest::load(&manifest_path);
    let options = SessionOptions {
        opt: OptLevel::Debug,
        target: lockstep_core::llvm::host_triple(),
        cgu: CguMode::default(),
        lto: false,
        verify_cache,
        faults: Default::default(),
        mode: ExecMode::Threads(Parallelism::local(Some(2))),
        linker: Linker::choose(None, None),
        link: true,
        work_dir: dir.join("work"),
        output: dir.join("program"),
        manifest_path,
        inputs: ContentHash::default(),
        input_stamps: None,
        explain: None,
        trace: None,
    };
    run_session(frontend, &LlvmBackends, &cache, options, previous.as_ref())
}

fn exit_status(dir: &Path) -> Option<i32> {
    std::process::Command::new(dir.join("program")).status().expect("run the program").code()
}

#[test]
fn recorded_hashes_are_reused_on_a_key_and_verified_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(build(dir.path(), &program(1), false).succeeded);
    assert_eq!(exit_status(dir.path()), Some(1));

    // `answer` changed, the key did not: its recorded hash is taken on
    // trust, its old IR is found under it, and the old code is linked.
    let edited = program(2);
    let trusted = build(dir.path(), &edited, false);
    assert!(trusted.succeeded);
    assert!(trusted.report.recompiled_functions.is_empty(), "{:?}", trusted.report.recompiled_functions);
    assert_eq!(exit_status(dir.path()), Some(1), "the broken promise was not what the engine relied on");

    // Verifying recomputes every reused hash and names the function.
    let verified = build(dir.path(), &edited, true);
    assert!(!verified.succeeded);
    let errors: Vec<&str> = verified.report.failed.iter().map(|f| f.error.as_str()).collect();
    assert_eq!(verified.report.failed.len(), 1, "{errors:?}");
    assert_eq!(verified.report.failed[0].function.as_deref(), Some("main::answer"), "{errors:?}");
    assert!(errors[0].starts_with("--verify-cache: the content hash the previous build recorded for `main::answer`"));
}
