//! The fuzz targets on stable, without libFuzzer: every committed corpus
//! and regression input under `fuzz/`, then a bounded number of generated
//! inputs per target, through the same property functions the targets
//! call. `LOCKSTEP_FUZZ_CASES=N` runs N generated inputs per target and
//! kind (default: a slice that takes seconds). `LOCKSTEP_FUZZ_SEEDS=1`
//! rewrites the hand-made seed inputs (`fuzz/corpus/T/seed-*`).

use crate::support::{workspace_root, Fixture};
use arbitrary::{Arbitrary, Unstructured};
use lockstep_harness::fuzzing::{
    check_invalidation_case, committed_inputs, files_in, run_target, InvalidationCase, Target, MODULE_SEPARATOR,
    TARGETS,
};
use lockstep_harness::program::edit::Edit;
use lockstep_scheduler::fuzz::SplitMix64;

fn cases(default: u64) -> u64 {
    std::env::var("LOCKSTEP_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn random_bytes(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn target(name: &str) -> Target {
    *TARGETS.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no fuzz target `{name}`"))
}

#[test]
fn every_committed_corpus_and_regression_input_replays() {
    if std::env::var_os("LOCKSTEP_FUZZ_SEEDS").is_some_and(|v| v != "0") {
        seeds::write_all();
    }
    let fuzz = workspace_root().join("fuzz");
    let mut failures = Vec::new();
    for target in TARGETS {
        let (corpus, regressions) = committed_inputs(&fuzz, target);
        assert!(!corpus.is_empty(), "fuzz/corpus/{} is empty: every target keeps a seed corpus", target.name);
        for path in corpus.iter().chain(&regressions) {
            let input = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Some(why) = run_target(target, &input) {
                failures.push(format!("{}: {why}", path.strip_prefix(&fuzz).unwrap_or(path).display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} committed fuzz inputs fail:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn invalidation_holds_under_generated_edit_sequences() {
    let mut rng = SplitMix64::new(0x1ab5);
    let mut edits = 0;
    let runs = cases(16);
    for _ in 0..runs {
        let case = InvalidationCase {
            seed: rng.next_u64(),
            edits: (0..8)
                .filter_map(|_| Edit::arbitrary(&mut Unstructured::new(&random_bytes(&mut rng, 8))).ok())
                .collect(),
        };
        edits += check_invalidation_case(&case);
    }
    // Most edits apply and keep the program valid; if none did, nothing was checked.
    assert!(edits as u64 >= runs * 4, "only {edits} edits were applied and checked in {runs} runs");
}

#[test]
fn the_front_end_holds_on_mutated_programs() {
    // Real programs, mutated byte-wise: mostly almost-valid input, which
    // reaches deeper than random noise.
    let frontend = target("frontend");
    let mut rng = SplitMix64::new(7);
    for seed in seeds::lang_fixtures() {
        (frontend.check)(&seed);
        for _ in 0..cases(10) {
            let mut bytes = seed.clone();
            for _ in 0..1 + rng.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len() as u64) as usize;
                match rng.below(3) {
                    0 => {
                        let alphabet = b"(){};+-*/%=<>!&|,: \n0123456789abcfnlt";
                        bytes[at] = alphabet[rng.below(alphabet.len() as u64) as usize];
                    }
                    1 => {
                        bytes.remove(at);
                    }
                    _ => {
                        let other = rng.below(bytes.len() as u64) as usize;
                        let b = bytes[other];
                        bytes.insert(at, b);
                    }
                }
            }
            (frontend.check)(&bytes);
        }
    }
}

/// Random bytes, and random bytes after each committed seed (mutations the
/// way a fuzzer's first rounds make them), for the targets whose inputs are
/// structured by `arbitrary` or binary formats.
#[test]
fn cache_queue_and_schedule_text_hold_on_generated_inputs() {
    let fuzz = workspace_root().join("fuzz");
    let mut rng = SplitMix64::new(99);
    for name in ["cache_entry", "queue", "schedule_text"] {
        let target = target(name);
        let seeds: Vec<Vec<u8>> = files_in(&fuzz.join("corpus").join(name))
            .iter()
            .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .collect();
        for i in 0..cases(300) {
            let mut input = match seeds.get(i as usize % seeds.len().max(1)) {
                Some(seed) if i % 2 == 0 => seed.clone(),
                _ => Vec::new(),
            };
            let len = rng.below(200) as usize;
            if input.is_empty() {
                input = random_bytes(&mut rng, len);
            } else {
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(input.len() as u64) as usize;
                    input[at] = rng.next_u64() as u8;
                }
            }
            if let Some(why) = run_target(target, &input) {
                panic!("{name} fails on generated input {input:?}: {why}");
            }
        }
    }
}

/// The hand-made seeds: one place that says what each corpus starts from.
mod seeds {
    use super::*;
    use lockstep_core::engine::cache::{encode_entry, Layer};
    use lockstep_core::engine::hash::ContentHash;
    use lockstep_core::engine::manifest::Manifest;

    /// The language fixtures, each as one `frontend` input.
    pub fn lang_fixtures() -> Vec<Vec<u8>> {
        let mut seeds = Vec::new();
        for dir in ["harness/tests/lang/run", "harness/tests/lang/err"] {
            for path in files_in(&workspace_root().join(dir)) {
                let fixture = Fixture::parse(&std::fs::read_to_string(&path).expect("read a fixture"));
                let modules: Vec<&[u8]> =
                    fixture.sections.iter().filter(|(n, _)| n.ends_with(".lks")).map(|(_, b)| b.as_bytes()).collect();
                seeds.push(modules.join(&MODULE_SEPARATOR));
            }
        }
        seeds
    }

    fn write(target: &str, name: &str, bytes: &[u8]) {
        let dir = workspace_root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).expect("create a corpus directory");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
    }

    pub fn write_all() {
        for (i, seed) in lang_fixtures().iter().enumerate().step_by(4) {
            write("frontend", &format!("lang-{i}"), seed);
        }
        let mut rng = SplitMix64::new(12);
        for i in 0..4 {
            let len = 8 + 16 * i;
            write("invalidation", &format!("edits-{i}"), &random_bytes(&mut rng, len));
            write("queue", &format!("plan-{i}"), &random_bytes(&mut rng, 32 + 48 * i));
        }
        let pack: Vec<(ContentHash, Vec<u8>)> = vec![(ContentHash::of(b"f"), vec![1, 2, 3])];
        let pack = postcard::to_stdvec(&pack).expect("encode a pack");
        write("cache_entry", "ir-entry", &encode_entry(Layer::Ir, &ContentHash::of(&pack), &pack));
        write("cache_entry", "object-entry", &encode_entry(Layer::Object, &ContentHash::of(b"o"), b"\x7fELF"));
        write("cache_entry", "pack", &pack);
        write("cache_entry", "manifest", &Manifest::new().encode().expect("encode a manifest"));
        for (name, text) in [
            ("random", "random:7"),
            ("pct", "pct:3:2"),
            ("replay", "replay:codegen(a) done(a) codegen(c) codegen(b) done(b) done(c) link(link1)"),
            ("schedule", "codegen(a)\ndone(a)\n"),
            ("config", "release lto cgu=partition:16 j=2"),
            ("intent", "body 3 1"),
            (
                "repro",
                "# lockstep verify repro\nprogram: generated small 11\nconfig: debug cgu=partition:16 j=2\n\
                 schedule-seed: 5\nintent: body 1 4\nintent: fault damage 9\nguide: 2 codegen(a) done(a)\n\
                 failed: clean-equality at step 2 (body 1 4)\ndetail: incremental differs\n",
            ),
            (
                "repro-sources",
                "program: sources\nconfig: release j=1\nfailed: behaviour at step 1 (x)\n--- sources\n\
                 //- main.lks\nfn main() -> i64 {\n    return 0;\n}\n",
            ),
        ] {
            write("schedule_text", name, text.as_bytes());
        }
    }
}
