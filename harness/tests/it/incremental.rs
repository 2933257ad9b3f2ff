//! Incremental builds, as data: each `harness/tests/incremental/*.test`
//! file is a project plus a sequence of steps (edit files, build). After
//! every build the test compares a summary of the JSON report (exactly
//! which functions were recompiled, which units regenerated, whether the
//! link ran) with the expectation in the file, and checks the executable is
//! byte-identical to a clean build of the same sources in a fresh directory
//! with a fresh cache.
//!
//! Step commands, one per line:
//!
//! ```text
//! edit FILE "OLD" "NEW"      replace the only occurrence of OLD (JSON strings)
//! write FILE "CONTENT"       create or overwrite a module
//! delete FILE                remove a module
//! corrupt-cache all          damage every cache entry (truncate, flip, delete)
//! corrupt-cache SEED         damage some entries, chosen by SEED; which ones
//!                            depends on the keys, so the step's summary
//!                            only records the status
//! build [FLAGS...]           run `lockstep build` (exactly one per step)
//! ```

use crate::support::{compare_or_bless, lockstep, text, workspace_root, Fixture};
use std::path::{Path, PathBuf};

fn json_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
        match de.next() {
            Some(Ok(s)) => {
                out.push(s);
                rest = rest[de.byte_offset()..].trim_start();
            }
            _ => panic!("expected JSON strings, found: {rest}"),
        }
    }
    out
}

/// Summarises a report the way expectations are written.
fn summarize(report: &serde_json::Value, stderr: &str) -> String {
    let list = |key: &str| -> String {
        report[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let status = report["status"].as_str().unwrap_or("?");
    let mut out = format!("status: {status}\n");
    if status == "failed" {
        let first = stderr.lines().next().unwrap_or("");
        out.push_str(&format!("error: {first}\n"));
        let skipped = list("skipped");
        if !skipped.is_empty() {
            out.push_str(&format!("skipped: {skipped}\n"));
        }
        return out;
    }
    if let Some(explain) = report["explain"].as_str() {
        // Content hashes are shown abbreviated; they change with the compiler.
        let words: Vec<String> = explain
            .split(' ')
            .map(|w| {
                if w.len() >= 16 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                    "HASH".to_string()
                } else {
                    w.to_string()
                }
            })
            .collect();
        out.push_str(&format!("explain: {}\n", words.join(" ")));
    }
    if report["up_to_date"].as_bool() == Some(true) {
        out.push_str("up to date\n");
        return out;
    }
    out.push_str(&format!("recompiled: {}\n", list("recompiled_functions")));
    out.push_str(&format!("initializers: {}\n", list("recompiled_initializers")));
    out.push_str(&format!("codegened: {}\n", list("codegened_units")));
    out.push_str(&format!(
        "ir: {} hits, {} misses; objects: {} hits, {} misses\n",
        report["ir"]["hits"], report["ir"]["misses"], report["objects"]["hits"], report["objects"]["misses"]
    ));
    out.push_str(&format!("relinked: {}\n", report["relinked"]));
    out.push_str(&format!("modules checked: {}\n", report["modules_checked"]));
    // How many entries a damage step hits depends on how keys sort, which
    // changes with the compiler; that some were found and reported does not.
    let problems = report["cache_problems"].as_array().map_or(0, |a| a.len());
    if problems > 0 {
        out.push_str("cache problems: reported\n");
    }
    out.trim_end().to_string().replace(": \n", ":\n") + "\n"
}

fn project_files(fixture: &Fixture) -> Vec<(String, String)> {
    fixture.sections.iter().filter(|(n, _)| n.ends_with(".lks")).cloned().collect()
}

/// Damages cache entries deterministically from `seed`: truncates one,
/// flips a byte in another, deletes a third, and so on round-robin.
pub fn corrupt_cache(cache: &Path, seed: u64, all: bool) -> usize {
    corrupt_files(cache, "bin", seed, all)
}

/// Damages the files with extension `extension` under `dir`, as
/// [`corrupt_cache`] does.
fn corrupt_files(dir: &Path, extension: &str, seed: u64, all: bool) -> usize {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files.retain(|p| p.extension().is_some_and(|e| e == extension));
    files.sort();
    let mut damaged = 0;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for (i, file) in files.iter().enumerate() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if !all && !state.is_multiple_of(3) {
            continue;
        }
        damaged += 1;
        // `all` truncates every entry, so how many problems the next build
        // reports does not depend on how the keys happen to sort.
        match if all { 0 } else { i % 3 } {
            0 => {
                let bytes = std::fs::read(file).expect("read entry");
                std::fs::write(file, &bytes[..bytes.len() / 2]).expect("truncate");
            }
            1 => {
                let mut bytes = std::fs::read(file).expect("read entry");
                let at = if all { bytes.len() / 3 } else { (state as usize) % bytes.len() };
                bytes[at] ^= 0x5a;
                std::fs::write(file, bytes).expect("flip");
            }
            _ => std::fs::remove_file(file).expect("delete"),
        }
    }
    damaged
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Builds `files` from scratch in a fresh directory with a fresh cache and
/// returns the executable's bytes.
pub fn clean_build(files: &[(String, String)], flags: &[String]) -> Vec<u8> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&proj).expect("mkdir");
    for (name, body) in files {
        std::fs::write(proj.join(name), body).expect("write");
    }
    let mut args: Vec<&str> = vec!["build", "proj", "-o", "exe"];
    args.extend(flags.iter().map(String::as_str));
    let out = lockstep(tmp.path(), &args);
    assert!(out.status.success(), "clean build failed: {}", text(&out.stderr));
    std::fs::read(tmp.path().join("exe")).expect("read exe")
}

