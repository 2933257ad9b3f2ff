//! The codegen stage: one unit per plan step, on the workers. Layer 1
//! (IR packs, lowering the misses), the unit's Layer 2 key, the Layer 2
//! lookup, codegen on a miss, and the unchanged-unit shortcut.

use super::*;

/// One function's IR bytes, and whether Layer 1 had them.
type FoundIr = (Vec<u8>, bool);

pub(super) struct CodegenWork<'a, F, B> {
    pub(super) frontend: &'a F,
    pub(super) backends: &'a B,
    pub(super) cache: &'a ArtifactCache,
    pub(super) config: &'a CodegenConfig,
    pub(super) backend_id: &'a str,
    pub(super) functions: &'a [FunctionEntry<'a>],
    pub(super) units: &'a [UnitPlan],
    /// Each unit's Layer 1 pack key (see [`pack_key`]).
    pub(super) pack_keys: Vec<ContentHash>,
    pub(super) node_unit: BTreeMap<NodeId, usize>,
    pub(super) entry_node: NodeId,
    pub(super) entry: &'a EntryPoint,
    pub(super) entry_key: ContentHash,
    pub(super) verify: bool,
    /// The previous build's Layer 1 packs per unit, newest first.
    pub(super) previous_packs: BTreeMap<String, Vec<ContentHash>>,
    /// The previous build's units, for the unchanged-unit shortcut.
    pub(super) previous_units: BTreeMap<String, UnitRecord>,
    /// Where staged link inputs are, when the shortcut may be taken.
    pub(super) shortcut_staging: Option<&'a Path>,
    /// Where a worker stages the object it made or found for the link
    /// (`None` when the link wants the bytes: LTO, or objects by name).
    pub(super) worker_staging: Option<&'a Path>,
    pub(super) trace: Option<&'a Trace>,
}

/// A codegen worker: its backend, and its lane in the trace.
pub(super) struct Worker<K> {
    backend: K,
    lane: Lane,
}

