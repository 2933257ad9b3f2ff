//! MIR text.
