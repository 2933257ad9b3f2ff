//! What a build produced, byte for byte, and the smallest description of
//! how two builds' products differ.
//!
//! [`Artifacts`] are the executable plus every link input the build staged
//! for its units, read back through the manifest the build saved (so
//! objects a previous build left in the shared staging directory are not
//! mistaken for this build's). [`compare_artifacts`] names the first thing
//! that differs: the set of units, the first differing unit, or the
//! executable; inside an ELF file, the first section whose bytes differ and
//! the offset in it, which is what a person debugging a stale object wants
//! to look at first (`objdump -d -j .text`).

use crate::verify::config::BuildConfig;
use crate::verify::workspace::Workspace;
use lockstep_core::driver;
use lockstep_core::engine::cache::{decode_entry, ArtifactCache, Layer};
use lockstep_core::engine::hash::ContentHash;
use lockstep_core::engine::manifest::Manifest;
use lockstep_core::engine::session::staged_object_path;
use object::{Object, ObjectSection};
use std::collections::BTreeMap;
use std::fmt;

/// The bytes a successful build produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifacts {
    /// The executable.
    pub exe: Vec<u8>,
    /// Each codegen unit's link input (an object, or LLVM bitcode under
    /// LTO), by unit name. The entry unit (`$entry`) is not recorded by the
    /// manifest; the executable covers it.
    pub objects: BTreeMap<String, UnitObject>,
}

/// One unit's link input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitObject {
    /// The hash of its bytes, as the build's manifest recorded it.
    pub hash: ContentHash,
    /// The bytes, when a file with that hash is still on disk. A build that
    /// found everything up to date stages nothing, so a staged object
    /// damaged before it stays damaged (the executable, checked by its
    /// stamp, is intact; the next build that needs the object repairs it);
    /// if the cache lost the unit too, only the hash is left.
    pub bytes: Option<Vec<u8>>,
}

impl UnitObject {
    /// A unit whose bytes are known (and hashed here).
    pub fn of(bytes: Vec<u8>) -> UnitObject {
        UnitObject { hash: ContentHash::of(&bytes), bytes: Some(bytes) }
    }
}

impl Artifacts {
    /// Reads what the last successful build of `workspace` with `config`
    /// left: the executable and the link inputs its manifest names. Each
    /// unit's bytes come from its staged file `WORK/objects/HASH.o`, or,
    /// when that is missing or damaged, from the cache's object layer by
    /// the unit's recorded key (under LTO units are never staged: their
    /// bitcode goes straight into the link-time merge). Bytes are kept
    /// only if they hash to what the manifest recorded.
    pub fn read(workspace: &Workspace, config: &BuildConfig) -> Result<Artifacts, String> {
        let options = config.build_options(workspace.project_dir(), workspace.cache_dir(), workspace.output_path());
        let manifest_path = driver::manifest_path_for(&options);
        let manifest = Manifest::load(&manifest_path)
            .ok_or_else(|| format!("{}: no readable build manifest", manifest_path.display()))?;
        let exe_path = workspace.output_path();
        let exe = std::fs::read(&exe_path).map_err(|e| format!("{}: {e}", exe_path.display()))?;
        let staging = workspace.work_dir().join("objects");
        // Opening creates a missing cache directory; that changes nothing
        // a build would find (it creates it too).
        let cache = ArtifactCache::open(workspace.cache_dir()).ok();
        let mut objects = BTreeMap::new();
        for (unit, record) in &manifest.units {
            let staged = std::fs::read(staged_object_path(&staging, &record.object_hash)).ok();
            let cached = || cache.as_ref().and_then(|cache| read_cached_entry(cache, &record.object_key));
            let bytes = staged
                .filter(|bytes| ContentHash::of(bytes) == record.object_hash)
                .or_else(|| cached().filter(|bytes| ContentHash::of(bytes) == record.object_hash));
            objects.insert(unit.clone(), UnitObject { hash: record.object_hash, bytes });
        }
        Ok(Artifacts { exe, objects })
    }
}

/// An object-layer entry's payload, without the side effects of a lookup
/// (a hit refreshes the entry's recency, a bad entry is removed): reading
/// artifacts must not change what the next build finds.
fn read_cached_entry(cache: &ArtifactCache, key: &ContentHash) -> Option<Vec<u8>> {
    let bytes = std::fs::read(cache.entry_path(Layer::Object, key)).ok()?;
    decode_entry(Layer::Object, key, &bytes).ok()
}

/// The first difference between an incremental build's artifacts and a
/// clean build's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactDiff {
    /// The builds made different codegen units.
    UnitSet { only_incremental: Vec<String>, only_clean: Vec<String> },
    /// The first unit (by name) whose link input differs.
    Unit { unit: String, difference: BytesDifference },
    /// Every unit is the same, the executable is not.
    Executable { difference: BytesDifference },
}

