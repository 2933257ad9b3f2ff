//! The `cache_entry` target: arbitrary bytes as everything a build reads
//! back from its cache and work directory.

use lockstep_core::engine::cache::{decode_entry, encode_entry, ArtifactCache, Layer, Lookup};
use lockstep_core::engine::hash::ContentHash;
use lockstep_core::engine::manifest::Manifest;
use lockstep_core::lks::incremental::ModuleSummary;
use lockstep_core::mir;

/// Where an entry's header keeps its key (after magic, version and layer).
const KEY_AT: std::ops::Range<usize> = 9..41;

/// Checks that arbitrary bytes are a miss or an error, never a panic and
/// never a wrong hit, whether read as:
///
/// - a cache entry of either layer, under the key its header claims and
///   under another key, straight from memory and through the on-disk cache
///   (a bad file is removed so the rebuild can replace it);
/// - a manifest (only bytes `Manifest::encode` wrote load);
/// - the payloads behind a valid checksum: an IR pack, a function's MIR, a
///   module summary, a manifest's encoding.
///
/// And that a real entry made of the bytes round-trips, while a flipped bit,
/// a truncation or the wrong layer is caught.
pub fn check_cache_entry(data: &[u8]) {
    check_as_entry(data);
    check_through_the_cache(data);
    check_as_manifest(data);
    check_payloads(data);
    check_damage(data);
}

/// The key an entry's header claims, or zeros if it is too short to claim one.
fn claimed_key(data: &[u8]) -> ContentHash {
    let mut key = [0u8; 32];
    if let Some(claimed) = data.get(KEY_AT) {
        key.copy_from_slice(claimed);
    }
    ContentHash(key)
}

fn check_as_entry(data: &[u8]) {
    let key = claimed_key(data);
    let mut other = key;
    other.0[0] ^= 1;
    for layer in Layer::ALL {
        if let Ok(payload) = decode_entry(layer, &key, data) {
            // Only a real entry decodes, and it is exactly the entry of its payload.
            assert!(encode_entry(layer, &key, &payload) == data, "{layer:?}: a decoded entry re-encodes differently");
        }
        assert!(decode_entry(layer, &other, data).is_err(), "{layer:?}: an entry was accepted under another key");
    }
}

thread_local! {
    static CACHE: (tempfile::TempDir, ArtifactCache) = {
        let dir = tempfile::tempdir().expect("a temporary directory for the fuzzed cache");
        let cache = ArtifactCache::open(dir.path().join("cache")).expect("a fresh cache opens");
        (dir, cache)
    };
}

/// The bytes as a file in a real cache directory.
fn check_through_the_cache(data: &[u8]) {
    CACHE.with(|(_, cache)| {
        let key = claimed_key(data);
        for layer in Layer::ALL {
            let path = cache.entry_path(layer, &key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).expect("a layer directory");
            }
            std::fs::write(&path, data).expect("writing a fuzzed entry");
            match cache.get(layer, &key) {
                Lookup::Hit(payload) => {
                    assert!(encode_entry(layer, &key, &payload) == data, "{layer:?}: a wrong hit through the cache");
                }
                Lookup::Bad(_) => assert!(!path.exists(), "{layer:?}: a bad entry was left in the cache"),
                Lookup::Miss => panic!("{layer:?}: an entry on disk was a miss, not a hit or a bad entry"),
            }
            let _ = std::fs::remove_file(&path);
        }
    });
}

fn check_as_manifest(data: &[u8]) {
    if let Some(manifest) = Manifest::decode(data) {
        let again = manifest.encode().expect("a decoded manifest encodes");
        assert!(again == data, "a manifest loaded from bytes it would not write");
    }
}

/// What a build decodes once a checksum vouched for the bytes: decoding
/// must fail cleanly or give a value that encodes and decodes to itself.
fn check_payloads(data: &[u8]) {
    if let Ok(pack) = postcard::from_bytes::<Vec<(ContentHash, Vec<u8>)>>(data) {
        for (_, ir) in &pack {
            round_trips::<mir::Function>(ir);
        }
    }
    round_trips::<mir::Function>(data);
    round_trips::<ModuleSummary>(data);
    let mut manifest = data.to_vec();
    manifest.extend_from_slice(blake3::hash(data).as_bytes());
    if let Some(decoded) = Manifest::decode(&manifest) {
        let again = decoded.encode().expect("a decoded manifest encodes");
        assert!(Manifest::decode(&again) == Some(decoded), "a manifest does not survive encode and decode");
    }
}

fn round_trips<T>(bytes: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = postcard::from_bytes::<T>(bytes) {
        let again = postcard::to_stdvec(&value).expect("a decoded value encodes");
        let decoded: T = postcard::from_bytes(&again).expect("a value's encoding decodes");
        assert_eq!(decoded, value, "{} does not survive encode and decode", std::any::type_name::<T>());
    }
}

/// A real entry made of the bytes round-trips; damage to it is caught.
fn check_damage(data: &[u8]) {
    let key = ContentHash::of(data);
    let entry = encode_entry(Layer::Object, &key, data);
    assert_eq!(decode_entry(Layer::Object, &key, &entry).as_deref(), Ok(data), "round trip");
    assert!(decode_entry(Layer::Ir, &key, &entry).is_err(), "wrong layer accepted");
    let mut damaged = entry.clone();
    let at = (key.0[0] as usize * 31 + key.0[1] as usize) % damaged.len();
    damaged[at] ^= 1 << (key.0[2] % 8);
    assert!(decode_entry(Layer::Object, &key, &damaged).is_err(), "a flipped bit was accepted");
    assert!(decode_entry(Layer::Object, &key, &entry[..entry.len() - 1]).is_err(), "a truncated entry was accepted");
}
