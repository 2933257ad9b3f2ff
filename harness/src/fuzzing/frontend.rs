//! The `frontend` target: arbitrary bytes as up to three modules.

use lockstep_core::diagnostic::{DiagnosticStyle, MAX_ERRORS_PER_FILE};
use lockstep_core::lks::modules::{ProjectSources, SourceFile};
use lockstep_core::lks::{self, FrontendError};
use lockstep_core::mir::{self, interp};
use std::collections::BTreeMap;
use std::path::Path;

/// The modules an input holds: its bytes split at `0xff` (never valid
/// UTF-8, so never inside a real program), named `main`, `a` and `b`.
pub const MODULE_SEPARATOR: u8 = 0xff;

/// Checks the front end on arbitrary bytes (read as files are read from
/// disk, invalid UTF-8 included): it never panics; a rejected program gets
/// at least one error, and its errors scale and point inside the input
/// (see `check_diagnostics`); an accepted program lowers to MIR that validates and that the
/// interpreter runs (running out of steps or stack is fine, malformed MIR
/// is not).
pub fn check_frontend(data: &[u8]) {
    let names = ["main", "a", "b"];
    let mut files: Vec<SourceFile> = data
        .split(|b| *b == MODULE_SEPARATOR)
        .take(names.len())
        .zip(names)
        .map(|(bytes, name)| SourceFile::from_bytes(name, format!("{name}.lks"), bytes.to_vec()))
        .collect();
    files.sort_by(|a, b| a.module.cmp(&b.module));
    let project = ProjectSources { files, stamps: None };
    let checked = match lks::check_sources(Path::new("fuzz"), &project, DiagnosticStyle::Short) {
        Ok(checked) => checked,
        Err(FrontendError::Diagnostics { rendered, count }) => return check_diagnostics(&project, &rendered, count),
        Err(FrontendError::Load(e)) => panic!("checking sources in memory failed to load: {e}"),
    };
    let program = lks::lower_program(&checked);
    if let Err(e) = mir::validate::validate_program(&program) {
        panic!("an accepted program lowered to invalid MIR: {e}");
    }
    let limits = interp::Limits { max_steps: 100_000, max_call_depth: 1_000 };
    if let Err(interp::InterpError::Malformed(e)) = interp::run(&program, &limits) {
        panic!("the interpreter rejected lowered MIR: {e}");
    }
}

/// Every rendered error names one of the input files and a line and column
/// inside it; a file shows at most `MAX_ERRORS_PER_FILE` errors, then one
/// line counting the rest; a file that is not text has exactly one error.
fn check_diagnostics(project: &ProjectSources, rendered: &str, count: usize) {
    assert!(count > 0, "a program was rejected without an error");
    let lines: Vec<&str> = rendered.lines().collect();
    assert!(!lines.is_empty(), "{count} errors rendered as nothing");
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    let mut hidden: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("note: and ") {
            let (n, file) = rest.split_once(" more error").unwrap_or_else(|| panic!("a malformed summary: {line:?}"));
            let file = file.trim_start_matches('s').trim_start_matches(" in ").to_string();
            let n: usize = n.parse().unwrap_or_else(|_| panic!("a malformed count: {line:?}"));
            assert!(hidden.insert(file, n).is_none(), "two summaries for one file: {line:?}");
            continue;
        }
        let at = SourcePosition::parse(line).unwrap_or_else(|| panic!("an error without FILE:LINE:COL: {line:?}"));
        let Some(file) = project.files.iter().find(|f| f.display_path == at.file) else {
            panic!("an error names `{}`, which is not an input file: {line:?}", at.file);
        };
        // Lines and columns are 1-based, in characters; the position just
        // past the last character (end of file) is a valid place for an error.
        let text_lines: Vec<&str> = file.text.split('\n').collect();
        let Some(source_line) = text_lines.get(at.line - 1) else {
            panic!("an error on line {} of a {}-line file: {line:?}", at.line, text_lines.len());
        };
        let width = source_line.chars().count();
        assert!(at.column <= width + 1, "an error at column {} of a {width}-character line: {line:?}", at.column);
        *shown.entry(at.file).or_default() += 1;
    }
    for (file, n) in &shown {
        assert!(*n <= MAX_ERRORS_PER_FILE, "{n} errors shown for {file}");
        assert!(hidden.get(file).is_none_or(|_| *n == MAX_ERRORS_PER_FILE), "{file}: errors hidden before the limit");
    }
    for file in project.files.iter().filter(|f| f.not_text().is_some()) {
        assert_eq!(shown.get(&file.display_path), Some(&1), "{} is not text: exactly one error", file.display_path);
        assert!(!hidden.contains_key(&file.display_path), "{} is not text: exactly one error", file.display_path);
    }
    let total: usize = shown.values().sum::<usize>() + hidden.values().sum::<usize>();
    assert!(total <= count, "{count} errors rendered as {total}:\n{rendered}");
}

/// The `FILE:LINE:COL` that starts a short diagnostic.
struct SourcePosition {
    file: String,
    line: usize,
    column: usize,
}

impl SourcePosition {
    fn parse(line: &str) -> Option<SourcePosition> {
        let (head, _message) = line.split_once(": error: ")?;
        let mut parts = head.rsplitn(3, ':');
        let column = parts.next()?.parse().ok().filter(|&c| c > 0)?;
        let line = parts.next()?.parse().ok().filter(|&l| l > 0)?;
        Some(SourcePosition { file: parts.next()?.to_owned(), line, column })
    }
}
