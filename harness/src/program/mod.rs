//! Programs as data: the model every harness part shares, how it is generated, rendered and edited.
//!
//! ```text
//! Program (model.rs) ──lks.rs──▶ .lks sources    (what lockstep builds)
//!        │           ──c.rs────▶ C translation    (gcc: the independent oracle for behaviour)
//!        │           ──predict─▶ what must recompile and relink
//!        ▼
//!   Edit (an index-based intent: "the body of the k-th function", "k steps back", ...)
//! ```
//!
//! - [`model`]: the program as data, with symbolic references.
//! - [`generate`]: a seeded generator of random, valid, terminating programs ([`generate::GenConfig`]).
//! - [`lks`] and [`c`]: the two renderings, pure functions of the model.
//! - [`eval`]: constant folding with the language's semantics.
//! - [`edit`]: index-based edit intents, and [`predict`]: the model keys that say what a build must
//!   recompile and relink.
//! - [`visit`]: walking and rewriting a model.
//! - [`import`]: a user's `.lks` project read back into the model (checked by the real front end first).
//! - [`process`]: a rendered program on disk, and gcc's build of its C translation.

pub mod c;
pub mod edit;
pub mod eval;
pub mod generate;
pub mod import;
pub mod lks;
pub mod model;
pub mod predict;
pub mod process;
pub mod rng;
pub mod rust;
pub mod visit;

pub use generate::GenConfig;
pub use import::{import_project, import_sources, ImportError};
pub use model::Program;
pub use process::{compile_c_oracle, run_c_oracle, run_with_timeout, GeneratedProgram};
pub use rng::SplitMix64;

/// Generates the program of `seed` under `config` and renders it.
pub fn generate(seed: u64, config: &GenConfig) -> GeneratedProgram {
    GeneratedProgram::render(seed, &generate::generate(seed, config))
}
