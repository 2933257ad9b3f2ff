//! The edit model on its own: every edit kind, applied to generated programs, gives a program that checks,
//! runs, and agrees with its C translation; and the model keys predict the effect each kind promises (a
//! body edit changes one function's key, a signature edit its callers' too, a comment nothing).

use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::lks;
use lockstep_core::mir::interp;
use lockstep_harness::fuzzing::sources;
use lockstep_harness::program::edit::Edit;
use lockstep_harness::program::generate::{generate, GenConfig};
use lockstep_harness::program::model::{Expr, ItemPath, Program, Stmt};
use lockstep_harness::program::predict::keys;
use lockstep_harness::program::visit::{visit_module, Visit};
use lockstep_harness::program::GeneratedProgram;
use std::collections::BTreeSet;
use std::path::Path;

/// Checks and interprets a model: `Err` with the diagnostics when it does not check.
fn interpret(program: &Program) -> Result<(Vec<u8>, i32), String> {
    let checked = lks::check_sources(Path::new("edit"), &sources(&program.files()), DiagnosticStyle::Short)
        .map_err(|e| e.to_string())?;
    let outcome =
        interp::run(&lks::lower_program(&checked), &interp::Limits::default()).map_err(|e| format!("{e:?}"))?;
    Ok((outcome.stdout, outcome.exit_status))
}

/// Functions and modules (initialisers) whose model key differs between two programs, new ones included.
fn changed(before: &Program, after: &Program) -> (BTreeSet<String>, BTreeSet<String>) {
    let (a, b) = (keys(before), keys(after));
    let functions =
        b.functions.iter().filter(|(n, k)| a.functions.get(*n) != Some(k)).map(|(n, _)| n.clone()).collect();
    let inits =
        b.initializers.iter().filter(|(n, k)| a.initializers.get(*n) != Some(k)).map(|(n, _)| n.clone()).collect();
    (functions, inits)
}

/// Who calls `path`: functions as `module::name`, and modules whose initialisers do.
fn callers(program: &Program, path: &ItemPath) -> (BTreeSet<String>, BTreeSet<String>) {
    struct Calls<'a>(&'a ItemPath, bool);
    impl Visit for Calls<'_> {
        fn expr(&mut self, e: &Expr) {
            self.1 |= matches!(e, Expr::Call(c) if c.callee == *self.0);
        }
        fn stmt(&mut self, s: &Stmt) {
            self.1 |= matches!(s, Stmt::Call(c) if c.callee == *self.0);
        }
    }
    let mut functions = BTreeSet::new();
    let mut inits = BTreeSet::new();
    for m in &program.modules {
        for f in m.fns() {
            let mut calls = Calls(path, false);
            lockstep_harness::program::visit::visit_block(&f.body, &mut calls);
            if calls.1 {
                functions.insert(format!("{}::{}", m.name, f.name));
            }
        }
        let globals_only = lockstep_harness::program::model::Module {
            items: m
                .items
                .iter()
                .filter(|i| matches!(i, lockstep_harness::program::model::Item::Global(_)))
                .cloned()
                .collect(),
            ..m.clone()
        };
        let mut calls = Calls(path, false);
        visit_module(&globals_only, &mut calls);
        if calls.1 {
            inits.insert(m.name.clone());
        }
    }
    (functions, inits)
}

/// The function an intent targets, as the edit picks it.
fn target(program: &Program, index: u16, with_main: bool) -> ItemPath {
    let all: Vec<ItemPath> = program
        .functions()
        .map(|(p, _)| p)
        .filter(|p| with_main || !(p.module == "main" && p.name == "main"))
        .collect();
    all[usize::from(index) % all.len()].clone()
}

