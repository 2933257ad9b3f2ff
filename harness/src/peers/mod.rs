//! `lockstep bench peers`: lockstep beside the tools people use instead, on the same program.
//!
//! One generated program is rendered three ways: lockstep's `.lks`; a C project (a `.c` and `.h` per module,
//! a Makefile with `-MMD`) built by `make -jN` with gcc, and with clang when installed; a Cargo crate (a
//! module per file) built by cargo with rustc's incremental compilation. Every tool links with the same
//! linker. For each profile (debug, release) and scenario (clean, no-op, one body edit, a signature edit
//! with k callers, a comment edit) each tool is timed from the outside, a command per build, in interleaved
//! rounds so drift hits every tool alike; the report is the median. After each scenario every tool's
//! executable must print what lockstep's prints and exit the same way.
//!
//! - [`workload`]: the model, its edits, and writing only the files an edit changed.
//! - [`tools`]: each tool's rendering, build command and build products.
//! - [`report`]: the tables, the ratios and the targets.

pub mod report;
pub mod tools;
pub mod workload;

use crate::program::process::run_with_timeout;
use lockstep_core::link::on_path;
use report::{Cell, Peers, Scenario};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tools::{first_on_path, Kind, Profile, Tool};
use workload::Workload;

/// `lockstep bench peers`.
#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// Program size: `small` (10x10), `medium` (50x40), `large` (200x50), or MODULESxFUNCTIONS.
    #[arg(long, default_value = "medium")]
    pub size: String,
    /// Timed builds per tool and scenario; the report is their median.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Parallel jobs for every tool (`-jN`).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 2)]
    pub jobs: usize,
    /// Profiles, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Profile::Debug, Profile::Release])]
    pub profiles: Vec<Profile>,
    /// Tools, comma-separated, from `lockstep`, `gcc`, `clang`, `cargo` [default: each one installed].
    #[arg(long, value_delimiter = ',')]
    pub tools: Vec<String>,
    /// The linker every tool uses (`-fuse-ld=NAME`), or `default` for the C driver's own [default: the
    /// one lockstep picks: the first of gold, lld and mold installed].
    #[arg(long, value_name = "NAME")]
    pub ld: Option<String>,
    /// The lockstep executable to measure [default: this one].
    #[arg(long, value_name = "EXE")]
    pub lockstep: Option<PathBuf>,
    /// Seed of the generated program.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Work here and keep the projects [default: a temporary directory, removed].
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Also write every measurement as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Exit with status 1 when a target (BENCHMARKS.md) is missed.
    #[arg(long)]
    pub check: bool,
}

/// A cell whose median passes [`SLOW`] after [`MIN_RUNS_WHEN_SLOW`] runs, or whose first run passes
/// [`VERY_SLOW`], is not timed again: a release build of the 80k-line Rust crate takes a minute, and more runs
/// of it would say little more about a ratio of 10 or more.
const SLOW: Duration = Duration::from_secs(10);
const MIN_RUNS_WHEN_SLOW: usize = 3;
const VERY_SLOW: Duration = Duration::from_secs(30);

/// Program sizes by name.
pub fn parse_size(size: &str) -> Result<(usize, usize), String> {
    match size {
        "small" => Ok((10, 10)),
        "medium" => Ok((50, 40)),
        "large" => Ok((200, 50)),
        other => other
            .split_once('x')
            .and_then(|(m, f)| Some((m.trim().parse().ok()?, f.trim().parse().ok()?)))
            .filter(|&(m, f): &(usize, usize)| m >= 2 && f >= 1)
            .ok_or_else(|| format!("--size `{other}`: expected small, medium, large or MODULESxFUNCTIONS")),
    }
}

/// Runs the comparison, printing progress and the tables to `out`. `Ok(false)` when `--check` was given
/// and a target was missed.
pub fn run(args: &PeersArgs, out: &mut dyn Write) -> Result<bool, String> {
    let (modules, functions) = parse_size(&args.size)?;
    if args.runs == 0 || args.jobs == 0 {
        return Err("--runs and --jobs must be at least 1".to_string());
    }
    let lockstep = match &args.lockstep {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?,
    };
    let ld = match args.ld.as_deref() {
        Some("default") | Some("") => None,
        Some(name) => Some(name.to_string()),
        None => lockstep_core::link::Linker::choose(None, None).ld,
    };
    let kinds = choose_tools(&args.tools, &lockstep)?;
    let scratch;
    let root = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            scratch = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
            scratch.path().to_path_buf()
        }
    };
    let probe = Workload::generate(args.seed, modules, functions);
    let mut peers = Peers {
        modules,
        functions,
        lines: probe.lines(),
        jobs: args.jobs,
        runs: args.runs,
        ld: ld.clone().unwrap_or_else(|| "default".to_string()),
        lockstep: lockstep.display().to_string(),
        llvm_linkage: llvm_linkage(&lockstep),
        callers: probe.callers,
        cells: Vec::new(),
    };
    let _ = writeln!(out, "{}", peers.heading());
    for &profile in &args.profiles {
        let mut tools: Vec<Tool> = kinds
            .iter()
            .map(|(name, kind)| Tool::new(name, kind.clone(), profile, &root, ld.clone(), args.jobs))
            .collect();
        let mut workload = Workload::generate(args.seed, modules, functions);
        for tool in &mut tools {
            tool.write(&workload.program)?;
        }
        for scenario in Scenario::MEASURED {
            measure(scenario, &mut workload, &mut tools, args.runs, &mut peers, out)?;
            check_outputs(&tools, &root, scenario, profile)?;
        }
        let _ = writeln!(out, "\n{}", peers.table(profile));
    }
    let targets = peers.targets();
    let _ = writeln!(out, "{}", report::targets_text(&targets));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&peers.json(&targets)).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(!args.check || targets.iter().all(|t| t.met != Some(false)))
}

