//! What one build leaves for the next: the fingerprint of its inputs, every
//! function's content hash broken into its parts, every unit's object key,
//! the link key and the stamp of the executable it wrote.
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
const MANIFEST_VERSION: u32 = 12;

/// How many Layer 1 packs per unit the manifest remembers.
pub const PACK_HISTORY: usize = 8;

/// One function's inputs as of a build. Callees and globals are
/// positions in the manifest's tables: a build of 2000 functions records
/// some 20000 references, and names or maps for each made saving and
/// loading the manifest a visible part of every edit build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub hash: FunctionContentHash,
    /// The function as its callers see it (`hash::callee_view`).
    pub view: ContentHash,
    /// Positions in [`Manifest::functions`] of the functions it calls,
    /// ascending; a callee outside the program is not recorded (its view
    /// is still in `hash.callees`).
    pub callees: Vec<u32>,
    /// Positions in [`Manifest::globals`] of the globals it uses, ascending.
    pub globals: Vec<u32>,
}

/// One codegen unit as of a build: what lets the next build use its
/// object without reading either cache layer (`session::unchanged_unit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// The Layer 1 pack key: the unit's name and members' content hashes.
    pub ir_pack: ContentHash,
    /// Each member's IR hash, in unit order.
    pub ir_hashes: Vec<ContentHash>,
    /// The Layer 2 key.
    pub object_key: ContentHash,
    /// Hash of the object's bytes: its staged file is `objects/HASH.o`.
    pub object_hash: ContentHash,
    /// The staged file as this build left it: while the file shows the
    /// same stamp, the next build need not read and hash it again (150
    /// objects, 8 MB, on every edit of a 2000-function program).
    pub object_stamp: Option<FileStamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Hash of every source file and every build option.
    pub inputs: ContentHash,
    /// Hash of every build option and every source file's stamp as it was
    /// read, when all the stamps could be trusted (`SourceStamps::settled`):
    /// what a no-op compares with a `stat` of each file.
    pub input_stamps: Option<ContentHash>,
    /// Every function (`module::name`) with its record, sorted by name.
    pub functions: Vec<(String, FunctionRecord)>,
    /// Every global (`module::name`) with its type, sorted by name.
    pub globals: Vec<(String, String)>,
    /// Each module's front-end key ([`FrontEnd::module_key`]), by module
    /// name, for the modules that had one: the next build takes the
    /// records of a module whose key it sees again.
    ///
    /// [`FrontEnd::module_key`]: crate::engine::FrontEnd::module_key
    pub module_keys: Vec<(String, ContentHash)>,
    /// The Layer 1 packs recently written or used for each unit, newest
    /// first: where the next build looks for the IR of the unit's
    /// functions (an edit reverted finds its original IR in an older pack).
    #[serde(default)]
    pub ir_packs: BTreeMap<String, Vec<ContentHash>>,
    /// Every codegen unit of the build, by name.
    pub units: BTreeMap<String, UnitRecord>,
    pub link_key: ContentHash,
    /// The files in `WORK/objects` the final link read (by name): with the
    /// units' objects, what `cache gc` must keep for this build.
    pub link_inputs: Vec<String>,
    /// The executable this build wrote, as the file system saw it.
    pub output: FileStamp,
    pub function_count: usize,
    pub unit_count: usize,
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest { version: MANIFEST_VERSION, ..Manifest::default() }
    }

    /// Loads a manifest; anything unreadable is as good as none. It is
    /// postcard, not JSON: for 2000 functions JSON parsing alone cost more
    /// than hashing every source file. A BLAKE3 checksum follows the
    /// encoding: a flipped byte that still decodes would otherwise hand
    /// wrong recorded hashes to every later build of an unchanged module.
    pub fn load(path: &Path) -> Option<Manifest> {
        Manifest::decode(&std::fs::read(path).ok()?)
    }

    /// A manifest from the bytes [`Manifest::encode`] gave; `None` for
    /// anything else (damaged, truncated, another version).
    pub fn decode(bytes: &[u8]) -> Option<Manifest> {
        let (encoded, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if blake3::hash(encoded).as_bytes() != checksum {
            return None;
        }
        let (_, body) = UpToDate::split(encoded)?;
        let manifest: Manifest = postcard::from_bytes(body).ok()?;
        (manifest.version == MANIFEST_VERSION).then_some(manifest)
    }

    /// What a no-op build needs from the manifest at `path`, read from the
    /// front of the file alone: a no-op of 2000 functions otherwise spent
    /// most of its time reading and decoding the whole manifest (560 KB).
    pub fn up_to_date(path: &Path) -> Option<UpToDate> {
        use std::io::Read as _;
        let mut front = Vec::with_capacity(UpToDate::MAX_FRONT);
        std::fs::File::open(path).ok()?.take(UpToDate::MAX_FRONT as u64).read_to_end(&mut front).ok()?;
        UpToDate::split(&front).map(|(header, _)| header)
    }

    /// The key this build recorded for `module`.
    pub fn module_key(&self, module: &str) -> Option<ContentHash> {
        let at = self.module_keys.binary_search_by(|(name, _)| name.as_str().cmp(module)).ok()?;
        Some(self.module_keys[at].1)
    }

    /// The record of `symbol` (`module::name`), if this build had it.
    pub fn function(&self, symbol: &str) -> Option<&FunctionRecord> {
        let at = self.functions.binary_search_by(|(name, _)| name.as_str().cmp(symbol)).ok()?;
        Some(&self.functions[at].1)
    }

    /// What `record` (one of this manifest's) calls: name and view.
    fn callees_of<'m>(&'m self, record: &'m FunctionRecord) -> BTreeMap<&'m str, ContentHash> {
        let entry = |&i: &u32| self.functions.get(i as usize).map(|(name, r)| (name.as_str(), r.view));
        record.callees.iter().filter_map(entry).collect()
    }

    /// What `record` (one of this manifest's) uses: name and type.
    fn globals_of<'m>(&'m self, record: &'m FunctionRecord) -> BTreeMap<&'m str, &'m str> {
        let entry = |&i: &u32| self.globals.get(i as usize).map(|(name, ty)| (name.as_str(), ty.as_str()));
        record.globals.iter().filter_map(entry).collect()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_atomic(path, &self.encode()?)
    }

    /// The bytes [`Manifest::save`] writes: the [`UpToDate`] front (its
    /// length, postcard, its own BLAKE3 checksum), the manifest in
    /// postcard, then a BLAKE3 checksum of everything before it.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        let header = UpToDate {
            version: self.version,
            inputs: self.inputs,
            input_stamps: self.input_stamps,
            output: self.output,
            function_count: self.function_count,
            unit_count: self.unit_count,
        };
        let header = postcard::to_stdvec(&header).map_err(std::io::Error::other)?;
        let header_len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
        let mut bytes = header_len.to_le_bytes().to_vec();
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(blake3::hash(&header).as_bytes());
        postcard::to_io(self, &mut bytes).map_err(std::io::Error::other)?;
        let checksum = blake3::hash(&bytes);
        bytes.extend_from_slice(checksum.as_bytes());
        Ok(bytes)
    }

    /// Whether the executable this manifest describes is on disk, intact.
    pub fn output_intact(&self, output: &Path) -> bool {
        self.output.matches(output)
    }
}

