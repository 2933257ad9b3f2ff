//! The `--timings` page: static HTML with inline CSS and SVG, so it opens
//! anywhere, offline, and a test can count its bars in the DOM. Hovering a
//! bar shows its SVG `<title>`.

use super::{duration, BuildSummary};
use lockstep_core::engine::trace::{BuildTrace, Category, Lane, Span};
use std::fmt::Write as _;

/// Width of the time axis, in pixels.
const CHART_WIDTH: f64 = 1000.0;
/// Left margin for lane names.
const LABEL_WIDTH: f64 = 150.0;
const ROW_HEIGHT: f64 = 22.0;
/// The slowest units listed in the table.
const SLOWEST: usize = 20;

const STYLE: &str = "
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; text-align: left; border-bottom: 1px solid #ddd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.hit { fill: #7fbf7f; } .miss { fill: #e8a33d; } .failed { fill: #d9534f; }
.link-step { fill: #6a8fd8; } .phase { fill: #9aa5b1; } .grid { stroke: #e4e4e4; }
rect.unit, rect.link-step { stroke: #fff; stroke-width: 0.6; }
.concurrency { fill: none; stroke: #e8a33d; stroke-width: 1.5; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 14px; vertical-align: -1px; }
";

/// The whole page.
pub fn page(summary: &BuildSummary, trace: &BuildTrace) -> String {
    let mut out = String::new();
    let total = trace.end().max(1);
    let units: Vec<&Span> = trace.units().collect();
    let hits = units.iter().filter(|s| s.outcome == "hit").count();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>lockstep build timings: {project}</title><style>{STYLE}</style></head><body>\n\
         <h1>lockstep build timings: {project}</h1>\n<table>\n\
         <tr><th>status</th><td>{status}</td></tr>\n\
         <tr><th>profile</th><td>{profile}</td></tr>\n\
         <tr><th>total</th><td>{total_text}</td></tr>\n\
         <tr><th>functions</th><td>{functions}</td></tr>\n\
         <tr><th>codegen units</th><td>{unit_count} ({hits} from the cache, {misses} compiled)</td></tr>\n\
         <tr><th>workers</th><td>{workers}</td></tr>\n\
         <tr><th>clock</th><td>{clock}</td></tr>\n</table>\n",
        project = escape(&summary.project),
        status = escape(&summary.status),
        profile = escape(&summary.profile),
        total_text = duration(trace, total),
        functions = summary.functions,
        unit_count = units.len(),
        misses = units.len() - hits,
        workers = summary.workers,
        clock = if trace.clock == "logical" { "logical (ticks of the fuzzed schedule)" } else { "wall" },
    );
    phases(&mut out, trace, total);
    lanes(&mut out, trace, total);
    concurrency(&mut out, trace, total);
    slowest(&mut out, trace, &units);
    out.push_str("</body></html>\n");
    out
}

fn x_of(time: u64, total: u64) -> f64 {
    LABEL_WIDTH + CHART_WIDTH * time as f64 / total as f64
}

fn width_of(span: &Span, total: u64) -> f64 {
    (CHART_WIDTH * span.duration() as f64 / total as f64).max(1.0)
}

fn svg_open(out: &mut String, id: &str, rows: usize) -> f64 {
    let height = ROW_HEIGHT * rows as f64 + 24.0;
    let _ = writeln!(
        out,
        "<svg id=\"{id}\" width=\"{w}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = LABEL_WIDTH + CHART_WIDTH + 20.0
    );
    height
}

/// Vertical lines at tenths of the build, labelled with the time.
fn grid(out: &mut String, trace: &BuildTrace, total: u64, height: f64) {
    for tenth in 0..=10 {
        let time = total * tenth / 10;
        let x = x_of(time, total);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{height:.1}\" text-anchor=\"middle\">{label}</text>",
            y = height - 14.0,
            label = duration(trace, time)
        );
    }
}

fn phases(out: &mut String, trace: &BuildTrace, total: u64) {
    let phases = trace.phases();
    out.push_str("<h2>Phases</h2>\n");
    let height = svg_open(out, "phases", phases.len());
    grid(out, trace, total, height);
    for (row, span) in phases.iter().enumerate() {
        let y = ROW_HEIGHT * row as f64;
        let _ = writeln!(
            out,
            "<text x=\"4\" y=\"{ty:.1}\">{name}</text><rect class=\"phase\" data-phase=\"{name}\" x=\"{x:.1}\" y=\"{y:.1}\" \
             width=\"{w:.1}\" height=\"{h:.1}\"><title>{name}: {d}</title></rect>",
            ty = y + 15.0,
            name = escape(&span.name),
            x = x_of(span.start, total),
            w = width_of(span, total),
            h = ROW_HEIGHT - 4.0,
            d = duration(trace, span.duration()),
        );
    }
    out.push_str("</svg>\n");
}

/// One lane per worker, then the link stage: a bar per unit and per link step.
fn lanes(out: &mut String, trace: &BuildTrace, total: u64) {
    let mut lanes: Vec<Lane> = trace
        .spans
        .iter()
        .filter(|s| matches!(s.category, Category::Codegen | Category::Link))
        .map(|s| s.lane)
        .collect();
    lanes.sort();
    lanes.dedup();
    out.push_str(
        "<h2>Units</h2>\n<p class=\"legend\">one bar per codegen unit:<span style=\"background:#7fbf7f\"></span>\
         from the cache<span style=\"background:#e8a33d\"></span>compiled<span style=\"background:#d9534f\"></span>failed\
         <span style=\"background:#6a8fd8\"></span>link step</p>\n",
    );
    let height = svg_open(out, "units", lanes.len());
    grid(out, trace, total, height);
    for (row, lane) in lanes.iter().enumerate() {
        let y = ROW_HEIGHT * row as f64;
        let name = match lane {
            Lane::Worker(i) => format!("worker {i}"),
            Lane::Link => "link stage".to_string(),
            Lane::Main => "driver".to_string(),
        };
        let _ = writeln!(out, "<text x=\"4\" y=\"{:.1}\">{name}</text>", y + 15.0);
        for span in trace.spans.iter().filter(|s| s.lane == *lane) {
            let (class, data) = match span.category {
                Category::Codegen => (format!("unit {}", span.outcome), "data-unit"),
                Category::Link => ("link-step".to_string(), "data-link"),
                _ => continue,
            };
            let functions = if span.category == Category::Codegen {
                format!(", {} functions", span.functions)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<rect class=\"{class}\" {data}=\"{name}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
                 <title>{name}: {d}, {outcome}{functions}</title></rect>",
                name = escape(&span.name),
                x = x_of(span.start, total),
                w = width_of(span, total),
                h = ROW_HEIGHT - 4.0,
                d = duration(trace, span.duration()),
                outcome = escape(&span.outcome),
            );
        }
    }
    out.push_str("</svg>\n");
}

/// Units in flight over time, as a step line.
fn concurrency(out: &mut String, trace: &BuildTrace, total: u64) {
    let mut changes: Vec<(u64, i64)> = trace.units().flat_map(|s| [(s.start, 1), (s.end, -1)]).collect();
    changes.sort();
    let peak = changes
        .iter()
        .scan(0i64, |level, &(_, delta)| {
            *level += delta;
            Some(*level)
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let rows = 4;
    let height = svg_open_titled(out, "concurrency", "Concurrency (codegen units in flight)", rows);
    grid(out, trace, total, height);
    let plot = ROW_HEIGHT * rows as f64;
    let y_of = |level: i64| plot - plot * level as f64 / peak as f64;
    let _ = writeln!(out, "<text x=\"4\" y=\"12\">{peak} in flight</text><text x=\"4\" y=\"{plot:.1}\">0</text>");
    let mut points = vec![format!("{:.1},{:.1}", x_of(0, total), y_of(0))];
    let mut level = 0;
    for (time, delta) in changes {
        let x = x_of(time, total);
        points.push(format!("{x:.1},{:.1}", y_of(level)));
        level += delta;
        points.push(format!("{x:.1},{:.1}", y_of(level)));
    }
    let _ = writeln!(out, "<polyline class=\"concurrency\" points=\"{}\"/>\n</svg>", points.join(" "));
}

fn svg_open_titled(out: &mut String, id: &str, title: &str, rows: usize) -> f64 {
    let _ = writeln!(out, "<h2>{title}</h2>");
    svg_open(out, id, rows)
}

fn slowest(out: &mut String, trace: &BuildTrace, units: &[&Span]) {
    let mut slowest: Vec<&&Span> = units.iter().collect();
    slowest.sort_by(|a, b| b.duration().cmp(&a.duration()).then_with(|| a.name.cmp(&b.name)));
    let _ = writeln!(
        out,
        "<h2>Slowest units</h2>\n<table id=\"slowest\">\n<tr><th>unit</th><th class=\"num\">time</th>\
         <th>cache</th><th class=\"num\">functions</th><th>lane</th></tr>"
    );
    for span in slowest.into_iter().take(SLOWEST) {
        let lane = match span.lane {
            Lane::Worker(i) => format!("worker {i}"),
            Lane::Link => "link stage".to_string(),
            Lane::Main => "driver".to_string(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{lane}</td></tr>",
            escape(&span.name),
            duration(trace, span.duration()),
            escape(&span.outcome),
            span.functions
        );
    }
    out.push_str("</table>\n");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
