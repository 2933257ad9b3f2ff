//! A build step: the current program built in the main workspace, then judged by every oracle.

use super::{CaseRun, PrecisionMode, Sabotage};
use crate::program::c::render_c;
use crate::program::predict::{key_part_disagreement, keys, Bounds, Keys, Prediction};
use crate::verify::oracle::{Failure, Oracle};
use crate::verify::{
    clean_build, compare_artifacts, compare_behaviour, interpret_project, run_c, run_executable, Artifacts,
    BuildExtras, BuildOutcome, RunOutcome, Workspace,
};
use lockstep_core::engine::hash::ContentHash;
use lockstep_core::engine::manifest::Manifest;
use lockstep_scheduler::fuzz::Strategy;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// How long a generated program may run; they finish in milliseconds.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// A hash of a set of sources (module name and text).
pub(super) fn sources_hash(files: &[(String, String)]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for (name, text) in files {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    *h.finalize().as_bytes()
}

/// The schedule checks explore extra seeded random schedules at the first build step and every this many.
const EXPLORE_EVERY: usize = 8;
/// How many extra random schedules an exploring step builds; all equal means the seed is ignored.
const EXPLORATION_SEEDS: usize = 3;
/// Shorter schedules have too few interleavings for equal ones to mean anything.
const EXPLORATION_MIN_EVENTS: usize = 16;

impl CaseRun<'_> {
    /// Builds the current program in the main workspace and runs the oracles. `intent` is the intent being
    /// carried out (`None`: the starting program); `kind` names the step for timings.
    pub(super) fn build_step(&mut self, intent: Option<usize>, kind: &str, action: String) -> Result<(), Failure> {
        self.step += 1;
        self.stats.steps += 1;
        self.kind = kind.to_string();
        if let Some(bar) = &self.options.progress {
            bar.inc(1);
        }
        let files = self.model.files();
        let keys = keys(&self.model);
        let mut prediction = self.prediction(&keys);
        if let Some(Sabotage::ExpectRecompile(function)) =
            self.options.sabotage.as_ref().filter(|_| self.kind_sabotaged())
        {
            prediction.functions.must.insert(function.clone());
            prediction.functions.may.insert(function.clone());
        }
        let built =
            if self.sabotaged(&Sabotage::InvalidProgram) { sabotaged_files(&self.model) } else { files.clone() };
        sync(&self.main, &built).map_err(|e| self.fail(Oracle::Build, intent, &action, e))?;
        let outcome = self.main.build(&self.config, &BuildExtras::default());
        self.stats.builds += 1;
        self.check_built(&outcome, intent, &action)?;
        if self.sabotaged(&Sabotage::CorruptExecutable) {
            flip_byte(&self.main.output_path());
        }
        self.note_report(&outcome);
        let report_line = self.report_line(&outcome);
        self.trace.push(format!("step {} [{}] {action}: {report_line}", self.step, self.config));
        if self.options.runs(Oracle::Precision) {
            self.check_precision(&outcome, &prediction, intent, &action)?;
            self.check_key_parts(&keys, intent, &action)?;
        }
        let clean = if self.needs_clean() { Some(self.clean(&files, intent, &action)?) } else { None };
        if let Some((artifacts, clean_time)) = &clean {
            let timing = self.stats.timing.entry(kind.to_string()).or_default();
            timing.steps += 1;
            timing.incremental += outcome.elapsed;
            timing.clean += *clean_time;
            if self.options.runs(Oracle::CleanEquality) {
                self.check_clean_equality(artifacts, intent, &action)?;
            }
        }
        if self.options.runs(Oracle::Behaviour) {
            self.check_behaviour(&outcome, intent, &action)?;
        }
        if self.options.runs(Oracle::Schedule) {
            if let Some((artifacts, _)) = &clean {
                self.check_schedules(&files, artifacts, intent, &action)?;
            }
        }
        let verify_cache = self.sampled(self.options.sampling.verify_cache_every, 2) || self.verify_after_damage;
        if self.options.runs(Oracle::VerifyCache) && verify_cache {
            self.verify_after_damage = false;
            self.check_verify_cache(intent, &action)?;
        }
        self.last_good_exe = std::fs::read(self.main.output_path()).ok();
        self.knowledge.built(&keys, &self.cgu_mode(), &self.link_config());
        self.precision = PrecisionMode::Checked;
        self.relink_known = true;
        self.history.push(self.model.clone());
        Ok(())
    }

    fn needs_clean(&self) -> bool {
        self.options.runs(Oracle::CleanEquality) || self.options.runs(Oracle::Schedule)
    }

    /// Whether a sampled oracle runs at this step: every `every` steps, and always at step `first`.
    fn sampled(&self, every: usize, first: usize) -> bool {
        self.options.only.is_some() || self.step == first || (every > 0 && self.step.is_multiple_of(every.max(1)))
    }

    /// The `--cgu` mode as the precision model needs it: what decides the units' layout.
    fn cgu_mode(&self) -> String {
        self.config.cgu.to_string()
    }

    /// Everything besides the sources that reaches the executable.
    fn link_config(&self) -> String {
        format!("release={} lto={} cgu={}", self.config.release, self.config.lto, self.config.cgu)
    }

    fn prediction(&self, keys: &Keys) -> Prediction {
        self.knowledge.predict(keys, &self.cgu_mode(), &self.link_config())
    }

    /// A valid program must build: an error or a panic on one is a failure.
    fn check_built(&mut self, outcome: &BuildOutcome, intent: Option<usize>, action: &str) -> Result<(), Failure> {
        self.stats.check(Oracle::Build);
        if let Some(panic) = &outcome.panic {
            return Err(self.fail(Oracle::Build, intent, action, format!("lockstep {panic}")));
        }
        if let Some(error) = &outcome.error {
            let first = error.lines().take(6).collect::<Vec<_>>().join("\n");
            return Err(self.fail(Oracle::Build, intent, action, format!("a valid program failed to build:\n{first}")));
        }
        Ok(())
    }

    fn note_report(&mut self, outcome: &BuildOutcome) {
        let r = &outcome.report;
        self.stats.ir = (self.stats.ir.0 + r.ir.hits, self.stats.ir.1 + r.ir.misses);
        self.stats.objects = (self.stats.objects.0 + r.objects.hits, self.stats.objects.1 + r.objects.misses);
    }

    fn report_line(&self, outcome: &BuildOutcome) -> String {
        let r = &outcome.report;
        if r.up_to_date {
            return "up to date".to_string();
        }
        format!(
            "recompiled [{}] initialisers [{}] units [{}] relinked {}",
            r.recompiled_functions.join(" "),
            r.recompiled_initializers.join(" "),
            r.codegened_units.join(" "),
            r.relinked
        )
    }

    /// The reported recompiled sets are within the predicted bounds, and a build with nothing new does not
    /// relink.
    fn check_precision(
        &mut self,
        outcome: &BuildOutcome,
        prediction: &Prediction,
        intent: Option<usize>,
        action: &str,
    ) -> Result<(), Failure> {
        if self.precision == PrecisionMode::Unknown {
            return Ok(());
        }
        self.stats.check(Oracle::Precision);
        let r = &outcome.report;
        let lists = [
            ("functions", &prediction.functions, r.recompiled_functions.iter().cloned().collect::<BTreeSet<_>>()),
            ("initialisers", &prediction.initializers, r.recompiled_initializers.iter().cloned().collect()),
        ];
        for (what, bounds, reported) in lists {
            let bounds = match self.precision {
                PrecisionMode::LowerBound => Bounds { must: bounds.must.clone(), may: reported.clone() },
                _ => bounds.clone(),
            };
            if let Some((missing, extra)) = bounds.violation(&reported) {
                let mut detail = format!("recompiled {what} {:?}", reported);
                if bounds.exact() {
                    detail.push_str(&format!(", predicted exactly {:?}", bounds.must));
                } else {
                    detail.push_str(&format!(", predicted at least {:?} and at most {:?}", bounds.must, bounds.may));
                }
                if !missing.is_empty() {
                    detail.push_str(&format!("; not recompiled although changed: {missing:?}"));
                }
                if !extra.is_empty() {
                    detail.push_str(&format!("; recompiled although unchanged: {extra:?}"));
                }
                return Err(self.fail(Oracle::Precision, intent, action, detail));
            }
        }
        if prediction.no_relink && self.relink_known && self.precision == PrecisionMode::Checked && r.relinked {
            let detail = "relinked although no link input changed since the previous build".to_string();
            return Err(self.fail(Oracle::Precision, intent, action, detail));
        }
        Ok(())
    }

    /// Each part of every function's key (body, signature, callees, globals) changes exactly when the model
    /// says its input changed, compared with the previous build: a key that misses an input is caught even
    /// where another part happens to cover for it.
    fn check_key_parts(&mut self, keys: &Keys, intent: Option<usize>, action: &str) -> Result<(), Failure> {
        let options = self.main.build_options(&self.config, &BuildExtras::default());
        let Some(manifest) = Manifest::load(&lockstep_core::driver::manifest_path_for(&options)) else {
            self.previous_parts = None;
            return Ok(());
        };
        let engine: BTreeMap<String, [ContentHash; 4]> = manifest
            .functions
            .iter()
            .map(|(name, r)| (name.clone(), [r.hash.body, r.hash.signature, r.hash.callees, r.hash.globals]))
            .collect();
        let mut model_parts = keys.parts.clone();
        if self.sabotaged(&Sabotage::ExpectKeyChange) {
            for parts in model_parts.values_mut() {
                parts.body[0] = parts.body[0].wrapping_add(self.step as u8);
            }
        }
        let now = (model_parts, engine);
        let previous = self.previous_parts.replace(now.clone());
        let Some((model_before, engine_before)) = previous.filter(|_| self.parts_known) else {
            return Ok(());
        };
        self.stats.check(Oracle::Precision);
        let (model_now, engine_now) = now;
        for (name, parts) in &model_now {
            let (Some(mb), Some(eb), Some(en)) =
                (model_before.get(name), engine_before.get(name), engine_now.get(name))
            else {
                continue;
            };
            if let Some(detail) = key_part_disagreement(name, (mb, parts), (eb, en)) {
                return Err(self.fail(Oracle::Precision, intent, action, detail));
            }
        }
        Ok(())
    }

    /// The clean build of `files` (from memory when this state was built clean before).
    fn clean(
        &mut self,
        files: &[(String, String)],
        intent: Option<usize>,
        action: &str,
    ) -> Result<(Artifacts, Duration), Failure> {
        let key = (sources_hash(files), self.config.to_string());
        if let Some(found) = self.clean_builds.get(&key) {
            return Ok(found.clone());
        }
        let (outcome, artifacts) = clean_build(files, &self.config, &self.scratch)
            .map_err(|e| self.fail(Oracle::CleanEquality, intent, action, e))?;
        self.stats.builds += 1;
        let Some(artifacts) = artifacts else {
            let why = outcome.panic.or(outcome.error).unwrap_or_default();
            let detail = format!("the clean build failed where the incremental one succeeded: {why}");
            return Err(self.fail(Oracle::CleanEquality, intent, action, detail));
        };
        self.last_clean = outcome.elapsed;
        self.clean_builds.insert(key, (artifacts.clone(), outcome.elapsed));
        Ok((artifacts, outcome.elapsed))
    }

    fn check_clean_equality(&mut self, clean: &Artifacts, intent: Option<usize>, action: &str) -> Result<(), Failure> {
        self.stats.check(Oracle::CleanEquality);
        let incremental = self.main.artifacts(&self.config).map_err(|e| {
            self.fail(Oracle::CleanEquality, intent, action, format!("the incremental build's artifacts: {e}"))
        })?;
        compare_artifacts(&incremental, clean)
            .map_err(|diff| self.fail(Oracle::CleanEquality, intent, action, format!("incremental ≠ clean: {diff}")))
    }

    /// The executable behaves as the interpreter says, and (sampled) as gcc's build of the C translation.
    fn check_behaviour(&mut self, outcome: &BuildOutcome, intent: Option<usize>, action: &str) -> Result<(), Failure> {
        self.stats.check(Oracle::Behaviour);
        let exe = outcome.exe.clone().unwrap_or_else(|| self.main.output_path());
        let actual = self.run_exe(&exe).map_err(|e| self.fail(Oracle::Behaviour, intent, action, e))?;
        let mut interpreted = self.interpret().map_err(|e| self.fail(Oracle::Behaviour, intent, action, e))?;
        if self.sabotaged(&Sabotage::WrongInterpreter) {
            interpreted.stdout.extend_from_slice(b"42\n");
        }
        compare_behaviour(&actual, &interpreted).map_err(|diff| {
            self.fail(
                Oracle::Behaviour,
                intent,
                action,
                format!("the executable and the MIR interpreter disagree: {diff}"),
            )
        })?;
        if self.sampled(self.options.sampling.gcc_every, 1) {
            let title = format!("lockstep verify step {}", self.step);
            let Some(mut c_source) = render_c(&self.model, &title) else {
                return Err(self.fail(Oracle::Behaviour, intent, action, "the model has no C translation".to_string()));
            };
            if self.sabotaged(&Sabotage::WrongCTranslation) {
                c_source = c_source.replace("int main(void) {\n", "int main(void) {\n    lks_print(42);\n");
            }
            let scratch = self.scratch.join("c");
            let by_gcc = run_c(&c_source, &scratch, &mut self.ccache)
                .map_err(|e| self.fail(Oracle::Behaviour, intent, action, format!("the C oracle: {e}")))?;
            compare_behaviour(&actual, &by_gcc).map_err(|diff| {
                self.fail(Oracle::Behaviour, intent, action, format!("the executable and gcc's build disagree: {diff}"))
            })?;
        }
        Ok(())
    }

    fn run_exe(&mut self, exe: &Path) -> Result<RunOutcome, String> {
        let bytes = std::fs::read(exe).map_err(|e| format!("{}: {e}", exe.display()))?;
        let key = *blake3::hash(&bytes).as_bytes();
        if let Some(known) = self.runs.get(&key) {
            return Ok(known.clone());
        }
        let outcome = run_executable(exe, RUN_TIMEOUT)?;
        self.runs.insert(key, outcome.clone());
        Ok(outcome)
    }

    fn interpret(&mut self) -> Result<RunOutcome, String> {
        let mut key = sources_hash(&self.model.files());
        key[0] ^= 0xff; // never the same key as an executable's bytes
        if let Some(known) = self.runs.get(&key) {
            return Ok(known.clone());
        }
        let outcome = interpret_project(&self.main.project_dir())?;
        self.runs.insert(key, outcome.clone());
        Ok(outcome)
    }

    /// The seed of a round of this step's schedule checks.
    fn round_seed(&self, round: usize) -> u64 {
        self.schedule_seed ^ (self.step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (round as u64) << 48
    }

    /// The fuzzed strategy of this step: random and PCT (depth 2 or 3) in turn, seeded per step.
    fn strategy(&self, round: usize) -> Strategy {
        let seed = self.round_seed(round);
        if (self.step + round).is_multiple_of(2) {
            Strategy::Random { seed }
        } else {
            Strategy::Pct { seed, depth: 2 + (self.step as u32 / 2) % 2 }
        }
    }

    /// The schedule workspace builds the same step under fuzzed schedules; each must give the clean bytes.
    fn check_schedules(
        &mut self,
        files: &[(String, String)],
        clean: &Artifacts,
        intent: Option<usize>,
        action: &str,
    ) -> Result<(), Failure> {
        sync(&self.fuzzed, files).map_err(|e| self.fail(Oracle::Schedule, intent, action, e))?;
        let rounds = self.options.schedules.max(1);
        // Every few steps, a few more rounds under seeded random schedules, which must not all be the
        // same: a scheduler that ignores its seed explores one schedule, however many it is asked for.
        let exploring = self.sampled(EXPLORE_EVERY, 1);
        let total = rounds + if exploring { EXPLORATION_SEEDS } else { 0 };
        let snapshot = if total > 1 { Some(self.snapshot_fuzzed()?) } else { None };
        let mut explored = Vec::new();
        // Round 0 goes last: the next step starts from its state.
        for round in (0..total).rev() {
            if round + 1 < total {
                if let Some(snapshot) = &snapshot {
                    restore(snapshot, self.fuzzed.root())
                        .map_err(|e| self.fail(Oracle::Schedule, intent, action, e))?;
                }
            }
            let strategy =
                if round >= rounds { Strategy::Random { seed: self.round_seed(round) } } else { self.strategy(round) };
            let recorded = self.check_one_schedule(round, strategy.clone(), clean, intent, action)?;
            if round >= rounds {
                explored.push((strategy, recorded));
            }
        }
        self.check_exploration(&explored, intent, action)
    }

    /// Seeded random schedules of one starting state must differ. Schedules of fewer than
    /// [`EXPLORATION_MIN_EVENTS`] events are passed over: their few interleavings may coincide.
    fn check_exploration(
        &mut self,
        explored: &[(Strategy, Option<String>)],
        intent: Option<usize>,
        action: &str,
    ) -> Result<(), Failure> {
        let schedules: Vec<&String> = explored.iter().filter_map(|(_, s)| s.as_ref()).collect();
        let long = |s: &&String| s.split_whitespace().count() >= EXPLORATION_MIN_EVENTS;
        if schedules.len() < EXPLORATION_SEEDS || !schedules.iter().all(long) {
            return Ok(());
        }
        if schedules.iter().all(|s| *s == schedules[0]) {
            let seeds: Vec<String> = explored.iter().map(|(strategy, _)| strategy.to_string()).collect();
            let mut failure = self.fail(
                Oracle::Schedule,
                intent,
                action,
                format!(
                    "schedule exploration: {} all recorded the same schedule of {} events; the fuzzed scheduler is not using its seed",
                    seeds.join(", "),
                    schedules[0].split_whitespace().count()
                ),
            );
            failure.schedule = Some(schedules[0].clone());
            return Err(failure);
        }
        Ok(())
    }

    /// One round: the step built under `strategy` (or the guide), compared with the clean build.
    /// Returns the schedule the build recorded.
    fn check_one_schedule(
        &mut self,
        round: usize,
        strategy: Strategy,
        clean: &Artifacts,
        intent: Option<usize>,
        action: &str,
    ) -> Result<Option<String>, Failure> {
        self.stats.check(Oracle::Schedule);
        self.stats.schedules += 1;
        self.stats.builds += 1;
        let extras = match &self.options.guide {
            Some((step, guide)) if *step == self.step && round == 0 => BuildExtras::guided(guide.clone()),
            _ => BuildExtras::fuzzed(strategy),
        };
        let described = match &extras.scheduling {
            lockstep_core::driver::Scheduling::Fuzzed(s) => s.to_string(),
            _ => "a guided schedule".to_string(),
        };
        let outcome = self.fuzzed.build(&self.config, &extras);
        if self.sabotaged(&Sabotage::CorruptFuzzed) {
            flip_byte(&self.fuzzed.output_path());
        }
        let (recorded, preemptions) = (outcome.report.schedule.clone(), outcome.report.preemptions);
        let fail = |run: &Self, detail: String| {
            let mut failure = run.fail(Oracle::Schedule, intent, action, format!("under {described}: {detail}"));
            failure.schedule = recorded.clone();
            failure.preemptions = preemptions;
            failure
        };
        if let Some(panic) = &outcome.panic {
            return Err(fail(self, format!("lockstep {panic}")));
        }
        if let Some(error) = &outcome.error {
            return Err(fail(self, format!("the build failed: {error}")));
        }
        let artifacts = self.fuzzed.artifacts(&self.config).map_err(|e| fail(self, format!("its artifacts: {e}")))?;
        compare_artifacts(&artifacts, clean).map_err(|diff| fail(self, format!("fuzzed ≠ clean: {diff}")))?;
        Ok(recorded)
    }

    fn snapshot_fuzzed(&self) -> Result<std::path::PathBuf, Failure> {
        let snapshot = self.scratch.join("fuzzed-snapshot");
        restore(self.fuzzed.root(), &snapshot).map_err(|e| self.fail(Oracle::Schedule, None, "snapshot", e))?;
        Ok(snapshot)
    }

    /// A `--verify-cache` build of the current state: every hit is recompiled and must match.
    fn check_verify_cache(&mut self, intent: Option<usize>, action: &str) -> Result<(), Failure> {
        self.stats.check(Oracle::VerifyCache);
        self.stats.builds += 1;
        if self.sabotaged(&Sabotage::ForgeCacheEntries) {
            forge_object_entries(&self.main.cache_dir());
        }
        let extras = BuildExtras { verify_cache: true, ..BuildExtras::default() };
        let outcome = self.main.build(&self.config, &extras);
        if let Some(panic) = &outcome.panic {
            return Err(self.fail(Oracle::VerifyCache, intent, action, format!("lockstep {panic}")));
        }
        if let Some(error) = &outcome.error {
            return Err(self.fail(Oracle::VerifyCache, intent, action, error.trim_end().to_string()));
        }
        Ok(())
    }

    /// How long a killed build may run at most: about a clean build, so kills land in every phase.
    pub(super) fn kill_delay(&self) -> Duration {
        self.last_clean.mul_f64(1.5).max(Duration::from_millis(20))
    }
}

/// The model with a type error: what [`Sabotage::InvalidProgram`] builds.
fn sabotaged_files(model: &crate::program::model::Program) -> Vec<(String, String)> {
    let mut broken = model.clone();
    let _ = crate::program::edit::Edit::TypeError { function: 0 }.apply(&mut broken);
    broken.files()
}

/// Flips the middle byte of a file (a sabotage).
fn flip_byte(path: &Path) {
    if let Ok(mut bytes) = std::fs::read(path) {
        if !bytes.is_empty() {
            let at = bytes.len() / 2;
            bytes[at] ^= 0x40;
            let _ = std::fs::write(path, bytes);
        }
    }
}

/// Rotates the payloads of every object entry of a cache, each re-encoded under its new key so its
/// checksum is valid (a sabotage): what a key that misses an input would leave behind. Every entry is
/// forged, not a chosen few, since which entries the next build reads depends on the keys' order.
fn forge_object_entries(cache: &Path) {
    use lockstep_core::engine::cache::{decode_entry, encode_entry, Layer};
    let mut entries = Vec::new();
    let mut files: Vec<_> =
        std::fs::read_dir(cache.join("obj")).into_iter().flatten().flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let Some(key) = path.file_stem().and_then(|s| s.to_str()).and_then(ContentHash::from_hex) else { continue };
        let Ok(bytes) = std::fs::read(&path) else { continue };
        if let Ok(payload) = decode_entry(Layer::Object, &key, &bytes) {
            entries.push((path, key, payload));
        }
    }
    for (i, (path, key, _)) in entries.iter().enumerate() {
        let (_, _, next) = &entries[(i + 1) % entries.len()];
        let _ = std::fs::write(path, encode_entry(Layer::Object, key, next));
    }
}

/// Makes `workspace` hold `files`.
pub(super) fn sync(workspace: &Workspace, files: &[(String, String)]) -> Result<(), String> {
    workspace.sync_sources(files).map(|_| ()).map_err(|e| format!("{}: {e}", workspace.project_dir().display()))
}

/// Replaces `to` with a copy of `from` (a whole directory tree).
pub(super) fn restore(from: &Path, to: &Path) -> Result<(), String> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    copy_tree(from, to).map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
