//! A recorded schedule: the labels of the events a fuzzed run chose, in order.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// The sequence of event labels a run chose, e.g. `codegen(m3) done(m3) link(m3)`.
///
/// Its text form is the labels separated by single spaces. Parsing accepts any whitespace as a
/// separator (so one label per line works too), and `schedule.to_string().parse()` gives back an
/// equal schedule because labels never contain whitespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    steps: Vec<String>,
}

impl Schedule {
    /// A schedule made of `steps`, in order.
    ///
    /// # Panics
    ///
    /// If a step is empty or contains whitespace: such a label could not round-trip through the
    /// text form, and producing one is a bug in whoever invented the label.
    pub fn new<S: Into<String>>(steps: impl IntoIterator<Item = S>) -> Schedule {
        let steps: Vec<String> = steps.into_iter().map(Into::into).collect();
        for step in &steps {
            assert_valid_label(step);
        }
        Schedule { steps }
    }

    /// The chosen labels, in order.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step was recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub(crate) fn push(&mut self, label: &str) {
        assert_valid_label(label);
        self.steps.push(label.to_owned());
    }
}

pub(crate) fn assert_valid_label(label: &str) {
    assert!(
        !label.is_empty() && !label.contains(char::is_whitespace),
        "event label {label:?} must be non-empty and free of whitespace to round-trip in a schedule"
    );
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, step) in self.steps.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(step)?;
        }
        Ok(())
    }
}

impl FromStr for Schedule {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Schedule, Infallible> {
        Ok(Schedule { steps: text.split_whitespace().map(str::to_owned).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_space_separated_and_parses_any_whitespace() {
        let schedule = Schedule::new(["codegen(m3)", "done(m3)", "link(m3)"]);
        assert_eq!(schedule.to_string(), "codegen(m3) done(m3) link(m3)");
        let parsed: Schedule = "codegen(m3)\ndone(m3)\n\tlink(m3)\n".parse().unwrap();
        assert_eq!(parsed, schedule);
        assert_eq!("".parse::<Schedule>().unwrap(), Schedule::default());
    }
}
