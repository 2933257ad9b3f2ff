//! User-facing diagnostics: `FILE:LINE:COL: error: MESSAGE`.
//!
//! Errors in user input are values ([`Diagnostic`]), collected and rendered
//! through codespan-reporting. Panics are reserved for bugs in lockstep.

use crate::source::{SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term::{self, DisplayStyle};

/// One error in user input, with the span it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    /// Secondary notes, each optionally pointing somewhere else.
    pub notes: Vec<(Option<Span>, String)>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { span, message: message.into(), notes: Vec::new() }
    }

    pub fn with_note(mut self, span: Option<Span>, note: impl Into<String>) -> Diagnostic {
        self.notes.push((span, note.into()));
        self
    }
}

/// How diagnostics are rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DiagnosticStyle {
    /// One line per error: `FILE:LINE:COL: error: MESSAGE`. The default, and
    /// what tests compare against.
    #[default]
    Short,
    /// The short line, followed by the source snippet with the span marked.
    Rich,
    /// One JSON object per line and diagnostic, shaped like rustc's
    /// `--error-format=json` (`$message_type`, `level`, `message`, `spans`
    /// with file, byte and 1-based line and column ranges, `children`,
    /// `rendered`), so an editor can show them.
    Json,
}

/// The most errors shown for one file; the rest are counted in one line,
/// so a garbled file cannot bury the terminal (rustc and gcc stop early too).
pub const MAX_ERRORS_PER_FILE: usize = 20;

/// Renders diagnostics in source order (file, then offset), so output does
/// not depend on the order checks happened to run in: at most
/// [`MAX_ERRORS_PER_FILE`] per file, then `note: and N more errors in FILE`.
pub fn render(sources: &SourceMap, diagnostics: &[Diagnostic], style: DiagnosticStyle) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.span.file, d.span.start, d.span.end));
    sorted.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    let mut out = String::new();
    let mut start = 0;
    while start < sorted.len() {
        let file = sorted[start].span.file;
        let end = sorted[start..].iter().position(|d| d.span.file != file).map_or(sorted.len(), |n| start + n);
        for d in &sorted[start..end.min(start + MAX_ERRORS_PER_FILE)] {
            render_one(&mut out, sources, d, style);
        }
        if end - start > MAX_ERRORS_PER_FILE {
            let hidden = end - start - MAX_ERRORS_PER_FILE;
            let s = if hidden == 1 { "" } else { "s" };
            let summary = format!("and {hidden} more error{s} in {}", sources.name(file));
            if style == DiagnosticStyle::Json {
                let note = serde_json::json!({"$message_type": "diagnostic", "level": "note", "message": summary,
                    "code": null, "spans": [], "children": [], "rendered": format!("note: {summary}\n")});
                out.push_str(&format!("{note}\n"));
            } else {
                out.push_str(&format!("note: {summary}\n"));
            }
        }
        start = end;
    }
    out
}

/// One span in rustc's JSON shape.
fn json_span(sources: &SourceMap, span: crate::source::Span, primary: bool, label: Option<&str>) -> serde_json::Value {
    use codespan_reporting::files::Files;
    let files = sources.files();
    let file = span.file.0 as usize;
    let at = |byte: usize| files.location(file, byte).map(|l| (l.line_number, l.column_number)).unwrap_or((1, 1));
    let ((line_start, column_start), (line_end, column_end)) = (at(span.start as usize), at(span.end as usize));
    serde_json::json!({
        "file_name": sources.name(span.file),
        "byte_start": span.start,
        "byte_end": span.end,
        "line_start": line_start,
        "line_end": line_end,
        "column_start": column_start,
        "column_end": column_end,
        "is_primary": primary,
        "label": label,
    })
}

fn render_one(out: &mut String, sources: &SourceMap, d: &Diagnostic, style: DiagnosticStyle) {
    if style == DiagnosticStyle::Json {
        let mut short = String::new();
        render_one(&mut short, sources, d, DiagnosticStyle::Short);
        let mut spans = vec![json_span(sources, d.span, true, None)];
        let mut children = Vec::new();
        for (span, note) in &d.notes {
            match span {
                Some(s) => spans.push(json_span(sources, *s, false, Some(note))),
                None => {
                    children.push(serde_json::json!({"message": note, "level": "note", "spans": [], "children": []}))
                }
            }
        }
        let json = serde_json::json!({"$message_type": "diagnostic", "level": "error", "message": d.message,
            "code": null, "spans": spans, "children": children, "rendered": short});
        out.push_str(&format!("{json}\n"));
        return;
    }
    {
        let mut labels = vec![cs::Label::primary(d.span.file.0 as usize, d.span.range())];
        let mut notes = Vec::new();
        for (span, note) in &d.notes {
            match span {
                Some(s) => labels.push(cs::Label::secondary(s.file.0 as usize, s.range()).with_message(note)),
                None => notes.push(note.clone()),
            }
        }
        let diag = cs::Diagnostic::error().with_message(&d.message).with_labels(labels).with_notes(notes);
        let short = term::Config { display_style: DisplayStyle::Short, ..Default::default() };
        match term::emit_into_string(&short, sources.files(), &diag) {
            Ok(text) => out.push_str(&text),
            Err(_) => out.push_str(&format!("{}: error: {}\n", sources.name(d.span.file), d.message)),
        }
        if style == DiagnosticStyle::Rich {
            let rich = term::Config { display_style: DisplayStyle::Rich, ..Default::default() };
            if let Ok(text) = term::emit_into_string(&rich, sources.files(), &diag) {
                // The rich form repeats the headline; keep only its snippet.
                out.extend(text.lines().skip(1).map(|l| format!("{l}\n")));
            }
        }
    }
}
