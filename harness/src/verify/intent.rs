//! One step of a verify case, as an intent: an edit of the program, a broken build and its fix, a revert,
//! a configuration change, or a fault. Like edits, intents name their targets by index, so any intent
//! applies to any state, and deleting intents (shrinking) leaves a meaningful sequence.

use crate::program::edit::Edit;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intent {
    /// Edit the program model.
    Edit(Edit),
    /// Break the build (a parse error or a type error in the `target`-th module or function), then fix it:
    /// two builds, the first of which must fail with a diagnostic.
    Break { parse: bool, target: u16 },
    /// Go back to the program of `back + 1` successful builds ago (modulo the history).
    Revert { back: u16 },
    /// Change how the next builds are configured.
    Config(ConfigChange),
    /// A fault, after which the next build must equal a clean build.
    Fault(Fault),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigChange {
    /// `--release` on or off.
    Release,
    /// `--lto` on or off.
    Lto,
    /// `--cgu`: 0 = partition (default size), 1 = partition of 4, 2 = module, 3 = function.
    Cgu(u8),
    /// `-j N` with N from 1 to 4.
    Jobs(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The next build's codegen of the `function`-th function fails (`--inject-fault`); then it is fixed.
    Codegen { function: u16 },
    /// A build of an edited program is killed (SIGKILL) at a point drawn from `seed`.
    Kill { seed: u16 },
    /// Files under the work directory (cache entries, manifests, staged objects) are flipped, truncated or
    /// deleted, chosen by `seed`.
    Damage { seed: u16 },
    /// Two builds of an edited program race on one cache.
    Race { seed: u16 },
}

impl Intent {
    /// The kind, for summaries: the edit's kind, or `break`, `revert`, `config-…`, `fault-…`.
    pub fn kind(&self) -> String {
        match self {
            Intent::Edit(e) => e.kind().to_string(),
            Intent::Break { parse: true, .. } => "break-parse".to_string(),
            Intent::Break { parse: false, .. } => "break-type".to_string(),
            Intent::Revert { .. } => "revert".to_string(),
            Intent::Config(c) => format!("config-{}", c.name()),
            Intent::Fault(f) => format!("fault-{}", f.name()),
        }
    }

    /// Whether the intent is a fault (after which the cache's contents are not known).
    pub fn is_fault(&self) -> bool {
        matches!(self, Intent::Fault(_))
    }
}

impl ConfigChange {
    fn name(&self) -> &'static str {
        match self {
            ConfigChange::Release => "release",
            ConfigChange::Lto => "lto",
            ConfigChange::Cgu(_) => "cgu",
            ConfigChange::Jobs(_) => "jobs",
        }
    }
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Fault::Codegen { .. } => "codegen",
            Fault::Kill { .. } => "kill",
            Fault::Damage { .. } => "damage",
            Fault::Race { .. } => "race",
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Intent::Edit(e) => write!(f, "{e}"),
            Intent::Break { parse, target } => write!(f, "break {} {target}", if *parse { "parse" } else { "type" }),
            Intent::Revert { back } => write!(f, "revert {back}"),
            Intent::Config(ConfigChange::Release) => f.write_str("config release"),
            Intent::Config(ConfigChange::Lto) => f.write_str("config lto"),
            Intent::Config(ConfigChange::Cgu(c)) => write!(f, "config cgu {c}"),
            Intent::Config(ConfigChange::Jobs(j)) => write!(f, "config jobs {j}"),
            Intent::Fault(Fault::Codegen { function }) => write!(f, "fault codegen {function}"),
            Intent::Fault(Fault::Kill { seed }) => write!(f, "fault kill {seed}"),
            Intent::Fault(Fault::Damage { seed }) => write!(f, "fault damage {seed}"),
            Intent::Fault(Fault::Race { seed }) => write!(f, "fault race {seed}"),
        }
    }
}

impl FromStr for Intent {
    type Err = String;

    fn from_str(text: &str) -> Result<Intent, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let number = |i: usize| -> Result<u16, String> {
            words
                .get(i)
                .ok_or_else(|| format!("`{text}`: a number is missing"))?
                .parse::<u16>()
                .map_err(|_| format!("`{text}`: `{}` is not a number from 0 to 65535", words[i]))
        };
        let exact = |n: usize, intent: Intent| {
            if words.len() == n {
                Ok(intent)
            } else {
                Err(format!("`{text}`: expected {n} words"))
            }
        };
        match words.as_slice() {
            ["break", kind, _] if *kind == "parse" || *kind == "type" => {
                Ok(Intent::Break { parse: *kind == "parse", target: number(2)? })
            }
            ["revert", ..] => exact(2, Intent::Revert { back: number(1)? }),
            ["config", "release"] => Ok(Intent::Config(ConfigChange::Release)),
            ["config", "lto"] => Ok(Intent::Config(ConfigChange::Lto)),
            ["config", "cgu", ..] => match number(2)? {
                c @ 0..=3 => exact(3, Intent::Config(ConfigChange::Cgu(c as u8))),
                _ => Err(format!("`{text}`: cgu modes are 0 to 3")),
            },
            ["config", "jobs", ..] => match number(2)? {
                j @ 1..=4 => exact(3, Intent::Config(ConfigChange::Jobs(j as u8))),
                _ => Err(format!("`{text}`: jobs go from 1 to 4")),
            },
            ["fault", "codegen", ..] => exact(3, Intent::Fault(Fault::Codegen { function: number(2)? })),
            ["fault", "kill", ..] => exact(3, Intent::Fault(Fault::Kill { seed: number(2)? })),
            ["fault", "damage", ..] => exact(3, Intent::Fault(Fault::Damage { seed: number(2)? })),
            ["fault", "race", ..] => exact(3, Intent::Fault(Fault::Race { seed: number(2)? })),
            ["break", ..] | ["config", ..] | ["fault", ..] => Err(format!("`{text}` is not an intent")),
            _ => text.parse::<Edit>().map(Intent::Edit),
        }
    }
}
