//! Incremental checking: a build parses and checks only the modules whose
//! text changed, and the modules whose imports' interfaces changed. Every
//! other module is restored from a summary cached by an earlier build:
//! its interface (what importers see) and its engine facts (what the
//! incremental engine needs). Its typed bodies are produced on demand, only
//! if one of its functions must be lowered (a Layer 1 miss).
//!
//! A module's summary is keyed by its name, its text and the interface
//! hashes of the modules it imports, so it is reused exactly when checking
//! it again would give the same result. Anything unusual (a parse or type
//! error, a changed module set that breaks the import graph) falls back to
//! checking the whole program, which also produces the diagnostics.

use crate::engine::hash::{compiler_fingerprint, ContentHash, StableHasher};
use crate::engine::ModuleFacts;
use crate::exec::parallel_map;
use crate::lks::check::{check_with_interfaces, declared_interfaces, CheckedModule, ModuleInterface};
use crate::lks::modules::{ModuleGraph, ParsedModule, ParsedProject, ProjectSources, SourceFile};
use crate::lks::parser::parse_module;
use crate::source::SourceMap;
use lockstep_scheduler::bug_zoo::{self, Bug};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a build caches about one checked module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleSummary {
    pub interface: ModuleInterface,
    /// [`interface_hash`] of `interface`, computed once, when checked.
    pub interface_hash: ContentHash,
    pub facts: ModuleFacts,
}

/// What the manifest remembers about a module between builds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRecord {
    pub text: ContentHash,
    pub imports: Vec<String>,
}

/// Where summaries come from and go to (the artifact cache, in a build).
/// Shared by the threads that check independent modules at once.
pub trait SummaryStore: Sync {
    fn load(&self, key: &ContentHash) -> Option<ModuleSummary>;
    fn store(&self, key: &ContentHash, summary: &ModuleSummary);
}

/// A module of an incrementally checked program.
#[derive(Debug)]
pub enum ModuleState {
    /// Checked in this build.
    Checked(Box<CheckedModule>),
    /// Restored from its summary; its source, for checking on demand.
    Known { display_path: String, text: String },
}

/// One module of an incrementally checked program.
#[derive(Debug)]
pub struct IncrementalModule {
    pub name: String,
    pub state: ModuleState,
    pub facts: ModuleFacts,
    /// The module's summary key: its name, its text, the interfaces of its
    /// imports, the front end and the compiler. Everything the module's
    /// functions compile from follows from it, since a module sees the rest
    /// of the program only through its imports' interfaces.
    pub key: ContentHash,
}

/// The result of incremental checking.
#[derive(Debug)]
pub struct IncrementalProgram {
    /// The modules, in name order.
    pub modules: Vec<IncrementalModule>,
    /// Every module's interface, by name.
    pub interfaces: BTreeMap<String, ModuleInterface>,
    pub graph: ModuleGraph,
    pub records: BTreeMap<String, ModuleRecord>,
    /// How many modules were parsed and checked in this build.
    pub checked: usize,
}

pub fn interface_hash(interface: &ModuleInterface) -> ContentHash {
    StableHasher::new("lockstep.lks-interface").serialized(interface).finish()
}

fn summary_key(frontend: &str, name: &str, text: &ContentHash, imports: &[(String, ContentHash)]) -> ContentHash {
    let mut h = StableHasher::new("lockstep.lks-summary");
    h.str(compiler_fingerprint()).str(frontend).str(name).hash(text);
    for (import, iface) in imports.iter().filter(|_| !bug_zoo::active(Bug::ImporterNotRechecked)) {
        h.str(import).hash(iface);
    }
    h.finish()
}

/// Parses one module on its own (diagnostics are not needed here: any
/// error sends the build down the whole-program path, which reports them).
fn parse_alone(name: &str, display_path: &str, text: &str) -> Option<ParsedProject> {
    let mut sources = SourceMap::new();
    let file = sources.add(display_path.to_string(), text.to_string());
    let (ast, errors) = parse_module(file, text);
    errors
        .is_empty()
        .then(|| ParsedProject { sources, modules: vec![ParsedModule { name: name.to_string(), file, ast }] })
}

/// One module of a level: what checking it needs.
struct LevelItem<'a> {
    name: String,
    file: &'a SourceFile,
    key: ContentHash,
    parsed: Option<ParsedProject>,
}

