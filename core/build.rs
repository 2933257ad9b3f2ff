//! Fingerprints lockstep-core's own sources into the binary.
//!
//! The fingerprint is part of every cache key: a compiler whose source
//! changed may compile the same function differently, so its artifacts must
//! never be mixed with an older compiler's. File contents are hashed in
//! sorted path order with a stable FNV-1a-128, so the value depends only on
//! the sources, never on the machine or the build directory.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let src = root.join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    files.sort();
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    let prime: u128 = 0x0000000001000000000000000000013B;
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap_or(file).to_string_lossy().replace('\\', "/");
        for byte in rel.bytes().chain([0u8]).chain(std::fs::read(file).unwrap_or_default()).chain([0u8]) {
            hash ^= byte as u128;
            hash = hash.wrapping_mul(prime);
        }
    }
    println!("cargo:rustc-env=LOCKSTEP_SOURCE_FINGERPRINT={hash:032x}");
    println!("cargo:rerun-if-changed=src");
}
