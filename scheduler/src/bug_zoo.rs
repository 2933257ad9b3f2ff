//! The bug zoo: named, realistic defects planted in the engine, each behind one
//! `bug_zoo::active(Bug::X)` call at the spot it breaks, so `lockstep verify --zoo` can show
//! which defects the harness catches, how fast, and with how small a repro.
//!
//! Without the `bug-zoo` feature [`active`] is a `const fn` returning `false`: every plant
//! compiles away and a release build ships without the zoo. With it, at most one bug is switched
//! on at a time, at run time: by [`activate`] (`lockstep verify --inject-bug NAME`), or, in a child
//! `lockstep` process, by the environment variable [`ENV_VAR`] that the parent passes on.
//!
//! This module lives in the scheduler crate because it is the one crate every layer depends on: the
//! scheduler's own plant (a seed that is ignored) needs it as much as the engine's do.

use std::fmt;

/// The environment variable that switches a bug on in a `lockstep` child process.
pub const ENV_VAR: &str = "LOCKSTEP_INJECT_BUG";

/// Which layer a bug lives in, as the zoo's table groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BugClass {
    Hashing,
    Invalidation,
    IncrementalChecking,
    Cache,
    Linking,
    Queue,
    Scheduler,
}

impl BugClass {
    pub fn name(self) -> &'static str {
        match self {
            BugClass::Hashing => "hashing",
            BugClass::Invalidation => "invalidation",
            BugClass::IncrementalChecking => "incremental checking",
            BugClass::Cache => "cache",
            BugClass::Linking => "staging and linking",
            BugClass::Queue => "queue",
            BugClass::Scheduler => "scheduler",
        }
    }
}

macro_rules! bugs {
    ($($variant:ident = $name:literal, $class:ident, $what:literal;)*) => {
        /// A planted defect.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Bug {
            $($variant,)*
        }

        impl Bug {
            /// Every bug, in the zoo's order.
            pub const ALL: &'static [Bug] = &[$(Bug::$variant,)*];

            /// The name `--inject-bug` takes.
            pub fn name(self) -> &'static str {
                match self {
                    $(Bug::$variant => $name,)*
                }
            }

            pub fn class(self) -> BugClass {
                match self {
                    $(Bug::$variant => BugClass::$class,)*
                }
            }

            /// One line: what the defect does, and the real bug class it is modelled on.
            pub fn description(self) -> &'static str {
                match self {
                    $(Bug::$variant => $what,)*
                }
            }
        }
    };
}

bugs! {
    CalleeSignaturesUnhashed = "callee-signatures-unhashed", Hashing,
        "a function's key leaves out its callees' signatures (a missing key input)";
    GlobalTypesUnhashed = "global-types-unhashed", Hashing,
        "a function's key hashes the globals it touches by name, not by type";
    ObjectKeyIgnoresConfig = "object-key-ignores-config", Hashing,
        "an object key leaves out the codegen configuration (opt level, artifact kind)";
    CallArgumentsUnscanned = "call-arguments-unscanned", Invalidation,
        "the reference walk skips call arguments, so calls and globals used there drop out of the dependency graph";
    ImporterNotRechecked = "importer-not-rechecked", IncrementalChecking,
        "a module's check summary is keyed without its imports' interfaces, so importers are not re-checked";
    CacheChecksumUnchecked = "cache-checksum-unchecked", Cache,
        "a cache read trusts an entry without verifying its checksum (an unchecked read)";
    StagedObjectUnchecked = "staged-object-unchecked", Cache,
        "the unchanged-unit shortcut links the staged object without checking its bytes";
    LinkKeyIgnoresObjects = "link-key-ignores-objects", Linking,
        "the final link is skipped when only an object changed (its key leaves out the objects)";
    LinkWholeStagingDir = "link-whole-staging-dir", Linking,
        "the link takes every object in the staging directory, so a deleted unit's object is still linked";
    FailureNotTransitive = "failure-not-transitive", Queue,
        "a failed step skips its direct dependents only, not theirs (a failure not propagated transitively)";
    SkipNotAnnounced = "skip-not-announced", Queue,
        "a skipped link step is never announced to the link stage, which waits for it forever (a lost wake-up)";
    ScheduleSeedIgnored = "schedule-seed-ignored", Scheduler,
        "the fuzzed scheduler ignores its seed, so every 'random' schedule is the same";
}

