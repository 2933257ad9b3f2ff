//! Linking without the driver in between.
//!
//! A link through `cc` runs three programs: the driver works out the
//! linker's command line (the C runtime's start files, the library paths,
//! `-dynamic-linker`, PIE), gcc's driver hands it to `collect2`, and
//! `collect2` runs the linker. On an edit the link is the largest part of a
//! build, and the two extra programs cost about a fifth of it (9 ms of 44
//! on the 50x40 program, with gold). So the driver is asked once, with
//! `-###` (print the commands, run nothing), what it would run for a link
//! of placeholder files; the answer is kept in the work directory, keyed by
//! the driver's file and the environment the driver reads, and later links
//! run that command with the real objects in the placeholder's place.
//!
//! The linker gets the arguments the driver would have given it, so it
//! writes the same bytes. Two things `collect2` adds are left out: gcc's
//! LTO plugin (it names a fresh temporary file on every run, and it is
//! only for gcc's LTO objects, which lockstep never links) and
//! `-fuse-ld`, which `collect2` itself consumes. Anything unexpected (a
//! driver that prints something else, a wrapper, a failed resolution)
//! leaves the link to the driver, and a direct link that fails is retried
//! through the driver, whose report is the one the user sees.

use super::{find_on_path, Linker};
use crate::engine::hash::StableHasher;
use crate::engine::manifest::FileStamp;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Stand-ins for the output, the inputs and the build ID in the resolved
/// command (names no real link uses).
const OUTPUT_MARK: &str = "lockstep-output-placeholder";
const INPUT_MARK: &str = "lockstep-input-placeholder.o";
const BUILD_ID_MARK: &str = "0x10c4573e9000000000000000000000000000000c";

/// Environment variables the driver (or `collect2`) reads to find its
/// programs, start files and libraries: part of a resolution's key.
const DRIVER_ENVIRONMENT: [&str; 5] = ["PATH", "COMPILER_PATH", "LIBRARY_PATH", "GCC_EXEC_PREFIX", "LD_RUN_PATH"];

/// Set to `0` to link through the driver every time.
pub const DIRECT_ENV: &str = "LOCKSTEP_LINK_DIRECT";

/// The linker's command line for a link, with placeholders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkerCommand {
    pub program: String,
    pub args: Vec<String>,
}

impl LinkerCommand {
    /// The command for linking `inputs` (in order) into `output`.
    pub fn instantiate(&self, inputs: &[PathBuf], output: &Path, build_id: &str) -> (PathBuf, Vec<OsString>) {
        let mut args = Vec::with_capacity(self.args.len() + inputs.len());
        for arg in &self.args {
            match arg.as_str() {
                OUTPUT_MARK => args.push(output.as_os_str().to_os_string()),
                INPUT_MARK => args.extend(inputs.iter().map(OsString::from)),
                _ => args.push(arg.replace(BUILD_ID_MARK, &format!("0x{build_id}")).into()),
            }
        }
        (PathBuf::from(&self.program), args)
    }
}

/// The resolved command for `linker`: remembered in `dir` from an earlier
/// build, or worked out now (and remembered). `None` when the driver's
/// answer is not one this module understands, or `LOCKSTEP_LINK_DIRECT=0`.
pub fn command_for(linker: &Linker, dir: &Path) -> Option<LinkerCommand> {
    if std::env::var_os(DIRECT_ENV).is_some_and(|v| v == "0") {
        return None;
    }
    let path = resolution_path(linker, dir)?;
    if let Some(command) = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
        return Some(command);
    }
    let command = resolve(linker)?;
    if let Ok(json) = serde_json::to_vec(&command) {
        // Failing to remember only costs the next build a resolution.
        let _ = crate::engine::cache::write_atomic(&path, &json);
    }
    Some(command)
}

/// Forgets the command remembered for `linker` (after it failed).
pub fn forget(linker: &Linker, dir: &Path) {
    if let Some(path) = resolution_path(linker, dir) {
        let _ = std::fs::remove_file(path);
    }
}

/// Where `linker`'s command is remembered in `dir`: a file named by what
/// a resolution depends on, the driver's file (found on `PATH`, links
/// followed), the linker asked for, and the environment the driver reads.
fn resolution_path(linker: &Linker, dir: &Path) -> Option<PathBuf> {
    let driver = find_program(&linker.program)?;
    let real = std::fs::canonicalize(&driver).ok()?;
    let stamp = FileStamp::of(&real)?;
    let mut key = StableHasher::new("lockstep.linker-command");
    key.str("1").bytes(linker.identity().as_slice()).bytes(real.as_os_str().as_encoded_bytes());
    key.serialized(&stamp);
    for var in DRIVER_ENVIRONMENT {
        key.str(var).bytes(std::env::var_os(var).unwrap_or_default().as_encoded_bytes());
    }
    Some(dir.join(format!("linker-{}.json", key.finish().short())))
}

/// `program` itself if it names a path, else the first match on `PATH`.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    find_on_path(program.to_str()?)
}

/// Asks the driver what it would run, and turns that into a command.
fn resolve(linker: &Linker) -> Option<LinkerCommand> {
    let mut args = linker.ld_args();
    args.extend([format!("-Wl,--build-id={BUILD_ID_MARK}").into(), "-o".into(), OUTPUT_MARK.into(), INPUT_MARK.into()]);
    let out = Command::new(&linker.program).arg("-###").args(&args).env("LC_ALL", "C").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let printed = String::from_utf8(out.stderr).ok()?;
    let words = link_line(&printed)?;
    let (program, rest) = words.split_first()?;
    let name = Path::new(program).file_name()?.to_str()?;
    if name == "collect2" {
        let real = collect2_linker(linker)?;
        return Some(LinkerCommand { program: real, args: without_collect2_extras(rest) });
    }
    let is_linker = name == "ld" || name.starts_with("ld.") || name.ends_with("-ld") || name.contains("-ld.");
    (is_linker || name == "mold").then(|| LinkerCommand { program: program.clone(), args: rest.to_vec() })
}

