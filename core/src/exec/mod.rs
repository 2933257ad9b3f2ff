//! The parallel execution engine (plan, coordinator, ordered link queue).
