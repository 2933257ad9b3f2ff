//! The program every tool builds, and the edits every tool sees.
//!
//! One model ([`Program`]) is rendered three ways (`.lks`, a C project, a Cargo crate). An edit changes the
//! model once; every tool's directory then gets the files whose text changed, and only those, so make's
//! timestamps, cargo's fingerprints and lockstep's hashes all see the same logical change.

use crate::program::edit::Edit;
use crate::program::generate::{self, GenConfig};
use crate::program::model::{Expr, ItemPath, Program, Stmt, ROOT};
use crate::program::visit::{visit_block, Visit};
use std::collections::BTreeSet;
use std::path::Path;

/// The generated program and the functions the edit scenarios touch.
#[derive(Clone, Debug)]
pub struct Workload {
    pub program: Program,
    /// The function whose body and comments are edited: the first of the middle module.
    pub body_target: ItemPath,
    /// The function that gains a parameter: the one with the most distinct callers.
    pub signature_target: ItemPath,
    /// How many functions call `signature_target`.
    pub callers: usize,
    /// How many edits so far (each gets a new variant, so no edit repeats an earlier text).
    edits: u16,
}

/// A rendering of the model: `(relative path, text)` pairs.
pub type Files = Vec<(String, String)>;

impl Workload {
    pub fn generate(seed: u64, modules: usize, functions: usize) -> Workload {
        let program = generate::generate(seed, &GenConfig::bench(modules, functions));
        let mut modules: Vec<&str> =
            program.modules.iter().map(|m| m.name.as_str()).filter(|name| *name != ROOT).collect();
        modules.sort_unstable();
        let middle = modules.get(modules.len() / 2).copied().unwrap_or(ROOT);
        let body_target = program
            .functions()
            .map(|(p, _)| p)
            .find(|p| p.module == middle)
            .unwrap_or_else(|| ItemPath::new(ROOT, "main"));
        let (signature_target, callers) = program
            .functions()
            .map(|(p, _)| p)
            .filter(|p| !(p.module == ROOT && p.name == "main"))
            .map(|p| {
                let k = callers_of(&program, &p);
                (p, k)
            })
            // The most callers; the first such function in model order (`min_by_key` keeps the first).
            .min_by_key(|(_, k)| std::cmp::Reverse(*k))
            .unwrap_or_else(|| (ItemPath::new(ROOT, "main"), 0));
        Workload { program, body_target, signature_target, callers, edits: 0 }
    }

    /// Lines of `.lks` source.
    pub fn lines(&self) -> usize {
        self.program.files().iter().map(|(_, text)| text.lines().count()).sum()
    }

    /// One body edit of [`Workload::body_target`]: its result changes, or a `print` or a `let` is added.
    pub fn edit_body(&mut self) -> Result<String, String> {
        let function = self.index_of(&self.body_target, true)?;
        let variant = self.next_variant();
        self.apply(Edit::Body { function, variant })
    }

    /// A new parameter for [`Workload::signature_target`]; every caller passes an argument.
    pub fn edit_signature(&mut self) -> Result<String, String> {
        let function = self.index_of(&self.signature_target, false)?;
        self.next_variant();
        self.apply(Edit::AddParam { function })
    }

    /// A comment in the body of [`Workload::body_target`]: text changes, meaning does not.
    pub fn edit_comment(&mut self) -> Result<String, String> {
        let target = self.index_of(&self.body_target, true)?;
        // Comment edits with a variant that is a multiple of 4 go inside the function's body.
        let variant = self.next_variant().wrapping_mul(4);
        self.apply(Edit::Comment { target, variant })
    }

    fn next_variant(&mut self) -> u16 {
        self.edits = self.edits.wrapping_add(1);
        self.edits
    }

    fn apply(&mut self, edit: Edit) -> Result<String, String> {
        edit.apply(&mut self.program).map(|a| a.description).map_err(|e| format!("edit `{edit}`: {e}"))
    }

    /// The index an [`Edit`] uses for `path`: among all functions, or among all but `main::main`.
    fn index_of(&self, path: &ItemPath, with_main: bool) -> Result<u16, String> {
        self.program
            .functions()
            .map(|(p, _)| p)
            .filter(|p| with_main || !(p.module == ROOT && p.name == "main"))
            .position(|p| p == *path)
            .and_then(|i| u16::try_from(i).ok())
            .ok_or_else(|| format!("{path} is not a function of the program"))
    }
}

/// How many distinct functions (and global initialisers, counted once per module) call `target`.
fn callers_of(program: &Program, target: &ItemPath) -> usize {
    struct Calls<'a> {
        target: &'a ItemPath,
        found: bool,
    }
    impl Visit for Calls<'_> {
        fn expr(&mut self, e: &Expr) {
            if let Expr::Call(c) = e {
                self.found |= c.callee == *self.target;
            }
        }
        fn stmt(&mut self, s: &Stmt) {
            if let Stmt::Call(c) = s {
                self.found |= c.callee == *self.target;
            }
        }
    }
    program
        .functions()
        .filter(|(_, f)| {
            let mut v = Calls { target, found: false };
            visit_block(&f.body, &mut v);
            v.found
        })
        .count()
}

/// Writes every file of `files` under `dir` whose text differs from what is there, and removes files a
/// previous rendering wrote that this one does not have. Returns how many files were written.
pub fn sync_files(dir: &Path, files: &Files, previous: &Files) -> std::io::Result<usize> {
    let mut written = 0;
    let before: std::collections::BTreeMap<&str, &str> =
        previous.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    for (path, text) in files {
        if before.get(path.as_str()) == Some(&text.as_str()) {
            continue;
        }
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        written += 1;
    }
    let now: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for (path, _) in previous {
        if !now.contains(path.as_str()) {
            std::fs::remove_file(dir.join(path))?;
        }
    }
    Ok(written)
}
