//! Tokens of `.lks` source: the lexical structure of the reference language.
//!
//! [`lex`] turns a whole file into a vector of [`Token`]s that always ends
//! with exactly one [`TokenKind::Eof`]. Whitespace and comments produce no
//! tokens at all, which is what lets whitespace-only edits leave every later
//! stage untouched. Lexing never stops early: a bad character or a malformed
//! literal is reported and lexing carries on, so one run reports every
//! lexical error in the file.
//!
//! Every token span starts and ends on a `char` boundary of the input, so the
//! parser can slice the text by any token span without checking.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

/// The largest value an integer literal may have, spelled out for the note
/// that accompanies "integer literal is too large".
const LARGEST_INTEGER_LITERAL: &str = "9223372036854775807";

/// What a token is. Identifiers carry no text: the parser reads the name
/// back from the source through the token's span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `[A-Za-z_][A-Za-z0-9_]*` that is not a keyword.
    Ident,
    /// A decimal literal. `None` means the literal was malformed or out of
    /// range; the lexer has already reported it, and the parser turns it into
    /// an `ExprKind::Error` hole instead of inventing a value.
    Int(Option<i64>),

    // Keywords.
    Fn,
    Pub,
    Let,
    Mut,
    If,
    Else,
    While,
    Return,
    Import,
    Global,
    Const,
    True,
    False,

    // Punctuation.
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `::`
    ColonColon,
    /// `->`
    Arrow,
    /// `=`
    Eq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,

    /// The end of the file; its span is empty and sits at the end of the text.
    Eof,
}

impl TokenKind {
    /// The keyword spelled `word`, if `word` is one.
    pub fn keyword(word: &str) -> Option<TokenKind> {
        let kind = match word {
            "fn" => TokenKind::Fn,
            "pub" => TokenKind::Pub,
            "let" => TokenKind::Let,
            "mut" => TokenKind::Mut,
            "if" => TokenKind::If,
            "else" => TokenKind::Else,
            "while" => TokenKind::While,
            "return" => TokenKind::Return,
            "import" => TokenKind::Import,
            "global" => TokenKind::Global,
            "const" => TokenKind::Const,
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            _ => return None,
        };
        Some(kind)
    }

    pub fn is_keyword(self) -> bool {
        matches!(
            self,
            TokenKind::Fn
                | TokenKind::Pub
                | TokenKind::Let
                | TokenKind::Mut
                | TokenKind::If
                | TokenKind::Else
                | TokenKind::While
                | TokenKind::Return
                | TokenKind::Import
                | TokenKind::Global
                | TokenKind::Const
                | TokenKind::True
                | TokenKind::False
        )
    }
}

/// One token and the exact bytes it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `text` into tokens, reporting every lexical error.
///
/// The result always ends with a single [`TokenKind::Eof`] token whose span
/// is empty and located at `text.len()`.
pub fn lex(file: FileId, text: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer { file, text, bytes: text.as_bytes(), pos: 0, tokens: Vec::new(), diagnostics: Vec::new() };
    lexer.run();
    let end = text.len();
    lexer.tokens.push(Token { kind: TokenKind::Eof, span: Span::new(file, end, end) });
    (lexer.tokens, lexer.diagnostics)
}

