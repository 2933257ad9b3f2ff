//! Data-driven tests of the `.lks` lexer and parser.
//!
//! Every `core/tests/parse/<kind>/NAME.lks` is run through [`check`] and its
//! output compared with `NAME.expected` beside it. The kind says what the
//! output shows:
//!
//! - `lex`: the token stream, then the diagnostics.
//! - `ok`: the syntax tree; the file must parse without any diagnostic.
//! - `err`: the diagnostics only, as `LINE:COL: MESSAGE` lines.
//! - `recover`: the diagnostics, then the tree the parser recovered.
//! - `spans`: the syntax tree with the span of every node.
//!
//! Run with `UPDATE_EXPECT=1` to rewrite every `.expected` file from the
//! current output, then review the change in `git diff`. Otherwise a mismatch
//! fails with a line diff.
//!
//! At the end, property tests feed random text and random token soup to the
//! parser: it must never panic, and every span it hands out must lie inside
//! the text on `char` boundaries.

use std::fmt::Write as _;
use std::path::{Path as FsPath, PathBuf};

use lockstep_core::diagnostic::Diagnostic;
use lockstep_core::lks::ast::{Block, Expr, ExprKind, Ident, Item, Module, Path, Stmt, StmtKind, UnaryOp};
use lockstep_core::lks::lexer::{lex, TokenKind};
use lockstep_core::lks::parser::parse_module;
use lockstep_core::source::{FileId, Span};
use proptest::prelude::*;

/// The file id used for every parse; a non-zero one catches spans that
/// forget their file.
const TEST_FILE: FileId = FileId(7);

const KINDS: &[&str] = &["lex", "ok", "err", "recover", "spans"];

#[test]
fn parse_test_data() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/parse");
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|value| value == "1");
    let mut failures = Vec::new();
    let mut cases = 0;
    for kind in KINDS {
        let dir = root.join(kind);
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            match path.extension().and_then(|ext| ext.to_str()) {
                Some("lks") => sources.push(path),
                Some("expected") if !path.with_extension("lks").exists() => {
                    failures.push(format!("{}: stale expectation without a `.lks` file", path.display()))
                }
                _ => {}
            }
        }
        assert!(!sources.is_empty(), "no test cases in {}", dir.display());
        sources.sort();
        for source in sources {
            cases += 1;
            if let Err(failure) = check(kind, &source, update) {
                failures.push(failure);
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} cases failed:\n\n{}", failures.len(), failures.join("\n"));
}

/// Runs one case: computes the output for `source` as its `kind` demands and
/// compares it with (or, when updating, writes it to) the `.expected` file.
fn check(kind: &str, source: &FsPath, update: bool) -> Result<(), String> {
    let bytes = std::fs::read(source).map_err(|e| format!("{}: {e}", source.display()))?;
    // Some cases hold deliberately invalid UTF-8; the parser takes `&str`, so
    // they reach it the way a loader would pass them on: lossily decoded.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (module, diagnostics) = parse_module(TEST_FILE, &text);
    let mut dumper = Dumper { text: &text, with_spans: kind == "spans", out: String::new(), bad_spans: Vec::new() };
    let actual = match kind {
        "lex" => {
            let (tokens, lex_diagnostics) = lex(TEST_FILE, &text);
            let mut out = String::new();
            for token in &tokens {
                let _ = writeln!(out, "{} {:?}", token_name(token.kind), &text[token.span.range()]);
            }
            out + &render_diagnostics(&text, &lex_diagnostics)
        }
        "ok" | "spans" => {
            if !diagnostics.is_empty() {
                return Err(format!(
                    "{}: expected no diagnostics, got:\n{}",
                    source.display(),
                    render_diagnostics(&text, &diagnostics)
                ));
            }
            dumper.module(&module);
            std::mem::take(&mut dumper.out)
        }
        "err" => {
            if diagnostics.is_empty() {
                return Err(format!("{}: expected diagnostics, got none", source.display()));
            }
            render_diagnostics(&text, &diagnostics)
        }
        "recover" => {
            dumper.module(&module);
            render_diagnostics(&text, &diagnostics) + "---\n" + &dumper.out
        }
        _ => return Err(format!("unknown test kind `{kind}`")),
    };
    // Every case checks the span invariants too, whatever it prints.
    let mut span_check = Dumper { text: &text, with_spans: true, out: String::new(), bad_spans: dumper.bad_spans };
    span_check.module(&module);
    for diagnostic in &diagnostics {
        span_check.span(diagnostic.span);
    }
    if !span_check.bad_spans.is_empty() {
        return Err(format!("{}: invalid spans: {:?}", source.display(), span_check.bad_spans));
    }

    let expected_path = source.with_extension("expected");
    if update {
        return std::fs::write(&expected_path, &actual).map_err(|e| format!("{}: {e}", expected_path.display()));
    }
    let expected = std::fs::read_to_string(&expected_path)
        .map_err(|e| format!("{}: {e} (run with UPDATE_EXPECT=1 to create it)", expected_path.display()))?;
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{}: output differs (- expected, + actual):\n{}", source.display(), line_diff(&expected, &actual)))
    }
}

