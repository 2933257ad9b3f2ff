//! Chrome trace-event JSON (the "JSON Object Format" of the Trace Event
//! Format document), which Perfetto's UI and `trace_processor` and
//! `chrome://tracing` load: complete events (`"ph": "X"`) with
//! microsecond `ts` and `dur`, one thread per lane, named by metadata
//! events.

use lockstep_core::engine::trace::{BuildTrace, Category, Lane};
use serde_json::{json, Value};

/// The thread id a lane is drawn on: the driver, then the link stage, then
/// the workers in the order they started.
fn thread_id(lane: Lane) -> u64 {
    match lane {
        Lane::Main => 1,
        Lane::Link => 2,
        Lane::Worker(index) => 3 + u64::from(index),
    }
}

fn lane_name(lane: Lane) -> String {
    match lane {
        Lane::Main => "driver".to_string(),
        Lane::Link => "link stage".to_string(),
        Lane::Worker(index) => format!("codegen worker {index}"),
    }
}

fn category_name(category: Category) -> &'static str {
    match category {
        Category::Phase => "phase",
        Category::Codegen => "codegen",
        Category::Link => "link",
        Category::CacheRead => "cache-read",
        Category::CacheWrite => "cache-write",
    }
}

/// The trace as Chrome trace-event JSON. Under the logical clock one tick is
/// written as one microsecond.
pub fn trace_events(trace: &BuildTrace) -> String {
    const PID: u64 = 1;
    let mut events: Vec<Value> =
        vec![json!({"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": "lockstep build"}})];
    let mut lanes: Vec<Lane> = trace.spans.iter().map(|s| s.lane).collect();
    lanes.sort();
    lanes.dedup();
    for lane in lanes {
        let tid = thread_id(lane);
        events
            .push(json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": tid, "args": {"name": lane_name(lane)}}));
        events
            .push(json!({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": tid, "args": {"sort_index": tid}}));
    }
    for span in &trace.spans {
        let mut args = serde_json::Map::new();
        if !span.outcome.is_empty() {
            args.insert("outcome".to_string(), json!(span.outcome));
        }
        if span.category == Category::Codegen {
            args.insert("functions".to_string(), json!(span.functions));
        }
        events.push(json!({
            "name": span.name,
            "cat": category_name(span.category),
            "ph": "X",
            "ts": span.start,
            "dur": span.duration(),
            "pid": PID,
            "tid": thread_id(span.lane),
            "args": args,
        }));
    }
    let document = json!({
        "displayTimeUnit": "ms",
        "otherData": {"clock": trace.clock},
        "traceEvents": events,
    });
    serde_json::to_string(&document).unwrap_or_default() + "\n"
}
