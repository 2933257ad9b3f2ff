//! The on-disk artifact cache: crash-safe, self-healing, shareable.
//!
//! Layout under the cache directory:
//!
//! ```text
//! VERSION            format stamp; a directory with another stamp is not ours
//! ir/abcd….bin       Layer 1: MIR, keyed by function content hash, packed
//!                    one file per codegen unit (see `session::unit_ir`);
//!                    also the front end's module summaries
//! obj/abcd….bin      Layer 2: one codegen unit's object or bitcode, and
//!                    cached `ld -r` results
//! ```
//!
//! The layers are flat directories, not sharded by key prefix: ext4 and
//! its peers index large directories, and a clean build would otherwise
//! create a few hundred shard directories, each as costly as an entry.
//!
//! Every entry is one file: a header (magic, format version, layer, key,
//! payload length), the payload, and a BLAKE3 checksum of all of it. Writes
//! go to a temporary file in the same directory and are renamed into place,
//! so a reader sees a whole entry or none, even with another build writing
//! the same key at the same moment (both write identical bytes). A file
//! that is truncated, corrupt, from another format version or filed under
//! the wrong key is a miss: it is reported, removed, and rebuilt.

use crate::engine::hash::ContentHash;
use crate::engine::remote::RemoteTier;
use lockstep_scheduler::bug_zoo::{self, Bug};
use lockstep_scheduler::clock;
use lockstep_scheduler::sync::Arc;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"LKS\x01";
/// Bump when the entry layout or any payload encoding changes.
pub const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: usize = 4 + 4 + 1 + 32 + 8;
const CHECKSUM_LEN: usize = 32;

/// Which layer an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Mid-level IR of one function.
    Ir,
    /// Object code or bitcode of one codegen unit.
    Object,
}

impl Layer {
    fn dir(self) -> &'static str {
        match self {
            Layer::Ir => "ir",
            Layer::Object => "obj",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Layer::Ir => 1,
            Layer::Object => 2,
        }
    }

    pub const ALL: [Layer; 2] = [Layer::Ir, Layer::Object];
}

/// Why an entry that exists could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadEntry {
    Truncated,
    BadMagic,
    OtherVersion(u32),
    WrongLayer,
    WrongKey,
    ChecksumMismatch,
}

impl std::fmt::Display for BadEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadEntry::Truncated => f.write_str("truncated"),
            BadEntry::BadMagic => f.write_str("not a lockstep cache entry"),
            BadEntry::OtherVersion(v) => write!(f, "cache format version {v}, expected {FORMAT_VERSION}"),
            BadEntry::WrongLayer => f.write_str("entry of another layer"),
            BadEntry::WrongKey => f.write_str("entry filed under the wrong key"),
            BadEntry::ChecksumMismatch => f.write_str("checksum mismatch"),
        }
    }
}

/// The result of a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit(Vec<u8>),
    Miss,
    /// Present but unusable (and now removed): a miss, with the reason.
    Bad(BadEntry),
}

/// An I/O failure of the cache itself (not a bad entry).
#[derive(Debug)]
pub struct CacheError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: cache: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for CacheError {}

fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |error| CacheError { path: path.to_path_buf(), error }
}

/// Entry counts and sizes, per layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub ir_entries: u64,
    pub ir_bytes: u64,
    pub object_entries: u64,
    pub object_bytes: u64,
}

/// A cache directory.
#[derive(Clone, Debug)]
pub struct ArtifactCache {
    root: PathBuf,
    /// A shared store behind this one (see `remote`): asked on a miss, sent
    /// every store.
    remote: Option<Arc<RemoteTier>>,
}

/// Encodes an entry: header, payload, checksum.
pub fn encode_entry(layer: Layer, key: &ContentHash, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + CHECKSUM_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(layer.tag());
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}