/// Where two versions of one file part ways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BytesDifference {
    pub incremental_len: usize,
    pub clean_len: usize,
    pub place: DifferencePlace,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DifferencePlace {
    /// The first section (in section header order) whose contents differ,
    /// the offset of the first differing byte in it, and how many sections
    /// differ in all.
    Section { name: String, offset: u64, differing_sections: usize },
    /// The two files' section lists part at `index` (`None`: that list ended).
    SectionList { index: usize, incremental: Option<String>, clean: Option<String> },
    /// Every section's contents are the same; the files differ at this
    /// offset, in headers, padding or anything else outside a section.
    OutsideSections { offset: usize },
    /// Not both ELF files (LLVM bitcode under LTO): the first differing byte.
    Bytes { offset: usize },
    /// The recorded hashes differ, and one side's bytes are no longer on
    /// disk (see [`UnitObject::bytes`]).
    Hashes { incremental: ContentHash, clean: ContentHash },
}

/// `Ok` when the incremental build produced exactly the clean build's
/// bytes; otherwise the first thing that differs.
pub fn compare_artifacts(incremental: &Artifacts, clean: &Artifacts) -> Result<(), ArtifactDiff> {
    let only_incremental: Vec<String> =
        incremental.objects.keys().filter(|u| !clean.objects.contains_key(*u)).cloned().collect();
    let only_clean: Vec<String> =
        clean.objects.keys().filter(|u| !incremental.objects.contains_key(*u)).cloned().collect();
    if !only_incremental.is_empty() || !only_clean.is_empty() {
        return Err(ArtifactDiff::UnitSet { only_incremental, only_clean });
    }
    for (unit, object) in &incremental.objects {
        if let Some(difference) = compare_units(object, &clean.objects[unit]) {
            return Err(ArtifactDiff::Unit { unit: unit.clone(), difference });
        }
    }
    match compare_files(&incremental.exe, &clean.exe) {
        Some(difference) => Err(ArtifactDiff::Executable { difference }),
        None => Ok(()),
    }
}

/// Compares the bytes where both are known (they hashed right when read),
/// the recorded hashes otherwise.
fn compare_units(incremental: &UnitObject, clean: &UnitObject) -> Option<BytesDifference> {
    match (&incremental.bytes, &clean.bytes) {
        (Some(a), Some(b)) => compare_files(a, b),
        _ if incremental.hash == clean.hash => None,
        _ => Some(BytesDifference {
            incremental_len: incremental.bytes.as_ref().map_or(0, Vec::len),
            clean_len: clean.bytes.as_ref().map_or(0, Vec::len),
            place: DifferencePlace::Hashes { incremental: incremental.hash, clean: clean.hash },
        }),
    }
}

/// Where `incremental` and `clean` differ, or `None` if they are equal.
pub fn compare_files(incremental: &[u8], clean: &[u8]) -> Option<BytesDifference> {
    if incremental == clean {
        return None;
    }
    let place = match (object::File::parse(incremental), object::File::parse(clean)) {
        (Ok(a), Ok(b)) => compare_elf(&a, &b)
            .unwrap_or_else(|| DifferencePlace::OutsideSections { offset: first_difference(incremental, clean) }),
        _ => DifferencePlace::Bytes { offset: first_difference(incremental, clean) },
    };
    Some(BytesDifference { incremental_len: incremental.len(), clean_len: clean.len(), place })
}

/// The first differing section, or `None` if every section's contents are equal.
fn compare_elf(incremental: &object::File<'_>, clean: &object::File<'_>) -> Option<DifferencePlace> {
    let a = sections_of(incremental);
    let b = sections_of(clean);
    for index in 0..a.len().max(b.len()) {
        let (name_a, name_b) = (a.get(index).map(|s| &s.0), b.get(index).map(|s| &s.0));
        if name_a != name_b {
            return Some(DifferencePlace::SectionList { index, incremental: name_a.cloned(), clean: name_b.cloned() });
        }
    }
    let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i].1 != b[i].1).collect();
    let &first = differing.first()?;
    let (name, contents_a) = &a[first];
    let contents_b = &b[first].1;
    Some(DifferencePlace::Section {
        name: name.clone(),
        offset: first_difference(contents_a.bytes, contents_b.bytes) as u64,
        differing_sections: differing.len(),
    })
}

/// A section as compared: its bytes, and its size for sections that
/// occupy no file space (`.bss`), whose bytes are empty.
#[derive(PartialEq, Eq)]
struct SectionContents<'data> {
    bytes: &'data [u8],
    size: u64,
}

