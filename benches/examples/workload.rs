//! Writes the benches' generated program to a directory, for measuring by
//! hand with the `lockstep` command line:
//!
//! ```sh
//! cargo run --release -p lockstep-benches --example workload -- /tmp/w50x40   # LOCKSTEP_BENCH_SIZE=50x40
//! lockstep build /tmp/w50x40 -j 2
//! ```

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: workload DIR [SEED]   (size from LOCKSTEP_BENCH_SIZE, default 50x40)");
        std::process::exit(2);
    };
    let seed = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (modules, functions) = lockstep_benches::workload_size();
    let config = lockstep_harness::program::GenConfig::bench(modules, functions);
    if let Err(e) = lockstep_harness::program::generate(seed, &config).write_lks(std::path::Path::new(&dir)) {
        eprintln!("{dir}: error: {e}");
        std::process::exit(1);
    }
    println!("{dir}: {modules} modules x {functions} functions (seed {seed})");
}
