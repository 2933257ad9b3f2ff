//! The summary a verify run prints (a table) and writes (`--json FILE`).

use crate::verify::oracle::Oracle;
use crate::verify::runner::Summary;
use serde_json::json;
use std::fmt::Write as _;
use std::time::Duration;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rate(hits: usize, misses: usize) -> f64 {
    if hits + misses == 0 {
        0.0
    } else {
        100.0 * hits as f64 / (hits + misses) as f64
    }
}

impl Summary {
    /// Verified build steps per minute of the run.
    pub fn steps_per_minute(&self) -> f64 {
        let minutes = self.elapsed.as_secs_f64() / 60.0;
        if minutes > 0.0 {
            self.stats.steps as f64 / minutes
        } else {
            0.0
        }
    }

    /// The human summary.
    pub fn table(&self) -> String {
        let s = &self.stats;
        let mut out = String::new();
        let _ = writeln!(out, "lockstep verify (seed {}): {:.1}s", self.seed, self.elapsed.as_secs_f64());
        let _ = writeln!(
            out,
            "  cases {}, steps {}, builds {} ({} intents did not apply)",
            self.cases, s.steps, s.builds, s.not_applicable
        );
        let _ = writeln!(out, "  schedules explored: {} (seeded random and PCT)", s.schedules);
        let _ = writeln!(out, "  oracle checks:");
        for oracle in Oracle::ALL {
            let _ = writeln!(out, "    {:<16}{:>7}", oracle.name(), s.checks.get(&oracle).copied().unwrap_or(0));
        }
        let _ = writeln!(
            out,
            "  cache hit rates (main workspace): IR {:.1}% of {}, objects {:.1}% of {}",
            rate(s.ir.0, s.ir.1),
            s.ir.0 + s.ir.1,
            rate(s.objects.0, s.objects.1),
            s.objects.0 + s.objects.1
        );
        let _ = writeln!(out, "  incremental build against clean build, per step kind (mean):");
        let _ = writeln!(out, "    {:<22}{:>6}{:>14}{:>10}{:>8}", "kind", "steps", "incremental", "clean", "ratio");
        for (kind, t) in &s.timing {
            if t.steps == 0 {
                continue;
            }
            let (inc, clean) = (ms(t.incremental) / t.steps as f64, ms(t.clean) / t.steps as f64);
            let ratio = if clean > 0.0 { format!("{:.0}%", 100.0 * inc / clean) } else { "-".to_string() };
            let _ = writeln!(out, "    {kind:<22}{:>6}{:>11.1} ms{:>7.1} ms{ratio:>8}", t.steps, inc, clean);
        }
        let _ = writeln!(out, "  verified steps per minute: {:.0}", self.steps_per_minute());
        match &self.failure {
            None => {
                let _ = writeln!(out, "  failures: none");
            }
            Some(f) => {
                let _ = writeln!(out, "  FAILURE: {}", f.original);
                let _ = writeln!(
                    out,
                    "    detected after {:.1}s; shrunk in {:.1}s ({} trials) to {} edit(s){}",
                    f.detected_after.as_secs_f64(),
                    f.shrink_time.as_secs_f64(),
                    f.shrink_trials,
                    f.repro.edits(),
                    f.repro.guide.as_ref().map_or(String::new(), |(_, g)| format!(" and a {}-step schedule", g.len()))
                );
                let _ = writeln!(out, "    shrunk: {}", f.shrunk);
                let _ = writeln!(out, "    repro: {}", f.repro_path.display());
                let _ = writeln!(out, "    replay: lockstep replay {}", f.repro_path.display());
            }
        }
        out
    }

    /// The machine-readable summary.
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.stats;
        let checks: serde_json::Map<String, serde_json::Value> =
            Oracle::ALL.iter().map(|o| (o.name().to_string(), json!(s.checks.get(o).copied().unwrap_or(0)))).collect();
        let timing: serde_json::Map<String, serde_json::Value> = s
            .timing
            .iter()
            .map(|(kind, t)| {
                (
                    kind.clone(),
                    json!({ "steps": t.steps, "incremental_ms": ms(t.incremental), "clean_ms": ms(t.clean) }),
                )
            })
            .collect();
        json!({
            "seed": self.seed,
            "ok": self.failure.is_none(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "cases": self.cases,
            "steps": s.steps,
            "builds": s.builds,
            "not_applicable": s.not_applicable,
            "schedules": s.schedules,
            "checks": checks,
            "ir": { "hits": s.ir.0, "misses": s.ir.1 },
            "objects": { "hits": s.objects.0, "misses": s.objects.1 },
            "timing": timing,
            "steps_per_minute": self.steps_per_minute(),
            "failure": self.failure.as_ref().map(|f| json!({
                "oracle": f.shrunk.oracle.name(),
                "detail": f.shrunk.detail,
                "first_found": f.original.to_string(),
                "detected_after_s": f.detected_after.as_secs_f64(),
                "shrink_s": f.shrink_time.as_secs_f64(),
                "shrink_trials": f.shrink_trials,
                "edits": f.repro.edits(),
                "schedule_steps": f.repro.guide.as_ref().map(|(_, g)| g.len()),
                "repro": f.repro_path.display().to_string(),
            })),
        })
    }
}
