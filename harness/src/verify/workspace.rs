//! A [`Workspace`]: one project directory of `.lks` modules with its own
//! persistent cache and output, all under one root, that a verify run edits
//! and rebuilds step after step.
//!
//! ```text
//! ROOT/project/NAME.lks       the sources (what `sync_sources` writes)
//! ROOT/project/.lockstep/     the engine's work directory (staged objects, manifests, module records)
//! ROOT/cache/                 the artifact cache (`--cache-dir`)
//! ROOT/out/program            the executable (`-o`)
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The extension of a module's file.
const MODULE_EXTENSION: &str = "lks";

/// One project with its cache and output, under one root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

/// What [`Workspace::sync_sources`] did, by module name, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceSync {
    /// Modules whose file was created or rewritten.
    pub written: Vec<String>,
    /// Modules whose file was removed.
    pub deleted: Vec<String>,
    /// Modules whose file already had the text, left untouched.
    pub unchanged: Vec<String>,
}

impl Workspace {
    /// A workspace rooted at `root`, creating its directories. An existing
    /// workspace there is reused as it is (sources, cache and all).
    pub fn create(root: impl Into<PathBuf>) -> io::Result<Workspace> {
        let workspace = Workspace { root: root.into() };
        std::fs::create_dir_all(workspace.project_dir())?;
        std::fs::create_dir_all(workspace.cache_dir())?;
        std::fs::create_dir_all(workspace.output_dir())?;
        Ok(workspace)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The project: the `.lks` modules, and the engine's work directory.
    pub fn project_dir(&self) -> PathBuf {
        self.root.join("project")
    }

    /// The engine's per-project state: staged objects, manifests, module records.
    pub fn work_dir(&self) -> PathBuf {
        self.project_dir().join(lockstep_core::driver::WORK_DIR)
    }

    /// The artifact cache every build of this workspace shares.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    fn output_dir(&self) -> PathBuf {
        self.root.join("out")
    }

    /// Where every build of this workspace writes its executable.
    pub fn output_path(&self) -> PathBuf {
        self.output_dir().join("program")
    }

    /// Deletes everything builds left (the cache, the work directory, the
    /// executable), keeping the sources: the next build starts cold, as a
    /// first build of the project would.
    pub fn forget_builds(&self) -> io::Result<()> {
        for dir in [self.cache_dir(), self.work_dir(), self.output_dir()] {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::create_dir_all(self.cache_dir())?;
        std::fs::create_dir_all(self.output_dir())
    }

    fn module_path(&self, module: &str) -> PathBuf {
        self.project_dir().join(format!("{module}.{MODULE_EXTENSION}"))
    }

    /// Makes the project hold exactly `files` (module name, text): writes
    /// new and changed modules, deletes the `.lks` files of modules no
    /// longer listed, and leaves a module whose text is unchanged alone.
    ///
    /// Untouched files keep their stamps, which matters: an unchanged
    /// project must look unchanged to the up-to-date shortcut and to
    /// incremental checking, exactly as after a user's editor saved nothing.
    pub fn sync_sources(&self, files: &[(String, String)]) -> io::Result<SourceSync> {
        let wanted = wanted_modules(files)?;
        let present = self.module_files()?;
        let mut sync = SourceSync::default();
        for module in present.keys().filter(|m| !wanted.contains_key(m.as_str())) {
            std::fs::remove_file(self.module_path(module))?;
            sync.deleted.push(module.clone());
        }
        for (module, text) in &wanted {
            let path = self.module_path(module);
            let same = present.contains_key(*module) && std::fs::read(&path)? == text.as_bytes();
            if same {
                sync.unchanged.push(module.to_string());
            } else {
                std::fs::write(&path, text)?;
                sync.written.push(module.to_string());
            }
        }
        Ok(sync)
    }

    /// The project's modules as they are on disk (module name, text),
    /// sorted by name: what a build of the workspace reads.
    pub fn sources(&self) -> io::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (module, path) in self.module_files()? {
            let bytes = std::fs::read(&path)?;
            out.push((module, String::from_utf8_lossy(&bytes).into_owned()));
        }
        Ok(out)
    }

    /// Every `.lks` file of the project, by module name.
    fn module_files(&self) -> io::Result<BTreeMap<String, PathBuf>> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(self.project_dir())? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != MODULE_EXTENSION) || !path.is_file() {
                continue;
            }
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                files.insert(stem.to_string(), path.clone());
            }
        }
        Ok(files)
    }
}

/// `files` by module name, refusing names that are not a plain file stem
/// (they would write outside the project) and modules listed twice.
fn wanted_modules(files: &[(String, String)]) -> io::Result<BTreeMap<&str, &str>> {
    let mut wanted = BTreeMap::new();
    for (module, text) in files {
        // Invalid module names (keywords, digits first) are fine here: the
        // front end's diagnostic for them is something to test.
        let plain = !module.is_empty() && module != "." && module != ".." && !module.contains(['/', '\\', '\0']);
        if !plain {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("`{module}` is not a module name")));
        }
        if wanted.insert(module.as_str(), text.as_str()).is_some() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("module `{module}` is listed twice")));
        }
    }
    Ok(wanted)
}