/// `(display name, kind)` of every tool to compare, lockstep first.
fn choose_tools(requested: &[String], lockstep: &std::path::Path) -> Result<Vec<(String, Kind)>, String> {
    let explicit = !requested.is_empty();
    let wanted = |name: &str| !explicit || requested.iter().any(|r| r == name);
    for r in requested {
        if !["lockstep", "gcc", "clang", "cargo"].contains(&r.as_str()) {
            return Err(format!("--tools: `{r}` is not one of lockstep, gcc, clang, cargo"));
        }
    }
    let mut kinds = Vec::new();
    if wanted("lockstep") {
        kinds.push(("lockstep".to_string(), Kind::Lockstep { exe: lockstep.to_path_buf() }));
    }
    let need = |name: &str, found: Option<String>| match found {
        Some(found) => Ok(Some(found)),
        None if explicit => Err(format!("--tools {name}: not installed")),
        None => Ok(None),
    };
    if wanted("gcc") {
        if let Some(cc) = need("gcc", first_on_path(&["gcc"]).filter(|_| on_path("make")))? {
            kinds.push(("make + gcc".to_string(), Kind::Make { cc }));
        }
    }
    if wanted("clang") {
        let clang = first_on_path(&["clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"]);
        if let Some(cc) = need("clang", clang.filter(|_| on_path("make")))? {
            kinds.push(("make + clang".to_string(), Kind::Make { cc }));
        }
    }
    if wanted("cargo") {
        let cargo = std::env::var_os("CARGO").is_some() || on_path("cargo");
        if let Some(_cargo) = need("cargo", cargo.then(|| "cargo".to_string()))? {
            kinds.push(("cargo".to_string(), Kind::Cargo));
        }
    }
    if kinds.is_empty() {
        return Err("no tool to run".to_string());
    }
    Ok(kinds)
}

/// Times `scenario` for every tool: `runs` interleaved rounds (each round applies its edit once, writes it to
/// every tool's directory, then builds with each tool in turn, starting one tool further on than the round
/// before). A clean round times lockstep twice, with
/// `-jN` and then with `-j1`, so the two builds of each pair see the same machine.
fn measure(
    scenario: Scenario,
    workload: &mut Workload,
    tools: &mut [Tool],
    runs: usize,
    peers: &mut Peers,
    out: &mut dyn Write,
) -> Result<(), String> {
    let profile = tools.first().map_or(Profile::Debug, |t| t.profile);
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); tools.len()];
    let mut one_job: Vec<Vec<Duration>> = vec![Vec::new(); tools.len()];
    let mut behind = vec![false; tools.len()];
    for round in 0..runs {
        match scenario {
            Scenario::BodyEdit => drop(workload.edit_body()?),
            Scenario::SignatureEdit => drop(workload.edit_signature()?),
            Scenario::CommentEdit => drop(workload.edit_comment()?),
            Scenario::Clean | Scenario::CleanOneJob | Scenario::NoOp => {}
        }
        // Each round starts with the next tool, so no tool always runs right after the same one (whatever
        // the one before leaves behind, a heavy cargo build or a light make, falls on every tool alike).
        let count = tools.len();
        for i in (0..count).map(|k| (round + k) % count) {
            let tool = &mut tools[i];
            tool.write(&workload.program)?;
            let slow = (times[i].len() >= MIN_RUNS_WHEN_SLOW && report::median(&times[i]) > SLOW)
                || times[i].first().is_some_and(|t| *t > VERY_SLOW);
            if slow {
                behind[i] = true;
                continue;
            }
            if scenario.is_clean() {
                tool.wipe()?;
            }
            times[i].push(tool.build(tool.jobs)?);
            if scenario == Scenario::Clean && Scenario::CleanOneJob.applies_to(&tool.kind) {
                tool.wipe()?;
                one_job[i].push(tool.build(1)?);
            }
        }
    }
    for (i, tool) in tools.iter().enumerate() {
        if behind[i] {
            // Catch up untimed, so its executable is checked against the others'.
            tool.build(tool.jobs)?;
        }
        if times[i].is_empty() {
            continue;
        }
        let serial = (!one_job[i].is_empty()).then(|| (Scenario::CleanOneJob, one_job[i].clone()));
        for (scenario, times) in std::iter::once((scenario, times[i].clone())).chain(serial) {
            let cell = Cell { profile, scenario, tool: tool.name.clone(), times };
            let _ =
                writeln!(out, "  {:<7} {:<22} {:<13} {}", profile.name(), scenario.label(), tool.name, cell.summary());
            peers.cells.push(cell);
        }
    }
    Ok(())
}

