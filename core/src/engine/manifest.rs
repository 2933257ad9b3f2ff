//! What one build leaves for the next: the fingerprint of its inputs, every
//! function's content hash broken into its parts, every unit's object key,
//! the link key and the hash of the executable it wrote.
//!
//! The manifest is metadata, not an artifact: losing or corrupting it costs
//! speed (no up-to-date shortcut, no relink skip, vaguer `--explain`), never
//! correctness, because every artifact is found by content hash.

use crate::engine::cache::write_atomic;
use crate::engine::hash::{ContentHash, FunctionContentHash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Bump when the manifest's shape changes; other versions are ignored.
const MANIFEST_VERSION: u32 = 4;

/// How many Layer 1 packs per unit the manifest remembers.
pub const PACK_HISTORY: usize = 8;

/// One function's inputs as of a build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub hash: FunctionContentHash,
    /// Signature hash of each callee, by `module::name`.
    pub callee_signatures: BTreeMap<String, ContentHash>,
    /// Type of each referenced global, by `module::name`.
    pub global_types: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Hash of every source file and every build option.
    pub inputs: ContentHash,
    pub functions: BTreeMap<String, FunctionRecord>,
    /// The Layer 1 packs recently written or used for each unit, newest
    /// first: where the next build looks for the IR of the unit's
    /// functions (an edit reverted finds its original IR in an older pack).
    #[serde(default)]
    pub ir_packs: BTreeMap<String, Vec<ContentHash>>,
    pub link_key: ContentHash,
    /// Hash of the executable this build wrote.
    pub output_hash: ContentHash,
    pub function_count: usize,
    pub unit_count: usize,
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest { version: MANIFEST_VERSION, ..Manifest::default() }
    }

    /// Loads a manifest; anything unreadable is as good as none. It is
    /// postcard, not JSON: a no-op build reads it, and for 2000 functions
    /// JSON parsing alone cost more than hashing every source file.
    pub fn load(path: &Path) -> Option<Manifest> {
        let bytes = std::fs::read(path).ok()?;
        let manifest: Manifest = postcard::from_bytes(&bytes).ok()?;
        (manifest.version == MANIFEST_VERSION).then_some(manifest)
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = postcard::to_stdvec(self).map_err(std::io::Error::other)?;
        write_atomic(path, &bytes)
    }

    /// Whether the executable this manifest describes is on disk, intact.
    pub fn output_intact(&self, output: &Path) -> bool {
        std::fs::read(output).is_ok_and(|bytes| ContentHash::of(&bytes) == self.output_hash)
    }
}

/// Says why `symbol` was (or was not) recompiled, comparing its inputs
/// now with the previous build's.
pub fn explain(
    symbol: &str,
    previous: Option<&FunctionRecord>,
    now: Option<&FunctionRecord>,
    l1_hit: Option<bool>,
) -> String {
    let Some(now) = now else {
        return format!("`{symbol}` is not a function of this program");
    };
    let Some(previous) = previous else {
        return match l1_hit {
            Some(true) => format!(
                "`{symbol}` was not recompiled: the previous build here did not record it, but its IR was in the cache (content hash {})",
                now.hash.combined.short()
            ),
            _ => format!("`{symbol}` was compiled: no previous build recorded it (new function, or first build here)"),
        };
    };
    let mut reasons = Vec::new();
    if previous.hash.body != now.hash.body {
        reasons.push("its body changed".to_string());
    }
    if previous.hash.signature != now.hash.signature {
        reasons.push("its signature (or visibility) changed".to_string());
    }
    if previous.hash.callees != now.hash.callees {
        reasons.extend(map_changes(
            &previous.callee_signatures,
            &now.callee_signatures,
            "the set of functions it calls changed",
            |callee, change| match change {
                Change::Added => format!("it now calls `{callee}`"),
                Change::Removed => format!("it no longer calls `{callee}`"),
                Change::Modified(_, _) => format!("the signature of `{callee}` changed"),
            },
        ));
    }
    if previous.hash.globals != now.hash.globals {
        reasons.extend(map_changes(
            &previous.global_types,
            &now.global_types,
            "the globals it uses changed",
            |global, change| match change {
                Change::Added => format!("it now uses global `{global}`"),
                Change::Removed => format!("it no longer uses global `{global}`"),
                Change::Modified(old, new) => format!("global `{global}` changed type from `{old}` to `{new}`"),
            },
        ));
    }
    if reasons.is_empty() && previous.hash.combined != now.hash.combined {
        reasons.push("the compiler itself changed".to_string());
    }
    match (reasons.is_empty(), l1_hit) {
        (true, Some(false)) => format!(
            "`{symbol}` was recompiled although its inputs are unchanged: its cached IR was missing or unusable (content hash {})",
            now.hash.combined.short()
        ),
        (true, _) => format!("`{symbol}` was not recompiled: its content hash {} is unchanged", now.hash.combined.short()),
        (false, Some(true)) => format!(
            "`{symbol}` was not recompiled: {} since the previous build, but IR for exactly these inputs was already cached",
            reasons.join("; ")
        ),
        (false, _) => format!("`{symbol}` was recompiled: {}", reasons.join("; ")),
    }
}

/// How one entry of a name-keyed map differs between two builds.
enum Change<'a, V> {
    Added,
    Removed,
    Modified(&'a V, &'a V),
}

/// Describes every difference between `before` and `now`, in name order,
/// or `fallback` if the maps are equal (the difference is elsewhere).
fn map_changes<V: PartialEq>(
    before: &BTreeMap<String, V>,
    now: &BTreeMap<String, V>,
    fallback: &str,
    describe: impl Fn(&str, Change<'_, V>) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in now {
        match before.get(name) {
            Some(old) if old == value => {}
            Some(old) => out.push(describe(name, Change::Modified(old, value))),
            None => out.push(describe(name, Change::Added)),
        }
    }
    for name in before.keys().filter(|n| !now.contains_key(*n)) {
        out.push(describe(name, Change::Removed));
    }
    if out.is_empty() {
        out.push(fallback.to_string());
    }
    out
}
