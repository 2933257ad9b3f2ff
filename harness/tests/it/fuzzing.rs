//! A bounded slice of the fuzz targets on every `cargo test`: the same
//! property checks `fuzz/` runs coverage-guided, on deterministic
//! pseudo-random inputs. `LOCKSTEP_FUZZ_CASES=N` runs more.

use lockstep_harness::fuzzing::{check_cache_entry, check_frontend, check_invalidation};
use lockstep_scheduler::fuzz::SplitMix64;

fn cases(default: u64) -> u64 {
    std::env::var("LOCKSTEP_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn random_bytes(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn invalidation_is_sound_and_precise_under_random_edits() {
    let mut rng = SplitMix64::new(0x1ab5);
    let mut edits = 0;
    let runs = cases(48);
    for _ in 0..runs {
        let len = 8 + 4 * (rng.below(24) as usize);
        edits += check_invalidation(&random_bytes(&mut rng, len));
    }
    // Most edits keep the program valid; if none did, nothing was checked.
    assert!(edits as u64 >= runs * 3, "only {edits} edits were checked");
}

#[test]
fn the_front_end_survives_mutated_programs() {
    // Real programs, mutated byte-wise: mostly almost-valid input, which
    // reaches deeper than random noise.
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in ["harness/tests/lang/run", "harness/tests/lang/err"] {
        let path = crate::support::workspace_root().join(dir);
        for entry in std::fs::read_dir(path).expect("fixtures").flatten() {
            let fixture = crate::support::Fixture::parse(&std::fs::read_to_string(entry.path()).expect("read"));
            let modules: Vec<&str> =
                fixture.sections.iter().filter(|(n, _)| n.ends_with(".lks")).map(|(_, b)| b.as_str()).collect();
            seeds.push(modules.join("\u{ff}").into_bytes());
        }
    }
    seeds.sort();
    let mut rng = SplitMix64::new(7);
    for seed in &seeds {
        check_frontend(seed);
        for _ in 0..cases(20) {
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
            check_frontend(&bytes);
        }
    }
}

#[test]
fn cache_entries_reject_damage() {
    let mut rng = SplitMix64::new(99);
    for _ in 0..cases(500) {
        let len = rng.below(300) as usize;
        check_cache_entry(&random_bytes(&mut rng, len));
    }
}
