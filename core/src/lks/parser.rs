//! Recursive-descent parser: tokens → [`crate::lks::ast`], with error recovery.
//!
//! The grammar is the one in the language reference. Expressions are parsed
//! by precedence climbing; statements follow Rust's rules for `if` and blocks
//! in statement position (no `;` needed, and the last one before `}` becomes
//! the block's tail).
//!
//! Errors never stop the parse. A parsing function that cannot go on reports
//! the error and returns `Reported`; the nearest statement loop or item loop
//! then skips ahead to a synchronisation point (`;` or the closing `}` inside
//! a block, the next item keyword at the top level) and carries on, leaving an
//! `ExprKind::Error` hole where the broken code was. Errors that do not
//! derail the grammar (a chained comparison, an invalid assignment target, a
//! call of something that is not a name) are reported without unwinding.
//!
//! Nesting is capped at [`MAX_NESTING_DEPTH`] so that no input can overflow
//! the stack, here or in the recursive passes that walk the tree later.

use crate::diagnostic::Diagnostic;
use crate::lks::ast::{
    BinaryOp, Block, Expr, ExprKind, FnItem, Ident, Import, Item, Module, Param, Path, Stmt, StmtKind, TypeRef,
    UnaryOp, ValueItem,
};
use crate::lks::lexer::{lex, Token, TokenKind};
use crate::source::{FileId, Span};

/// How deeply expressions and blocks may nest. Parentheses, blocks, `if`
/// (including each `else if` of a chain), calls, unary operators and each
/// operator of a binary chain all count one level, because each of them adds
/// one level to the tree that every later pass walks recursively.
pub const MAX_NESTING_DEPTH: u32 = 256;

/// Parses one module. Always returns a tree (possibly partial, with
/// `ExprKind::Error` holes) together with every error found; the caller
/// stops before checking if the error list is non-empty.
///
/// Diagnostics come back ordered by their position in the file.
pub fn parse_module(file: FileId, text: &str) -> (Module, Vec<Diagnostic>) {
    let (tokens, mut diagnostics) = lex(file, text);
    let mut parser = Parser::new(file, text, tokens);
    let module = parser.parse_items();
    diagnostics.append(&mut parser.diagnostics);
    // The sort is stable, so a lexical error keeps its place before a parse
    // error reported at the same offset.
    diagnostics.sort_by_key(|diagnostic| diagnostic.span.start);
    (module, diagnostics)
}

/// Proof that an error has already been reported. A function returning it
/// leaves recovery to its caller and must not report the same problem again.
#[derive(Debug)]
struct Reported;

type ParseResult<T> = Result<T, Reported>;

/// Expressions travel boxed: the tree stores them boxed anyway, and a
/// pointer-sized result keeps the frames of the recursive functions small.
type ExprResult = ParseResult<Box<Expr>>;

/// What a statement-position parse produced: a statement, or an expression
/// that turned out to be the last thing in its block and so is the tail.
enum StmtOrTail {
    Stmt(Box<Stmt>),
    Tail(Box<Expr>),
}

/// Binding strength of the binary operators, loosest first.
const PRECEDENCE_OR: u8 = 1;
const PRECEDENCE_AND: u8 = 2;
const PRECEDENCE_COMPARISON: u8 = 3;
const PRECEDENCE_ADDITIVE: u8 = 4;
const PRECEDENCE_MULTIPLICATIVE: u8 = 5;