struct Lexer<'src> {
    file: FileId,
    text: &'src str,
    /// The same text as bytes. Every character with meaning in `.lks` is
    /// ASCII, so the lexer scans bytes and only decodes a full `char` when it
    /// meets something it must report as unexpected.
    bytes: &'src [u8],
    pos: usize,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn run(&mut self) {
        while let Some(&byte) = self.bytes.get(self.pos) {
            let start = self.pos;
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'/' if self.byte_at(start + 1) == Some(b'/') => self.skip_line_comment(),
                b'/' if self.byte_at(start + 1) == Some(b'*') => self.skip_block_comment(),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.lex_word(),
                b'0'..=b'9' => self.lex_integer(),
                _ => self.lex_punctuation(),
            }
        }
    }

    fn byte_at(&self, index: usize) -> Option<u8> {
        self.bytes.get(index).copied()
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let span = self.span(start, self.pos);
        self.tokens.push(Token { kind, span });
    }

    /// Advances past every byte that may continue an identifier or literal.
    fn eat_word_bytes(&mut self) {
        while matches!(self.byte_at(self.pos), Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_')) {
            self.pos += 1;
        }
    }

    fn skip_line_comment(&mut self) {
        // The newline itself is whitespace; leaving it for the main loop keeps
        // this function about comments only.
        match self.text[self.pos..].find('\n') {
            Some(offset) => self.pos += offset,
            None => self.pos = self.text.len(),
        }
    }

    fn skip_block_comment(&mut self) {
        let start = self.pos;
        // Comments do not nest, so the first `*/` closes the comment whatever
        // it contains, including another `/*`.
        let body = start + 2;
        match self.text[body..].find("*/") {
            Some(offset) => self.pos = body + offset + 2,
            None => {
                // Pointing at the opening `/*` tells the reader where the
                // runaway comment began; the end of the file would not.
                let span = self.span(start, body);
                self.diagnostics.push(Diagnostic::error(span, "unterminated block comment"));
                self.pos = self.text.len();
            }
        }
    }

    fn lex_word(&mut self) {
        let start = self.pos;
        self.eat_word_bytes();
        let kind = TokenKind::keyword(&self.text[start..self.pos]).unwrap_or(TokenKind::Ident);
        self.push(kind, start);
    }

    /// Reads a decimal literal. The whole run of identifier characters is
    /// taken as one token so that `12abc` is one bad literal rather than a
    /// literal followed by a surprising identifier.
    fn lex_integer(&mut self) {
        let start = self.pos;
        self.eat_word_bytes();
        let literal = &self.text[start..self.pos];
        let value = match check_integer_literal(literal) {
            Ok(value) => Some(value),
            Err(problem) => {
                let span = self.span(start, self.pos);
                self.diagnostics.push(problem.into_diagnostic(span));
                None
            }
        };
        self.push(TokenKind::Int(value), start);
    }

    fn lex_punctuation(&mut self) {
        let start = self.pos;
        let next = self.byte_at(start + 1);
        let (kind, len) = match (self.bytes[start], next) {
            (b':', Some(b':')) => (TokenKind::ColonColon, 2),
            (b'-', Some(b'>')) => (TokenKind::Arrow, 2),
            (b'=', Some(b'=')) => (TokenKind::EqEq, 2),
            (b'!', Some(b'=')) => (TokenKind::NotEq, 2),
            (b'<', Some(b'=')) => (TokenKind::Le, 2),
            (b'>', Some(b'=')) => (TokenKind::Ge, 2),
            (b'&', Some(b'&')) => (TokenKind::AndAnd, 2),
            (b'|', Some(b'|')) => (TokenKind::OrOr, 2),
            (b'(', _) => (TokenKind::LParen, 1),
            (b')', _) => (TokenKind::RParen, 1),
            (b'{', _) => (TokenKind::LBrace, 1),
            (b'}', _) => (TokenKind::RBrace, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b';', _) => (TokenKind::Semi, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b'=', _) => (TokenKind::Eq, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            (b'%', _) => (TokenKind::Percent, 1),
            (b'<', _) => (TokenKind::Lt, 1),
            (b'>', _) => (TokenKind::Gt, 1),
            (b'!', _) => (TokenKind::Bang, 1),
            _ => {
                self.skip_unexpected_character();
                return;
            }
        };
        self.pos += len;
        self.push(kind, start);
    }

    /// Reports the character at the current position and steps over all of
    /// its bytes, so the position stays on a `char` boundary.
    fn skip_unexpected_character(&mut self) {
        let start = self.pos;
        let Some(character) = self.text[start..].chars().next() else {
            // The main loop only calls here with bytes left, so this is
            // unreachable; ending the scan is the safe answer all the same.
            self.pos = self.text.len();
            return;
        };
        self.pos += character.len_utf8();
        // Letters of any script are shown as they are; invisible characters
        // (NUL, escape, no-break space, ...) are spelled as `\u{..}` escapes
        // so the message does not quote something the reader cannot see.
        let shown = if character.is_control() || character.is_whitespace() {
            character.escape_unicode().to_string()
        } else {
            character.to_string()
        };
        let message = format!("unexpected character `{shown}`");
        let mut diagnostic = Diagnostic::error(self.span(start, self.pos), message);
        if let Some(hint) = unexpected_character_hint(character) {
            diagnostic = diagnostic.with_note(None, hint);
        }
        self.diagnostics.push(diagnostic);
    }
}

/// A suggestion for characters that are usually a near miss of real syntax.
fn unexpected_character_hint(character: char) -> Option<&'static str> {
    match character {
        '&' => Some("the logical and operator is `&&`"),
        '|' => Some("the logical or operator is `||`"),
        '"' | '\'' => Some("`.lks` has no string or character literals"),
        _ => None,
    }
}

/// Why a digit-initial word is not a valid integer literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IntegerLiteralProblem {
    /// Letters follow the digits, as in `12abc`.
    TrailingLetters,
    /// A `_` that is not between two digits, as in `1_` or `1__0`.
    MisplacedUnderscore,
    /// The value exceeds `i64::MAX`.
    TooLarge,
}

impl IntegerLiteralProblem {
    fn into_diagnostic(self, span: Span) -> Diagnostic {
        match self {
            IntegerLiteralProblem::TrailingLetters => Diagnostic::error(span, "invalid integer literal")
                .with_note(None, "an integer literal may contain only digits and `_`; names cannot start with a digit"),
            IntegerLiteralProblem::MisplacedUnderscore => Diagnostic::error(span, "invalid integer literal")
                .with_note(None, "`_` is allowed only between two digits"),
            IntegerLiteralProblem::TooLarge => Diagnostic::error(span, "integer literal is too large")
                .with_note(None, format!("the largest integer literal is {LARGEST_INTEGER_LITERAL}")),
        }
    }
}

/// Validates a word that starts with a digit and returns its value.
fn check_integer_literal(literal: &str) -> Result<i64, IntegerLiteralProblem> {
    let bytes = literal.as_bytes();
    if bytes.iter().any(|b| b.is_ascii_alphabetic()) {
        return Err(IntegerLiteralProblem::TrailingLetters);
    }
    let mut value: i64 = 0;
    let mut overflowed = false;
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'_' {
            let after_digit = index > 0 && bytes[index - 1].is_ascii_digit();
            let before_digit = bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
            if !(after_digit && before_digit) {
                return Err(IntegerLiteralProblem::MisplacedUnderscore);
            }
            continue;
        }
        // Keep scanning after an overflow: a misplaced `_` later on is the
        // more fundamental problem and should win.
        let digit = i64::from(byte - b'0');
        match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(next) => value = next,
            None => overflowed = true,
        }
    }
    if overflowed {
        Err(IntegerLiteralProblem::TooLarge)
    } else {
        Ok(value)
    }
}
