//! insta snapshots of what lockstep produces for sample programs: the MIR
//! text (after lockstep's passes) and the LLVM IR at both optimisation
//! levels. Snapshots live in the top-level `snapshots/` directory and are
//! reviewed like code (`cargo insta review`, or `INSTA_UPDATE=always`).

use crate::support::workspace_root;
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::module_unit;
use lockstep_core::lks;
use lockstep_core::llvm::{ArtifactKind, CodegenConfig, LlvmBackend, OptLevel};
use lockstep_core::mir::text;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(workspace_root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

fn config(opt: OptLevel) -> CodegenConfig {
    // A fixed triple, so snapshots read the same on every host.
    CodegenConfig { opt, target: "x86_64-unknown-linux-gnu".to_string(), artifact: ArtifactKind::Object }
}

#[test]
fn tour_mir_and_llvm_ir() {
    let dir = workspace_root().join("examples/tour");
    let program = lks::check_dir(&dir, DiagnosticStyle::Short).expect("tour checks");
    let symbols = lks::ProgramSymbols::of(&program);
    let backend = LlvmBackend::new();
    settings().bind(|| {
        for module in &program.modules {
            let unit = module_unit(module, |f| symbols.lower(f));
            insta::assert_snapshot!(format!("tour_mir_{}", module.name), text::unit_to_string(&unit));
            for (opt, tag) in [(OptLevel::Debug, "debug"), (OptLevel::Release, "release")] {
                let ir = backend.unit_llvm_ir(&unit, &config(opt)).expect("codegen");
                insta::assert_snapshot!(format!("tour_llvm_{}_{tag}", module.name), ir);
            }
        }
        let entry = backend.entry_llvm_ir(&program.entry, &config(OptLevel::Debug)).expect("entry");
        insta::assert_snapshot!("tour_llvm_entry", entry);
    });
}

/// Lowering plus lockstep's own passes on small functions, where the
/// effect of each construct is easy to read.
#[test]
fn lowering_of_language_constructs() {
    let cases: &[(&str, &str)] = &[
        ("short_circuit", "fn f(a: bool, b: bool) -> bool { a && b || !a }\nfn main() {}\n"),
        ("while_loop", "fn f(n: i64) -> i64 { let mut i = 0; let mut s = 0; while i < n { s = s + i; i = i + 1; } s }\nfn main() {}\n"),
        ("early_return", "fn f(x: i64) -> i64 { if x < 0 { return 0; } x * 2 }\nfn main() {}\n"),
        ("constant_folding", "const K: i64 = 6 * 7;\nfn f() -> i64 { let a = K + 1; if a > 40 { a * 2 } else { a / 0 } }\nfn main() {}\n"),
        ("globals", "global g: i64 = 1 + 2;\nfn f() { g = g * 2; print(g); }\nfn main() {}\n"),
    ];
    settings().bind(|| {
        for (name, source) in cases {
            let tmp = tempfile::tempdir().expect("tempdir");
            std::fs::write(tmp.path().join("main.lks"), source).expect("write");
            let program = lks::check_dir(tmp.path(), DiagnosticStyle::Short).expect("checks");
            let symbols = lks::ProgramSymbols::of(&program);
            let main = &program.modules[0];
            let f = main.functions.iter().find(|f| f.symbol.name == "f").expect("f");
            let mut out = text::function_to_string(&symbols.lower(f));
            if *name == "globals" {
                out.push_str(&text::function_to_string(&symbols.lower(&main.init)));
            }
            insta::assert_snapshot!(format!("lowering_{name}"), out);
        }
    });
}