/// Decodes and verifies an entry read from disk.
pub fn decode_entry(layer: Layer, key: &ContentHash, bytes: &[u8]) -> Result<Vec<u8>, BadEntry> {
    if bytes.len() < 4 {
        return Err(BadEntry::Truncated);
    }
    if &bytes[..4] != MAGIC {
        return Err(BadEntry::BadMagic);
    }
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        return Err(BadEntry::Truncated);
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != FORMAT_VERSION {
        return Err(BadEntry::OtherVersion(version));
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&bytes[41..49]);
    let len = u64::from_le_bytes(len_bytes);
    let expected_total = (HEADER_LEN as u64).checked_add(len).and_then(|n| n.checked_add(CHECKSUM_LEN as u64));
    if expected_total != Some(bytes.len() as u64) {
        return Err(BadEntry::Truncated);
    }
    let body_end = bytes.len() - CHECKSUM_LEN;
    if blake3::hash(&bytes[..body_end]).as_bytes() != &bytes[body_end..]
        && !bug_zoo::active(Bug::CacheChecksumUnchecked)
    {
        return Err(BadEntry::ChecksumMismatch);
    }
    if bytes[8] != layer.tag() {
        return Err(BadEntry::WrongLayer);
    }
    if bytes[9..41] != key.0 {
        return Err(BadEntry::WrongKey);
    }
    Ok(bytes[HEADER_LEN..body_end].to_vec())
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache at `root`. A directory stamped
    /// with another format version is set aside as foreign: its entries
    /// would all be misses anyway, and keeping them would only waste space.
    pub fn open(root: impl Into<PathBuf>) -> Result<ArtifactCache, CacheError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(cache_err(&root))?;
        let stamp_path = root.join("VERSION");
        let stamp = format!("lockstep-cache {FORMAT_VERSION}\n");
        match std::fs::read_to_string(&stamp_path) {
            Ok(existing) if existing == stamp => {}
            Ok(_) | Err(_) => {
                // Either new or foreign: (re)create the layer directories
                // from scratch. Another process may be doing the same; every
                // step tolerates that.
                for layer in Layer::ALL {
                    let dir = root.join(layer.dir());
                    if stamp_path.exists() {
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                }
                write_atomic(&stamp_path, stamp.as_bytes()).map_err(cache_err(&stamp_path))?;
            }
        }
        Ok(ArtifactCache { root, remote: None })
    }

    /// This cache with `remote` behind it.
    pub fn with_remote(mut self, remote: Arc<RemoteTier>) -> ArtifactCache {
        self.remote = Some(remote);
        self
    }

    /// A local miss: the remote tier's verified entry, written here too.
    fn fetch_remote(&self, layer: Layer, key: &ContentHash, path: &Path) -> Lookup {
        let Some((payload, entry)) = self.remote.as_ref().and_then(|remote| remote.fetch(layer, key)) else {
            return Lookup::Miss;
        };
        // Failing to keep a copy only costs another fetch next time.
        let _ = write_atomic(path, &entry);
        Lookup::Hit(payload)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn entry_path(&self, layer: Layer, key: &ContentHash) -> PathBuf {
        let hex = key.hex();
        self.root.join(layer.dir()).join(format!("{hex}.bin"))
    }

    /// Looks an entry up. Unusable entries are removed (so the rebuild can
    /// replace them) and reported as [`Lookup::Bad`].
    pub fn get(&self, layer: Layer, key: &ContentHash) -> Lookup {
        let path = self.entry_path(layer, key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(_) => return self.fetch_remote(layer, key, &path),
        };
        match decode_entry(layer, key, &bytes) {
            Ok(payload) => {
                // Recency for `gc`: a hit is a use. Failure to record it
                // only makes eviction slightly less accurate.
                if let Ok(file) = std::fs::File::options().append(true).open(&path) {
                    let _ = file.set_modified(clock::file_time_now());
                }
                Lookup::Hit(payload)
            }
            Err(bad) => {
                let _ = std::fs::remove_file(&path);
                Lookup::Bad(bad)
            }
        }
    }

    /// Stores an entry atomically.
    pub fn put(&self, layer: Layer, key: &ContentHash, payload: &[u8]) -> Result<(), CacheError> {
        let path = self.entry_path(layer, key);
        let entry = encode_entry(layer, key, payload);
        write_atomic(&path, &entry).map_err(cache_err(&path))?;
        if let Some(remote) = &self.remote {
            remote.store(layer, key, &entry);
        }
        Ok(())
    }

    /// Every entry file with its size and last use, oldest first.
    fn entries(&self) -> Vec<(PathBuf, Layer, u64, clock::FileTime)> {
        let mut out = Vec::new();
        for layer in Layer::ALL {
            let Ok(files) = std::fs::read_dir(self.root.join(layer.dir())) else { continue };
            for file in files.flatten() {
                let path = file.path();
                if path.extension().is_none_or(|e| e != "bin") {
                    continue;
                }
                if let Ok(meta) = file.metadata() {
                    let used = meta.modified().unwrap_or(clock::EPOCH);
                    out.push((path, layer, meta.len(), used));
                }
            }
        }
        // Ties (same timestamp) break by path, so eviction is deterministic.
        out.sort_by(|a, b| a.3.cmp(&b.3).then_with(|| a.0.cmp(&b.0)));
        out
    }

    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for (_, layer, size, _) in self.entries() {
            match layer {
                Layer::Ir => {
                    stats.ir_entries += 1;
                    stats.ir_bytes += size;
                }
                Layer::Object => {
                    stats.object_entries += 1;
                    stats.object_bytes += size;
                }
            }
        }
        stats
    }

    /// Evicts least-recently-used entries until the cache holds at most
    /// `max_bytes`. Returns (entries removed, bytes freed).
    pub fn gc(&self, max_bytes: u64) -> (u64, u64) {
        let entries = self.entries();
        let mut total: u64 = entries.iter().map(|e| e.2).sum();
        let (mut removed, mut freed) = (0, 0);
        for (path, _, size, _) in entries {
            if total <= max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                removed += 1;
                freed += size;
            }
            total = total.saturating_sub(size);
        }
        (removed, freed)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename. The
/// directory is created only when it turns out to be missing: a build
/// writes thousands of entries, and asking for existing directories again
/// each time costs more than the writes.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = match tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir) {
        Ok(tmp) => tmp,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?
        }
        Err(e) => return Err(e),
    };
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Parses sizes such as `500M`, `2G`, `64k`, `1048576`.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    value.checked_mul(multiplier)
}
