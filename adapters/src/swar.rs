//! Scans eight bytes at a time. Free text is most of a message, and the
//! bytes the scans look for (quotes, markup, control characters) are rare
//! in it: a whole `u64` word is tested at once, and single bytes are looked
//! at only in a word that holds one.

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

/// The high bit of each byte of `w` below `n` (at most 0x80), exact for the
/// lowest one as for [`eq`].
pub(crate) fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO * u64::from(n)) & !w & HI
}

/// The index of the lowest byte marked in a non-zero `mask`.
pub(crate) fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
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
            for n in [0x20u8, 0x40, 0x80] {
                let want = bytes.iter().position(|&x| x < n);
                let m = below(w, n);
                assert_eq!(want, (m != 0).then(|| first(m)), "{bytes:?} < {n}");
            }
        }
    }
}
