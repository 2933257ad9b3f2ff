//! The link stage: staging each module's objects (or bitcode) in plan
//! order, then the final link, skipped when the link key and the
//! executable on disk say it is already right.

use super::*;

pub(super) struct LinkWork<'a, B: BackendFactory> {
    pub(super) backends: &'a B,
    pub(super) backend: Option<B::Backend>,
    pub(super) cache: &'a ArtifactCache,
    pub(super) config: &'a CodegenConfig,
    pub(super) backend_id: &'a str,
    pub(super) cgu: CguMode,
    pub(super) modules: BTreeMap<NodeId, usize>,
    pub(super) module_names: Vec<String>,
    pub(super) entry_link: NodeId,
    pub(super) final_link: Option<NodeId>,
    /// Where link inputs go: content-addressed, or (`named`) by module.
    pub(super) staging: PathBuf,
    pub(super) named: bool,
    pub(super) linker: &'a Linker,
    pub(super) output: PathBuf,
    pub(super) lto: bool,
    /// The previous build's link key and executable stamp.
    pub(super) previous_link: Option<(ContentHash, FileStamp)>,
    pub(super) trace: Option<&'a Trace>,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn units_of<'x>(inputs: &'x [(NodeId, &'x Artifact)]) -> Vec<&'x UnitOutcome> {
    inputs
        .iter()
        .filter_map(|(_, a)| match a {
            Artifact::Unit(u) => Some(u),
            _ => None,
        })
        .collect()
}

impl<B: BackendFactory> LinkWork<'_, B> {
    /// Puts an object where the linker can read it: by content hash (a
    /// file already there with these bytes is reused), or by `name`.
    fn place(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        self.place_hashed(name, bytes, ContentHash::of(bytes))
    }

    /// `place` for bytes whose hash is already known.
    fn place_hashed(&self, name: &str, bytes: &[u8], hash: ContentHash) -> Result<PathBuf, String> {
        if self.named {
            let path = self.staging.join(format!("{name}.o"));
            write_file(&path, bytes)?;
            return Ok(path);
        }
        place_staged(&self.staging, bytes, &hash)
    }

    /// Where a unit's object is for the linker: already staged, or placed.
    fn stage(&self, name: &str, unit: &UnitOutcome) -> Result<PathBuf, String> {
        match &unit.staged {
            Some(path) => Ok(path.clone()),
            None => self.place_hashed(name, &unit.bytes, unit.object_hash),
        }
    }

    fn link_module(&mut self, module: usize, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        let units = units_of(inputs);
        let keys: Vec<ContentHash> = units.iter().map(|u| u.key).collect();
        let name = &self.module_names[module];
        if self.lto {
            let bitcode = units.iter().map(|u| u.bytes.clone()).collect();
            return Ok(Artifact::Staged { objects: Vec::new(), bitcode, keys });
        }
        if units.len() == 1 {
            let path = self.stage(name, units[0])?;
            return Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new(), keys });
        }
        if let CguMode::Partition { .. } = self.cgu {
            let mut objects = Vec::new();
            for (i, unit) in units.iter().enumerate() {
                objects.push(self.stage(&format!("{name}#{i}"), unit)?);
            }
            return Ok(Artifact::Staged { objects, bitcode: Vec::new(), keys });
        }
        // Per-function objects: merge with `ld -r`, itself cached by the
        // keys of its inputs.
        let mut key = StableHasher::new("lockstep.partial-link");
        key.bytes(&self.linker.identity());
        for k in &keys {
            key.hash(k);
        }
        let key = key.finish();
        if let Lookup::Hit(bytes) = self.cache.get(Layer::Object, &key) {
            let path = self.place(name, &bytes)?;
            return Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new(), keys });
        }
        let mut parts = Vec::new();
        for (i, unit) in units.iter().enumerate() {
            parts.push(self.stage(&format!("{name}.part{i}"), unit)?);
        }
        let merged = tempfile::Builder::new()
            .prefix(".tmp-partial-")
            .suffix(".o")
            .tempfile_in(&self.staging)
            .map_err(|e| format!("{}: {e}", self.staging.display()))?
            .into_temp_path();
        self.linker.partial_link(&parts, &merged).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(&merged).map_err(|e| format!("{}: {e}", merged.display()))?;
        let _ = self.cache.put(Layer::Object, &key, &bytes);
        if self.named {
            for part in &parts {
                let _ = std::fs::remove_file(part);
            }
        }
        let path = self.place(name, &bytes)?;
        Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new(), keys })
    }

    fn link_program(&mut self, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        let mut objects = Vec::new();
        let mut bitcode = Vec::new();
        let mut link_key = StableHasher::new("lockstep.link");
        link_key.str(compiler_fingerprint()).str(self.backend_id).serialized(self.config).str(&self.cgu.describe());
        link_key.bytes(&self.linker.identity());
        for (_, artifact) in inputs {
            if let Artifact::Staged { objects: o, bitcode: b, keys } = artifact {
                objects.extend(o.iter().cloned());
                bitcode.extend(b.iter().cloned());
                for k in keys.iter().filter(|_| !bug_zoo::active(Bug::LinkKeyIgnoresObjects)) {
                    link_key.hash(k);
                }
            }
        }
        let link_key = link_key.finish();
        if bug_zoo::active(Bug::LinkWholeStagingDir) {
            objects = bug_zoo::files_with_extension(&self.staging, "o");
        }
        let names = |objects: &[PathBuf]| -> Vec<String> {
            objects.iter().filter_map(|o| o.file_name()).map(|n| n.to_string_lossy().into_owned()).collect()
        };
        // Nothing that reaches the link changed, and the executable on disk
        // is the one the previous build wrote: leave it alone.
        if let Some((previous_key, previous_stamp)) = self.previous_link {
            if previous_key == link_key && previous_stamp.matches(&self.output) {
                return Ok(Artifact::Linked { link_key, written: None, inputs: names(&objects) });
            }
        }
        if self.lto {
            let backend = self.backend.get_or_insert_with(|| self.backends.create());
            let mut object_config = self.config.clone();
            object_config.artifact = ArtifactKind::Object;
            let merged = backend.lto_link(&bitcode, &object_config)?;
            objects = vec![self.place("lto", &merged)?];
        }
        let dir = self.output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // Link beside the destination, then rename: a concurrent build or
        // a crash never leaves a half-written executable in place.
        let tmp = tempfile::Builder::new()
            .prefix(".lockstep-link-")
            .tempfile_in(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .into_temp_path();
        let build_id = &link_key.hex()[..40];
        self.linker.link_executable(&objects, &tmp, build_id).map_err(|e| e.to_string())?;
        tmp.persist(&self.output).map_err(|e| format!("{}: {}", self.output.display(), e.error))?;
        let stamp = FileStamp::of(&self.output)
            .ok_or_else(|| format!("{}: the linked executable is not there", self.output.display()))?;
        Ok(Artifact::Linked { link_key, written: Some(stamp), inputs: names(&objects) })
    }
}