/// What a kind promises, checked on one application.
fn check_effect(edit: &Edit, before: &Program, after: &Program) {
    let (functions, inits) = changed(before, after);
    let none = BTreeSet::new();
    match *edit {
        Edit::Comment { .. } | Edit::RenameLocal { .. } | Edit::AddImport { .. } | Edit::RemoveImport { .. } => {
            assert_eq!((&functions, &inits), (&none, &none), "{edit}: nothing may change");
        }
        Edit::Body { function, .. } => {
            let f = target(before, function, true);
            assert_eq!(functions, BTreeSet::from([f.symbol()]), "{edit}: exactly the edited function");
            assert_eq!(inits, none, "{edit}");
        }
        Edit::GlobalInit { .. } => {
            assert_eq!(functions, none, "{edit}: no function");
            assert_eq!(inits.len(), 1, "{edit}: exactly one initialiser");
        }
        Edit::AddParam { function } => {
            let f = target(before, function, false);
            let (mut want, want_inits) = callers(before, &f);
            want.insert(f.symbol());
            assert_eq!((functions, inits), (want, want_inits), "{edit}: the function and its callers");
        }
        Edit::ReturnType { .. } => {
            // The function is one whose callers all discard its result: their text is unchanged, their
            // keys are not.
            let changed_fn = functions.iter().find(|n| {
                let (m, f) = n.split_once("::").expect("symbol");
                before.function(&ItemPath::new(m, f)).map(|x| x.ret)
                    != after.function(&ItemPath::new(m, f)).map(|x| x.ret)
            });
            let f = changed_fn.expect("one function's return type changed").clone();
            let (m, name) = f.split_once("::").expect("symbol");
            let (mut want, want_inits) = callers(before, &ItemPath::new(m, name));
            want.insert(f.clone());
            assert_eq!((functions, inits), (want, want_inits), "{edit}: the function and its callers");
            assert_eq!(
                before.files().iter().filter(|(n, _)| n != m).collect::<Vec<_>>(),
                after.files().iter().filter(|(n, _)| n != m).collect::<Vec<_>>(),
                "{edit}: no other module's text changes"
            );
        }
        _ => assert!(!functions.is_empty() || !inits.is_empty(), "{edit}: something must change"),
    }
}

fn edits_for(seed: u64) -> Vec<Edit> {
    let v = |k: u64| (seed.wrapping_mul(31).wrapping_add(k) % 1000) as u16;
    let mut out = Vec::new();
    for kind in Edit::KINDS {
        let text = match kind {
            "add-param" | "return-type" | "global-type" | "remove-function" | "add-module" | "remove-module"
            | "type-error" => format!("{kind} {}", v(1)),
            _ => format!("{kind} {} {}", v(2), v(3)),
        };
        out.push(text.parse().expect("a valid edit"));
    }
    out
}

#[test]
fn every_edit_kind_keeps_programs_valid_and_does_what_it_promises() {
    let seeds: u64 = std::env::var("LOCKSTEP_EDIT_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let mut applied = std::collections::BTreeMap::<&str, usize>::new();
    for seed in 0..seeds {
        let original = generate(seed, &GenConfig::small());
        for edit in edits_for(seed) {
            let mut program = original.clone();
            let mut original = original.clone();
            if let Edit::RemoveImport { module, .. } = edit {
                // Generated imports are all used; an added one is not.
                let _ = Edit::AddImport { module, imported: 0 }.apply(&mut program);
                original = program.clone();
            }
            let Ok(done) = edit.apply(&mut program) else { continue };
            *applied.entry(edit.kind()).or_default() += 1;
            if let Edit::TypeError { .. } = edit {
                let err = interpret(&program).expect_err("a type error must not check");
                assert!(err.contains(": error:"), "{edit}: {err}");
                continue;
            }
            let run = interpret(&program).unwrap_or_else(|e| {
                panic!("seed {seed}, {edit} ({}): the edited program does not check:\n{e}", done.description)
            });
            check_effect(&edit, &original, &program);
            if seed % 4 == 0 {
                let tmp = tempfile::tempdir().expect("tempdir");
                let rendered = GeneratedProgram::render(seed, &program);
                let (stdout, _, status) =
                    lockstep_harness::program::run_c_oracle(&rendered, tmp.path()).expect("gcc builds and runs it");
                assert_eq!((stdout, status), run, "seed {seed}, {edit}: C and the interpreter disagree");
            }
        }
    }
    for kind in Edit::KINDS {
        assert!(applied.get(kind).copied().unwrap_or(0) > 0, "`{kind}` never applied: {applied:?}");
    }
}

#[test]
fn edit_text_round_trips() {
    for seed in 0..3 {
        for edit in edits_for(seed) {
            assert_eq!(edit.to_string().parse::<Edit>(), Ok(edit));
        }
    }
    for bad in ["", "body", "body 1", "body x 2", "bogus 1", "body 1 2 3", "add-module 70000"] {
        assert!(bad.parse::<Edit>().is_err(), "`{bad}` must not parse");
    }
}