fn sections_of<'data>(file: &object::File<'data>) -> Vec<(String, SectionContents<'data>)> {
    file.sections()
        .map(|section| {
            let name = match section.name() {
                Ok(name) if !name.is_empty() => name.to_string(),
                _ => format!("#{}", section.index().0),
            };
            // A section whose data cannot be read (a damaged header) compares
            // as empty: its size and the byte fallback still tell it apart.
            let bytes = section.data().unwrap_or(&[]);
            (name, SectionContents { bytes, size: section.size() })
        })
        .collect()
}

/// The offset of the first differing byte (the shorter length if one is a
/// prefix of the other).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

impl fmt::Display for ArtifactDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactDiff::UnitSet { only_incremental, only_clean } => {
                let list = |units: &[String]| if units.is_empty() { "none".to_string() } else { units.join(", ") };
                write!(
                    f,
                    "the codegen units differ: only in the incremental build: {}; only in the clean build: {}",
                    list(only_incremental),
                    list(only_clean)
                )
            }
            ArtifactDiff::Unit { unit, difference } => write!(f, "unit `{unit}` differs: {difference}"),
            ArtifactDiff::Executable { difference } => write!(f, "the executable differs: {difference}"),
        }
    }
}

impl fmt::Display for BytesDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            DifferencePlace::Section { name, offset, differing_sections } => {
                write!(f, "section `{name}` at offset {offset:#x}")?;
                if *differing_sections > 1 {
                    write!(f, " (first of {differing_sections} differing sections)")?;
                }
            }
            DifferencePlace::SectionList { index, incremental, clean } => {
                let show = |name: &Option<String>| name.as_ref().map_or("no section".to_string(), |n| format!("`{n}`"));
                write!(
                    f,
                    "section #{index} is {} in the incremental build, {} in the clean build",
                    show(incremental),
                    show(clean)
                )?;
            }
            DifferencePlace::OutsideSections { offset } => {
                write!(f, "every section is equal; the files differ at byte {offset:#x}, outside any section")?;
            }
            DifferencePlace::Bytes { offset } => write!(f, "at byte {offset:#x}")?,
            DifferencePlace::Hashes { incremental, clean } => {
                return write!(
                    f,
                    "recorded hash {} against {} (the incremental build's bytes are no longer on disk)",
                    incremental.short(),
                    clean.short()
                );
            }
        }
        write!(f, " ({} bytes incremental, {} clean)", self.incremental_len, self.clean_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifacts(exe: &[u8], objects: &[(&str, &[u8])]) -> Artifacts {
        Artifacts {
            exe: exe.to_vec(),
            objects: objects.iter().map(|(name, bytes)| (name.to_string(), UnitObject::of(bytes.to_vec()))).collect(),
        }
    }

    #[test]
    fn the_first_difference_is_named_in_order_units_then_executable() {
        let clean = artifacts(b"exe", &[("a#0", b"aaaa"), ("b#0", b"bbbb")]);
        assert_eq!(compare_artifacts(&clean, &clean), Ok(()));
        let cases: &[(Artifacts, &str)] = &[
            (
                artifacts(b"exe", &[("a#0", b"aaaa"), ("c#0", b"bbbb")]),
                "the codegen units differ: only in the incremental build: c#0; only in the clean build: b#0",
            ),
            (
                artifacts(b"EXE", &[("a#0", b"aaaa"), ("b#0", b"bbXb")]),
                "unit `b#0` differs: at byte 0x2 (4 bytes incremental, 4 clean)",
            ),
            (
                artifacts(b"ex", &[("a#0", b"aaaa"), ("b#0", b"bbbb")]),
                "the executable differs: at byte 0x2 (2 bytes incremental, 3 clean)",
            ),
        ];
        for (incremental, expected) in cases {
            let diff = compare_artifacts(incremental, &clean).expect_err("they differ");
            assert_eq!(diff.to_string(), *expected);
        }
    }

    #[test]
    fn units_whose_bytes_are_gone_compare_by_recorded_hash() {
        let clean = artifacts(b"exe", &[("a#0", b"aaaa")]);
        let mut gone = clean.clone();
        gone.objects.get_mut("a#0").expect("unit").bytes = None;
        assert_eq!(compare_artifacts(&gone, &clean), Ok(()), "the same hash is the same object");
        gone.objects.get_mut("a#0").expect("unit").hash = ContentHash::of(b"other");
        let diff = compare_artifacts(&gone, &clean).expect_err("another hash is another object");
        assert!(diff.to_string().starts_with("unit `a#0` differs: recorded hash"), "{diff}");
    }
}
