//! Stable content hashes and the function content hash.
//!
//! Everything here is BLAKE3 (256 bits): stable across processes, machines
//! and releases of Rust, unlike std's seeded hashers, and collision-resistant, so
//! equal keys mean equal inputs. Every hash starts with a domain tag, so a
//! function key can never equal an object key by construction.

use crate::mir::{Signature, Symbol, Ty, Visibility};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A 256-bit BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The first 16 hex digits, for humans.
    pub fn short(&self) -> String {
        self.hex()[..16].to_string()
    }

    pub fn from_hex(text: &str) -> Option<ContentHash> {
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ContentHash(out))
    }
}

impl ContentHash {
    /// Whether the file at `path` exists and its bytes hash to `self`.
    pub fn matches_file(&self, path: &std::path::Path) -> bool {
        std::fs::read(path).is_ok_and(|bytes| ContentHash::of(&bytes) == *self)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.short())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// Builds a hash from typed, length-delimited fields, so that
/// `("ab", "c")` and `("a", "bc")` never collide.
#[derive(Debug)]
pub struct StableHasher {
    inner: blake3::Hasher,
}

impl StableHasher {
    pub fn new(domain: &str) -> StableHasher {
        let mut h = StableHasher { inner: blake3::Hasher::new() };
        h.str(domain);
        h
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.inner.update(&(bytes.len() as u64).to_le_bytes());
        self.inner.update(bytes);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.inner.update(&v.to_le_bytes());
        self
    }

    pub fn hash(&mut self, h: &ContentHash) -> &mut Self {
        self.inner.update(&h.0);
        self
    }

    /// Hashes a value through its postcard encoding (compact, stable,
    /// field-order-defined).
    pub fn serialized<T: Serialize>(&mut self, value: &T) -> &mut Self {
        match postcard::to_stdvec(value) {
            Ok(bytes) => self.bytes(&bytes),
            // Our types always serialise; a failure still must not collide
            // with any real encoding.
            Err(_) => self.str("\u{0}unserialisable"),
        }
    }

    pub fn finish(&self) -> ContentHash {
        ContentHash(*self.inner.finalize().as_bytes())
    }
}

/// Hash of a value's postcard encoding under a domain tag.
pub fn hash_serialized<T: Serialize>(domain: &str, value: &T) -> ContentHash {
    StableHasher::new(domain).serialized(value).finish()
}

/// The identity of the compiler itself: the engine's format version and a
/// fingerprint of lockstep-core's own sources (computed by `build.rs`). Any
/// change to the compiler changes every key, because a new compiler may
/// lower or emit the same function differently.
pub fn compiler_fingerprint() -> &'static str {
    concat!(env!("CARGO_PKG_VERSION"), "+", env!("LOCKSTEP_SOURCE_FINGERPRINT"))
}

/// A function as its callers see it: its symbol and signature, not its
/// visibility (a caller that may call it compiles the same either way).
/// Callers' keys hash this per callee, in callee order.
pub fn callee_view(symbol: &Symbol, signature: &Signature) -> ContentHash {
    StableHasher::new("lockstep.callee-view").serialized(&(symbol, signature)).finish()
}

/// Everything that determines a function's IR, and nothing else.
///
/// | input | why it is needed |
/// |---|---|
/// | compiler fingerprint | a different compiler may produce different IR |
/// | front-end identity | another front end's "same body" is not ours |
/// | symbol (`module::name`) | the symbol name is emitted into the IR |
/// | visibility | linkage is part of the function's identity |
/// | signature | parameter and return types shape the whole body |
/// | body | the span-free typed body, with every constant's value folded in (so a `const` edit reaches each user) and locals numbered, not named (so renaming a local changes nothing) |
/// | callee signatures | calls are emitted against the callee's parameter and return types; a return type change reaches a caller that discards the result |
/// | referenced globals' types | loads and stores are emitted at the global's type |
///
/// Callee *bodies* are deliberately absent: lockstep's IR never inlines
/// across functions, so a body edit recompiles one function. Inlining by
/// LLVM happens inside a codegen unit and is covered by the object key,
/// which hashes every function of the unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionContentHash {
    pub body: ContentHash,
    pub signature: ContentHash,
    pub callees: ContentHash,
    pub globals: ContentHash,
    pub combined: ContentHash,
}

impl FunctionContentHash {
    #[allow(clippy::too_many_arguments)]
    pub fn compute<'a>(
        frontend: &str,
        symbol: &Symbol,
        visibility: Visibility,
        signature: &Signature,
        body: ContentHash,
        callees: impl IntoIterator<Item = ContentHash>,
        globals: impl IntoIterator<Item = (&'a Symbol, Ty)>,
    ) -> FunctionContentHash {
        let signature_hash =
            StableHasher::new("lockstep.signature").serialized(&(symbol, visibility, signature)).finish();
        let mut callee_hasher = StableHasher::new("lockstep.callees");
        for view in callees {
            callee_hasher.hash(&view);
        }
        let callees = callee_hasher.finish();
        let mut global_hasher = StableHasher::new("lockstep.globals");
        for (global, ty) in globals {
            global_hasher.serialized(&(global, ty));
        }
        let globals = global_hasher.finish();
        let combined = StableHasher::new("lockstep.function")
            .str(compiler_fingerprint())
            .str(frontend)
            .hash(&signature_hash)
            .hash(&body)
            .hash(&callees)
            .hash(&globals)
            .finish();
        FunctionContentHash { body, signature: signature_hash, callees, globals, combined }
    }
}