/// Every tool's executable must print what the first tool's (lockstep's) prints and exit the same way.
fn check_outputs(tools: &[Tool], root: &std::path::Path, scenario: Scenario, profile: Profile) -> Result<(), String> {
    let scratch = root.join("runs");
    let mut reference: Option<(&str, (Vec<u8>, i32))> = None;
    for tool in tools {
        let exe = tool.executable();
        let (stdout, _stderr, code) = run_with_timeout(&exe, &scratch, Duration::from_secs(60))
            .map_err(|e| format!("running {}'s program after {}: {e}", tool.name, scenario.label()))?;
        match &reference {
            None => reference = Some((&tool.name, (stdout, code))),
            Some((name, expected)) if *expected != (stdout.clone(), code) => {
                return Err(format!(
                    "{} ({}) after {}: its program printed {} bytes and exited {code}; {name}'s printed {} bytes \
                     and exited {}: the renderings disagree",
                    tool.name,
                    profile.name(),
                    scenario.label(),
                    stdout.len(),
                    expected.0.len(),
                    expected.1
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether `exe` loads libLLVM at start-up or carries LLVM inside: a dynamically linked one names the shared
/// library (`libLLVM-14.so.1`, `libLLVM.so.18.1`) in its dynamic string table; a static one only has LLVM's own
/// `libLLVM` strings.
fn llvm_linkage(exe: &std::path::Path) -> String {
    match std::fs::read(exe) {
        Ok(bytes) => match needed_libraries(&bytes) {
            Some(needed) if needed.iter().any(|n| n.starts_with("libLLVM")) => "LLVM linked dynamically".to_string(),
            Some(_) => "LLVM linked statically".to_string(),
            None => "LLVM linkage unknown (not a 64-bit little-endian ELF file)".to_string(),
        },
        Err(e) => format!("unreadable: {e}"),
    }
}

/// The shared libraries a 64-bit little-endian ELF executable names
/// (`DT_NEEDED`): what its dynamic section asks the loader for. A search
/// of the whole file for a library's name is not enough: LLVM's own code
/// holds the string `libLLVM-` when it is linked in statically.
fn needed_libraries(elf: &[u8]) -> Option<Vec<String>> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?));
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let (table, entry, count) = (u64_at(0x28)? as usize, u16_at(0x3a)? as usize, u16_at(0x3c)? as usize);
    let section = |i: usize| table.checked_add(i.checked_mul(entry)?);
    let mut needed = Vec::new();
    for i in 0..count {
        let header = section(i)?;
        if u32_at(header + 4)? != 6 {
            continue; // not SHT_DYNAMIC
        }
        let (offset, size) = (u64_at(header + 24)? as usize, u64_at(header + 32)? as usize);
        let strings = u64_at(section(u32_at(header + 40)? as usize)? + 24)? as usize;
        for dyn_entry in (offset..offset.checked_add(size)?).step_by(16) {
            match u64_at(dyn_entry)? {
                0 => break, // DT_NULL
                1 => {
                    let name = strings.checked_add(u64_at(dyn_entry + 8)? as usize)?;
                    let tail = elf.get(name..)?;
                    let len = tail.iter().position(|&b| b == 0)?;
                    needed.push(String::from_utf8_lossy(&tail[..len]).into_owned());
                }
                _ => {}
            }
        }
    }
    Some(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_needed_libraries_come_from_the_dynamic_section_not_from_any_string() {
        let this = std::fs::read(std::env::current_exe().expect("this test")).expect("read this test");
        let needed = needed_libraries(&this).expect("this test is an ELF file");
        assert!(needed.iter().any(|n| n.starts_with("libc.so")), "{needed:?}");
        let mut fake = b"\x7fELF\x02\x01".to_vec();
        fake.extend_from_slice(b"libLLVM-14.so.1");
        assert_eq!(needed_libraries(&fake), None, "a truncated header is not an ELF file");
        assert_eq!(needed_libraries(b"libLLVM-14.so.1 in a text file"), None);
    }
}