fn token_name(kind: TokenKind) -> String {
    match kind {
        TokenKind::Int(Some(value)) => format!("Int({value})"),
        TokenKind::Int(None) => "Int(invalid)".to_string(),
        other => format!("{other:?}"),
    }
}

/// 1-based line and column (in chars) of a byte offset, or `None` when the
/// offset is past the end or inside a character.
fn line_col(text: &str, offset: usize) -> Option<(usize, usize)> {
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    Some((line, before[line_start..].chars().count() + 1))
}

fn render_diagnostics(text: &str, diagnostics: &[Diagnostic]) -> String {
    let position = |span: Span| match line_col(text, span.start as usize) {
        Some((line, col)) => format!("{line}:{col}"),
        None => format!("<bad span {span:?}>"),
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        let _ = writeln!(out, "{}: {}", position(diagnostic.span), diagnostic.message);
        for (span, note) in &diagnostic.notes {
            match span {
                Some(span) => _ = writeln!(out, "    note at {}: {note}", position(*span)),
                None => _ = writeln!(out, "    note: {note}"),
            }
        }
    }
    out
}

/// Writes a module as an indented s-expression. Expressions stay on one line
/// except for blocks, whose statements each get a line of their own.
struct Dumper<'a> {
    text: &'a str,
    with_spans: bool,
    out: String,
    /// Spans that fall outside the text or inside a character.
    bad_spans: Vec<Span>,
}