impl<B: BackendFactory> LinkStage<Artifact, String> for LinkWork<'_, B> {
    fn run(&mut self, node: NodeId, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        let Some(trace) = self.trace else { return self.run_step(node, inputs) };
        let start = trace.now();
        let result = self.run_step(node, inputs);
        let name = match self.modules.get(&node) {
            Some(&module) => format!("stage {}", self.module_names[module]),
            None if node == self.entry_link => format!("stage {ENTRY_UNIT}"),
            None => "link executable".to_string(),
        };
        let outcome = match &result {
            Ok(Artifact::Linked { written: None, .. }) => "up to date",
            Ok(_) => "done",
            Err(_) => "failed",
        };
        trace.record(Category::Link, Lane::Link, name, start, Detail::outcome(outcome));
        result
    }
}

impl<B: BackendFactory> LinkWork<'_, B> {
    fn run_step(&mut self, node: NodeId, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        if let Some(&module) = self.modules.get(&node) {
            return self.link_module(module, inputs);
        }
        if node == self.entry_link {
            let units = units_of(inputs);
            let entry = units.first().ok_or("missing the entry object")?;
            let keys = vec![entry.key];
            if self.lto {
                return Ok(Artifact::Staged { objects: Vec::new(), bitcode: vec![entry.bytes.clone()], keys });
            }
            let path = self.stage(ENTRY_UNIT, entry)?;
            return Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new(), keys });
        }
        if Some(node) == self.final_link {
            return self.link_program(inputs);
        }
        Err(format!("unknown link step {node:?}"))
    }
}
