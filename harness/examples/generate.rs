//! Writes a generated `.lks` project: `cargo run --example generate -- SEED MODULES FUNCTIONS DIR`.
//! Handy for trying lockstep on a program of any size.

use lockstep_harness::program::{generate, GenConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        eprintln!("usage: generate SEED MODULES FUNCTIONS DIR");
        std::process::exit(2);
    }
    let parse = |s: &str| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("error: `{s}` is not a number");
            std::process::exit(2)
        })
    };
    let (seed, modules, functions) = (parse(&args[0]), parse(&args[1]), parse(&args[2]));
    let program = generate(seed, &GenConfig::bench(modules as usize, functions as usize));
    if let Err(e) = program.write_lks(std::path::Path::new(&args[3])) {
        eprintln!("{}: error: {e}", args[3]);
        std::process::exit(1);
    }
}
