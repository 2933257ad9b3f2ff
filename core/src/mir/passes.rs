//! MIR passes.
use crate::mir::Function;
/// Placeholder until the passes land.
pub fn optimize(_f: &mut Function) {}
