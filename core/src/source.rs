//! Source files and spans.
//!
//! A [`Span`] is a byte range in one file of a [`SourceMap`]. Spans exist for
//! diagnostics only: nothing derived from a span may reach a hash, a cache key
//! or an output byte, which is what makes whitespace and comment edits free.

use codespan_reporting::files::SimpleFiles;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A half-open byte range `start..end` in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end as u32 }
    }

    /// The smallest span covering both `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The files of one build, each named as the user should see it in a
/// diagnostic (a path relative to where the user pointed us, never made
/// absolute behind their back).
#[derive(Debug, Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    count: u32,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, display_name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = self.files.add(display_name.into(), text.into());
        debug_assert_eq!(id as u32, self.count);
        self.count += 1;
        FileId(id as u32)
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|f| f.source().as_str()).unwrap_or("")
    }

    pub fn name(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|f| f.name().as_str()).unwrap_or("<unknown>")
    }

    pub(crate) fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }
}