/// The one command line of the driver's `-###` output that links the
/// placeholders, split into words.
fn link_line(printed: &str) -> Option<Vec<String>> {
    let mut found = None;
    for line in printed.lines().filter(|l| l.starts_with(' ')) {
        let words = split_words(line)?;
        let count = |mark: &str| words.iter().filter(|w| *w == mark).count();
        if count(OUTPUT_MARK) == 1 && count(INPUT_MARK) == 1 {
            if found.is_some() {
                return None; // two link commands: not a plain link
            }
            found = Some(words);
        }
    }
    found
}

/// Splits a command line as the drivers print it: words separated by
/// spaces, a word in double quotes where it needs them, with `\"` and `\\`
/// inside the quotes.
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ').is_some() {}
        let Some(&first) = chars.peek() else { return Some(words) };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
            if chars.peek().is_some_and(|c| *c != ' ') {
                return None; // a quote in the middle of a word: not a form we know
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ') {
                if c == '"' || c == '\'' {
                    return None;
                }
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// The linker `collect2` would run: what the driver calls `ld.NAME` (or
/// `ld`), as a path.
fn collect2_linker(linker: &Linker) -> Option<String> {
    let wanted = linker.ld.as_ref().map_or_else(|| "ld".to_string(), |ld| format!("ld.{ld}"));
    let out = Command::new(&linker.program)
        .arg(format!("-print-prog-name={wanted}"))
        .env("LC_ALL", "C")
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let printed = String::from_utf8(out.stdout).ok()?;
    let found = find_program(Path::new(printed.trim()))?;
    Some(found.to_str()?.to_string())
}

/// `collect2`'s arguments as the linker needs them: without gcc's LTO
/// plugin and without `-fuse-ld`.
fn without_collect2_extras(args: &[String]) -> Vec<String> {
    let mut kept = Vec::with_capacity(args.len());
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "-plugin" {
            words.next();
        } else if !(word.starts_with("-plugin-opt=") || word.starts_with("-fuse-ld=")) {
            kept.push(word.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_as_the_drivers_print_them() {
        let cases: [(&str, Option<&[&str]>); 5] = [
            (
                r#" /usr/bin/collect2 -plugin /x.so "-plugin-opt=a b" -o out"#,
                Some(&["/usr/bin/collect2", "-plugin", "/x.so", "-plugin-opt=a b", "-o", "out"]),
            ),
            (
                r#" "/usr/bin/ld.gold" "-pie" "-L/a\\b" "say \"hi\"""#,
                Some(&["/usr/bin/ld.gold", "-pie", "-L/a\\b", "say \"hi\""]),
            ),
            ("", Some(&[])),
            (r#" "unterminated"#, None),
            (r#" half"quoted""#, None),
        ];
        for (line, want) in cases {
            let got = split_words(line);
            assert_eq!(
                got.as_deref().map(|w| w.iter().map(String::as_str).collect::<Vec<_>>()),
                want.map(<[&str]>::to_vec),
                "{line}"
            );
        }
    }

    #[test]
    fn the_placeholders_become_the_real_link() {
        let command = LinkerCommand {
            program: "/usr/bin/ld.gold".into(),
            args: [
                "-pie",
                "--build-id",
                &format!("--build-id={BUILD_ID_MARK}"),
                "-o",
                OUTPUT_MARK,
                "crt1.o",
                INPUT_MARK,
                "-lc",
            ]
            .map(String::from)
            .to_vec(),
        };
        let (program, args) =
            command.instantiate(&[PathBuf::from("a.o"), PathBuf::from("b.o")], Path::new("out/program"), "00ff");
        assert_eq!(program, PathBuf::from("/usr/bin/ld.gold"));
        let args: Vec<&str> = args.iter().map(|a| a.to_str().expect("utf-8")).collect();
        assert_eq!(
            args,
            ["-pie", "--build-id", "--build-id=0x00ff", "-o", "out/program", "crt1.o", "a.o", "b.o", "-lc"]
        );
    }

    #[test]
    fn collect2_extras_are_dropped() {
        let args = ["-plugin", "/p.so", "-plugin-opt=-fresolution=/tmp/x.res", "-fuse-ld=gold", "-pie", "-o", "x"]
            .map(String::from);
        assert_eq!(without_collect2_extras(&args), ["-pie", "-o", "x"]);
    }

    #[test]
    fn a_link_line_is_the_one_naming_both_placeholders() {
        let printed = format!(
            "Using built-in specs.\n /usr/lib/gcc/cc1 -quiet x.c\n /usr/lib/gcc/collect2 -o {OUTPUT_MARK} {INPUT_MARK} -lc\nCOLLECT_GCC_OPTIONS='-o' '{OUTPUT_MARK}'\n"
        );
        assert_eq!(link_line(&printed).map(|w| w[0].clone()), Some("/usr/lib/gcc/collect2".to_string()));
        let twice = format!(" ld -o {OUTPUT_MARK} {INPUT_MARK}\n ld -o {OUTPUT_MARK} {INPUT_MARK}\n");
        assert_eq!(link_line(&twice), None);
    }
}
