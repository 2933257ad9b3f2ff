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
}

/// Renders diagnostics in source order (file, then offset), so output does
/// not depend on the order checks happened to run in.
pub fn render(sources: &SourceMap, diagnostics: &[Diagnostic], style: DiagnosticStyle) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.span.file, d.span.start, d.span.end));
    sorted.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    let mut out = String::new();
    for d in sorted {
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
    out
}
