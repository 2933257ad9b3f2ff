//! The properties lockstep's fuzz targets check, as plain functions: the
//! `fuzz/` targets (cargo fuzz, coverage-guided, opt-in) and the
//! `fuzzing` integration tests (a bounded slice on every `cargo test`) call
//! the same code.
//!
//! - [`check_invalidation`]: the invalidation logic is sound and precise on
//!   random programs under random edits: equal content hashes mean equal
//!   MIR; whitespace and comment edits change no hash; the function
//!   dependency graph predicts exactly the functions whose hash changed;
//!   incremental checking (only changed modules) gives the same facts and
//!   MIR as checking the whole program; a module key seen again (in any
//!   build) comes with the content hashes it came with before, which is
//!   what lets the engine reuse them (`FrontEnd::module_key`).
//! - [`check_frontend`]: arbitrary bytes never panic the front end, and a
//!   program it accepts always lowers to valid MIR that the interpreter
//!   can run.
//! - [`check_cache_entry`]: arbitrary bytes are never accepted as a cache
//!   entry unless they are one, and any damage to a real entry is caught.

use crate::program::{generate, GenConfig};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::{frontend_identity, module_facts, LksFrontEnd};
use lockstep_core::engine::cache::{decode_entry, encode_entry, Layer};
use lockstep_core::engine::deps::{functions_to_recompile, FunctionDependencyGraph};
use lockstep_core::engine::hash::{ContentHash, FunctionContentHash};
use lockstep_core::engine::{FrontEnd, ProgramIndex};
use lockstep_core::lks::incremental::{check_incremental, ModuleRecord, ModuleSummary, SummaryStore};
use lockstep_core::lks::{self, modules::ProjectSources, modules::SourceFile};
use lockstep_core::mir::{self, interp, Symbol};
use std::collections::BTreeMap;
use std::path::Path;

/// Reads bytes as a little cursor of choices.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.data.get(self.at).copied();
        self.at += 1;
        b
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.byte().unwrap_or(0)))
    }
}

/// `(module, text)` pairs as the front end reads a project.
pub fn sources(files: &[(String, String)]) -> ProjectSources {
    let mut files: Vec<SourceFile> = files
        .iter()
        .map(|(module, text)| SourceFile::new(module.clone(), format!("{module}.lks"), text.clone()))
        .collect();
    files.sort_by(|a, b| a.module.cmp(&b.module));
    ProjectSources { files }
}

fn frontend(files: &[(String, String)]) -> Option<LksFrontEnd> {
    lks::check_sources(Path::new("fuzz"), &sources(files), DiagnosticStyle::Short).ok().map(LksFrontEnd::new)
}

/// Summaries kept in memory, for checking incremental checking.
#[derive(Default)]
struct MemorySummaries(std::cell::RefCell<BTreeMap<ContentHash, ModuleSummary>>);

impl SummaryStore for MemorySummaries {
    fn load(&self, key: &ContentHash) -> Option<ModuleSummary> {
        self.0.borrow().get(key).cloned()
    }

    fn store(&self, key: &ContentHash, summary: &ModuleSummary) {
        self.0.borrow_mut().insert(*key, summary.clone());
    }
}

/// What incremental checking carries from one build to the next: the
/// module records, the summaries, and (for the key contract) the content
/// hashes seen with each module key.
#[derive(Default)]
struct IncrementalState {
    records: BTreeMap<String, ModuleRecord>,
    summaries: MemorySummaries,
    hashes_by_key: BTreeMap<ContentHash, Vec<FunctionContentHash>>,
}

