//! The system linker driver.
