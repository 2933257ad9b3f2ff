//! The `invalidation` target: a generated program under a sequence of the
//! harness's own edits ([`Edit`], built by `arbitrary` from the input), with
//! the engine's invalidation checked after every edit against the model.

use super::{frontend, hashes, lowered, sources};
use crate::program::edit::Edit;
use crate::program::generate::{generate, GenConfig};
use crate::program::predict::{key_part_disagreement, keys, Parts};
use crate::program::Program;
use arbitrary::{Arbitrary, Unstructured};
use lockstep_core::driver::{frontend_identity, module_facts, LksFrontEnd};
use lockstep_core::engine::cache::{decode_entry, encode_entry, Layer};
use lockstep_core::engine::deps::{functions_to_recompile, FunctionDependencyGraph};
use lockstep_core::engine::hash::{ContentHash, FunctionContentHash};
use lockstep_core::engine::{FrontEnd, ProgramIndex};
use lockstep_core::lks::incremental::{check_incremental, ModuleRecord, ModuleSummary, SummaryStore};
use lockstep_core::mir::Symbol;
use std::collections::{BTreeMap, BTreeSet};

/// The most edits one input makes: enough for interactions between edits,
/// few enough that an input is checked in milliseconds.
const MAX_EDITS: usize = 16;

/// The programs the target edits: `GenConfig::small` with fewer modules
/// and functions, so an input is checked in milliseconds; what makes
/// invalidation interesting (imports, calls across modules, globals,
/// consts) is all still there.
pub fn program_size() -> GenConfig {
    GenConfig { modules: 4, functions_per_module: 4, ..GenConfig::small() }
}

/// What one input means: the program of `seed`, then `edits` in order.
#[derive(Clone, Debug)]
pub struct InvalidationCase {
    /// The generator's seed ([`program_size`]).
    pub seed: u64,
    /// Edits, applied in order; one that cannot apply to the program of the moment is passed over.
    pub edits: Vec<Edit>,
}

impl InvalidationCase {
    /// The case `data` describes: two bytes of seed, then three bytes per
    /// edit (`Edit`'s `Arbitrary`), at most [`MAX_EDITS`] of them. Every
    /// input describes one, and five bytes already make an edit.
    pub fn from_bytes(data: &[u8]) -> InvalidationCase {
        let mut input = Unstructured::new(data);
        let seed = u64::from(u16::arbitrary(&mut input).unwrap_or(0));
        let mut edits = Vec::new();
        while !input.is_empty() && edits.len() < MAX_EDITS {
            match Edit::arbitrary(&mut input) {
                Ok(edit) => edits.push(edit),
                Err(_) => break,
            }
        }
        InvalidationCase { seed, edits }
    }
}

/// Summaries kept in memory, for checking incremental checking.
#[derive(Default)]
struct MemorySummaries(std::sync::Mutex<BTreeMap<ContentHash, ModuleSummary>>);

impl SummaryStore for MemorySummaries {
    fn load(&self, key: &ContentHash) -> Option<ModuleSummary> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    fn store(&self, key: &ContentHash, summary: &ModuleSummary) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(*key, summary.clone());
    }
}

/// Everything the check carries from one program state to the next, as a
/// build directory would.
struct History {
    seed: u64,
    /// Incremental checking's module records and summaries.
    records: BTreeMap<String, ModuleRecord>,
    summaries: MemorySummaries,
    /// The content hashes each module key stood for when first seen.
    hashes_by_key: BTreeMap<ContentHash, Vec<FunctionContentHash>>,
    /// Layer 1 in memory: every function's IR entry ever stored, by content hash.
    ir_entries: BTreeMap<ContentHash, Vec<u8>>,
}

/// One checked program state.
struct State {
    program: Program,
    frontend: LksFrontEnd,
    hashes: BTreeMap<Symbol, FunctionContentHash>,
    model_parts: BTreeMap<String, Parts>,
}

impl State {
    fn of(program: Program, frontend: LksFrontEnd) -> State {
        let hashes = hashes(&frontend);
        let model_parts = keys(&program).parts;
        State { program, frontend, hashes, model_parts }
    }
}

/// Checks the invalidation logic on the case `data` describes: after each
/// edit,
///
/// - **soundness and cache hits**: a function whose content hash was seen
///   before (in any earlier state) lowers to exactly the IR stored under it
///   then, read back through Layer 1's entry format;
/// - **key parts**: each part of every function's content hash (body,
///   signature, callees, globals) changes exactly when the model says its
///   input changed, so a changed function changes its key and an unchanged
///   one keeps it;
/// - **precision**: the dependency graph recompiles exactly the functions
///   whose content hash changed;
/// - incremental checking (changed modules only, the rest from summaries)
///   gives the facts and IR of whole-program checking, and a module key
///   always stands for the same content hashes;
/// - the front end accepts every edit the model calls valid and rejects the
///   type errors it plants.
///
/// Panics, with the seed and the edit, when a property fails. Returns how
/// many edits were applied and checked.
pub fn check_invalidation(data: &[u8]) -> usize {
    check_invalidation_case(&InvalidationCase::from_bytes(data))
}

