//! Fails when a benchmark's median slowed down against a saved criterion
//! baseline (see the crate documentation for the whole workflow):
//!
//! ```sh
//! cargo run -p lockstep-benches --bin bench-gate -- --baseline NAME \
//!     [--threshold PERCENT] [--criterion-dir DIR] [--filter SUBSTRING]
//! ```
//!
//! Exit status: 0 pass, 1 a regression, 2 nothing compared or a usage error.

use lockstep_benches::gate::{self, GateOptions};
use std::path::PathBuf;

const USAGE: &str = "usage: bench-gate --baseline NAME [--threshold PERCENT (default 10)] \
                     [--criterion-dir DIR (default: where criterion writes)] [--filter SUBSTRING]";

/// Where criterion writes, found as criterion finds it, so the gate reads
/// the same results whichever directory it is run from.
fn default_criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("criterion")
}

fn parse_args() -> Result<(GateOptions, PathBuf), String> {
    let mut options = GateOptions::new("");
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--baseline" => options.baseline = value,
            "--threshold" => {
                options.threshold_percent = value
                    .trim_end_matches('%')
                    .parse()
                    .ok()
                    .filter(|t: &f64| *t >= 0.0 && t.is_finite())
                    .ok_or_else(|| format!("--threshold: `{value}` is not a percentage"))?;
            }
            "--criterion-dir" => dir = Some(PathBuf::from(value)),
            "--filter" => options.filter = Some(value),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.baseline.is_empty() {
        return Err("--baseline NAME is required".to_string());
    }
    Ok((options, dir.unwrap_or_else(default_criterion_dir)))
}

fn main() {
    let (options, dir) = parse_args().unwrap_or_else(|e| {
        eprintln!("bench-gate: error: {e}\n{USAGE}");
        std::process::exit(2);
    });
    match gate::compare(&dir, &options) {
        Ok(report) => {
            print!("{}", report.render());
            std::process::exit(report.exit_code());
        }
        Err(e) => {
            eprintln!("bench-gate: error: {e}");
            std::process::exit(2);
        }
    }
}
