//! The exact version of the LLVM we are linked against, for cache keys.
//!
//! LLVM's C API only reports its version from LLVM 16 on, and the version we
//! were *built* against is not necessarily the one loaded at run time (the
//! bindings prefer the shared library). Every LLVM, however, stamps its
//! bitcode with a producer string (`"LLVM" LLVM_VERSION_STRING`) in the
//! IDENTIFICATION block, which is the first block of the file. So we write an
//! empty module to bitcode with the loaded LLVM and read that string back
//! with a tiny bitstream reader. If anything about that fails, we fall back
//! to the major version selected by the cargo feature.

use inkwell::context::Context;

/// `"llvm-<version>"`, e.g. `"llvm-14.0.6"`.
pub(super) fn detect() -> String {
    let context = Context::create();
    let module = context.create_module("lockstep.version");
    let buffer = module.write_bitcode_to_memory();
    match producer_string(buffer.as_slice()) {
        Some(version) => format!("llvm-{version}"),
        None => format!("llvm-{}", feature_major()),
    }
}

/// The LLVM major version chosen by the crate's cargo feature.
fn feature_major() -> &'static str {
    if cfg!(feature = "llvm19-1") {
        "19"
    } else if cfg!(feature = "llvm18-1") {
        "18"
    } else if cfg!(feature = "llvm17-0") {
        "17"
    } else if cfg!(feature = "llvm16-0") {
        "16"
    } else if cfg!(feature = "llvm15-0") {
        "15"
    } else {
        "14"
    }
}

/// Reads bits least-significant first, as LLVM's bitstream format packs them.
struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn fixed(&mut self, width: u32) -> Option<u64> {
        if width > 64 {
            return None;
        }
        let mut value = 0u64;
        for i in 0..width {
            let byte = *self.data.get(self.bit / 8)?;
            let b = (byte >> (self.bit % 8)) & 1;
            value |= u64::from(b) << i;
            self.bit += 1;
        }
        Some(value)
    }

    fn vbr(&mut self, width: u32) -> Option<u64> {
        if !(2..=32).contains(&width) {
            return None;
        }
        let continuation = 1u64 << (width - 1);
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let piece = self.fixed(width)?;
            value |= (piece & (continuation - 1)).checked_shl(shift)?;
            if piece & continuation == 0 {
                return Some(value);
            }
            shift += width - 1;
            if shift >= 64 {
                return None;
            }
        }
    }

    fn align32(&mut self) {
        self.bit = self.bit.div_ceil(32) * 32;
    }
}

#[derive(Clone, Copy)]
enum AbbrevOp {
    Literal(u64),
    Fixed(u32),
    Vbr(u32),
    Array,
    Char6,
    Blob,
}

const IDENTIFICATION_BLOCK_ID: u64 = 13;
const IDENTIFICATION_CODE_STRING: u64 = 1;

/// The producer string minus its `LLVM` prefix (`"14.0.6"`), if the
/// bitcode starts with a well-formed IDENTIFICATION block.
fn producer_string(bitcode: &[u8]) -> Option<String> {
    if bitcode.get(..4)? != b"BC\xC0\xDE" {
        return None;
    }
    let mut r = BitReader { data: bitcode, bit: 32 };
    // Top level: abbreviation width 2; expect ENTER_SUBBLOCK (1).
    if r.fixed(2)? != 1 || r.vbr(8)? != IDENTIFICATION_BLOCK_ID {
        return None;
    }
    let width = u32::try_from(r.vbr(4)?).ok()?;
    r.align32();
    let _block_words = r.fixed(32)?;
    let mut abbrevs: Vec<Vec<AbbrevOp>> = Vec::new();
    let record = loop {
        match r.fixed(width)? {
            // END_BLOCK or ENTER_SUBBLOCK: no string here.
            0 | 1 => return None,
            // DEFINE_ABBREV
            2 => {
                let count = r.vbr(5)?;
                let mut ops = Vec::new();
                for _ in 0..count.min(64) {
                    let op = if r.fixed(1)? == 1 {
                        AbbrevOp::Literal(r.vbr(8)?)
                    } else {
                        match r.fixed(3)? {
                            1 => AbbrevOp::Fixed(u32::try_from(r.vbr(5)?).ok()?),
                            2 => AbbrevOp::Vbr(u32::try_from(r.vbr(5)?).ok()?),
                            3 => AbbrevOp::Array,
                            4 => AbbrevOp::Char6,
                            5 => AbbrevOp::Blob,
                            _ => return None,
                        }
                    };
                    ops.push(op);
                }
                abbrevs.push(ops);
            }
            // UNABBREV_RECORD: code, operand count, operands, all vbr6.
            3 => {
                let code = r.vbr(6)?;
                let count = r.vbr(6)?;
                let mut values = vec![code];
                for _ in 0..count.min(256) {
                    values.push(r.vbr(6)?);
                }
                break values;
            }
            id => {
                let ops = abbrevs.get(usize::try_from(id - 4).ok()?)?.clone();
                break read_abbreviated(&mut r, &ops)?;
            }
        }
    };
    let (&code, chars) = record.split_first()?;
    if code != IDENTIFICATION_CODE_STRING {
        return None;
    }
    let text: String = chars.iter().map(|&c| u8::try_from(c).ok().map(char::from)).collect::<Option<_>>()?;
    let version = text.strip_prefix("LLVM")?;
    let plausible = version.starts_with(|c: char| c.is_ascii_digit())
        && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    plausible.then(|| version.to_string())
}

fn read_scalar(r: &mut BitReader<'_>, op: AbbrevOp) -> Option<u64> {
    match op {
        AbbrevOp::Literal(v) => Some(v),
        AbbrevOp::Fixed(w) => r.fixed(w),
        AbbrevOp::Vbr(w) => r.vbr(w),
        AbbrevOp::Char6 => {
            let v = u8::try_from(r.fixed(6)?).ok()?;
            let c = match v {
                0..=25 => b'a' + v,
                26..=51 => b'A' + (v - 26),
                52..=61 => b'0' + (v - 52),
                62 => b'.',
                _ => b'_',
            };
            Some(u64::from(c))
        }
        AbbrevOp::Array | AbbrevOp::Blob => None,
    }
}

fn read_abbreviated(r: &mut BitReader<'_>, ops: &[AbbrevOp]) -> Option<Vec<u64>> {
    let mut values = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        match ops[i] {
            AbbrevOp::Array => {
                let element = *ops.get(i + 1)?;
                let len = r.vbr(6)?;
                for _ in 0..len.min(256) {
                    values.push(read_scalar(r, element)?);
                }
                i += 2;
            }
            AbbrevOp::Blob => {
                let len = usize::try_from(r.vbr(6)?).ok()?.min(256);
                r.align32();
                for _ in 0..len {
                    values.push(r.fixed(8)?);
                }
                r.align32();
                i += 1;
            }
            op => {
                values.push(read_scalar(r, op)?);
                i += 1;
            }
        }
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    #[test]
    fn detects_a_version_with_the_feature_major() {
        let v = super::detect();
        assert!(v.starts_with(&format!("llvm-{}", super::feature_major())), "{v}");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(super::producer_string(b"not bitcode"), None);
        assert_eq!(super::producer_string(b"BC\xC0\xDE"), None);
    }
}