fn binary_operator(kind: TokenKind) -> Option<(BinaryOp, u8)> {
    let operator = match kind {
        TokenKind::OrOr => (BinaryOp::Or, PRECEDENCE_OR),
        TokenKind::AndAnd => (BinaryOp::And, PRECEDENCE_AND),
        TokenKind::EqEq => (BinaryOp::Eq, PRECEDENCE_COMPARISON),
        TokenKind::NotEq => (BinaryOp::Ne, PRECEDENCE_COMPARISON),
        TokenKind::Lt => (BinaryOp::Lt, PRECEDENCE_COMPARISON),
        TokenKind::Le => (BinaryOp::Le, PRECEDENCE_COMPARISON),
        TokenKind::Gt => (BinaryOp::Gt, PRECEDENCE_COMPARISON),
        TokenKind::Ge => (BinaryOp::Ge, PRECEDENCE_COMPARISON),
        TokenKind::Plus => (BinaryOp::Add, PRECEDENCE_ADDITIVE),
        TokenKind::Minus => (BinaryOp::Sub, PRECEDENCE_ADDITIVE),
        TokenKind::Star => (BinaryOp::Mul, PRECEDENCE_MULTIPLICATIVE),
        TokenKind::Slash => (BinaryOp::Div, PRECEDENCE_MULTIPLICATIVE),
        TokenKind::Percent => (BinaryOp::Rem, PRECEDENCE_MULTIPLICATIVE),
        _ => return None,
    };
    Some(operator)
}

struct Parser<'src> {
    file: FileId,
    text: &'src str,
    /// Never empty: the lexer always ends the list with one `Eof` token.
    tokens: Vec<Token>,
    /// Index of the current (not yet consumed) token.
    pos: usize,
    /// Byte offset just past the last consumed token, where spans of the
    /// constructs being finished end.
    prev_end: usize,
    /// Current nesting level, checked against [`MAX_NESTING_DEPTH`].
    depth: u32,
    diagnostics: Vec<Diagnostic>,
    /// The token at which the last "expected ..." error was reported. A second
    /// error at the same token is nearly always a cascade of the first (an
    /// unclosed block at the end of the file fails every enclosing block at
    /// once), so it is dropped.
    last_error_token: Option<usize>,
}

impl<'src> Parser<'src> {
    fn new(file: FileId, text: &'src str, tokens: Vec<Token>) -> Parser<'src> {
        Parser { file, text, tokens, pos: 0, prev_end: 0, depth: 0, diagnostics: Vec::new(), last_error_token: None }
    }

    // ----- Token access -------------------------------------------------

    fn current(&self) -> Token {
        match self.tokens.get(self.pos).or(self.tokens.last()) {
            Some(&token) => token,
            // The lexer guarantees an `Eof` token, but a made-up one at the
            // end of the text is a harmless answer if that ever changes.
            None => Token { kind: TokenKind::Eof, span: Span::new(self.file, self.text.len(), self.text.len()) },
        }
    }

    fn peek(&self) -> TokenKind {
        self.current().kind
    }

    /// The kind of the token `offset` places after the current one.
    fn peek_ahead(&self, offset: usize) -> TokenKind {
        self.tokens.get(self.pos + offset).map_or(TokenKind::Eof, |token| token.kind)
    }

    /// Whether the current token starts what looks like an item: an item
    /// keyword followed by a name (`fn f`, `import m`, or a keyword wrongly
    /// used as one, `const if`), or `pub` followed by an item keyword.
    /// Recovery stops in front of these, and inside a block they mean the
    /// block was never closed. Requiring the name keeps a keyword misused as
    /// a name (`fn fn()`, `let const = 1`) from passing for a new item.
    fn at_item_start(&self) -> bool {
        match self.peek() {
            TokenKind::Fn | TokenKind::Const | TokenKind::Global | TokenKind::Import => {
                let next = self.peek_ahead(1);
                next == TokenKind::Ident || next.is_keyword()
            }
            TokenKind::Pub => matches!(self.peek_ahead(1), TokenKind::Fn | TokenKind::Const | TokenKind::Global),
            _ => false,
        }
    }

    fn at(&self, kind: TokenKind) -> bool {
        self.peek() == kind
    }

    /// Consumes the current token. At the end of the file this is a no-op, so
    /// every loop that bumps must also stop at `Eof`.
    fn bump(&mut self) -> Token {
        let token = self.current();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
            self.prev_end = token.span.end as usize;
        }
        token
    }

