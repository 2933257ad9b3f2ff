//! The regression gate behind `bench-gate`: criterion's latest results
//! against a saved baseline, benchmark by benchmark.
//!
//! Criterion 0.8 keeps, for every benchmark, `DIR/<id>/new/` (the latest
//! run; written by plain runs, `--save-baseline` and `--baseline` alike)
//! and `DIR/<id>/<NAME>/` (a baseline: `--save-baseline NAME` copies `new/`
//! there, `--baseline NAME` only reads it), each with an `estimates.json`
//! whose `median.point_estimate` is in nanoseconds and a `benchmark.json`
//! naming the benchmark (`full_id`). `<id>` is one or more directories
//! (`group/function[/value]`, made file-name safe).
//!
//! The median, not the mean: one slow sample (another process grabbing a
//! core) moves the mean of a 10-sample build benchmark by several percent,
//! the median hardly at all.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Percent by which a median may grow before the gate fails.
pub const DEFAULT_THRESHOLD: f64 = 10.0;

#[derive(Clone, Debug)]
pub struct GateOptions {
    /// The baseline's name (`--save-baseline NAME`).
    pub baseline: String,
    /// Percent; a change above it (not at it) is a regression.
    pub threshold_percent: f64,
    /// Only benchmarks whose id contains this.
    pub filter: Option<String>,
}

impl GateOptions {
    pub fn new(baseline: &str) -> GateOptions {
        GateOptions { baseline: baseline.to_string(), threshold_percent: DEFAULT_THRESHOLD, filter: None }
    }
}

/// What the gate concluded about one benchmark.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Within the threshold, or faster.
    Ok,
    /// Slower by more than the threshold.
    Regressed,
    /// Only the latest run has it (a benchmark added since the baseline).
    NoBaseline,
    /// Only the baseline has it (a benchmark since removed or renamed).
    NoNewRun,
    /// The latest results are older than the baseline: the benchmark was
    /// not run since the baseline was saved (a filtered run), so `new/`
    /// says nothing about the code under test.
    Stale,
    /// A file that exists but is not criterion's estimates.
    Unreadable(String),
}

impl Verdict {
    fn label(&self) -> String {
        match self {
            Verdict::Ok => "ok".to_string(),
            Verdict::Regressed => "REGRESSED".to_string(),
            Verdict::NoBaseline => "no baseline".to_string(),
            Verdict::NoNewRun => "not run".to_string(),
            Verdict::Stale => "stale: not rerun since the baseline".to_string(),
            Verdict::Unreadable(why) => format!("UNREADABLE: {why}"),
        }
    }
}

/// One benchmark's medians (nanoseconds) and verdict.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: String,
    pub baseline_ns: Option<f64>,
    pub new_ns: Option<f64>,
    pub verdict: Verdict,
}

impl Row {
    /// How much slower the latest median is, in percent (negative: faster).
    pub fn change_percent(&self) -> Option<f64> {
        match (self.baseline_ns, self.new_ns) {
            (Some(base), Some(new)) if base > 0.0 => Some(100.0 * (new / base - 1.0)),
            _ => None,
        }
    }
}

/// Every benchmark the gate looked at, sorted by id.
#[derive(Clone, Debug)]
pub struct Report {
    pub baseline: String,
    pub threshold_percent: f64,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn regressed(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.verdict == Verdict::Regressed)
    }

    /// Benchmarks with a median on both sides.
    pub fn compared(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r.verdict, Verdict::Ok | Verdict::Regressed)).count()
    }

    fn unreadable(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r.verdict, Verdict::Unreadable(_))).count()
    }

    /// 0: pass; 1: a regression; 2: nothing to compare, or a file the gate
    /// could not read (a gate that compared nothing has guarded nothing).
    pub fn exit_code(&self) -> i32 {
        if self.regressed().next().is_some() {
            1
        } else if self.compared() == 0 || self.unreadable() > 0 {
            2
        } else {
            0
        }
    }

    /// The table, then one line saying what the verdict is and why.
    pub fn render(&self) -> String {
        let headers = ["benchmark", "baseline", "new", "change", "verdict"];
        let mut lines: Vec<[String; 5]> = vec![headers.map(str::to_string)];
        for row in &self.rows {
            lines.push([
                row.id.clone(),
                row.baseline_ns.map_or("-".to_string(), format_ns),
                row.new_ns.map_or("-".to_string(), format_ns),
                row.change_percent().map_or("-".to_string(), |c| format!("{c:+.1}%")),
                row.verdict.label(),
            ]);
        }
        let width = |c: usize| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0);
        let widths = [width(0), width(1), width(2), width(3)];
        let mut out = String::new();
        for l in &lines {
            let _ = writeln!(
                out,
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}",
                l[0],
                l[1],
                l[2],
                l[3],
                l[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
        }
        let (name, threshold) = (&self.baseline, self.threshold_percent);
        let others = self.rows.len() - self.compared();
        let not_compared = if others > 0 { format!(" ({others} not compared: see above)") } else { String::new() };
        match self.exit_code() {
            0 => {
                let _ = writeln!(
                    out,
                    "bench-gate: pass: {} benchmarks within +{threshold}% of baseline `{name}`{not_compared}",
                    self.compared()
                );
            }
            1 => {
                let ids: Vec<&str> = self.regressed().map(|r| r.id.as_str()).collect();
                let _ = writeln!(
                    out,
                    "bench-gate: FAIL: {} of {} benchmarks slowed down by more than {threshold}% against baseline `{name}`: {}",
                    ids.len(),
                    self.compared(),
                    ids.join(", ")
                );
            }
            _ if self.unreadable() > 0 => {
                let _ = writeln!(out, "bench-gate: error: unreadable criterion results (see above)");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "bench-gate: error: no benchmark has both baseline `{name}` and a newer run; \
                     run `cargo bench -- --baseline {name}` first"
                );
            }
        }
        out
    }
}