impl Dumper<'_> {
    fn span(&mut self, span: Span) -> String {
        let start = line_col(self.text, span.start as usize);
        let end = line_col(self.text, span.end as usize);
        match (start, end) {
            (Some(start), Some(end)) if span.file == TEST_FILE && span.start <= span.end => {
                if self.with_spans {
                    format!("@{}:{}-{}:{}", start.0, start.1, end.0, end.1)
                } else {
                    String::new()
                }
            }
            _ => {
                self.bad_spans.push(span);
                "@BAD".to_string()
            }
        }
    }

    fn ident(&mut self, ident: &Ident) -> String {
        format!("{}{}", ident.name, self.span(ident.span))
    }

    fn path(&mut self, path: &Path) -> String {
        let module = match &path.module {
            Some(module) => format!("{}::", self.ident(module)),
            None => String::new(),
        };
        let name = self.ident(&path.name);
        let whole = if path.module.is_some() { self.span(path.span) } else { String::new() };
        format!("{module}{name}{whole}")
    }

    fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.out, "{:width$}{text}", "", width = indent * 2);
    }

    fn module(&mut self, module: &Module) {
        for item in &module.items {
            let line = match item {
                Item::Import(import) => {
                    let span = self.span(import.span);
                    format!("(import{span} {})", self.ident(&import.module))
                }
                Item::Const(value) | Item::Global(value) => {
                    let keyword = if matches!(item, Item::Const(_)) { "const" } else { "global" };
                    let visibility = if value.is_pub { " pub" } else { "" };
                    let span = self.span(value.span);
                    let name = self.ident(&value.name);
                    let ty = self.ident(&value.ty.name);
                    let init = self.expr(&value.value, 1);
                    format!("({keyword}{span}{visibility} {name} {ty} {init})")
                }
                Item::Fn(function) => {
                    let visibility = if function.is_pub { " pub" } else { "" };
                    let span = self.span(function.span);
                    let sig =
                        if self.with_spans { format!(" sig{}", self.span(function.sig_span)) } else { String::new() };
                    let name = self.ident(&function.name);
                    let mut params = Vec::new();
                    for param in &function.params {
                        params.push(format!("({} {})", self.ident(&param.name), self.ident(&param.ty.name)));
                    }
                    let ret = match &function.ret {
                        Some(ty) => format!(" -> {}", self.ident(&ty.name)),
                        None => String::new(),
                    };
                    let body = self.block(&function.body, 1);
                    format!("(fn{span}{sig}{visibility} {name} ({}){ret}\n  {body})", params.join(" "))
                }
            };
            self.line(0, &line);
        }
    }

    /// A block as `(block` + one line per statement + `)`, starting at the
    /// current column and indenting its contents to `indent + 1`.
    fn block(&mut self, block: &Block, indent: usize) -> String {
        let mut out = format!("(block{}", self.span(block.span));
        for stmt in &block.stmts {
            let stmt = self.stmt(stmt, indent + 1);
            let _ = write!(out, "\n{:width$}{stmt}", "", width = (indent + 1) * 2);
        }
        if let Some(tail) = &block.tail {
            let tail = self.expr(tail, indent + 1);
            let _ = write!(out, "\n{:width$}(tail {tail})", "", width = (indent + 1) * 2);
        }
        out + ")"
    }

    fn stmt(&mut self, stmt: &Stmt, indent: usize) -> String {
        let span = self.span(stmt.span);
        match &stmt.kind {
            StmtKind::Let { mutable, name, ty, init } => {
                let mutable = if *mutable { " mut" } else { "" };
                let name = self.ident(name);
                let ty = match ty {
                    Some(ty) => format!(" : {}", self.ident(&ty.name)),
                    None => String::new(),
                };
                format!("(let{span}{mutable} {name}{ty} {})", self.expr(init, indent))
            }
            StmtKind::Assign { place, value } => {
                format!("(assign{span} {} {})", self.path(place), self.expr(value, indent))
            }
            StmtKind::While { cond, body } => {
                format!("(while{span} {} {})", self.expr(cond, indent), self.block(body, indent))
            }
            StmtKind::Return(None) => format!("(return{span})"),
            StmtKind::Return(Some(value)) => format!("(return{span} {})", self.expr(value, indent)),
            StmtKind::Expr(expr) => format!("(expr{span} {})", self.expr(expr, indent)),
        }
    }

    fn expr(&mut self, expr: &Expr, indent: usize) -> String {
        let span = self.span(expr.span);
        match &expr.kind {
            ExprKind::Int(value) => format!("{value}{span}"),
            ExprKind::Bool(value) => format!("{value}{span}"),
            // A path expression has the same span as its path.
            ExprKind::Path(path) => self.path(path),
            ExprKind::Call { callee, args } => {
                let mut out = format!("(call{span} {}", self.path(callee));
                for arg in args {
                    let arg = self.expr(arg, indent);
                    let _ = write!(out, " {arg}");
                }
                out + ")"
            }
            ExprKind::Unary(op, operand) => {
                let op = match op {
                    UnaryOp::Neg => "neg",
                    UnaryOp::Not => "not",
                };
                format!("({op}{span} {})", self.expr(operand, indent))
            }
            ExprKind::Binary(op, lhs, rhs) => {
                format!("({}{span} {} {})", op.symbol(), self.expr(lhs, indent), self.expr(rhs, indent))
            }
            ExprKind::Paren(inner) => format!("(paren{span} {})", self.expr(inner, indent)),
            // A block expression has the same span as its block.
            ExprKind::Block(block) => self.block(block, indent),
            ExprKind::If { cond, then_block, else_branch } => {
                let cond = self.expr(cond, indent);
                let then_block = self.block(then_block, indent);
                let mut out = format!("(if{span} {cond} {then_block}");
                if let Some(else_branch) = else_branch {
                    let else_branch = self.expr(else_branch, indent);
                    let _ = write!(out, " else {else_branch}");
                }
                out + ")"
            }
            ExprKind::Error => format!("(error{span})"),
        }
    }
}

/// A minimal line diff (longest common subsequence), enough to read a
/// failing expectation.
fn line_diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] =
                if old[i] == new[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            let _ = writeln!(out, "  {}", old[i]);
            i += 1;
            j += 1;
        } else if j < new.len() && (i == old.len() || common[i][j + 1] >= common[i + 1][j]) {
            let _ = writeln!(out, "+ {}", new[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", old[i]);
            i += 1;
        }
    }
    out
}

/// Builds a program whose nesting grows with the argument.
type NestingShape = fn(usize) -> String;