/// Incremental checking must agree with checking the whole program: the
/// same facts, and the same MIR for every function (including those of
/// modules restored from summaries, checked on demand). A module key must
/// mean the content hashes it meant before.
fn check_incremental_agrees(seed: u64, files: &[(String, String)], full: &LksFrontEnd, state: &mut IncrementalState) {
    let program =
        check_incremental(&frontend_identity(), &sources(files), &state.records, &state.summaries, &module_facts)
            .unwrap_or_else(|| panic!("seed {seed}: incremental checking gave up on a valid program"));
    state.records = program.records.clone();
    let incremental = LksFrontEnd::from_incremental(program).expect("a main function");
    assert_eq!(incremental.facts(), full.facts(), "seed {seed}: incremental and whole-program facts differ");
    let index = ProgramIndex::new(incremental.facts());
    for (m, module) in incremental.facts().modules.iter().enumerate() {
        let key =
            incremental.module_key(m).unwrap_or_else(|| panic!("seed {seed}: module `{}` has no key", module.name));
        let now: Vec<FunctionContentHash> =
            std::iter::once(&module.init).chain(&module.functions).map(|f| index.content_hash(f)).collect();
        let before = state.hashes_by_key.entry(key).or_insert_with(|| now.clone());
        assert!(*before == now, "seed {seed}: module `{}` kept its key but its content hashes changed", module.name);
    }
    for f in full.facts().all_functions() {
        assert!(
            lowered(&incremental, &f.symbol) == lowered(full, &f.symbol),
            "seed {seed}: `{}` lowers differently after incremental checking",
            f.symbol
        );
    }
}

fn hashes(fe: &LksFrontEnd) -> BTreeMap<Symbol, FunctionContentHash> {
    let program = fe.facts();
    let index = ProgramIndex::new(program);
    program.all_functions().map(|f| (f.symbol.clone(), index.content_hash(f))).collect()
}

/// The kinds of edit the invalidation check makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edit {
    Whitespace,
    Comment,
    Literal,
    Operator,
    Visibility,
}

/// Applies one edit at a position chosen by `pick`; `None` if the text has
/// no place for it.
fn apply(text: &str, edit: Edit, pick: u64, value: u8) -> Option<String> {
    let candidates: Vec<usize> = match edit {
        Edit::Whitespace | Edit::Comment => text.match_indices(['{', ';']).map(|(i, _)| i + 1).collect(),
        Edit::Literal => text
            .char_indices()
            .filter(|(i, c)| {
                c.is_ascii_digit() && !text[..*i].ends_with(|p: char| p.is_ascii_alphanumeric() || p == '_')
            })
            .map(|(i, _)| i)
            .collect(),
        Edit::Operator => text.match_indices(" + ").chain(text.match_indices(" - ")).map(|(i, _)| i + 1).collect(),
        Edit::Visibility => text.match_indices("fn ").map(|(i, _)| i).collect(),
    };
    if candidates.is_empty() {
        return None;
    }
    let at = candidates[(pick % candidates.len() as u64) as usize];
    Some(match edit {
        Edit::Whitespace => format!("{}\n  \t{}", &text[..at], &text[at..]),
        Edit::Comment => format!("{} /* edit {value} */ // note\n{}", &text[..at], &text[at..]),
        Edit::Literal => {
            let end = text[at..].find(|c: char| !c.is_ascii_digit() && c != '_').map_or(text.len(), |e| at + e);
            format!("{}{}{}", &text[..at], value, &text[end..])
        }
        Edit::Operator => {
            let flipped = if &text[at..at + 1] == "+" { "-" } else { "+" };
            format!("{}{}{}", &text[..at], flipped, &text[at + 1..])
        }
        Edit::Visibility => {
            if text[..at].ends_with("pub ") {
                format!("{}{}", &text[..at - 4], &text[at..])
            } else {
                format!("{}pub {}", &text[..at], &text[at..])
            }
        }
    })
}

fn lowered(fe: &LksFrontEnd, symbol: &Symbol) -> Vec<u8> {
    fe.lower(symbol).and_then(|f| postcard::to_stdvec(&f).ok()).unwrap_or_default()
}

