//! A build configuration as `lockstep verify` varies it, with a one-line
//! text form for repro files (`debug cgu=partition:16 j=2`,
//! `release lto cgu=module j=1`).
//!
//! The same configuration drives in-process builds ([`BuildConfig::build_options`])
//! and `lockstep build` child processes ([`BuildConfig::cli_args`]), so a
//! fault step that kills or races the binary builds exactly what the
//! in-process oracles build.

use lockstep_core::driver::BuildOptions;
use lockstep_core::engine::config::OptLevel;
use lockstep_core::engine::session::CguMode;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// How functions are grouped into codegen units (`--cgu`, `--cgu-size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CguSetting {
    /// Hashed partitions of about `size` functions per module.
    Partition { size: u32 },
    /// One unit per module.
    Module,
    /// One unit per function, merged per module by `ld -r`.
    Function,
}

impl Default for CguSetting {
    fn default() -> CguSetting {
        CguSetting::Partition { size: CguMode::DEFAULT_PARTITION_SIZE }
    }
}

impl CguSetting {
    /// The engine's mode for this setting.
    pub fn mode(self) -> CguMode {
        match self {
            CguSetting::Partition { size } => CguMode::Partition { size },
            CguSetting::Module => CguMode::Module,
            CguSetting::Function => CguMode::Function,
        }
    }
}

impl fmt::Display for CguSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.mode().describe())
    }
}

impl FromStr for CguSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<CguSetting, String> {
        match CguMode::parse(text) {
            Some(CguMode::Partition { size }) => Ok(CguSetting::Partition { size }),
            Some(CguMode::Module) => Ok(CguSetting::Module),
            Some(CguMode::Function) => Ok(CguSetting::Function),
            None => Err(format!("`{text}`: expected `module`, `function` or `partition:SIZE` (SIZE at least 1)")),
        }
    }
}

/// The options a verify run varies between builds. Everything else (the
/// target, the linker) is the host's default, as for a plain `lockstep build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BuildConfig {
    /// `--release`: LLVM's O2 pipeline.
    pub release: bool,
    pub cgu: CguSetting,
    /// `-j`: codegen workers on threads, virtual workers under the fuzzed
    /// scheduler. At least 1.
    pub jobs: usize,
    /// `--lto`: bitcode units merged and optimised at link time.
    pub lto: bool,
}

impl Default for BuildConfig {
    /// Debug, default partitions, two workers (this machine class has two
    /// cores, and two workers are the smallest count that can race), no LTO.
    fn default() -> BuildConfig {
        BuildConfig { release: false, cgu: CguSetting::default(), jobs: 2, lto: false }
    }
}

impl BuildConfig {
    /// The driver's options for building `project_dir` into `output` with
    /// the cache at `cache_dir`, on threads, with no testing aids.
    pub fn build_options(&self, project_dir: PathBuf, cache_dir: PathBuf, output: PathBuf) -> BuildOptions {
        let mut options = BuildOptions::new(project_dir);
        options.output = Some(output);
        options.cache_dir = Some(cache_dir);
        options.opt = if self.release { OptLevel::Release } else { OptLevel::Debug };
        options.cgu = self.cgu.mode();
        options.lto = self.lto;
        options.jobs = Some(self.jobs.max(1));
        // What the command line does with `-j N`: the fuzzed scheduler then
        // simulates as many workers as a threaded build would run.
        options.virtual_workers = self.jobs.max(1);
        options
    }

    /// The `lockstep build` flags for this configuration (after `build DIR`).
    pub fn cli_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.release {
            args.push("--release".to_string());
        }
        if self.lto {
            args.push("--lto".to_string());
        }
        match self.cgu {
            CguSetting::Partition { size } => {
                args.extend(["--cgu".to_string(), "partition".to_string(), "--cgu-size".to_string()]);
                args.push(size.to_string());
            }
            CguSetting::Module => args.extend(["--cgu".to_string(), "module".to_string()]),
            CguSetting::Function => args.extend(["--cgu".to_string(), "function".to_string()]),
        }
        args.extend(["-j".to_string(), self.jobs.max(1).to_string()]);
        args
    }
}

impl fmt::Display for BuildConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.release { "release" } else { "debug" })?;
        if self.lto {
            f.write_str(" lto")?;
        }
        write!(f, " cgu={} j={}", self.cgu, self.jobs)
    }
}

