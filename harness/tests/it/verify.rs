//! `--verify-cache` catches a stale artifact: entries are forged so their
//! checksums are right but their content belongs to another key (what a
//! hash that missed an input would produce). A plain build trusts them;
//! a verifying build must fail, naming the unit.

use crate::support::{lockstep, text, workspace_root};
use lockstep_core::engine::cache::{decode_entry, encode_entry, Layer};
use lockstep_core::engine::hash::ContentHash;
use std::path::{Path, PathBuf};

fn object_entries(cache: &Path) -> Vec<(PathBuf, ContentHash, Vec<u8>)> {
    let mut out = Vec::new();
    for file in std::fs::read_dir(cache.join("obj")).expect("obj layer").flatten() {
        let path = file.path();
        let Some(key) = path.file_stem().and_then(|s| s.to_str()).and_then(ContentHash::from_hex) else { continue };
        let bytes = std::fs::read(&path).expect("read entry");
        if let Ok(payload) = decode_entry(Layer::Object, &key, &bytes) {
            out.push((path, key, payload));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn verify_cache_catches_a_forged_artifact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    std::fs::create_dir_all(&project).expect("mkdir");
    for name in ["main.lks", "geometry.lks", "stats.lks"] {
        std::fs::copy(workspace_root().join("examples/tour").join(name), project.join(name)).expect("copy");
    }
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "proj", "-o", "exe", "--cache-dir", "cache"];
        args.extend_from_slice(extra);
        lockstep(tmp.path(), &args)
    };
    let clean = build(&[]);
    assert!(clean.status.success(), "{}", text(&clean.stderr));
    let honest = build(&["--verify-cache"]);
    assert!(honest.status.success(), "an honest cache verifies: {}", text(&honest.stderr));

    // Swap the payloads of two object entries, each re-encoded under the
    // other's key so its checksum is valid.
    let entries = object_entries(&tmp.path().join("cache"));
    let objects: Vec<_> = entries.iter().filter(|(_, _, p)| p.starts_with(b"\x7fELF")).collect();
    assert!(objects.len() >= 2, "the tour has several objects");
    let (a, b) = (objects[0], objects[1]);
    std::fs::write(&a.0, encode_entry(Layer::Object, &a.1, &b.2)).expect("forge");
    std::fs::write(&b.0, encode_entry(Layer::Object, &b.1, &a.2)).expect("forge");

    let verified = build(&["--verify-cache", "--report", "r.json"]);
    assert_eq!(verified.status.code(), Some(1), "the forged entries are caught");
    let stderr = text(&verified.stderr);
    assert!(stderr.contains("--verify-cache") && stderr.contains("differs"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r.json")).expect("report")).expect("json");
    assert_eq!(report["status"], "failed");
    assert!(report["failed"][0]["unit"].is_string(), "the failure names the unit: {report}");
}
