//! What the two cache layers buy, on the generated program
//! (`LOCKSTEP_BENCH_SIZE`, default 50 modules × 40 functions):
//!
//! - `layer1/read_decode`: every Layer 1 pack of a built program looked up
//!   as a build looks it up (`ArtifactCache::get`: read, verify the header
//!   and checksum, mark it used), unpacked, and every function's MIR
//!   decoded: what a build with Layer 1 warm and Layer 2 cold does for its
//!   IR (the opt-level switch below).
//! - `layer1/lower_encode`: the same functions lowered from an already
//!   checked program and serialised: what each Layer 1 miss costs a build,
//!   since the front end checks the program either way.
//! - `layer1/check_lower_encode`: the same from the sources alone (read,
//!   parse, check, lower, serialise): recomputing with nothing kept.
//!
//!   All three produce the same set of MIR functions (checked once, before
//!   measuring), so the three figures compare like with like.
//! - `opt_switch/release_after_debug`: a debug build, then the release
//!   build: Layer 1 warm (MIR does not depend on the opt level), Layer 2
//!   and the release manifest absent, so every unit is code-generated at O2
//!   from cached IR. `opt_switch/release_clean` is the same build from an
//!   empty cache, for scale.
//! - `revert/{partition,module,function}`: one body edited and built, then
//!   the edit undone; the revert's build is measured. Every unit's object
//!   must come from Layer 2 (asserted): nothing is lowered or compiled,
//!   only looked up and relinked.
//!
//! Thread scaling (`jobs/*`) and the codegen unit modes (`clean/*`,
//! `incremental/body_edit/*`) are in `pipeline.rs`; the scheduler's cost
//! per job in `scheduler.rs`.

use criterion::{criterion_group, criterion_main, Criterion};
use lockstep_benches::{build, Workload};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::manifest_path_for;
use lockstep_core::engine::cache::{ArtifactCache, Layer, Lookup};
use lockstep_core::engine::config::OptLevel;
use lockstep_core::engine::hash::ContentHash;
use lockstep_core::engine::manifest::Manifest;
use lockstep_core::engine::session::CguMode;
use lockstep_core::lks::check::CheckedProgram;
use lockstep_core::lks::{self, ProgramSymbols};
use lockstep_core::mir;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Every function's MIR, from the Layer 1 packs named by `packs`.
fn read_decode(cache: &ArtifactCache, packs: &[ContentHash]) -> Vec<mir::Function> {
    let mut functions = Vec::new();
    for key in packs {
        let Lookup::Hit(payload) = cache.get(Layer::Ir, key) else {
            panic!("Layer 1 pack {} is missing or damaged", key.short())
        };
        let pack: Vec<(ContentHash, Vec<u8>)> = postcard::from_bytes(&payload).expect("a Layer 1 pack");
        functions.extend(pack.iter().map(|(_, ir)| postcard::from_bytes::<mir::Function>(ir).expect("MIR")));
    }
    functions
}

/// Every function of `program` lowered and serialised as a Layer 1 miss
/// does it; returns the MIR, so the setup can compare it with Layer 1's.
fn lower_encode(program: &CheckedProgram) -> Vec<mir::Function> {
    let symbols = ProgramSymbols::of(program);
    let mut functions = Vec::new();
    for module in &program.modules {
        for f in std::iter::once(&module.init).chain(&module.functions) {
            let ir = symbols.lower(f);
            std::hint::black_box(postcard::to_stdvec(&ir).expect("serialise MIR"));
            functions.push(ir);
        }
    }
    functions
}

fn check(project: &Path) -> CheckedProgram {
    let sources = lks::modules::read_project(project).expect("read the project");
    lks::check_sources(project, &sources, DiagnosticStyle::Short).expect("a valid program")
}

fn layer1(c: &mut Criterion) {
    let w = Workload::new(6);
    let o = w.options("layer1");
    let report = build(&o);
    let manifest = Manifest::load(&manifest_path_for(&o)).expect("the build's manifest");
    // The manifest's packs, not every file in `ir/`: that directory also
    // holds the front end's module summaries.
    let packs: Vec<ContentHash> = manifest.units.values().map(|u| u.ir_pack).collect();
    let cache = ArtifactCache::open(o.cache_dir()).expect("cache");
    let program = check(&w.project());
    let (cached, lowered) = (read_decode(&cache, &packs), lower_encode(&program));
    assert_eq!(cached.len(), report.functions + program.modules.len(), "every function and initialiser");
    assert_eq!(cached.iter().collect::<HashSet<_>>(), lowered.iter().collect::<HashSet<_>>(), "the same MIR");

    let mut group = c.benchmark_group("layer1");
    group.bench_function("read_decode", |b| b.iter(|| read_decode(&cache, &packs)));
    group.bench_function("lower_encode", |b| b.iter(|| lower_encode(&program)));
    group.bench_function("check_lower_encode", |b| b.iter(|| lower_encode(&check(&w.project()))));
    group.finish();
}

fn opt_switch(c: &mut Criterion) {
    let w = Workload::new(7);
    let debug = w.options("opt");
    let mut release = w.options("opt");
    release.opt = OptLevel::Release;
    w.forget("opt");
    build(&debug);
    let mut group = c.benchmark_group("opt_switch");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("release_after_debug", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Layer 2 and the release build's manifest (whose staged
                // objects would let it skip Layer 2) go; Layer 1 and the
                // debug build's state stay, as after a first `--release`.
                let _ = std::fs::remove_dir_all(release.cache_dir().join("obj"));
                let _ = std::fs::remove_file(manifest_path_for(&release));
                let start = Instant::now();
                let report = build(&release);
                total += start.elapsed();
                assert_eq!(report.ir.misses, 0, "Layer 1 warm: {report:?}");
                assert_eq!(report.objects.hits, 0, "Layer 2 cold: {report:?}");
            }
            total
        })
    });
    group.bench_function("release_clean", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| w.time_clean_build("opt-clean", |o| o.opt = OptLevel::Release)).sum())
    });
    group.finish();
}

fn revert(c: &mut Criterion) {
    let w = Workload::new(8);
    let mut group = c.benchmark_group("revert");
    group.sample_size(20);
    let mut o = w.options("revert");
    let mut variant = 0;
    for cgu in [CguMode::default(), CguMode::Module, CguMode::Function] {
        o.cgu = cgu;
        w.revert_edit();
        build(&o);
        group.bench_function(cgu.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A new edit each time, so the edit's own build is real
                    // work and the cache holds more than the original.
                    variant += 1;
                    w.edit_one_body(variant);
                    build(&o);
                    w.revert_edit();
                    let start = Instant::now();
                    let report = build(&o);
                    total += start.elapsed();
                    assert!(
                        report.objects.misses == 0 && report.ir.misses == 0 && report.codegened_units.is_empty(),
                        "a revert is all cache hits: {report:?}"
                    );
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, layer1, opt_switch, revert);
criterion_main!(benches);