/// Reads the form [`Display`](fmt::Display) writes: `debug|release`, then
/// optionally `lto`, `cgu=SETTING` and `j=N` in any order, each at most
/// once. A missing `cgu=` or `j=` takes the default's value, so a
/// hand-written `release` is a whole configuration.
impl FromStr for BuildConfig {
    type Err = String;

    fn from_str(text: &str) -> Result<BuildConfig, String> {
        let mut words = text.split_whitespace();
        let release = match words.next() {
            Some("debug") => false,
            Some("release") => true,
            Some(other) => return Err(format!("`{text}`: expected `debug` or `release` first, found `{other}`")),
            None => return Err("an empty build configuration: expected `debug` or `release` first".to_string()),
        };
        let mut config = BuildConfig { release, ..BuildConfig::default() };
        let (mut seen_lto, mut seen_cgu, mut seen_jobs) = (false, false, false);
        let once = |seen: &mut bool, word: &str| -> Result<(), String> {
            if std::mem::replace(seen, true) {
                return Err(format!("`{text}`: `{word}` given twice"));
            }
            Ok(())
        };
        for word in words {
            if word == "lto" {
                once(&mut seen_lto, word)?;
                config.lto = true;
            } else if let Some(cgu) = word.strip_prefix("cgu=") {
                once(&mut seen_cgu, word)?;
                config.cgu = cgu.parse().map_err(|e| format!("`{text}`: cgu={e}"))?;
            } else if let Some(jobs) = word.strip_prefix("j=") {
                once(&mut seen_jobs, word)?;
                config.jobs = jobs
                    .parse()
                    .ok()
                    .filter(|&j: &usize| j > 0)
                    .ok_or_else(|| format!("`{text}`: j={jobs}: expected at least 1 worker"))?;
            } else {
                return Err(format!("`{text}`: unknown word `{word}` (expected `lto`, `cgu=...` or `j=N`)"));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_exactly() {
        for text in [
            "debug cgu=partition:8 j=2",
            "release lto cgu=module j=1",
            "debug cgu=function j=8",
            "release cgu=partition:3 j=1",
            "debug lto cgu=function j=3",
        ] {
            let config: BuildConfig = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(config.to_string(), text);
            assert_eq!(config.to_string().parse::<BuildConfig>(), Ok(config));
        }
        assert_eq!(BuildConfig::default().to_string(), "debug cgu=partition:8 j=2");
    }

    #[test]
    fn hand_written_forms_are_read_with_defaults_and_bad_ones_rejected() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("release", Ok("release cgu=partition:8 j=2")),
            ("debug j=4 lto", Ok("debug lto cgu=partition:8 j=4")),
            ("  debug   cgu=partition  ", Ok("debug cgu=partition:8 j=2")),
            ("", Err("empty")),
            ("fast", Err("expected `debug` or `release`")),
            ("debug j=0", Err("at least 1 worker")),
            ("debug cgu=partition:0", Err("cgu=")),
            ("debug cgu=hashed", Err("cgu=")),
            ("debug lto lto", Err("given twice")),
            ("debug j=1 j=2", Err("given twice")),
            ("debug verbose", Err("unknown word")),
        ];
        for (text, expected) in cases {
            match (text.parse::<BuildConfig>(), expected) {
                (Ok(config), Ok(canonical)) => assert_eq!(config.to_string(), *canonical, "{text:?}"),
                (Err(error), Err(needle)) => assert!(error.contains(needle), "{text:?}: {error}"),
                (got, _) => panic!("{text:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn options_and_command_line_say_the_same_thing() {
        let config: BuildConfig = "release lto cgu=partition:5 j=3".parse().expect("parses");
        let options = config.build_options("p".into(), "c".into(), "o".into());
        assert_eq!(options.opt, OptLevel::Release);
        assert_eq!(options.cgu, CguMode::Partition { size: 5 });
        assert!(options.lto);
        assert_eq!((options.jobs, options.virtual_workers), (Some(3), 3));
        assert_eq!(config.cli_args(), ["--release", "--lto", "--cgu", "partition", "--cgu-size", "5", "-j", "3"]);
        let module: BuildConfig = "debug cgu=module j=1".parse().expect("parses");
        assert_eq!(module.cli_args(), ["--cgu", "module", "-j", "1"]);
    }
}
