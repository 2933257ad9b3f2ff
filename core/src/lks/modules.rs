//! Projects: loading a directory of `.lks` modules, and the import graph.
//!
//! A project is a directory; every `*.lks` file directly inside it is a
//! module named after its stem. Modules are always handled in name order so
//! nothing depends on directory iteration order.

use crate::diagnostic::Diagnostic;
use crate::engine::hash::ContentHash;
use crate::engine::manifest::FileStamp;
use crate::lks::ast;
use crate::lks::ast::is_keyword;
use crate::lks::parser::parse_module;
use crate::source::{FileId, SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module's source, parsed.
#[derive(Debug)]
pub struct ParsedModule {
    pub name: String,
    pub file: FileId,
    pub ast: ast::Module,
}

/// Every module of a project, parsed, in name order.
#[derive(Debug)]
pub struct ParsedProject {
    pub sources: SourceMap,
    pub modules: Vec<ParsedModule>,
}

impl ParsedProject {
    pub fn module(&self, name: &str) -> Option<&ParsedModule> {
        self.modules.binary_search_by(|m| m.name.as_str().cmp(name)).ok().map(|i| &self.modules[i])
    }
}

/// The raw text of a project's modules, before parsing: what a build reads
/// and hashes first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectSources {
    /// `(module name, display path, text)` in module-name order.
    pub files: Vec<SourceFile>,
    /// How the files looked on disk when they were read; `None` for
    /// sources that never were files.
    pub stamps: Option<SourceStamps>,
}

/// Each source file's stamp as it was read, and the clock just before the
/// reading began: what lets the next build see the sources are unchanged
/// with a `stat` per file instead of reading and hashing them (make's way,
/// with git's guard against "racy" stamps, [`SourceStamps::settled`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStamps {
    /// `(module name, stamp)` in module-name order.
    pub files: Vec<(String, FileStamp)>,
    /// The wall clock before the first file was opened, in nanoseconds
    /// since the Unix epoch. Metadata: it never reaches a key or an output.
    pub read_at_ns: i128,
}

impl SourceStamps {
    /// How long before the reading a file must have last changed for its
    /// stamp to be trusted: far more than a file system timestamp's
    /// granularity (a clock tick, 1-10 ms).
    pub const SETTLE_NS: i128 = 50_000_000;

    /// The stamps, if every file had last changed well before it was read.
    /// A file written again later then shows another modification or
    /// status-change time, however coarse the file system's clock; a file
    /// written in the same tick as it was read might not, so a recent one
    /// keeps the sources from being judged by stamps at all.
    pub fn settled(&self) -> Option<&[(String, FileStamp)]> {
        let before = self.read_at_ns - SourceStamps::SETTLE_NS;
        self.files
            .iter()
            .all(|(_, stamp)| stamp.modified_ns < before && stamp.changed_ns < before)
            .then_some(self.files.as_slice())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub module: String,
    pub display_path: String,
    pub text: String,
    /// Hash of `text`, computed once when the file is read: the up-to-date
    /// check and incremental checking both need it.
    pub hash: ContentHash,
    /// Where the file stopped being UTF-8, if it did: `text` then holds the
    /// bytes decoded lossily, and the file gets one error there.
    pub invalid_utf8_at: Option<usize>,
}

impl SourceFile {
    pub fn new(module: impl Into<String>, display_path: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let hash = ContentHash::of(text.as_bytes());
        SourceFile { module: module.into(), display_path: display_path.into(), text, hash, invalid_utf8_at: None }
    }

    /// A file read from disk: its bytes as text, lossily if they are not
    /// UTF-8 (the hash is of the bytes, so any change is seen).
    pub fn from_bytes(module: impl Into<String>, display_path: impl Into<String>, bytes: Vec<u8>) -> SourceFile {
        match String::from_utf8(bytes) {
            // Valid text (the usual case) keeps its buffer: no copy of
            // every source on every build.
            Ok(text) => SourceFile::new(module, display_path, text),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let hash = ContentHash::of(e.as_bytes());
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                SourceFile {
                    module: module.into(),
                    display_path: display_path.into(),
                    text,
                    hash,
                    invalid_utf8_at: Some(at),
                }
            }
        }
    }

    /// Why this is not source text, and where: invalid UTF-8, or a control
    /// character no text file has (a NUL, say), which marks a binary file.
    /// One error for the whole file then, instead of one per stray byte.
    pub fn not_text(&self) -> Option<(usize, String)> {
        if let Some(at) = self.invalid_utf8_at {
            return Some((at, "it is not UTF-8 text".to_string()));
        }
        let (at, c) = self.text.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))?;
        Some((at, format!("it looks like a binary file (control character U+{:04X})", u32::from(c))))
    }
}