    fn eat(&mut self, kind: TokenKind) -> Option<Token> {
        if self.at(kind) {
            Some(self.bump())
        } else {
            None
        }
    }

    /// Consumes a token of `kind`, or reports "expected `what`, found ...".
    fn expect(&mut self, kind: TokenKind, what: &str) -> ParseResult<Token> {
        match self.eat(kind) {
            Some(token) => Ok(token),
            None => Err(self.error_expected(what)),
        }
    }

    fn token_text(&self, token: Token) -> &'src str {
        // Token spans are always on char boundaries; `get` keeps even a
        // broken invariant from turning into a panic.
        self.text.get(token.span.range()).unwrap_or("")
    }

    /// How a token is named in "found ..." messages.
    fn describe(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Eof => "end of file".to_string(),
            _ => format!("`{}`", self.token_text(token)),
        }
    }

    /// The span from byte `start` to the end of the last consumed token.
    fn span_from(&self, start: usize) -> Span {
        Span::new(self.file, start, self.prev_end.max(start))
    }

    // ----- Diagnostics --------------------------------------------------

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Reports an error pointing at the current token, unless an error was
    /// already reported there.
    fn error_here(&mut self, diagnostic: Diagnostic) -> Reported {
        if self.last_error_token != Some(self.pos) {
            self.last_error_token = Some(self.pos);
            self.report(diagnostic);
        }
        Reported
    }

    fn expected_diagnostic(&self, what: &str) -> Diagnostic {
        let found = self.current();
        Diagnostic::error(found.span, format!("expected {what}, found {}", self.describe(found)))
    }

    fn error_expected(&mut self, what: &str) -> Reported {
        let diagnostic = self.expected_diagnostic(what);
        self.error_here(diagnostic)
    }

    // ----- Nesting ------------------------------------------------------

    // Every recursive path of the grammar passes through one of the
    // functions that call `enter_level`, which is what bounds the recursion.
    // The functions on those paths keep their frames small (expressions are
    // returned boxed, diagnostics are built in separate cold functions)
    // because debug builds give every temporary its own stack slot, and the
    // limit must fit comfortably in a 2 MiB thread stack even there.

    /// Goes one nesting level deeper, or reports that the input nests too
    /// deeply. Every successful call is paired with `self.depth -= 1` on all
    /// paths out of the caller, errors included.
    fn enter_level(&mut self) -> ParseResult<()> {
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(self.report_nested_too_deeply());
        }
        self.depth += 1;
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn report_nested_too_deeply(&mut self) -> Reported {
        let span = self.current().span;
        let diagnostic = Diagnostic::error(span, "expression nested too deeply").with_note(
            None,
            format!(
                "at most {MAX_NESTING_DEPTH} levels of parentheses, blocks, `if`s, calls and operators may nest; \
                 split the expression with `let`"
            ),
        );
        self.error_here(diagnostic)
    }

    // ----- Recovery -----------------------------------------------------

    /// Skips to the next token that can start an item at brace depth 0.
    fn recover_to_item_start(&mut self) {
        let mut brace_depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                _ if brace_depth == 0 && self.at_item_start() => return,
                TokenKind::LBrace => brace_depth += 1,
                TokenKind::RBrace => brace_depth = brace_depth.saturating_sub(1),
                _ => {}
            }
            self.bump();
        }
    }

    /// Skips past the next `;` of the current block, or up to (not past) the
    /// `}` that closes it, stepping over nested braces.
    fn recover_in_block(&mut self) {
        let mut brace_depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                // An item cannot appear in a block at any depth; the block
                // loop reports the missing `}` in front of it.
                _ if self.at_item_start() => return,
                TokenKind::RBrace if brace_depth == 0 => return,
                TokenKind::RBrace => brace_depth -= 1,
                TokenKind::LBrace => brace_depth += 1,
                TokenKind::Semi if brace_depth == 0 => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// An `ExprKind::Error` hole covering `start` to the last consumed token.
    fn error_expr(&self, start: usize) -> Box<Expr> {
        Box::new(Expr { kind: ExprKind::Error, span: self.span_from(start) })
    }

    // ----- Items --------------------------------------------------------

    fn parse_items(&mut self) -> Module {
        let mut items = Vec::new();
        while !self.at(TokenKind::Eof) {
            let before = self.pos;
            match self.parse_item() {
                Ok(item) => items.push(item),
                Err(Reported) => self.recover_to_item_start(),
            }
            if self.pos == before {
                // Recovery stops in front of item starts; if the failed item
                // began on one without consuming it, step over it so the loop
                // always makes progress.
                self.bump();
            }
        }
        Module { items }
    }

    fn parse_item(&mut self) -> ParseResult<Item> {
        let start = self.current().span.start as usize;
        let is_pub = self.eat(TokenKind::Pub).is_some();
        match self.peek() {
            TokenKind::Import if !is_pub => self.parse_import(start).map(Item::Import),
            TokenKind::Const => self.parse_value_item(start, is_pub).map(Item::Const),
            TokenKind::Global => self.parse_value_item(start, is_pub).map(Item::Global),
            TokenKind::Fn => self.parse_fn(start, is_pub).map(Item::Fn),
            _ if is_pub => Err(self.error_expected("`fn`, `const` or `global` after `pub`")),
            _ => Err(self.error_expected("item (`fn`, `const`, `global` or `import`)")),
        }
    }

    /// Expects the `;` that ends an item. A missing one is reported but does
    /// not cost the item, whose meaning is already complete.
    fn expect_item_semicolon(&mut self) {
        if self.expect(TokenKind::Semi, "`;`").is_err() && !self.at_item_start() {
            self.recover_to_item_start();
        }
    }

    fn parse_import(&mut self, start: usize) -> ParseResult<Import> {
        self.bump();
        let module = self.expect_ident("module name")?;
        self.expect_item_semicolon();
        Ok(Import { module, span: self.span_from(start) })
    }

    fn parse_value_item(&mut self, start: usize, is_pub: bool) -> ParseResult<ValueItem> {
        let keyword = self.bump();
        let what = if keyword.kind == TokenKind::Const { "constant name" } else { "global name" };
        let name = self.expect_ident(what)?;
        self.expect(TokenKind::Colon, "`:`")?;
        let ty = self.parse_type()?;
        self.expect(TokenKind::Eq, "`=`")?;
        let value_start = self.current().span.start as usize;
        let value = match self.parse_expr() {
            Ok(value) => {
                self.expect_item_semicolon();
                value
            }
            Err(Reported) => {
                // Keep the item with a hole so its name still exists for
                // later passes; the rest of the initialiser is skipped.
                self.recover_to_item_start();
                self.error_expr(value_start)
            }
        };
        Ok(ValueItem { is_pub, name, ty, value: *value, span: self.span_from(start) })
    }

    fn parse_fn(&mut self, start: usize, is_pub: bool) -> ParseResult<FnItem> {
        self.bump();
        let name = self.expect_ident("function name")?;
        self.expect(TokenKind::LParen, "`(`")?;
        let params = self.parse_params()?;
        let ret = if self.eat(TokenKind::Arrow).is_some() {
            Some(self.parse_type()?)
        } else {
            if !self.at(TokenKind::LBrace) {
                return Err(self.error_expected("`->` or `{`"));
            }
            None
        };
        let sig_span = self.span_from(start);
        let body = self.parse_block()?;
        Ok(FnItem { is_pub, name, params, ret, body, sig_span, span: self.span_from(start) })
    }

    /// Parses parameters after the `(` up to and including the `)`.
    fn parse_params(&mut self) -> ParseResult<Vec<Param>> {
        let mut params = Vec::new();
        loop {
            if self.eat(TokenKind::RParen).is_some() {
                return Ok(params);
            }
            let name = self.expect_ident("parameter name or `)`")?;
            self.expect(TokenKind::Colon, "`:`")?;
            let ty = self.parse_type()?;
            params.push(Param { name, ty });
            if self.eat(TokenKind::Comma).is_none() {
                self.expect(TokenKind::RParen, "`,` or `)`")?;
                return Ok(params);
            }
        }
    }

    fn parse_type(&mut self) -> ParseResult<TypeRef> {
        Ok(TypeRef { name: self.expect_ident("type")? })
    }

    fn expect_ident(&mut self, what: &str) -> ParseResult<Ident> {
        let token = self.current();
        if token.kind == TokenKind::Ident {
            self.bump();
            return Ok(Ident { name: self.token_text(token).to_string(), span: token.span });
        }
        let mut diagnostic = self.expected_diagnostic(what);
        if token.kind.is_keyword() {
            let note = format!("`{}` is a keyword and cannot be used as a name", self.token_text(token));
            diagnostic = diagnostic.with_note(None, note);
        }
        Err(self.error_here(diagnostic))
    }

    // ----- Blocks and statements ----------------------------------------

    fn parse_block(&mut self) -> ParseResult<Block> {
        // The level is checked before the `{` is consumed, so that on failure
        // the caller's recovery sees the whole block and steps over it.
        self.enter_level()?;
        let block = match self.expect(TokenKind::LBrace, "`{`") {
            Ok(open) => Ok(self.parse_block_contents(open)),
            Err(reported) => Err(reported),
        };
        self.depth -= 1;
        block
    }

    /// Parses statements after the `{` up to and including the `}`. Always
    /// succeeds: errors inside are recovered from statement by statement.
    fn parse_block_contents(&mut self, open: Token) -> Block {
        let mut stmts = Vec::new();
        let mut tail = None;
        loop {
            match self.peek() {
                TokenKind::RBrace => {
                    self.bump();
                    break;
                }
                TokenKind::Eof => {
                    self.report_unclosed_block(open, false);
                    break;
                }
                _ if self.at_item_start() => {
                    self.report_unclosed_block(open, true);
                    break;
                }
                _ => {}
            }
            let before = self.pos;
            let stmt_start = self.current().span.start as usize;
            match self.parse_stmt() {
                Ok(StmtOrTail::Stmt(stmt)) => stmts.push(*stmt),
                // `parse_stmt` only yields a tail in front of `}`, so the next
                // iteration closes the block.
                Ok(StmtOrTail::Tail(expr)) => tail = Some(expr),
                Err(Reported) => {
                    self.recover_in_block();
                    stmts.push(self.statement_hole(stmt_start));
                }
            }
            if self.pos == before && !matches!(self.peek(), TokenKind::RBrace | TokenKind::Eof) {
                // Defensive: a statement that consumed nothing would loop forever.
                self.bump();
            }
        }
        Block { stmts, tail, span: self.span_from(open.span.start as usize) }
    }

    #[cold]
    #[inline(never)]
    fn report_unclosed_block(&mut self, open: Token, item_follows: bool) {
        let mut diagnostic = self.expected_diagnostic("`}`").with_note(Some(open.span), "this `{` is never closed");
        if item_follows {
            diagnostic = diagnostic.with_note(None, "items can only appear at the top level of a module");
        }
        self.error_here(diagnostic);
    }

    /// A statement standing in for one that failed to parse.
    #[cold]
    #[inline(never)]
    fn statement_hole(&self, start: usize) -> Stmt {
        let hole = self.error_expr(start);
        Stmt { span: hole.span, kind: StmtKind::Expr(*hole) }
    }

    fn parse_stmt(&mut self) -> ParseResult<StmtOrTail> {
        let start = self.current().span.start as usize;
        match self.peek() {
            TokenKind::Let => self.parse_let(start),
            TokenKind::While => self.parse_while(start),
            TokenKind::Return => self.parse_return(start),
            TokenKind::If | TokenKind::LBrace => self.parse_if_or_block_stmt(start),
            _ => self.parse_expr_stmt(start),
        }
    }

    fn finish_stmt(&self, kind: StmtKind, start: usize) -> StmtOrTail {
        StmtOrTail::Stmt(Box::new(Stmt { kind, span: self.span_from(start) }))
    }

    fn parse_let(&mut self, start: usize) -> ParseResult<StmtOrTail> {
        self.bump();
        let mutable = self.eat(TokenKind::Mut).is_some();
        let name = self.expect_ident("variable name")?;
        let ty = if self.eat(TokenKind::Colon).is_some() { Some(self.parse_type()?) } else { None };
        self.expect(TokenKind::Eq, if ty.is_some() { "`=`" } else { "`:` or `=`" })?;
        let init = self.parse_expr()?;
        self.expect(TokenKind::Semi, "`;`")?;
        Ok(self.finish_stmt(StmtKind::Let { mutable, name, ty, init: *init }, start))
    }

    fn parse_while(&mut self, start: usize) -> ParseResult<StmtOrTail> {
        self.bump();
        let cond = self.parse_expr()?;
        let body = self.parse_block()?;
        // Accepted for symmetry with `if` and block statements.
        self.eat(TokenKind::Semi);
        Ok(self.finish_stmt(StmtKind::While { cond: *cond, body }, start))
    }

    fn parse_return(&mut self, start: usize) -> ParseResult<StmtOrTail> {
        self.bump();
        let value = if self.at(TokenKind::Semi) { None } else { Some(*self.parse_expr()?) };
        self.expect(TokenKind::Semi, "`;`")?;
        Ok(self.finish_stmt(StmtKind::Return(value), start))
    }

    /// An `if` or block in statement position: a statement that needs no
    /// `;` (but may have one), or the tail if it is last in its block.
    fn parse_if_or_block_stmt(&mut self, start: usize) -> ParseResult<StmtOrTail> {
        let expr = if self.at(TokenKind::If) { self.parse_if()? } else { self.parse_block_expr()? };
        if self.at(TokenKind::RBrace) {
            return Ok(StmtOrTail::Tail(expr));
        }
        self.eat(TokenKind::Semi);
        Ok(self.finish_stmt(StmtKind::Expr(*expr), start))
    }

    /// `EXPR ;`, `PLACE = EXPR ;`, or the block's tail `EXPR` before `}`.
    fn parse_expr_stmt(&mut self, start: usize) -> ParseResult<StmtOrTail> {
        let expr = self.parse_expr()?;
        match self.peek() {
            TokenKind::RBrace => Ok(StmtOrTail::Tail(expr)),
            TokenKind::Semi => {
                self.bump();
                Ok(self.finish_stmt(StmtKind::Expr(*expr), start))
            }
            TokenKind::Eq => self.parse_assignment(*expr, start),
            _ => Err(self.error_expected("`;`")),
        }
    }

    /// `PLACE = EXPR ;` after `PLACE` was read as an expression; the current
    /// token is `=`.
    fn parse_assignment(&mut self, target: Expr, start: usize) -> ParseResult<StmtOrTail> {
        let place = match target.kind {
            ExprKind::Path(place) => Some(place),
            // The statement's shape is still clear, so report and keep
            // parsing rather than skipping the value.
            _ => {
                self.report_invalid_assignment_target(target.span);
                None
            }
        };
        self.bump();
        let value = self.parse_expr()?;
        self.expect(TokenKind::Semi, "`;`")?;
        let kind = match place {
            Some(place) => StmtKind::Assign { place, value: *value },
            None => StmtKind::Expr(*self.error_expr(start)),
        };
        Ok(self.finish_stmt(kind, start))
    }

    #[cold]
    #[inline(never)]
    fn report_invalid_assignment_target(&mut self, span: Span) {
        let diagnostic = Diagnostic::error(span, "invalid assignment target")
            .with_note(None, "only a variable, a global or `MODULE::GLOBAL` can be assigned to");
        self.report(diagnostic);
    }

    // ----- Expressions --------------------------------------------------

    fn parse_expr(&mut self) -> ExprResult {
        self.parse_binary(PRECEDENCE_OR)
    }

    /// Precedence climbing over the binary operators binding at least as
    /// tightly as `min_precedence`.
    fn parse_binary(&mut self, min_precedence: u8) -> ExprResult {
        // Every operator of a left-associative chain nests the tree one level
        // deeper, so the chain is charged against the nesting limit and the
        // charge is refunded when the chain ends, however it ends.
        let saved_depth = self.depth;
        let result = self.parse_binary_chain(min_precedence);
        self.depth = saved_depth;
        result
    }

    fn parse_binary_chain(&mut self, min_precedence: u8) -> ExprResult {
        let mut lhs = self.parse_unary()?;
        while let Some((op, precedence)) = binary_operator(self.peek()) {
            if precedence < min_precedence {
                break;
            }
            if op.is_comparison() {
                // An unparenthesised comparison on the left can only have
                // been built by this very loop.
                if let ExprKind::Binary(previous, ..) = lhs.kind {
                    if previous.is_comparison() {
                        self.report_chained_comparison(previous);
                    }
                }
            }
            self.enter_level()?;
            self.bump();
            let rhs = self.parse_binary(precedence + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Box::new(Expr { kind: ExprKind::Binary(op, lhs, rhs), span });
        }
        Ok(lhs)
    }

    /// Reports the comparison operator at the current token, which follows
    /// another comparison. Parsing goes on left to right, which keeps the
    /// rest of the expression checked for further errors.
    #[cold]
    #[inline(never)]
    fn report_chained_comparison(&mut self, previous: BinaryOp) {
        let note =
            format!("use `&&` to combine comparisons, or parentheses to compare the result of `{}`", previous.symbol());
        let diagnostic =
            Diagnostic::error(self.current().span, "comparison operators cannot be chained").with_note(None, note);
        self.report(diagnostic);
    }

    fn parse_unary(&mut self) -> ExprResult {
        let op = match self.peek() {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Bang => UnaryOp::Not,
            _ => return self.parse_postfix(),
        };
        self.enter_level()?;
        let op_token = self.bump();
        let operand = self.parse_unary();
        self.depth -= 1;
        let operand = operand?;
        let span = op_token.span.to(operand.span);
        Ok(Box::new(Expr { kind: ExprKind::Unary(op, operand), span }))
    }

    /// A primary expression, rejected if something tries to call it. Plain
    /// `NAME(...)` and `MODULE::NAME(...)` calls never get here: the primary
    /// parser reads them whole.
    fn parse_postfix(&mut self) -> ExprResult {
        let expr = self.parse_primary()?;
        if self.at(TokenKind::LParen) {
            return self.parse_uncallable_call(expr.span);
        }
        Ok(expr)
    }

    #[cold]
    #[inline(never)]
    fn parse_uncallable_call(&mut self, callee_span: Span) -> ExprResult {
        // One report per chain: `f(1)(2)(3)` is one mistake, not two.
        let diagnostic = Diagnostic::error(callee_span, "this expression cannot be called")
            .with_note(None, "only `NAME(...)` and `MODULE::NAME(...)` are calls");
        self.report(diagnostic);
        let start = callee_span.start as usize;
        while self.at(TokenKind::LParen) {
            // The arguments are still parsed, so errors inside them are found
            // and the parse resumes after the `)`.
            self.parse_call_args()?;
        }
        Ok(self.error_expr(start))
    }

    fn parse_primary(&mut self) -> ExprResult {
        match self.peek() {
            TokenKind::Int(_) | TokenKind::True | TokenKind::False => Ok(self.parse_literal()),
            TokenKind::Ident => self.parse_path_or_call(),
            TokenKind::LParen => self.parse_paren(),
            TokenKind::LBrace => self.parse_block_expr(),
            TokenKind::If => self.parse_if(),
            _ => Err(self.error_expected("expression")),
        }
    }

    /// An integer or boolean literal; the current token is one.
    fn parse_literal(&mut self) -> Box<Expr> {
        let token = self.bump();
        let kind = match token.kind {
            TokenKind::Int(Some(value)) => ExprKind::Int(value),
            TokenKind::True => ExprKind::Bool(true),
            TokenKind::False => ExprKind::Bool(false),
            // A malformed literal was reported by the lexer; a hole keeps the
            // error from being reported twice.
            _ => ExprKind::Error,
        };
        Box::new(Expr { kind, span: token.span })
    }

    /// `NAME`, `MODULE::NAME`, or a call of either; the current token is an
    /// identifier.
    fn parse_path_or_call(&mut self) -> ExprResult {
        let path = self.parse_path()?;
        if !self.at(TokenKind::LParen) {
            return Ok(Box::new(Expr { span: path.span, kind: ExprKind::Path(path) }));
        }
        let args = self.parse_call_args()?;
        let span = self.span_from(path.span.start as usize);
        Ok(Box::new(Expr { kind: ExprKind::Call { callee: path, args }, span }))
    }

    /// `( EXPR )`; the current token is `(`.
    fn parse_paren(&mut self) -> ExprResult {
        let start = self.current().span.start as usize;
        self.enter_level()?;
        self.bump();
        let inner = self.parse_expr();
        self.depth -= 1;
        let inner = inner?;
        self.expect(TokenKind::RParen, "`)`")?;
        Ok(Box::new(Expr { kind: ExprKind::Paren(inner), span: self.span_from(start) }))
    }

    /// `NAME` or `MODULE::NAME`; the current token is an identifier.
    fn parse_path(&mut self) -> ParseResult<Path> {
        let first = self.expect_ident("name")?;
        if self.eat(TokenKind::ColonColon).is_none() {
            return Ok(Path { span: first.span, module: None, name: first });
        }
        let name = self.expect_ident("item name after `::`")?;
        if self.at(TokenKind::ColonColon) {
            return Err(self.report_long_path());
        }
        Ok(Path { span: first.span.to(name.span), module: Some(first), name })
    }

    #[cold]
    #[inline(never)]
    fn report_long_path(&mut self) -> Reported {
        let diagnostic = Diagnostic::error(self.current().span, "a path has at most two segments")
            .with_note(None, "items of another module are named `MODULE::NAME`");
        self.error_here(diagnostic)
    }

    /// Parses `( ARGS )`; the current token is `(`.
    fn parse_call_args(&mut self) -> ParseResult<Vec<Expr>> {
        self.bump();
        let mut args = Vec::new();
        loop {
            if self.eat(TokenKind::RParen).is_some() {
                return Ok(args);
            }
            // Each argument is one level deeper than the call.
            self.enter_level()?;
            let arg = self.parse_expr();
            self.depth -= 1;
            args.push(*arg?);
            if self.eat(TokenKind::Comma).is_none() {
                self.expect(TokenKind::RParen, "`,` or `)`")?;
                return Ok(args);
            }
        }
    }

    fn parse_block_expr(&mut self) -> ExprResult {
        let block = self.parse_block()?;
        Ok(Box::new(Expr { span: block.span, kind: ExprKind::Block(block) }))
    }

    /// `if COND BLOCK [else (BLOCK | IF)]`; the current token is `if`.
    fn parse_if(&mut self) -> ExprResult {
        self.enter_level()?;
        let result = self.parse_if_at_level();
        self.depth -= 1;
        result
    }

    fn parse_if_at_level(&mut self) -> ExprResult {
        let start = self.bump().span.start as usize;
        let cond = self.parse_expr()?;
        let then_block = self.parse_block()?;
        let else_branch = if self.eat(TokenKind::Else).is_some() {
            Some(match self.peek() {
                TokenKind::If => self.parse_if()?,
                TokenKind::LBrace => self.parse_block_expr()?,
                _ => return Err(self.error_expected("`{` or `if` after `else`")),
            })
        } else {
            None
        };
        let kind = ExprKind::If { cond, then_block, else_branch };
        Ok(Box::new(Expr { kind, span: self.span_from(start) }))
    }
}