fn run_script(fixture: &Fixture) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&proj).expect("mkdir");
    let mut files = project_files(fixture);
    for (name, body) in &files {
        std::fs::write(proj.join(name), body).expect("write");
    }
    let mut actual = Fixture { sections: Vec::new() };
    let mut last_good: Option<Vec<u8>> = None;
    for (name, body) in &fixture.sections {
        if name.starts_with("expect") {
            continue;
        }
        actual.sections.push((name.clone(), body.clone()));
        let Some(step) = name.strip_prefix("step") else { continue };
        let mut build_flags: Option<Vec<String>> = None;
        let mut random_damage = false;
        for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
            match command {
                "edit" => {
                    let (file, strings) = rest.split_once(' ').expect("edit FILE \"OLD\" \"NEW\"");
                    let s = json_strings(strings);
                    let entry = files.iter_mut().find(|(n, _)| n == file).expect("edited file exists");
                    assert_eq!(entry.1.matches(&s[0]).count(), 1, "step{step}: `{}` must occur once in {file}", s[0]);
                    entry.1 = entry.1.replacen(&s[0], &s[1], 1);
                    std::fs::write(proj.join(file), &entry.1).expect("write");
                }
                "write" => {
                    let (file, strings) = rest.split_once(' ').expect("write FILE \"CONTENT\"");
                    let content = json_strings(strings).remove(0);
                    files.retain(|(n, _)| n != file);
                    files.push((file.to_string(), content.clone()));
                    files.sort();
                    std::fs::write(proj.join(file), content).expect("write");
                }
                "delete" => {
                    files.retain(|(n, _)| n != rest);
                    std::fs::remove_file(proj.join(rest)).expect("delete");
                }
                "corrupt-cache" => {
                    let (seed, all) = match rest {
                        "all" => (0, true),
                        seed => (seed.parse().expect("seed"), false),
                    };
                    random_damage |= !all;
                    assert!(corrupt_cache(&proj.join(".lockstep/cache"), seed, all) > 0, "nothing to corrupt");
                }
                "corrupt-staged" => {
                    // The link inputs staged in the work directory, which
                    // unchanged units are taken from without the cache.
                    assert_eq!(rest, "all", "corrupt-staged all");
                    assert!(corrupt_files(&proj.join(".lockstep/objects"), "o", 0, true) > 0, "nothing to corrupt");
                }
                "build" => build_flags = Some(rest.split_whitespace().map(str::to_string).collect()),
                other => panic!("step{step}: unknown command `{other}`"),
            }
        }
        let flags = build_flags.unwrap_or_else(|| panic!("step{step}: no build"));
        let mut args: Vec<&str> = vec!["build", "proj", "-o", "exe", "--report", "report.json"];
        args.extend(flags.iter().map(String::as_str));
        let out = lockstep(tmp.path(), &args);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.json")).expect("report written"))
                .expect("report is JSON");
        assert_eq!(out.status.success(), report["status"] == "ok", "exit status agrees with the report");
        let mut summary = summarize(&report, &text(&out.stderr));
        if random_damage {
            summary = format!("status: {}\n", report["status"].as_str().unwrap_or("?"));
        }
        actual.sections.push((format!("expect{step}"), summary));
        let exe = tmp.path().join("exe");
        if out.status.success() {
            let bytes = std::fs::read(&exe).expect("exe exists");
            assert!(
                bytes == clean_build(&files, &flags),
                "step{step}: the incremental build differs from a clean build of the same sources"
            );
            last_good = Some(bytes);
        } else if let Some(good) = &last_good {
            // A failed build leaves the last good executable untouched.
            assert!(std::fs::read(&exe).ok().as_ref() == Some(good), "step{step}: a failed build touched the output");
        }
    }
    actual
}

#[test]
fn edit_sequences_recompile_exactly_what_changed() {
    let dir = workspace_root().join("harness/tests/incremental");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    let mut failures = Vec::new();
    for path in paths {
        let original = std::fs::read_to_string(&path).expect("read");
        let fixture = Fixture::parse(&original);
        let actual = run_script(&fixture).render();
        failures.extend(compare_or_bless(&path, &original, &actual));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
