//! Keeping the work directory bounded: what `cache gc` and a build's
//! `--max-cache-size` collect besides cache entries.
//!
//! `WORK/objects` holds the link inputs, each named by the hash of its
//! bytes; an edit stages a new object and leaves the old one, so without
//! collection the directory grows by an object per edit. `WORK/state` holds
//! one manifest per (output, configuration) ever built. Collection keeps
//! the newest [`KEEP_MANIFESTS`] manifests that still load, and every
//! staged file one of them names (its units' objects and its link inputs);
//! everything else there goes.
//!
//! A build that is staging objects has not written its manifest yet, so
//! collecting then could delete a file it is about to link. Builds
//! therefore hold a shared lock on `WORK/state/lock` while they run, and
//! collection takes it exclusively, without waiting: when another build is
//! running, the staged objects are left for a later collection.

use crate::engine::manifest::Manifest;
use crate::engine::session::staged_object_path;
use lockstep_scheduler::clock::FileTime;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Manifests kept: the most recently written configurations of this work
/// directory (debug and release, a few `--cgu` modes, LTO...).
pub const KEEP_MANIFESTS: usize = 8;

/// What a collection removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkDirGc {
    pub manifests_removed: u64,
    pub objects_removed: u64,
    pub bytes_freed: u64,
    /// Another build held the lock, so staged objects were left alone.
    pub skipped_busy: bool,
}

/// A build's hold on its work directory (shared), or a collection's
/// (exclusive). Released on drop.
#[derive(Debug)]
pub struct WorkDirLock {
    _file: File,
}

fn lock_file(work_dir: &Path) -> std::io::Result<File> {
    let state = work_dir.join("state");
    std::fs::create_dir_all(&state)?;
    File::options().read(true).write(true).create(true).truncate(false).open(state.join("lock"))
}

impl WorkDirLock {
    /// Held by a build for as long as it may stage link inputs. Waits only
    /// for a collection in progress, which is short.
    pub fn shared(work_dir: &Path) -> std::io::Result<WorkDirLock> {
        let file = lock_file(work_dir)?;
        file.lock_shared()?;
        Ok(WorkDirLock { _file: file })
    }

    /// Held by a collection; `None` while any build holds the lock.
    pub fn try_exclusive(work_dir: &Path) -> std::io::Result<Option<WorkDirLock>> {
        let file = lock_file(work_dir)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(WorkDirLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Collects old manifests and unreferenced link inputs under `work_dir`
/// (see the module docs). Files that vanish meanwhile are not errors.
pub fn collect_work_dir(work_dir: &Path) -> WorkDirGc {
    let mut gc = WorkDirGc::default();
    let Ok(Some(_lock)) = WorkDirLock::try_exclusive(work_dir) else {
        gc.skipped_busy = true;
        return gc;
    };
    let mut manifests: Vec<(PathBuf, FileTime)> = files_in(&work_dir.join("state"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "manifest"))
        .filter_map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((p, modified))
        })
        .collect();
    // Newest first; the path breaks ties so the order never depends on the listing.
    manifests.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let staging = work_dir.join("objects");
    let mut live: BTreeSet<PathBuf> = BTreeSet::new();
    let mut kept = 0;
    for (path, _) in manifests {
        let loaded = if kept < KEEP_MANIFESTS { Manifest::load(&path) } else { None };
        match loaded {
            Some(manifest) => {
                kept += 1;
                live.extend(manifest.units.values().map(|u| staged_object_path(&staging, &u.object_hash)));
                live.extend(manifest.link_inputs.iter().map(|name| staging.join(name)));
            }
            None => {
                if let Some(size) = remove(&path) {
                    gc.manifests_removed += 1;
                    gc.bytes_freed += size;
                }
            }
        }
    }
    for path in files_in(&staging) {
        if !live.contains(&path) {
            if let Some(size) = remove(&path) {
                gc.objects_removed += 1;
                gc.bytes_freed += size;
            }
        }
    }
    gc
}

/// Removes `path`; its size if it was there to remove.
fn remove(path: &Path) -> Option<u64> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    std::fs::remove_file(path).ok().map(|()| size)
}

/// The files directly in `dir`, sorted; none if it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// The bytes under `dir`, recursively (for reports and tests).
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
