//! How a fuzzed run makes its choices, and the command-line forms that name a strategy.

use std::error::Error;
use std::fmt;
use std::str::FromStr;

use super::Schedule;

/// The way a [`Chooser`](super::Chooser) picks among enabled events.
///
/// Text forms (for `--schedule` style command-line options): `random:SEED`, `pct:SEED:DEPTH`, and
/// `replay:` followed by a schedule's text form.
///
/// ```
/// use lockstep_scheduler::fuzz::Strategy;
///
/// let pct: Strategy = "pct:7:3".parse().unwrap();
/// assert_eq!(pct, Strategy::Pct { seed: 7, depth: 3 });
/// assert_eq!(pct.to_string(), "pct:7:3");
/// assert!("pct:7:0".parse::<Strategy>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Uniformly random among the enabled events, from `seed`.
    Random {
        /// The seed of the generator that makes every choice.
        seed: u64,
    },
    /// Probabilistic concurrency testing with `depth - 1` priority change points.
    Pct {
        /// The seed of the generator that draws priorities and change points.
        seed: u64,
        /// The bug depth PCT targets; at least 1 (1 means no priority changes).
        depth: u32,
    },
    /// Follow a recorded schedule exactly.
    Replay(Schedule),
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Random { seed } => write!(f, "random:{seed}"),
            Strategy::Pct { seed, depth } => write!(f, "pct:{seed}:{depth}"),
            Strategy::Replay(schedule) => write!(f, "replay:{schedule}"),
        }
    }
}

/// Why a strategy's text form could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseStrategyError {
    text: String,
    reason: &'static str,
}

impl fmt::Display for ParseStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid scheduling strategy `{}`: {} (expected `random:SEED`, `pct:SEED:DEPTH` or `replay:SCHEDULE`)",
            self.text, self.reason
        )
    }
}

impl Error for ParseStrategyError {}

impl FromStr for Strategy {
    type Err = ParseStrategyError;

    fn from_str(text: &str) -> Result<Strategy, ParseStrategyError> {
        let error = |reason| ParseStrategyError { text: text.to_owned(), reason };
        let (kind, rest) = text.split_once(':').ok_or_else(|| error("missing `:`"))?;
        let parse_seed = |seed: &str| seed.parse::<u64>().map_err(|_| error("the seed is not a u64"));
        match kind {
            "random" => Ok(Strategy::Random { seed: parse_seed(rest)? }),
            "pct" => {
                let (seed, depth) = rest.split_once(':').ok_or_else(|| error("PCT needs `pct:SEED:DEPTH`"))?;
                let depth = depth.parse::<u32>().map_err(|_| error("the depth is not a u32"))?;
                if depth == 0 {
                    return Err(error("the PCT depth must be at least 1"));
                }
                Ok(Strategy::Pct { seed: parse_seed(seed)?, depth })
            }
            "replay" => Ok(Strategy::Replay(rest.parse().unwrap_or_else(|never| match never {}))),
            _ => Err(error("unknown strategy kind")),
        }
    }
}
