//! Edits: index-based intents that transform a [`Program`] model.
//!
//! An intent names its target by position ("the k-th function, modulo how many there are"), so every intent
//! applies to every program, and a sequence shrunk by deleting intents still means something. An intent
//! that cannot apply to the current program (no parameter to remove, no function whose result every caller
//! discards) says so and changes nothing. Every edit keeps the program valid and terminating: it adds no
//! loop, no call that could close a cycle, and no unguarded division.
//!
//! What an edit must recompile is not written here: the model keys (`predict.rs`) derive it from the
//! program before and after, and the tests in `harness/tests/it/edits.rs` pin each kind's effect (a body
//! edit recompiles one function, a signature edit its callers too, a comment nothing).

mod body;
mod signature;
mod structure;

use super::model::{Call, Expr, FnItem, Item, ItemPath, Program, Stmt, Ty, ROOT};
use super::visit::{rewrite_program, visit_block, Rewrite, ScopedRewrite, Visit};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One edit intent. Numbers are indices or variants, taken modulo whatever the program offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edit {
    /// Change a function's body: its result, a print, or a dead `let`.
    Body { function: u16, variant: u16 },
    /// A comment in a body or between items, or the module's indentation or spacing.
    Comment { target: u16, variant: u16 },
    /// Rename a parameter or `let` of a function (every use follows).
    RenameLocal { function: u16, local: u16 },
    /// A new parameter; every call passes an argument for it.
    AddParam { function: u16 },
    /// Drop a parameter (its uses become a constant); every call drops the argument.
    RemoveParam { function: u16, param: u16 },
    /// Flip the return type of a function whose every caller discards the result: a signature change that
    /// no caller's text shows.
    ReturnType { function: u16 },
    /// A new value for a `const` (used wherever it is used, across modules).
    ConstValue { constant: u16, delta: u16 },
    /// A different initialiser for a global.
    GlobalInit { global: u16, delta: u16 },
    /// Flip a global's type; every read and write converts.
    GlobalType { global: u16 },
    /// A new function, called from one function of its module.
    AddFunction { module: u16, variant: u16 },
    /// Remove a function; its calls become constants or disappear.
    RemoveFunction { function: u16 },
    /// A new module, imported and called by one module.
    AddModule { importer: u16 },
    /// Remove a module; its importers lose the import and every use.
    RemoveModule { module: u16 },
    /// An import nothing uses yet.
    AddImport { module: u16, imported: u16 },
    /// Remove an import the module does not use.
    RemoveImport { module: u16, import: u16 },
    /// Move a function to another module; callers, imports and visibility follow.
    MoveFunction { function: u16, to: u16 },
    /// A type error in a function (`let broken: i64 = true;`): a build must reject it.
    TypeError { function: u16 },
}

/// What an applied edit did, for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub description: String,
}

/// Why an intent changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotApplicable(pub String);