impl<F: FrontEnd, B: BackendFactory> CodegenWork<'_, F, B> {
    /// Layer 1 for one unit's functions.
    ///
    /// Entries are keyed by function content hash, and stored in packs, one
    /// file per unit holding the IR of all its functions: creating a file
    /// is the most expensive thing a build does on an ordinary disk (about
    /// half a millisecond here), and per-function files made a clean build
    /// of 2000 functions spend more time creating files than generating
    /// code. A function is found in the pack for the unit's exact members,
    /// or in the pack the previous build used for the unit (which still
    /// holds every function a body edit did not touch), or in a
    /// stand-alone entry; otherwise it is lowered afresh. Returns each
    /// function's IR bytes and whether it was a hit.
    fn unit_ir(
        &self,
        unit: &UnitPlan,
        pack_key: ContentHash,
        problems: &mut Vec<String>,
    ) -> Result<Vec<FoundIr>, String> {
        let mut known: BTreeMap<ContentHash, Vec<u8>> = BTreeMap::new();
        let mut exact = false;
        let history = self.previous_packs.get(&unit.name).into_iter().flatten().filter(|k| **k != pack_key);
        for (candidate, is_exact) in std::iter::once((&pack_key, true)).chain(history.map(|k| (k, false))) {
            let wanted = |known: &BTreeMap<ContentHash, Vec<u8>>| {
                unit.functions.iter().any(|&i| !known.contains_key(&self.functions[i].hash.combined))
            };
            if !wanted(&known) {
                break;
            }
            match self.cache.get(Layer::Ir, candidate) {
                Lookup::Hit(bytes) => match postcard::from_bytes::<Vec<(ContentHash, Vec<u8>)>>(&bytes) {
                    Ok(entries) => {
                        exact |= is_exact;
                        known.extend(entries);
                    }
                    Err(e) => problems.push(format!("IR pack of unit `{}`: undecodable: {e}", unit.name)),
                },
                Lookup::Bad(why) => problems.push(format!("IR pack of unit `{}`: {why}", unit.name)),
                Lookup::Miss => {}
            }
            if exact {
                break;
            }
        }
        let mut out = Vec::new();
        for &i in &unit.functions {
            let f = &self.functions[i];
            let key = f.hash.combined;
            let lower = || -> Result<Vec<u8>, String> {
                let ir = self
                    .frontend
                    .lower(f.symbol)
                    .ok_or_else(|| format!("the front end cannot lower `{}`", f.symbol))?;
                postcard::to_stdvec(&ir).map_err(|e| format!("serialising the IR of `{}`: {e}", f.symbol))
            };
            let cached = match known.remove(&key) {
                Some(bytes) => Some(bytes),
                None => match self.cache.get(Layer::Ir, &key) {
                    Lookup::Hit(bytes) => Some(bytes),
                    Lookup::Bad(why) => {
                        problems.push(format!("IR of `{}`: {why}", f.symbol));
                        None
                    }
                    Lookup::Miss => None,
                },
            };
            match cached {
                Some(bytes) => {
                    if self.verify && lower()? != bytes {
                        let h = &f.hash;
                        return Err(format!(
                            "--verify-cache: cached IR of `{}` differs from a fresh lowering with the same content hash {} (body {}, signature {}, callees {}, globals {})",
                            f.symbol,
                            key.short(),
                            h.body.short(),
                            h.signature.short(),
                            h.callees.short(),
                            h.globals.short()
                        ));
                    }
                    out.push((bytes, true));
                }
                None => out.push((lower()?, false)),
            }
        }
        if !exact {
            let entries: Vec<(ContentHash, &[u8])> = unit
                .functions
                .iter()
                .zip(&out)
                .map(|(&i, (bytes, _))| (self.functions[i].hash.combined, bytes.as_slice()))
                .collect();
            let stored = postcard::to_stdvec(&entries)
                .map_err(|e| e.to_string())
                .and_then(|bytes| self.cache.put(Layer::Ir, &pack_key, &bytes).map_err(|e| e.to_string()));
            if let Err(e) = stored {
                problems.push(format!("storing the IR pack of unit `{}`: {e}", unit.name));
            }
        }
        Ok(out)
    }

    /// The unchanged-unit shortcut. When the unit's members have exactly
    /// the content hashes they had in the previous build, their IR is the
    /// IR that build recorded (Layer 1's contract: a content hash determines
    /// the IR), so the object key follows from the recorded IR hashes
    /// without reading Layer 1. If it is the recorded key (same backend and
    /// configuration), the object that build staged for the link is this
    /// unit's object; it is used after checking its bytes against the
    /// recorded hash, without reading Layer 2. Anything else (no record, a
    /// changed key, a missing or damaged staged file) takes the normal path.
    fn unchanged_unit(&self, unit: &UnitPlan, ir_pack: ContentHash) -> Option<UnitOutcome> {
        let staging = self.shortcut_staging?;
        let record = self.previous_units.get(&unit.name)?;
        if record.ir_pack != ir_pack || record.ir_hashes.len() != unit.functions.len() || unit.faulted.is_some() {
            return None;
        }
        let key = unit_key(self.backend_id, self.config, &unit.name, &unit.globals, &record.ir_hashes);
        if key != record.object_key {
            return None;
        }
        let staged = staged_object_path(staging, &record.object_hash);
        let intact =
            record.object_stamp.is_some_and(|stamp| stamp.matches(&staged)) || record.object_hash.matches_file(&staged);
        if !intact && !bug_zoo::active(Bug::StagedObjectUnchecked) {
            return None;
        }
        Some(UnitOutcome {
            bytes: Vec::new(),
            key,
            ir_pack,
            ir_hashes: record.ir_hashes.clone(),
            object_hash: record.object_hash,
            staged: Some(staged),
            ir_lookups: unit.functions.iter().map(|&i| (i, true)).collect(),
            object_hit: true,
            problems: Vec::new(),
        })
    }

    /// Stages a unit's object for the link, here on the worker, so that
    /// the link stage (one thread) only collects paths: writing the
    /// objects of a clean build one after another made the link stage the
    /// last thing running, long after codegen ended. Returns what is left
    /// of the bytes (nothing, once staged) and the staged path.
    fn stage_for_link(
        &self,
        lane: Lane,
        unit: &str,
        bytes: Vec<u8>,
        object_hash: &ContentHash,
    ) -> Result<(Vec<u8>, Option<PathBuf>), String> {
        let Some(staging) = self.worker_staging else { return Ok((bytes, None)) };
        let path = traced(self.trace, Category::CacheWrite, lane, format_args!("stage: {unit}"), || {
            place_staged(staging, &bytes, object_hash)
        })?;
        Ok((Vec::new(), Some(path)))
    }

    fn run_unit(&self, backend: &mut B::Backend, lane: Lane, u: usize) -> Result<UnitOutcome, String> {
        let (unit, ir_pack) = (&self.units[u], self.pack_keys[u]);
        if let Some(outcome) = self.unchanged_unit(unit, ir_pack) {
            return Ok(outcome);
        }
        let mut problems = Vec::new();
        let found = traced(self.trace, Category::CacheRead, lane, format_args!("layer 1: {}", unit.name), || {
            self.unit_ir(unit, ir_pack, &mut problems)
        })?;
        let ir_lookups: Vec<(usize, bool)> =
            unit.functions.iter().zip(&found).map(|(&i, (_, hit))| (i, *hit)).collect();
        let ir: Vec<Vec<u8>> = found.into_iter().map(|(bytes, _)| bytes).collect();
        let hashes: Vec<ContentHash> = ir.iter().map(|b| ContentHash::of(b)).collect();
        let key = unit_key(self.backend_id, self.config, &unit.name, &unit.globals, &hashes);
        if let Some(fault) = &unit.faulted {
            return Err(format!("injected fault: codegen of `{fault}` fails (--inject-fault)"));
        }
        let compile = |backend: &mut B::Backend| -> Result<Vec<u8>, String> {
            let mut cgu = CodegenUnit { name: unit.name.clone(), globals: unit.globals.clone(), functions: Vec::new() };
            for (bytes, &i) in ir.iter().zip(&unit.functions) {
                let f = postcard::from_bytes::<mir::Function>(bytes)
                    .map_err(|e| format!("reading the IR of `{}`: {e}", self.functions[i].symbol))?;
                cgu.functions.push(f);
            }
            backend.compile_unit(&cgu, self.config)
        };
        let lookup = traced(self.trace, Category::CacheRead, lane, format_args!("layer 2: {}", unit.name), || {
            self.cache.get(Layer::Object, &key)
        });
        let (bytes, object_hit) = match lookup {
            Lookup::Hit(bytes) => {
                if self.verify && compile(backend)? != bytes {
                    return Err(format!(
                        "--verify-cache: the cached artifact of unit `{}` differs from a fresh compile with the same key {}",
                        unit.name,
                        key.short()
                    ));
                }
                (bytes, true)
            }
            other => {
                if let Lookup::Bad(why) = other {
                    problems.push(format!("object of unit `{}`: {why}", unit.name));
                }
                let bytes = compile(backend)?;
                // A failed store only costs a future miss.
                let stored =
                    traced(self.trace, Category::CacheWrite, lane, format_args!("store: {}", unit.name), || {
                        self.cache.put(Layer::Object, &key, &bytes)
                    });
                if let Err(e) = stored {
                    problems.push(format!("storing the object of unit `{}`: {e}", unit.name));
                }
                (bytes, false)
            }
        };
        let object_hash = ContentHash::of(&bytes);
        let (bytes, staged) = self.stage_for_link(lane, &unit.name, bytes, &object_hash)?;
        Ok(UnitOutcome {
            bytes,
            key,
            ir_pack,
            ir_hashes: hashes,
            object_hash,
            staged,
            ir_lookups,
            object_hit,
            problems,
        })
    }
}

