//! MIR interp.
