//! MIR passes.
