//! A whole build.
