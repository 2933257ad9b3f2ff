//! lockstep-harness as a library: the deterministic test harness shared by the `lockstep` binary, the
//! integration tests and the benches.
//!
//! - [`gen`]: seeded random multi-module `.lks` programs with an equivalent C translation (the oracle).

pub mod gen;