impl fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Edit {
    /// The kind, as written in repro files and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Edit::Body { .. } => "body",
            Edit::Comment { .. } => "comment",
            Edit::RenameLocal { .. } => "rename-local",
            Edit::AddParam { .. } => "add-param",
            Edit::RemoveParam { .. } => "remove-param",
            Edit::ReturnType { .. } => "return-type",
            Edit::ConstValue { .. } => "const-value",
            Edit::GlobalInit { .. } => "global-init",
            Edit::GlobalType { .. } => "global-type",
            Edit::AddFunction { .. } => "add-function",
            Edit::RemoveFunction { .. } => "remove-function",
            Edit::AddModule { .. } => "add-module",
            Edit::RemoveModule { .. } => "remove-module",
            Edit::AddImport { .. } => "add-import",
            Edit::RemoveImport { .. } => "remove-import",
            Edit::MoveFunction { .. } => "move-function",
            Edit::TypeError { .. } => "type-error",
        }
    }

    /// Every kind, in the order the text form lists them.
    pub const KINDS: [&'static str; 17] = [
        "body",
        "comment",
        "rename-local",
        "add-param",
        "remove-param",
        "return-type",
        "const-value",
        "global-init",
        "global-type",
        "add-function",
        "remove-function",
        "add-module",
        "remove-module",
        "add-import",
        "remove-import",
        "move-function",
        "type-error",
    ];

    fn args(&self) -> Vec<u16> {
        match *self {
            Edit::Body { function: a, variant: b }
            | Edit::Comment { target: a, variant: b }
            | Edit::RenameLocal { function: a, local: b }
            | Edit::RemoveParam { function: a, param: b }
            | Edit::ConstValue { constant: a, delta: b }
            | Edit::GlobalInit { global: a, delta: b }
            | Edit::AddFunction { module: a, variant: b }
            | Edit::AddImport { module: a, imported: b }
            | Edit::RemoveImport { module: a, import: b }
            | Edit::MoveFunction { function: a, to: b } => vec![a, b],
            Edit::AddParam { function: a }
            | Edit::ReturnType { function: a }
            | Edit::GlobalType { global: a }
            | Edit::RemoveFunction { function: a }
            | Edit::AddModule { importer: a }
            | Edit::RemoveModule { module: a }
            | Edit::TypeError { function: a } => vec![a],
        }
    }

    /// Applies the intent to `program`. On `Err` the program is unchanged.
    pub fn apply(&self, program: &mut Program) -> Result<Applied, NotApplicable> {
        let mut edited = program.clone();
        let description = match *self {
            Edit::Body { function, variant } => body::body(&mut edited, function, variant),
            Edit::Comment { target, variant } => body::comment(&mut edited, target, variant),
            Edit::RenameLocal { function, local } => body::rename_local(&mut edited, function, local),
            Edit::AddParam { function } => signature::add_param(&mut edited, function),
            Edit::RemoveParam { function, param } => signature::remove_param(&mut edited, function, param),
            Edit::ReturnType { function } => signature::return_type(&mut edited, function),
            Edit::ConstValue { constant, delta } => body::const_value(&mut edited, constant, delta),
            Edit::GlobalInit { global, delta } => body::global_init(&mut edited, global, delta),
            Edit::GlobalType { global } => body::global_type(&mut edited, global),
            Edit::AddFunction { module, variant } => structure::add_function(&mut edited, module, variant),
            Edit::RemoveFunction { function } => structure::remove_function(&mut edited, function),
            Edit::AddModule { importer } => structure::add_module(&mut edited, importer),
            Edit::RemoveModule { module } => structure::remove_module(&mut edited, module),
            Edit::AddImport { module, imported } => structure::add_import(&mut edited, module, imported),
            Edit::RemoveImport { module, import } => structure::remove_import(&mut edited, module, import),
            Edit::MoveFunction { function, to } => structure::move_function(&mut edited, function, to),
            Edit::TypeError { function } => body::type_error(&mut edited, function),
        }?;
        *program = edited;
        Ok(Applied { description })
    }
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        for a in self.args() {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

impl FromStr for Edit {
    type Err = String;

    /// Parses the text form, e.g. `body 3 1` or `add-module 2`.
    fn from_str(text: &str) -> Result<Edit, String> {
        let mut words = text.split_whitespace();
        let kind = words.next().ok_or("an empty edit")?;
        let args: Vec<u16> = words
            .map(|w| w.parse::<u16>().map_err(|_| format!("`{text}`: `{w}` is not a number from 0 to 65535")))
            .collect::<Result<_, _>>()?;
        Edit::of_kind(kind, &args).map_err(|e| format!("`{text}`: {e}"))
    }
}

/// Three bytes per edit, the form the `invalidation` fuzz target mutates:
/// the kind (modulo the number of kinds) and two indices (a kind that takes
/// one number ignores the second). Indices are taken modulo whatever the
/// program offers, so small ones reach everything.
impl<'a> arbitrary::Arbitrary<'a> for Edit {
    fn arbitrary(input: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Edit> {
        let kind = Edit::KINDS[usize::from(u8::arbitrary(input)?) % Edit::KINDS.len()];
        let (a, b) = (u16::from(u8::arbitrary(input)?), u16::from(u8::arbitrary(input)?));
        Ok(Edit::of_kind(kind, &[a, b])
            .or_else(|_| Edit::of_kind(kind, &[a]))
            .expect("every kind in Edit::KINDS takes one or two numbers"))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (3, Some(3))
    }
}

impl Edit {
    /// The edit of kind `kind` (as [`Edit::KINDS`] spells it) with the numbers `args`.
    fn of_kind(kind: &str, args: &[u16]) -> Result<Edit, String> {
        let want = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("`{kind}` takes {n} number(s)"))
            }
        };
        let two = |make: fn(u16, u16) -> Edit| want(2).map(|_| make(args[0], args[1]));
        let one = |make: fn(u16) -> Edit| want(1).map(|_| make(args[0]));
        match kind {
            "body" => two(|function, variant| Edit::Body { function, variant }),
            "comment" => two(|target, variant| Edit::Comment { target, variant }),
            "rename-local" => two(|function, local| Edit::RenameLocal { function, local }),
            "add-param" => one(|function| Edit::AddParam { function }),
            "remove-param" => two(|function, param| Edit::RemoveParam { function, param }),
            "return-type" => one(|function| Edit::ReturnType { function }),
            "const-value" => two(|constant, delta| Edit::ConstValue { constant, delta }),
            "global-init" => two(|global, delta| Edit::GlobalInit { global, delta }),
            "global-type" => one(|global| Edit::GlobalType { global }),
            "add-function" => two(|module, variant| Edit::AddFunction { module, variant }),
            "remove-function" => one(|function| Edit::RemoveFunction { function }),
            "add-module" => one(|importer| Edit::AddModule { importer }),
            "remove-module" => one(|module| Edit::RemoveModule { module }),
            "add-import" => two(|module, imported| Edit::AddImport { module, imported }),
            "remove-import" => two(|module, import| Edit::RemoveImport { module, import }),
            "move-function" => two(|function, to| Edit::MoveFunction { function, to }),
            "type-error" => one(|function| Edit::TypeError { function }),
            other => Err(format!("`{other}` is not an edit (one of: {})", Edit::KINDS.join(", "))),
        }
    }
}