impl<F: FrontEnd, B: BackendFactory> CodegenStage for CodegenWork<'_, F, B> {
    type Worker = Worker<B::Backend>;
    type Output = Artifact;
    type Error = String;

    fn new_worker(&self) -> Worker<B::Backend> {
        let lane = self.trace.map_or(Lane::Worker(0), Trace::new_worker_lane);
        Worker { backend: self.backends.create(), lane }
    }

    fn run(&self, worker: &mut Worker<B::Backend>, node: NodeId) -> Result<Artifact, String> {
        let Some(trace) = self.trace else { return self.run_node(worker, node) };
        let start = trace.now();
        let result = self.run_node(worker, node);
        let (name, functions) = match self.node_unit.get(&node) {
            Some(&u) => (self.units[u].name.as_str(), self.units[u].functions.len()),
            None => (ENTRY_UNIT, 0),
        };
        let outcome = match &result {
            Ok(Artifact::Unit(unit)) if unit.object_hit => "hit",
            Ok(_) => "miss",
            Err(_) => "failed",
        };
        trace.record(Category::Codegen, worker.lane, name, start, Detail { outcome, functions });
        result
    }
}

impl<F: FrontEnd, B: BackendFactory> CodegenWork<'_, F, B> {
    fn run_node(&self, worker: &mut Worker<B::Backend>, node: NodeId) -> Result<Artifact, String> {
        let backend = &mut worker.backend;
        if node == self.entry_node {
            let (bytes, object_hit) = match self.cache.get(Layer::Object, &self.entry_key) {
                Lookup::Hit(bytes) => (bytes, true),
                _ => {
                    let bytes = backend.compile_entry(self.entry, self.config)?;
                    let _ = self.cache.put(Layer::Object, &self.entry_key, &bytes);
                    (bytes, false)
                }
            };
            let object_hash = ContentHash::of(&bytes);
            let (bytes, staged) = self.stage_for_link(worker.lane, ENTRY_UNIT, bytes, &object_hash)?;
            let outcome = UnitOutcome {
                bytes,
                key: self.entry_key,
                ir_pack: ContentHash::default(),
                ir_hashes: Vec::new(),
                object_hash,
                staged,
                ir_lookups: Vec::new(),
                object_hit,
                problems: Vec::new(),
            };
            return Ok(Artifact::Unit(outcome));
        }
        let Some(&u) = self.node_unit.get(&node) else { return Err(format!("no unit for step {node:?}")) };
        self.run_unit(backend, worker.lane, u).map(Artifact::Unit)
    }
}