/// The front of a manifest file: what says a build is up to date. It is
/// written with the manifest, in the same atomic rename, so it never
/// describes another build than the manifest behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpToDate {
    pub version: u32,
    pub inputs: ContentHash,
    pub input_stamps: Option<ContentHash>,
    pub output: FileStamp,
    pub function_count: usize,
    pub unit_count: usize,
}

impl UpToDate {
    /// More than the front ever takes (a few dozen bytes of postcard).
    const MAX_FRONT: usize = 512;

    /// The checked front of `bytes` and what follows it.
    fn split(bytes: &[u8]) -> Option<(UpToDate, &[u8])> {
        let (len, rest) = bytes.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        if len + 32 > UpToDate::MAX_FRONT {
            return None;
        }
        let (header, rest) = rest.split_at_checked(len)?;
        let (checksum, body) = rest.split_at_checked(32)?;
        if blake3::hash(header).as_bytes() != checksum {
            return None;
        }
        let up_to_date: UpToDate = postcard::from_bytes(header).ok()?;
        (up_to_date.version == MANIFEST_VERSION).then_some((up_to_date, body))
    }

    /// Whether the executable this build wrote is on disk, intact.
    pub fn output_intact(&self, output: &Path) -> bool {
        self.output.matches(output)
    }
}