// ----- helpers shared by the edit kinds -----

/// Every function, `main` included, in model order.
fn all_functions(program: &Program) -> Vec<ItemPath> {
    program.functions().map(|(p, _)| p).collect()
}

/// Every function but `main`, whose signature is fixed by the language.
fn ordinary_functions(program: &Program) -> Vec<ItemPath> {
    program.functions().map(|(p, _)| p).filter(|p| !(p.module == ROOT && p.name == "main")).collect()
}

/// The `index`-th element, modulo the length; `NotApplicable` naming `what` when there is none.
fn pick<T: Clone>(items: &[T], index: u16, what: &str) -> Result<T, NotApplicable> {
    if items.is_empty() {
        return Err(NotApplicable(format!("no {what}")));
    }
    Ok(items[usize::from(index) % items.len()].clone())
}

fn function_mut<'p>(program: &'p mut Program, path: &ItemPath) -> &'p mut FnItem {
    program.function_mut(path).expect("a path taken from the program names one of its functions")
}

/// Every identifier a module uses: module names, its items, and every local and parameter of its bodies.
/// A new name outside this set can shadow nothing and clash with nothing.
fn names_in_use(program: &Program, module: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = program.modules.iter().map(|m| m.name.clone()).collect();
    if let Some(m) = program.module(module) {
        for item in &m.items {
            if let Some(name) = item.name() {
                names.insert(name.to_string());
            }
            if let Item::Fn(f) = item {
                names.extend(f.params.iter().map(|(n, _)| n.clone()));
                names.extend(local_names(f));
            }
        }
    }
    names
}

/// The names of a function's `let`s.
fn local_names(f: &FnItem) -> Vec<String> {
    struct Lets(Vec<String>);
    impl Visit for Lets {
        fn stmt(&mut self, s: &Stmt) {
            if let Stmt::Let { name, .. } = s {
                if !self.0.contains(name) {
                    self.0.push(name.clone());
                }
            }
        }
    }
    let mut lets = Lets(Vec::new());
    visit_block(&f.body, &mut lets);
    lets.0
}

/// `base` or `base2`, `base3`, ... whichever is not in `taken`.
fn fresh_name(taken: &BTreeSet<String>, base: &str) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..).map(|n| format!("{base}{n}")).find(|n| !taken.contains(n)).expect("some number is free")
}

/// A literal of type `ty`: what a removed value becomes.
fn default_value(ty: Ty) -> Expr {
    match ty {
        Ty::I64 => Expr::int(0),
        Ty::Bool => Expr::Bool(false),
    }
}

/// Whether `f`'s body has a `print` statement of its own. Such a function is never called from inside a
/// loop (the generator keeps printing out of loops, transitively), so one more print stays bounded.
fn prints_directly(f: &FnItem) -> bool {
    struct Prints(bool);
    impl Visit for Prints {
        fn stmt(&mut self, s: &Stmt) {
            self.0 |= matches!(s, Stmt::Print(_));
        }
    }
    let mut p = Prints(false);
    visit_block(&f.body, &mut p);
    p.0
}

/// A statement calling `call`: printed when the caller prints anyway, else discarded.
fn call_statement(caller: &FnItem, call: Call) -> Stmt {
    if prints_directly(caller) {
        Stmt::Print(Expr::Call(call))
    } else {
        Stmt::Call(call)
    }
}

/// Rewrites every call of `target` in the program with `f` (arguments, callee), everywhere.
fn rewrite_calls(program: &mut Program, target: &ItemPath, f: &mut dyn FnMut(&mut Call)) {
    struct Calls<'a> {
        target: &'a ItemPath,
        f: &'a mut dyn FnMut(&mut Call),
    }
    impl Rewrite for Calls<'_> {
        fn expr(&mut self, e: &mut Expr) {
            if let Expr::Call(c) = e {
                if c.callee == *self.target {
                    (self.f)(c);
                }
            }
        }
        fn stmt(&mut self, s: &mut Stmt) {
            if let Stmt::Call(c) = s {
                if c.callee == *self.target {
                    (self.f)(c);
                }
            }
        }
    }
    impl ScopedRewrite for Calls<'_> {}
    rewrite_program(program, &mut Calls { target, f });
}