/// Why a project could not even be read (I/O, not a diagnostic in a file).
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: cannot read: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for LoadError {}

/// Reads every `*.lks` file directly inside `dir`, sorted by module name.
/// Paths are shown as `dir` joined with the file name, exactly as the user
/// spelled `dir`.
pub fn read_project(dir: &Path) -> Result<ProjectSources, LoadError> {
    read_project_with(dir, 1)
}

/// [`read_project`] with reading and hashing spread over up to `workers`
/// threads: a no-op build of 3 MB of sources is mostly this.
pub fn read_project_with(dir: &Path, workers: usize) -> Result<ProjectSources, LoadError> {
    let read_at = lockstep_scheduler::clock::file_time_now();
    let paths = source_paths(dir)?;
    let read = crate::exec::parallel_map(paths, workers, |(stem, path, _)| {
        let io = |error| LoadError { path: path.clone(), error };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let stamp = file.metadata().ok().map(|m| FileStamp::from_metadata(&m));
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io)?;
        Ok((SourceFile::from_bytes(&stem, path.display().to_string(), bytes), stamp))
    });
    let mut read = read.into_iter().collect::<Result<Vec<_>, LoadError>>()?;
    read.sort_by(|a, b| a.0.module.cmp(&b.0.module));
    let stamps = read
        .iter()
        .map(|(file, stamp)| Some((file.module.clone(), (*stamp)?)))
        .collect::<Option<Vec<_>>>()
        .map(|files| SourceStamps { files, read_at_ns: nanos_since_epoch(read_at) });
    Ok(ProjectSources { files: read.into_iter().map(|(file, _)| file).collect(), stamps })
}

/// Each source file's stamp now, in module-name order, found exactly as
/// [`read_project_with`] finds the files; `None` if any cannot be had.
pub fn current_stamps(dir: &Path) -> Option<Vec<(String, FileStamp)>> {
    let mut stamps: Vec<(String, FileStamp)> =
        source_paths(dir).ok()?.into_iter().map(|(stem, _, meta)| (stem, FileStamp::from_metadata(&meta))).collect();
    stamps.sort_by(|a, b| a.0.cmp(&b.0));
    Some(stamps)
}

/// The `*.lks` files directly inside `dir`: module name, path, and the
/// metadata the listing needed anyway (a no-op's stamps come from it).
fn source_paths(dir: &Path) -> Result<Vec<(String, PathBuf, std::fs::Metadata)>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|error| LoadError { path: dir.to_path_buf(), error })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| LoadError { path: dir.to_path_buf(), error })?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("lks") {
            continue;
        }
        // Links followed, as reading the file follows them.
        let Some(meta) = std::fs::metadata(&path).ok().filter(std::fs::Metadata::is_file) else { continue };
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
        paths.push((stem, path, meta));
    }
    Ok(paths)
}

fn nanos_since_epoch(time: lockstep_scheduler::clock::FileTime) -> i128 {
    match time.duration_since(lockstep_scheduler::clock::EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// Whether `name` can name a module: an identifier that is not a keyword.
pub fn is_valid_module_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !is_keyword(name)
}

/// Parses every module. The root module `main` must exist; a missing one is
/// reported against the path it should have had.
pub fn parse_project(dir: &Path, sources: &ProjectSources) -> (ParsedProject, Vec<Diagnostic>) {
    let mut map = SourceMap::new();
    let mut modules = Vec::new();
    let mut diagnostics = Vec::new();
    for source in &sources.files {
        let file = map.add(source.display_path.clone(), source.text.clone());
        if !is_valid_module_name(&source.module) {
            diagnostics.push(Diagnostic::error(
                Span::new(file, 0, 0),
                format!("module name `{}` is not a valid identifier (rename the file)", source.module),
            ));
            continue;
        }
        if let Some((at, why)) = source.not_text() {
            diagnostics.push(Diagnostic::error(Span::new(file, at, at), format!("not a source file: {why}")));
            modules.push(ParsedModule { name: source.module.clone(), file, ast: parse_module(file, "").0 });
            continue;
        }
        let (ast, errors) = parse_module(file, &source.text);
        diagnostics.extend(errors);
        modules.push(ParsedModule { name: source.module.clone(), file, ast });
    }
    if !modules.iter().any(|m| m.name == "main") {
        let file = map.add(dir.join("main.lks").display().to_string(), String::new());
        diagnostics.push(Diagnostic::error(
            Span::new(file, 0, 0),
            "project has no root module: create `main.lks` with `fn main()`".to_string(),
        ));
    }
    (ParsedProject { sources: map, modules }, diagnostics)
}

/// The import graph: for each module, the modules it imports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleGraph {
    pub imports: BTreeMap<String, BTreeSet<String>>,
}

