//! The codegen configuration: everything besides the MIR that decides the
//! bytes a backend emits. It is part of every Layer 2 key, never of a
//! Layer 1 key (MIR is independent of it).

use serde::{Deserialize, Serialize};

/// How hard LLVM works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OptLevel {
    /// No optimisation pipeline; code generation at O0.
    Debug,
    /// `default<O2>` (or the LTO pipelines at O2); code generation at O2.
    Release,
}

/// What a backend emits for a codegen unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ArtifactKind {
    /// A relocatable object file for `config.target`.
    Object,
    /// LLVM bitcode, merged and optimised at link time (`--lto`).
    Bitcode,
}

/// Everything besides the MIR that decides the bytes the backend emits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CodegenConfig {
    pub opt: OptLevel,
    /// An LLVM target triple; normalised before use.
    pub target: String,
    pub artifact: ArtifactKind,
}