impl Bug {
    /// The bug named `name`.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.iter().copied().find(|bug| bug.name() == name)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The files in `dir` with extension `ext`, sorted: what a link that globs its staging directory
/// (`$(wildcard objects/*.o)`) takes, instead of the objects this build staged.
pub fn files_with_extension(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Whether this build has the zoo at all.
pub const ENABLED: bool = cfg!(feature = "bug-zoo");

#[cfg(feature = "bug-zoo")]
mod switch {
    use super::{Bug, ENV_VAR};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Once;

    /// 0: no bug; otherwise 1 + the bug's position in [`Bug::ALL`].
    static ACTIVE: AtomicUsize = AtomicUsize::new(0);
    static FROM_ENV: Once = Once::new();

    fn encode(bug: Option<Bug>) -> usize {
        bug.and_then(|bug| Bug::ALL.iter().position(|b| *b == bug)).map_or(0, |i| i + 1)
    }

    pub fn active(bug: Bug) -> bool {
        // A child process learns its bug from the environment, once; an explicit `activate`
        // afterwards wins.
        FROM_ENV.call_once(|| {
            if let Some(bug) = std::env::var(ENV_VAR).ok().as_deref().and_then(Bug::from_name) {
                let _ = ACTIVE.compare_exchange(0, encode(Some(bug)), Ordering::SeqCst, Ordering::SeqCst);
            }
        });
        ACTIVE.load(Ordering::Relaxed) == encode(Some(bug))
    }

    pub fn activate(bug: Option<Bug>) {
        FROM_ENV.call_once(|| {});
        ACTIVE.store(encode(bug), Ordering::SeqCst);
    }

    pub fn current() -> Option<Bug> {
        match ACTIVE.load(Ordering::SeqCst) {
            0 => None,
            i => Bug::ALL.get(i - 1).copied(),
        }
    }
}

/// Whether `bug` is switched on. Always `false` without the `bug-zoo` feature.
#[cfg(feature = "bug-zoo")]
#[inline]
pub fn active(bug: Bug) -> bool {
    switch::active(bug)
}

/// Whether `bug` is switched on. Always `false` without the `bug-zoo` feature.
#[cfg(not(feature = "bug-zoo"))]
#[inline(always)]
pub const fn active(_bug: Bug) -> bool {
    false
}

/// Switches `bug` on (or, with `None`, every bug off) for this process.
///
/// # Errors
///
/// Without the `bug-zoo` feature no bug can be switched on.
pub fn activate(bug: Option<Bug>) -> Result<(), String> {
    #[cfg(feature = "bug-zoo")]
    {
        switch::activate(bug);
        Ok(())
    }
    #[cfg(not(feature = "bug-zoo"))]
    match bug {
        None => Ok(()),
        Some(bug) => Err(format!(
            "cannot inject `{bug}`: this lockstep was built without the bug zoo (build it with `--features bug-zoo`)"
        )),
    }
}

/// Runs `run` with `bug` (or, with `None`, no bug) switched on, and switches back to what was on
/// before, whatever `run` returns.
///
/// # Errors
///
/// Without the `bug-zoo` feature no bug can be switched on.
pub fn with_bug<T>(bug: Option<Bug>, run: impl FnOnce() -> T) -> Result<T, String> {
    let before = current();
    activate(bug)?;
    let result = run();
    activate(before)?;
    Ok(result)
}

/// The bug switched on in this process, if any.
pub fn current() -> Option<Bug> {
    #[cfg(feature = "bug-zoo")]
    {
        switch::current()
    }
    #[cfg(not(feature = "bug-zoo"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for bug in Bug::ALL {
            assert_eq!(Bug::from_name(bug.name()), Some(*bug));
        }
        let mut names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Bug::ALL.len());
    }

    #[cfg(not(feature = "bug-zoo"))]
    #[test]
    fn without_the_feature_nothing_can_be_switched_on() {
        assert!(activate(Some(Bug::ALL[0])).is_err());
        assert!(Bug::ALL.iter().all(|bug| !active(*bug)));
    }
}