/// See the module docs. Panics (with a description) when a property fails.
/// Returns how many edits produced a valid program and were checked.
pub fn check_invalidation(data: &[u8]) -> usize {
    let mut checked = 0;
    let mut input = Bytes { data, at: 0 };
    let seed = input.u64();
    let mut files: Vec<(String, String)> = generate(seed, &GenConfig::small()).files;
    let Some(mut before) = frontend(&files) else {
        panic!("generated program {seed} does not check");
    };
    let mut before_hashes = hashes(&before);
    let mut state = IncrementalState::default();
    check_incremental_agrees(seed, &files, &before, &mut state);
    while let (Some(kind), Some(file), Some(pick), Some(value)) =
        (input.byte(), input.byte(), input.byte(), input.byte())
    {
        let edit =
            [Edit::Whitespace, Edit::Comment, Edit::Literal, Edit::Operator, Edit::Visibility][kind as usize % 5];
        let index = file as usize % files.len();
        let Some(text) = apply(&files[index].1, edit, u64::from(pick), value) else { continue };
        let mut edited = files.clone();
        edited[index].1 = text;
        // Edits that break the program are fine: the build would fail and
        // keep the old state, so the check does too.
        let Some(after) = frontend(&edited) else { continue };
        let after_hashes = hashes(&after);

        // Soundness: an unchanged key must mean unchanged IR.
        for (symbol, hash) in &after_hashes {
            if before_hashes.get(symbol).is_some_and(|old| old.combined == hash.combined) {
                assert!(
                    lowered(&before, symbol) == lowered(&after, symbol),
                    "seed {seed}, {edit:?}: `{symbol}` kept its content hash but its MIR changed"
                );
            }
        }
        // Precision: layout edits change nothing.
        if matches!(edit, Edit::Whitespace | Edit::Comment) {
            assert_eq!(before_hashes, after_hashes, "seed {seed}: a {edit:?} edit changed a content hash");
        }
        // The dependency graph and the hashes agree on what is dirty.
        let changed: std::collections::BTreeSet<Symbol> = after_hashes
            .iter()
            .filter(|(s, h)| before_hashes.get(*s).is_none_or(|old| old.combined != h.combined))
            .map(|(s, _)| s.clone())
            .collect();
        let predicted = functions_to_recompile(
            &FunctionDependencyGraph::of(before.facts()),
            &before_hashes,
            &FunctionDependencyGraph::of(after.facts()),
            &after_hashes,
        );
        assert_eq!(predicted, changed, "seed {seed}, {edit:?}: the dependency graph and the content hashes disagree");
        check_incremental_agrees(seed, &edited, &after, &mut state);
        files = edited;
        before = after;
        before_hashes = after_hashes;
        checked += 1;
    }
    checked
}

/// See the module docs.
pub fn check_frontend(data: &[u8]) {
    let names = ["main", "a", "b"];
    let files: Vec<(String, String)> = data
        .split(|b| *b == 0xff)
        .take(names.len())
        .zip(names)
        .map(|(bytes, name)| (name.to_string(), String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    let Ok(checked) = lks::check_sources(Path::new("fuzz"), &sources(&files), DiagnosticStyle::Short) else { return };
    let program = lks::lower_program(&checked);
    if let Err(e) = mir::validate::validate_program(&program) {
        panic!("an accepted program lowered to invalid MIR: {e}");
    }
    let limits = interp::Limits { max_steps: 100_000, max_call_depth: 1_000 };
    // Running out of steps or stack is fine; malformed MIR is not.
    if let Err(interp::InterpError::Malformed(e)) = interp::run(&program, &limits) {
        panic!("the interpreter rejected lowered MIR: {e}");
    }
}

/// See the module docs.
pub fn check_cache_entry(data: &[u8]) {
    let key = ContentHash::of(data);
    if let Ok(payload) = decode_entry(Layer::Ir, &key, data) {
        // Only a real entry for this key decodes, and it re-encodes to itself.
        assert_eq!(encode_entry(Layer::Ir, &key, &payload), data, "a decoded entry re-encodes differently");
    }
    let entry = encode_entry(Layer::Object, &key, data);
    assert_eq!(decode_entry(Layer::Object, &key, &entry).as_deref(), Ok(data), "round trip");
    assert!(decode_entry(Layer::Ir, &key, &entry).is_err(), "wrong layer accepted");
    let mut damaged = entry.clone();
    let at = (key.0[0] as usize * 31 + key.0[1] as usize) % damaged.len();
    damaged[at] ^= 1 << (key.0[2] % 8);
    assert!(decode_entry(Layer::Object, &key, &damaged).is_err(), "a flipped bit was accepted");
    assert!(decode_entry(Layer::Object, &key, &entry[..entry.len() - 1]).is_err(), "a truncated entry was accepted");
}