impl ModuleGraph {
    /// Builds the graph, reporting unknown and duplicate imports and cycles.
    pub fn build(project: &ParsedProject) -> (ModuleGraph, Vec<Diagnostic>) {
        let mut graph = ModuleGraph::default();
        let mut diagnostics = Vec::new();
        // The first import of each edge, for pointing at it in a cycle error.
        let mut import_spans: BTreeMap<(String, String), Span> = BTreeMap::new();
        for module in &project.modules {
            let imports = graph.imports.entry(module.name.clone()).or_default();
            for item in &module.ast.items {
                let ast::Item::Import(import) = item else { continue };
                let target = &import.module.name;
                if project.module(target).is_none() {
                    diagnostics.push(Diagnostic::error(import.module.span, format!("unknown module `{target}`")));
                } else if target == &module.name {
                    diagnostics
                        .push(Diagnostic::error(import.module.span, format!("module `{target}` cannot import itself")));
                } else if !imports.insert(target.clone()) {
                    diagnostics.push(Diagnostic::error(
                        import.module.span,
                        format!("module `{target}` is imported more than once"),
                    ));
                } else {
                    import_spans.insert((module.name.clone(), target.clone()), import.module.span);
                }
            }
        }
        if let Some(cycle) = graph.find_cycle() {
            let first_edge = (cycle[0].clone(), cycle[1].clone());
            let span = import_spans.get(&first_edge).copied().unwrap_or_default();
            diagnostics.push(Diagnostic::error(span, format!("import cycle: {}", cycle.join(" -> "))));
        }
        (graph, diagnostics)
    }

    /// A cycle as a list of modules whose first and last entries are equal,
    /// starting from the smallest module name on it, or `None`.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Unvisited,
            OnStack,
            Done,
        }
        let names: Vec<&String> = self.imports.keys().collect();
        let index: BTreeMap<&String, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut marks = vec![Mark::Unvisited; names.len()];
        for start in 0..names.len() {
            if marks[start] != Mark::Unvisited {
                continue;
            }
            // Iterative DFS: the stack holds (node, its import list, next edge).
            let mut stack: Vec<(usize, Vec<usize>, usize)> = Vec::new();
            let edges_of = |n: usize| -> Vec<usize> {
                self.imports[names[n]].iter().filter_map(|t| index.get(t).copied()).collect()
            };
            marks[start] = Mark::OnStack;
            stack.push((start, edges_of(start), 0));
            while let Some((node, edges, next)) = stack.last_mut() {
                if *next == edges.len() {
                    marks[*node] = Mark::Done;
                    stack.pop();
                    continue;
                }
                let target = edges[*next];
                *next += 1;
                match marks[target] {
                    Mark::Done => {}
                    Mark::OnStack => {
                        let from = stack.iter().position(|(n, _, _)| *n == target).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..].iter().map(|(n, _, _)| names[*n].clone()).collect();
                        // Rotate so the report is the same whichever module
                        // the search happened to start from.
                        let min = cycle.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)).map_or(0, |(i, _)| i);
                        cycle.rotate_left(min);
                        cycle.push(cycle[0].clone());
                        return Some(cycle);
                    }
                    Mark::Unvisited => {
                        marks[target] = Mark::OnStack;
                        let edges = edges_of(target);
                        stack.push((target, edges, 0));
                    }
                }
            }
        }
        None
    }

    /// Initialisation order: a module after every module it imports, ties
    /// broken by module name. Requires an acyclic graph.
    pub fn init_order(&self) -> Vec<String> {
        let mut remaining: BTreeMap<&String, usize> = self
            .imports
            .iter()
            .map(|(m, deps)| (m, deps.iter().filter(|d| self.imports.contains_key(*d)).count()))
            .collect();
        let mut importers: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
        for (module, deps) in &self.imports {
            for dep in deps {
                importers.entry(dep).or_default().push(module);
            }
        }
        let mut ready: BTreeSet<&String> = remaining.iter().filter(|(_, n)| **n == 0).map(|(m, _)| *m).collect();
        let mut order = Vec::new();
        while let Some(next) = ready.pop_first() {
            order.push(next.clone());
            for importer in importers.get(next).into_iter().flatten() {
                if let Some(count) = remaining.get_mut(importer) {
                    *count -= 1;
                    if *count == 0 {
                        ready.insert(importer);
                    }
                }
            }
        }
        order
    }
}
