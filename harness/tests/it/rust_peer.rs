use lockstep_harness::program::{generate, run_c_oracle, GenConfig};
#[test]
fn scratch_find_seeds() {
    for seed in 0..40u64 {
        let mut config = GenConfig::small();
        config.allow_div_by_zero = true;
        config.allow_reads_before_init = true;
        let p = generate(seed, &config);
        let tmp = tempfile::tempdir().unwrap();
        let (out, _, code) = run_c_oracle(&p, tmp.path()).unwrap();
        eprintln!("seed {seed}: status {code}, {} bytes", out.len());
    }
}
