//! With `static-llvm`, the `lockstep` executable is linked as a position-dependent executable: LLVM's tables
//! of pointers then need no relocation at start-up, which is most of what remains of a static binary's
//! start-up cost (measured: `--help` 8.0 ms as PIE, 5.7 ms without).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_STATIC_LLVM").is_some() {
        println!("cargo:rustc-link-arg-bin=lockstep=-no-pie");
    }
}