/// A file as a build left it: its inode, size, and modification and
/// status-change times. Seeing the same stamp again means nobody replaced,
/// truncated, extended or wrote the file since, which is how `make` and
/// git's index tell an untouched file, and costs a `stat` where hashing a
/// debug executable (4 MB for 2000 functions) cost a visible part of an
/// edit build. The status-change time cannot be set back by any tool, so
/// even a rewrite that restores the modification time shows. The stamp is
/// metadata of this machine's file system: it lives in the manifest only,
/// never in a key or an output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub len: u64,
    pub inode: u64,
    pub modified_ns: i128,
    pub changed_ns: i128,
}

impl FileStamp {
    /// The stamp of the file at `path` now, if there is one.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(FileStamp::from_metadata(&meta))
    }

    #[cfg(unix)]
    pub(crate) fn from_metadata(meta: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        FileStamp {
            len: meta.len(),
            inode: meta.ino(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn from_metadata(meta: &std::fs::Metadata) -> FileStamp {
        let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        FileStamp {
            len: meta.len(),
            inode: 0,
            modified_ns: modified.map_or(0, |d| d.as_nanos() as i128),
            changed_ns: 0,
        }
    }

    /// Whether the file at `path` still has this stamp.
    pub fn matches(&self, path: &Path) -> bool {
        FileStamp::of(path) == Some(*self)
    }
}

/// Says why `symbol` was (or was not) recompiled, comparing its inputs
/// in this build (`now`) with the previous build's.
pub fn explain(symbol: &str, previous: Option<&Manifest>, now: &Manifest, l1_hit: Option<bool>) -> String {
    let Some(record) = now.function(symbol) else {
        return format!("`{symbol}` is not a function of this program");
    };
    let Some((previous, before)) = previous.and_then(|m| Some((m, m.function(symbol)?))) else {
        return match l1_hit {
            Some(true) => format!(
                "`{symbol}` was not recompiled: the previous build here did not record it, but its IR was in the cache (content hash {})",
                record.hash.combined.short()
            ),
            _ => format!("`{symbol}` was compiled: no previous build recorded it (new function, or first build here)"),
        };
    };
    let mut reasons = Vec::new();
    if before.hash.body != record.hash.body {
        reasons.push("its body changed".to_string());
    }
    if before.hash.signature != record.hash.signature {
        reasons.push("its signature (or visibility) changed".to_string());
    }
    if before.hash.callees != record.hash.callees {
        reasons.extend(map_changes(
            &previous.callees_of(before),
            &now.callees_of(record),
            "the set of functions it calls changed",
            |callee, change| match change {
                Change::Added => format!("it now calls `{callee}`"),
                Change::Removed => format!("it no longer calls `{callee}`"),
                Change::Modified(_, _) => format!("the signature of `{callee}` changed"),
            },
        ));
    }
    if before.hash.globals != record.hash.globals {
        reasons.extend(map_changes(
            &previous.globals_of(before),
            &now.globals_of(record),
            "the globals it uses changed",
            |global, change| match change {
                Change::Added => format!("it now uses global `{global}`"),
                Change::Removed => format!("it no longer uses global `{global}`"),
                Change::Modified(old, new) => format!("global `{global}` changed type from `{old}` to `{new}`"),
            },
        ));
    }
    if reasons.is_empty() && before.hash.combined != record.hash.combined {
        reasons.push("the compiler itself changed".to_string());
    }
    match (reasons.is_empty(), l1_hit) {
        (true, Some(false)) => format!(
            "`{symbol}` was recompiled although its inputs are unchanged: its cached IR was missing or unusable (content hash {})",
            record.hash.combined.short()
        ),
        (true, _) => format!("`{symbol}` was not recompiled: its content hash {} is unchanged", record.hash.combined.short()),
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
    before: &BTreeMap<&str, V>,
    now: &BTreeMap<&str, V>,
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
