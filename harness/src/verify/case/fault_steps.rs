//! Steps that break something on purpose: a broken program, and the faults. Each is followed by an
//! ordinary build step, which must equal a clean build.

use super::step::sync;
use super::{CaseRun, PrecisionMode, Sabotage};
use crate::program::edit::Edit;
use crate::verify::intent::{Fault, Intent};
use crate::verify::oracle::{Failure, Oracle};
use crate::verify::{check_injected_failure, damage_work_dir, injected_failure, kill_build, race_builds, BuildExtras};
use lockstep_core::mir::Symbol;

/// What a parse error looks like: an item that never closes.
const PARSE_BREAK: &str = "\nfn broken_by_verify( {\n";

impl CaseRun<'_> {
    /// Builds a broken version of the current program: the build must fail with a diagnostic naming the
    /// broken module, and leave the last good executable as it was.
    pub(super) fn broken_step(&mut self, i: usize, parse: bool, target: u16) -> Result<(), Failure> {
        self.step += 1;
        self.kind = if parse { "break-parse" } else { "break-type" }.to_string();
        let (files, module, action) = if parse {
            let mut files = self.model.files();
            let at = usize::from(target) % files.len();
            files[at].1.push_str(PARSE_BREAK);
            let module = files[at].0.clone();
            (files, module.clone(), format!("a parse error in {module}"))
        } else {
            let mut broken = self.model.clone();
            let paths: Vec<_> = broken.functions().map(|(p, _)| p).collect();
            let module = paths[usize::from(target) % paths.len()].module.clone();
            let applied = Edit::TypeError { function: target }
                .apply(&mut broken)
                .map_err(|e| self.fail(Oracle::Diagnostics, Some(i), "type error", e.0))?;
            (broken.files(), module, applied.description)
        };
        sync(&self.main, &files).map_err(|e| self.fail(Oracle::Diagnostics, Some(i), &action, e))?;
        let outcome = self.main.build(&self.config, &BuildExtras::default());
        self.stats.builds += 1;
        if !self.options.runs(Oracle::Diagnostics) {
            return Ok(());
        }
        self.stats.check(Oracle::Diagnostics);
        if let Some(panic) = &outcome.panic {
            return Err(self.fail(Oracle::Diagnostics, Some(i), &action, format!("lockstep {panic}")));
        }
        let Some(error) = &outcome.error else {
            return Err(self.fail(Oracle::Diagnostics, Some(i), &action, "the broken program built".to_string()));
        };
        let module = if self.sabotaged(&Sabotage::ExpectErrorElsewhere) { "elsewhere".to_string() } else { module };
        let located = error.lines().any(|l| l.contains(&format!("{module}.lks:")) && l.contains(": error: "));
        if !located {
            let detail = format!("expected `{module}.lks:LINE:COL: error: ...`, got:\n{}", error.trim_end());
            return Err(self.fail(Oracle::Diagnostics, Some(i), &action, detail));
        }
        if std::fs::read(self.main.output_path()).ok() != self.last_good_exe {
            let detail = "the failed build changed the last good executable".to_string();
            return Err(self.fail(Oracle::Diagnostics, Some(i), &action, detail));
        }
        self.trace.push(format!("step {} {action}: rejected as it must be", self.step));
        Ok(())
    }

    /// Carries out a fault, then the build that must recover from it.
    pub(super) fn fault_step(&mut self, i: usize, fault: Fault) -> Result<(), Failure> {
        let kind = Intent::Fault(fault).kind();
        self.kind.clone_from(&kind);
        let action = match fault {
            Fault::Codegen { function } => self.codegen_fault(i, function)?,
            Fault::Kill { seed } => {
                let edit = self.edit_for_fault(seed);
                sync(&self.main, &self.model.files()).map_err(|e| self.fail(Oracle::Faults, Some(i), "kill", e))?;
                let killed =
                    kill_build(&self.main, &self.config, &self.options.lockstep, u64::from(seed), self.kill_delay());
                self.stats.builds += 1;
                self.precision = PrecisionMode::Unknown;
                let action = format!("{edit}; its build killed after {:?} ({})", killed.delay, killed.child);
                if self.options.runs(Oracle::Faults) {
                    self.stats.check(Oracle::Faults);
                    if killed.panicked() {
                        return Err(self.fail(
                            Oracle::Faults,
                            Some(i),
                            &action,
                            "the killed build panicked".to_string(),
                        ));
                    }
                }
                action
            }
            Fault::Damage { seed } => {
                let damage = damage_work_dir(&self.main, &self.config, u64::from(seed));
                // The build that meets the damage also has an edit to make, so it relinks from staged objects.
                let edit = self.edit_for_fault(seed);
                self.knowledge.damaged();
                // A damaged manifest is as good as none (its checksum fails), so the recorded parts of the
                // previous build may be gone; the case stops comparing key parts (conservatively, for the
                // rest of the case).
                self.parts_known = false;
                self.verify_after_damage = true;
                self.previous_parts = None;
                self.precision = PrecisionMode::LowerBound;
                self.relink_known = false;
                let what: Vec<String> = damage.iter().map(|d| d.to_string()).collect();
                let what = if what.is_empty() { "nothing to damage".to_string() } else { what.join(", ") };
                format!("damage: {what}; then {edit}")
            }
            Fault::Race { seed } => {
                let edit = self.edit_for_fault(seed);
                sync(&self.main, &self.model.files()).map_err(|e| self.fail(Oracle::Faults, Some(i), "race", e))?;
                let raced = race_builds(&self.main, &self.config, &self.options.lockstep, u64::from(seed));
                self.stats.builds += 2;
                self.precision = PrecisionMode::Unknown;
                let action = format!("{edit}; two builds raced ({}; {})", raced.first, raced.second);
                if self.options.runs(Oracle::Faults) {
                    self.stats.check(Oracle::Faults);
                    if raced.panicked() || raced.wedged() || !raced.ended_cleanly() {
                        return Err(self.fail(
                            Oracle::Faults,
                            Some(i),
                            &action,
                            "a racing build misbehaved".to_string(),
                        ));
                    }
                }
                action
            }
        };
        self.trace.push(format!("step {} {action}", self.step));
        self.build_step(Some(i), &kind, action)
    }

    /// A body edit, so a killed or racing build (or one meeting damage) has work to do.
    fn edit_for_fault(&mut self, seed: u16) -> String {
        let edit = Edit::Body { function: seed, variant: seed / 3 };
        match edit.apply(&mut self.model) {
            Ok(applied) => applied.description,
            Err(why) => why.0,
        }
    }

    /// A build whose codegen of one function fails: it must fail naming exactly that function, skip
    /// exactly what depends on it, and leave the last good executable.
    fn codegen_fault(&mut self, i: usize, function: u16) -> Result<String, Failure> {
        let paths: Vec<_> = self.model.functions().map(|(p, _)| p).collect();
        let path = paths[usize::from(function) % paths.len()].clone();
        let symbol = Symbol::new(&path.module, &path.name);
        let action = format!("codegen of {path} fails");
        sync(&self.main, &self.model.files()).map_err(|e| self.fail(Oracle::Faults, Some(i), &action, e))?;
        let outcome = injected_failure(&self.main, &self.config, symbol.clone());
        self.stats.builds += 1;
        self.relink_known = false;
        if self.options.runs(Oracle::Faults) {
            self.stats.check(Oracle::Faults);
            let expected = if self.sabotaged(&Sabotage::WrongFaultTarget) {
                Symbol::new(&path.module, "elsewhere")
            } else {
                symbol.clone()
            };
            check_injected_failure(&outcome, &expected).map_err(|e| self.fail(Oracle::Faults, Some(i), &action, e))?;
            if std::fs::read(self.main.output_path()).ok() != self.last_good_exe {
                let detail = "the failed build changed the last good executable".to_string();
                return Err(self.fail(Oracle::Faults, Some(i), &action, detail));
            }
        }
        Ok(format!("{action}, then the fault is gone"))
    }
}