/// Nesting up to just below the limit parses cleanly, and nesting far beyond
/// it ends in one clear error, not in a stack overflow (in the parser or when
/// the tree is dropped). Both run on a thread with the default 2 MiB stack in
/// whatever profile the tests were built with, which makes this a real check
/// that the depth limit fits the frames the parser uses.
#[test]
fn deep_nesting_fits_the_stack_and_extreme_nesting_is_one_error() {
    let shapes: [(&str, NestingShape); 9] = [
        ("parentheses", |n| format!("fn f() {{ {}1{} }}", "(".repeat(n), ")".repeat(n))),
        ("blocks", |n| format!("fn f() {{ {}1{} }}", "{".repeat(n), "}".repeat(n))),
        ("unary operators", |n| format!("fn f() {{ {}1 }}", "-".repeat(n))),
        ("calls", |n| format!("fn f() {{ {}1{} }}", "g(".repeat(n), ")".repeat(n))),
        ("while loops", |n| format!("fn f() {{ {}{} }}", "while c {".repeat(n), "}".repeat(n))),
        ("if conditions", |n| format!("fn f() {{ {}c{} }}", "if ".repeat(n / 2), " {}".repeat(n / 2))),
        ("an else-if chain", |n| format!("fn f() {{ if c {{}}{} }}", " else if c {}".repeat(n))),
        ("a binary chain", |n| format!("fn f() {{ 1{} }}", " + 1".repeat(n))),
        ("mixed", |n| format!("fn f() {{ x = {}1{}; }}", "{ -(g(".repeat(n / 4), "))}".repeat(n / 4))),
    ];
    for (shape, build) in shapes {
        let messages = |text: String| {
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let (_, diagnostics) = parse_module(TEST_FILE, &text);
                    diagnostics.into_iter().map(|d| d.message).collect::<Vec<_>>()
                })
                .expect("spawn a parsing thread")
                .join()
                .unwrap_or_else(|_| panic!("parsing {shape} panicked"))
        };
        assert_eq!(messages(build(250)), Vec::<String>::new(), "{shape} nested 250 deep");
        assert_eq!(messages(build(100_000)), ["expression nested too deeply"], "{shape} nested 100000 deep");
    }
    let unclosed = format!("fn f() {}", "{".repeat(100_000));
    let (_, diagnostics) = parse_module(TEST_FILE, &unclosed);
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages, ["expression nested too deeply", "expected `}`, found end of file"], "unclosed blocks");
}

/// Fragments for token soup: every token kind, plus the lexical corner cases
/// most likely to confuse the lexer or the parser's recovery.
const KEYWORD_FRAGMENTS: &[&str] =
    &["fn", "pub", "let", "mut", "if", "else", "while", "return", "import", "global", "const", "true", "false"];
const NAME_AND_LITERAL_FRAGMENTS: &[&str] =
    &["x", "m", "_", "i64", "bool", "0", "1_000", "9223372036854775807", "9223372036854775808", "1_", "1__0", "12abc"];
const PUNCTUATION_FRAGMENTS: &[&str] = &[
    "(", ")", "{", "}", ",", ";", ":", "::", "->", "=", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=",
    "&&", "||", "!",
];
const TRICKY_FRAGMENTS: &[&str] = &["&", "|", "//", "/*", "*/", "\n", "é", "🦀", "\u{0}", "#", "\u{a0}"];

fn token_soup_fragments() -> Vec<&'static str> {
    [KEYWORD_FRAGMENTS, NAME_AND_LITERAL_FRAGMENTS, PUNCTUATION_FRAGMENTS, TRICKY_FRAGMENTS].concat()
}

/// Parses `text` and checks what must hold for every input.
fn assert_parse_invariants(text: &str) {
    let (module, diagnostics) = parse_module(TEST_FILE, text);
    let mut dumper = Dumper { text, with_spans: true, out: String::new(), bad_spans: Vec::new() };
    dumper.module(&module);
    for diagnostic in &diagnostics {
        assert!(!diagnostic.message.is_empty(), "empty message for {text:?}");
        dumper.span(diagnostic.span);
        for span in diagnostic.notes.iter().filter_map(|(span, _)| *span) {
            dumper.span(span);
        }
    }
    assert!(dumper.bad_spans.is_empty(), "bad spans {:?} for {text:?}", dumper.bad_spans);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_breaks_the_parser(text in any::<String>()) {
        assert_parse_invariants(&text);
    }

    #[test]
    fn random_bytes_never_break_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        assert_parse_invariants(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_breaks_the_parser(
        fragments in prop::collection::vec(prop::sample::select(token_soup_fragments()), 0..80),
        separators in prop::collection::vec(prop::sample::select(&[" ", "", "\n", "\t", "/* c */"][..]), 80),
    ) {
        let mut text = String::new();
        for (fragment, separator) in fragments.iter().zip(&separators) {
            text.push_str(fragment);
            text.push_str(separator);
        }
        assert_parse_invariants(&text);
    }
}