/// What the first step found for a module: its summary, or its parse.
enum Found<'a> {
    Summary(LevelItem<'a>, Box<ModuleSummary>),
    Parsed(LevelItem<'a>, ParsedProject),
}

/// A module whose bodies must be checked.
struct Unchecked {
    name: String,
    key: ContentHash,
    /// Its text's length, which orders the work.
    size: usize,
    project: ParsedProject,
}

/// The modules by level, each level in the graph's initialisation order: a
/// module's level is one more than the highest of its imports'.
fn levels(graph: &ModuleGraph) -> Vec<Vec<String>> {
    let mut level_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut levels: Vec<Vec<String>> = Vec::new();
    for name in graph.init_order() {
        let level = graph.imports[&name].iter().map(|i| level_of[i] + 1).max().unwrap_or(0);
        level_of.insert(name.clone(), level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(name);
    }
    levels
}

/// Checks one parsed module against the interfaces of its imports (which
/// `interfaces` must hold; other entries are not looked at, so checking a
/// module costs the same however large the program is).
pub fn check_alone(
    parsed: &ParsedProject,
    interfaces: &BTreeMap<String, ModuleInterface>,
    graph: &ModuleGraph,
) -> Option<(CheckedModule, ModuleInterface)> {
    let name = &parsed.modules.first()?.name;
    let imports = graph.imports.get(name)?;
    let known = imports.iter().filter_map(|import| interfaces.get_key_value(import));
    let mut program = check_with_interfaces(parsed, known, graph, false).ok()?;
    let module = program.modules.pop()?;
    let interface = program.interfaces.remove(&module.name)?;
    Some((module, interface))
}

/// The interface of one parsed module, from its declarations and its
/// imports' interfaces (which `interfaces` must hold).
fn declared_interface(
    parsed: &ParsedProject,
    interfaces: &BTreeMap<String, ModuleInterface>,
    graph: &ModuleGraph,
) -> Option<ModuleInterface> {
    let name = &parsed.modules.first()?.name;
    let imports = graph.imports.get(name)?;
    let known = imports.iter().filter_map(|import| interfaces.get_key_value(import));
    declared_interfaces(parsed, known, graph).ok()?.remove(name)
}

/// Checks `sources` incrementally. `None` means "use the whole-program
/// path" (errors, or an import graph that does not hold together).
pub fn check_incremental(
    frontend: &str,
    sources: &ProjectSources,
    previous: &BTreeMap<String, ModuleRecord>,
    store: &dyn SummaryStore,
    facts_of: &(dyn Fn(&CheckedModule) -> ModuleFacts + Sync),
    workers: usize,
) -> Option<IncrementalProgram> {
    // Parsing needs nothing but the text: every module whose text is new is
    // parsed up front, on up to `workers` threads.
    let mut fresh: Vec<&SourceFile> =
        sources.files.iter().filter(|f| previous.get(&f.module).is_none_or(|r| r.text != f.hash)).collect();
    fresh.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then_with(|| a.module.cmp(&b.module)));
    let mut fresh_parses: BTreeMap<String, Option<ParsedProject>> = fresh
        .iter()
        .map(|f| f.module.clone())
        .zip(parallel_map(fresh.clone(), workers, |f| parse_alone(&f.module, &f.display_path, &f.text)))
        .collect();
    let mut texts = BTreeMap::new();
    let mut parsed: BTreeMap<String, ParsedProject> = BTreeMap::new();
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut records = BTreeMap::new();
    for file in &sources.files {
        if !crate::lks::modules::is_valid_module_name(&file.module) {
            return None;
        }
        let text_hash = file.hash;
        let module_imports: Vec<String> = match previous.get(&file.module).filter(|r| r.text == text_hash) {
            Some(record) => record.imports.clone(),
            None => {
                let project = fresh_parses.remove(&file.module).flatten()?;
                let mut list: Vec<String> = project.modules[0]
                    .ast
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        crate::lks::ast::Item::Import(import) => Some(import.module.name.clone()),
                        _ => None,
                    })
                    .collect();
                let unique: BTreeSet<String> = list.iter().cloned().collect();
                if unique.len() != list.len() {
                    return None;
                }
                list.sort();
                parsed.insert(file.module.clone(), project);
                list
            }
        };
        records.insert(file.module.clone(), ModuleRecord { text: text_hash, imports: module_imports.clone() });
        imports.insert(file.module.clone(), module_imports.into_iter().collect());
        texts.insert(file.module.clone(), (file, text_hash));
    }
    if !texts.contains_key("main") {
        return None;
    }
    for (module, deps) in &imports {
        if deps.iter().any(|d| !texts.contains_key(d) || d == module) {
            return None;
        }
    }
    let graph = ModuleGraph { imports };
    if graph.find_cycle().is_some() {
        return None;
    }

    // Interfaces first, in import order, level by level: a module's
    // summary key needs its imports' interfaces. A module whose summary is
    // found is done; any other gets its interface from its declarations
    // alone, which is cheap. Its bodies wait for the second step, so no
    // body ever waits for another module's bodies.
    let mut interfaces: BTreeMap<String, ModuleInterface> = BTreeMap::new();
    let mut iface_hashes: BTreeMap<String, ContentHash> = BTreeMap::new();
    let mut states: BTreeMap<String, IncrementalModule> = BTreeMap::new();
    let mut unchecked: Vec<Unchecked> = Vec::new();
    for level in levels(&graph) {
        let work: Vec<LevelItem<'_>> = level
            .into_iter()
            .map(|name| {
                let (file, text_hash) = texts[&name];
                let import_hashes: Vec<(String, ContentHash)> =
                    graph.imports[&name].iter().map(|i| (i.clone(), iface_hashes[i])).collect();
                let key = summary_key(frontend, &name, &text_hash, &import_hashes);
                let parsed = parsed.remove(&name);
                LevelItem { name, file, key, parsed }
            })
            .collect();
        // Summaries are read, and modules without one parsed, on the workers.
        let found = parallel_map(work, workers, |mut item| {
            // A summary for exactly this text and these interfaces is as
            // good as checking again, even for text that changed (an edit
            // reverted).
            if let Some(summary) = store.load(&item.key) {
                return Some(Found::Summary(item, Box::new(summary)));
            }
            let project = match item.parsed.take() {
                Some(p) => p,
                None => parse_alone(&item.name, &item.file.display_path, &item.file.text)?,
            };
            Some(Found::Parsed(item, project))
        });
        for found in found {
            match found? {
                Found::Summary(item, summary) => {
                    let ModuleSummary { interface, interface_hash: iface_hash, facts } = *summary;
                    iface_hashes.insert(item.name.clone(), iface_hash);
                    interfaces.insert(item.name.clone(), interface);
                    let state = ModuleState::Known {
                        display_path: item.file.display_path.clone(),
                        text: item.file.text.clone(),
                    };
                    states
                        .insert(item.name.clone(), IncrementalModule { name: item.name, state, facts, key: item.key });
                }
                Found::Parsed(item, project) => {
                    let interface = declared_interface(&project, &interfaces, &graph)?;
                    iface_hashes.insert(item.name.clone(), interface_hash(&interface));
                    interfaces.insert(item.name.clone(), interface);
                    unchecked.push(Unchecked { name: item.name, key: item.key, size: item.file.text.len(), project });
                }
            }
        }
    }
    // Then every body at once, the largest modules first.
    unchecked.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
    let checked = unchecked.len();
    let done = parallel_map(unchecked, workers, |item| {
        let (module, interface) = check_alone(&item.project, &interfaces, &graph)?;
        // A module's interface follows from its declarations alone; a
        // check that disagrees would make every importer's check wrong.
        debug_assert_eq!(Some(&interface), interfaces.get(&item.name), "declared interface of `{}`", item.name);
        if interfaces.get(&item.name) != Some(&interface) {
            return None;
        }
        let summary = ModuleSummary { interface_hash: interface_hash(&interface), interface, facts: facts_of(&module) };
        store.store(&item.key, &summary);
        Some((item.name, item.key, module, summary.facts))
    });
    for result in done {
        let (name, key, module, facts) = result?;
        states.insert(
            name.clone(),
            IncrementalModule { name, state: ModuleState::Checked(Box::new(module)), facts, key },
        );
    }
    let modules = states.into_values().collect();
    Some(IncrementalProgram { modules, interfaces, graph, records, checked })
}