/// [`check_invalidation`] on a case already built.
pub fn check_invalidation_case(case: &InvalidationCase) -> usize {
    let program = generate(case.seed, &program_size());
    let seed = case.seed;
    let Some(fe) = frontend(&program.files()) else {
        panic!("seed {seed}: the generated program does not check");
    };
    let mut history = History {
        seed,
        records: BTreeMap::new(),
        summaries: MemorySummaries::default(),
        hashes_by_key: BTreeMap::new(),
        ir_entries: BTreeMap::new(),
    };
    let mut state = State::of(program, fe);
    history.check_state(&state, "the generated program");
    let mut checked = 0;
    for edit in &case.edits {
        let mut program = state.program.clone();
        if edit.apply(&mut program).is_err() {
            continue;
        }
        let files = program.files();
        let accepted = frontend(&files);
        if let Edit::TypeError { .. } = edit {
            assert!(accepted.is_none(), "seed {seed}, `{edit}`: the front end accepted a planted type error");
            continue;
        }
        let Some(fe) = accepted else {
            let error = lockstep_core::lks::check_sources(
                std::path::Path::new("fuzz"),
                &sources(&files),
                lockstep_core::diagnostic::DiagnosticStyle::Short,
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            panic!("seed {seed}, `{edit}`: the front end rejected a program the model calls valid:\n{error}");
        };
        let next = State::of(program, fe);
        let what = format!("`{edit}`");
        check_key_parts(seed, &what, &state, &next);
        check_precision(seed, &what, &state, &next);
        history.check_state(&next, &what);
        state = next;
        checked += 1;
    }
    checked
}

impl History {
    /// The checks that need only the new state and what came before it.
    fn check_state(&mut self, state: &State, what: &str) {
        let seed = self.seed;
        let fresh: BTreeMap<&Symbol, Vec<u8>> =
            state.hashes.keys().map(|symbol| (symbol, lowered(&state.frontend, symbol))).collect();
        for (symbol, ir) in &fresh {
            let key = state.hashes[*symbol].combined;
            match self.ir_entries.get(&key) {
                Some(entry) => {
                    let cached = decode_entry(Layer::Ir, &key, entry)
                        .unwrap_or_else(|e| panic!("seed {seed}, {what}: a stored IR entry does not decode: {e:?}"));
                    assert!(
                        cached == *ir,
                        "seed {seed}, {what}: `{symbol}` has a content hash seen before, but its IR differs from the IR stored under it"
                    );
                }
                None => {
                    self.ir_entries.insert(key, encode_entry(Layer::Ir, &key, ir));
                }
            }
        }
        self.check_incremental_agrees(state, &fresh, what);
    }

    /// Incremental checking must agree with checking the whole program: the
    /// same facts, and the same MIR for every function (including those of
    /// modules restored from summaries, checked on demand). A module key must
    /// mean the content hashes it meant before.
    fn check_incremental_agrees(&mut self, state: &State, fresh: &BTreeMap<&Symbol, Vec<u8>>, what: &str) {
        let seed = self.seed;
        let files = state.program.files();
        let program =
            check_incremental(&frontend_identity(), &sources(&files), &self.records, &self.summaries, &module_facts, 1)
                .unwrap_or_else(|| panic!("seed {seed}, {what}: incremental checking gave up on a valid program"));
        self.records = program.records.clone();
        let incremental = LksFrontEnd::from_incremental(program).expect("a main function");
        let full = &state.frontend;
        assert_eq!(
            incremental.facts(),
            full.facts(),
            "seed {seed}, {what}: incremental and whole-program facts differ"
        );
        let index = ProgramIndex::new(incremental.facts());
        for (m, module) in incremental.facts().modules.iter().enumerate() {
            let key = incremental
                .module_key(m)
                .unwrap_or_else(|| panic!("seed {seed}, {what}: module `{}` has no key", module.name));
            let now: Vec<FunctionContentHash> =
                std::iter::once(&module.init).chain(&module.functions).map(|f| index.content_hash(f)).collect();
            let before = self.hashes_by_key.entry(key).or_insert_with(|| now.clone());
            assert!(
                *before == now,
                "seed {seed}, {what}: module `{}` kept its key but its content hashes changed",
                module.name
            );
        }
        for f in full.facts().all_functions() {
            assert!(
                fresh.get(&f.symbol).is_some_and(|ir| lowered(&incremental, &f.symbol) == *ir),
                "seed {seed}, {what}: `{}` lowers differently after incremental checking",
                f.symbol
            );
        }
    }
}

/// Each part of each content hash changes exactly when the model's part does.
fn check_key_parts(seed: u64, what: &str, before: &State, after: &State) {
    let engine_parts = |state: &State| -> BTreeMap<String, [ContentHash; 4]> {
        state.hashes.iter().map(|(s, h)| (s.to_string(), [h.body, h.signature, h.callees, h.globals])).collect()
    };
    let (engine_before, engine_after) = (engine_parts(before), engine_parts(after));
    for (name, model_after) in &after.model_parts {
        let (Some(model_before), Some(eb), Some(ea)) =
            (before.model_parts.get(name), engine_before.get(name), engine_after.get(name))
        else {
            continue;
        };
        if let Some(detail) = key_part_disagreement(name, (model_before, model_after), (eb, ea)) {
            panic!("seed {seed}, {what}: {detail}");
        }
    }
}

/// The dependency graph recompiles exactly what the content hashes say.
fn check_precision(seed: u64, what: &str, before: &State, after: &State) {
    let changed: BTreeSet<Symbol> = after
        .hashes
        .iter()
        .filter(|(s, h)| before.hashes.get(*s).is_none_or(|old| old.combined != h.combined))
        .map(|(s, _)| s.clone())
        .collect();
    let predicted = functions_to_recompile(
        &FunctionDependencyGraph::of(before.frontend.facts()),
        &before.hashes,
        &FunctionDependencyGraph::of(after.frontend.facts()),
        &after.hashes,
    );
    assert_eq!(predicted, changed, "seed {seed}, {what}: the dependency graph and the content hashes disagree");
}
