//! Scans eight or thirty-two bytes at a time. Free text is most of a
//! message, and the bytes the scans look for (quotes, markup, control
//! characters) are rare in it: a whole `u64` word or block is tested at
//! once, and single bytes are looked at only where one holds a match.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// A word of eight bytes, the first byte lowest.
pub(crate) fn word(chunk: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*chunk)
}

/// The high bit of each byte of `w` that equals `b`. The lowest one marked
/// is exact; bytes above a match may be marked too.
pub(crate) fn eq(w: u64, b: u8) -> u64 {
    let v = w ^ (LO * u64::from(b));
    v.wrapping_sub(LO) & !v & HI
}

/// The bytes the block scans look at together: 32, which the compiler
/// compares as vectors (two SSE2 registers) where a `u64` word takes a
/// dozen scalar operations per byte class.
pub(crate) const BLOCK: usize = 32;

/// Whether `block` holds the byte `c`. Branch-free over a block of fixed
/// size, so that it compiles to vector compares.
#[inline]
pub(crate) fn has(block: &[u8; BLOCK], c: u8) -> bool {
    block.iter().fold(false, |acc, &b| acc | (b == c))
}

/// Whether `block` holds one of the bytes of `set` (one vector compare of
/// the block per byte: a test of several bytes at once in one pass over
/// the block does not vectorize).
#[inline]
pub(crate) fn holds<const N: usize>(block: &[u8; BLOCK], set: [u8; N]) -> bool {
    set.iter().fold(false, |acc, &c| acc | has(block, c))
}

/// The index of the lowest byte marked in a non-zero `mask`.
pub(crate) fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The index of the first byte of `bytes` in `set`, a word at a time.
#[inline]
pub(crate) fn find<const N: usize>(bytes: &[u8], set: [u8; N]) -> Option<usize> {
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, chunk) in words.iter().enumerate() {
        let w = word(chunk);
        let found = set.iter().fold(0, |acc, &b| acc | eq(w, b));
        if found != 0 {
            return Some(i * 8 + first(found));
        }
    }
    let j = tail.iter().position(|b| set.contains(b))?;
    Some(words.len() * 8 + j)
}

/// Calls `f` with each block of `bytes` and the index it starts at, until
/// `f` returns true; whether one did. The last bytes are padded with `a`
/// (a byte no scan looks for) into a block of their own: most values are
/// shorter than a block, and are tested by vector compares too.
#[inline]
pub(crate) fn any_block(bytes: &[u8], mut f: impl FnMut(usize, &[u8; BLOCK]) -> bool) -> bool {
    let (blocks, tail) = bytes.as_chunks::<BLOCK>();
    let mut last = [b'a'; BLOCK];
    if let Some(head) = last.get_mut(..tail.len()) {
        head.copy_from_slice(tail);
    }
    blocks
        .iter()
        .chain(std::iter::once(&last))
        .enumerate()
        .any(|(k, block)| f(k * BLOCK, block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_agree_with_a_byte_by_byte_scan() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Bytes drawn from a few interesting values.
            let pick = [
                0u8, 1, b'"', b'\\', b'&', b'<', 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xe4, 0xff,
            ];
            let bytes: [u8; 8] = std::array::from_fn(|i| pick[((seed >> (i * 5)) % 13) as usize]);
            let w = word(&bytes);
            for b in [b'"', b'\\', b'&', 0u8, 0xff] {
                let want = bytes.iter().position(|&x| x == b);
                let m = eq(w, b);
                assert_eq!(want, (m != 0).then(|| first(m)), "{bytes:?} {b}");
            }
            let mut block = [b'a'; BLOCK];
            block[(seed % 29) as usize..][..3].copy_from_slice(&bytes[..3]);
            for b in [b'"', b'<', 0u8, 0xef] {
                assert_eq!(has(&block, b), block.contains(&b), "{block:?} {b}");
            }
            assert_eq!(
                holds(&block, [b'&', b'<', b'\r']),
                block.iter().any(|b| matches!(b, b'&' | b'<' | b'\r'))
            );
        }
    }
}