fn format_ns(ns: f64) -> String {
    let (value, unit) = match ns {
        n if n < 1e3 => (n, "ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let decimals = if value < 10.0 {
        3
    } else if value < 100.0 {
        2
    } else {
        1
    };
    format!("{value:.decimals$} {unit}")
}

/// Compares every benchmark under `criterion_dir` that has `new/`, the
/// baseline, or both. Errors only for a bad baseline name or a missing
/// directory; everything per benchmark goes in its row.
pub fn compare(criterion_dir: &Path, options: &GateOptions) -> Result<Report, String> {
    let name = options.baseline.as_str();
    if name.is_empty() || name.contains(['/', '\\']) || ["new", "change", "report"].contains(&name) {
        return Err(format!("`{name}` cannot be a criterion baseline name"));
    }
    if !criterion_dir.is_dir() {
        return Err(format!("{}: no criterion results here (run `cargo bench` first)", criterion_dir.display()));
    }
    let mut dirs = Vec::new();
    benchmark_dirs(criterion_dir, name, &mut dirs);
    let mut rows: Vec<Row> = dirs
        .iter()
        .map(|dir| compare_one(criterion_dir, dir, options))
        .filter(|row| options.filter.as_deref().is_none_or(|f| row.id.contains(f)))
        .collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Report { baseline: name.to_string(), threshold_percent: options.threshold_percent, rows })
}

/// Directories holding a benchmark's `new/` or `<name>/` results, in
/// file-name order. `report/` holds criterion's HTML, never results.
fn benchmark_dirs(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut subdirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for sub in subdirs {
        if sub.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        if sub.join("new").join("estimates.json").is_file() || sub.join(name).join("estimates.json").is_file() {
            out.push(sub);
        } else {
            benchmark_dirs(&sub, name, out);
        }
    }
}

fn compare_one(root: &Path, dir: &Path, options: &GateOptions) -> Row {
    let (base_dir, new_dir) = (dir.join(&options.baseline), dir.join("new"));
    let id = [&new_dir, &base_dir]
        .iter()
        .find_map(|d| full_id(d))
        .unwrap_or_else(|| dir.strip_prefix(root).unwrap_or(dir).to_string_lossy().replace('\\', "/"));
    let mut row = Row { id, baseline_ns: None, new_ns: None, verdict: Verdict::Ok };
    let (base_file, new_file) = (base_dir.join("estimates.json"), new_dir.join("estimates.json"));
    let (has_base, has_new) = (base_file.is_file(), new_file.is_file());
    let read = |file: &Path| median_ns(file).map_err(|why| format!("{}: {why}", file.display()));
    match (has_base.then(|| read(&base_file)), has_new.then(|| read(&new_file))) {
        (Some(Err(why)), _) | (_, Some(Err(why))) => row.verdict = Verdict::Unreadable(why),
        (Some(Ok(base)), None) => {
            row.baseline_ns = Some(base);
            row.verdict = Verdict::NoNewRun;
        }
        (None, Some(Ok(new))) => {
            row.new_ns = Some(new);
            row.verdict = Verdict::NoBaseline;
        }
        (Some(Ok(base)), Some(Ok(new))) => {
            row.baseline_ns = Some(base);
            row.new_ns = Some(new);
            row.verdict = if modified(&new_file) <= modified(&base_file) {
                Verdict::Stale
            } else if row.change_percent().is_some_and(|c| c > options.threshold_percent) {
                Verdict::Regressed
            } else {
                Verdict::Ok
            };
        }
        (None, None) => unreachable!("benchmark_dirs lists directories with results only"),
    }
    row
}

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

fn full_id(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("benchmark.json")).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    Some(value.get("full_id")?.as_str()?.to_string())
}

fn median_ns(file: &Path) -> Result<f64, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    match value.pointer("/median/point_estimate").and_then(Value::as_f64) {
        Some(ns) if ns > 0.0 && ns.is_finite() => Ok(ns),
        Some(ns) => Err(format!("median {ns} ns is not a duration")),
        None => Err("no median.point_estimate".to_string()),
    }
}
