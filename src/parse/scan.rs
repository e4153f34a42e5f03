//! Byte searches for the short fields of a line, eight bytes at a time.
//!
//! The fields a parser looks through (a user name, a request target, a path
//! segment) are a few to a few dozen bytes long. There,
//! `memchr`'s vector search spends more on its dispatch and setup than on the
//! bytes, and a byte loop pays a compare and a branch per byte and needle.
//! These read the haystack as little-endian `u64` words and find a byte with
//! the "has a zero byte" bit trick: plain safe Rust, no target features.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A word with the high bit set in the first byte of `w` equal to `c`.
///
/// Only the lowest set bit is exact: a borrow out of a matching byte may set
/// bits in later bytes. That is all a search for the first match needs, and
/// the lowest set bit of an OR of such words is the first byte equal to any
/// of their needles.
#[inline(always)]
fn first_eq(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * c as u64);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The word at `h[i..i + 8]`, if the haystack holds eight bytes there.
#[inline(always)]
pub(crate) fn word_at(h: &[u8], i: usize) -> Option<u64> {
    let chunk: &[u8; 8] = h.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(*chunk))
}

/// Index in the word of the byte its lowest set high bit marks.
#[inline(always)]
fn byte_of(m: u64) -> usize {
    (m.trailing_zeros() / 8) as usize
}

/// Index in `w` (bytes in little-endian order) of its first byte equal to
/// `a`, `b` or `c`.
#[inline(always)]
pub(crate) fn first3_in(w: u64, a: u8, b: u8, c: u8) -> Option<usize> {
    let m = first_eq(w, a) | first_eq(w, b) | first_eq(w, c);
    (m != 0).then(|| byte_of(m))
}

/// Index of the first byte equal to `a` at or after `from`.
#[inline]
pub(crate) fn find1(h: &[u8], from: usize, a: u8) -> Option<usize> {
    let mut i = from;
    while let Some(w) = word_at(h, i) {
        let m = first_eq(w, a);
        if m != 0 {
            return Some(i + byte_of(m));
        }
        i += 8;
    }
    h.get(i..)?.iter().position(|&c| c == a).map(|p| i + p)
}

/// Index of the first byte equal to `a` or `b` at or after `from`.
#[inline]
pub(crate) fn find2(h: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    let mut i = from;
    while let Some(w) = word_at(h, i) {
        let m = first_eq(w, a) | first_eq(w, b);
        if m != 0 {
            return Some(i + byte_of(m));
        }
        i += 8;
    }
    h.get(i..)?
        .iter()
        .position(|&c| c == a || c == b)
        .map(|p| i + p)
}

/// Index of the first byte equal to `a`, `b` or `c` at or after `from`.
#[inline]
pub(crate) fn find3(h: &[u8], from: usize, a: u8, b: u8, c: u8) -> Option<usize> {
    let mut i = from;
    while let Some(w) = word_at(h, i) {
        let m = first_eq(w, a) | first_eq(w, b) | first_eq(w, c);
        if m != 0 {
            return Some(i + byte_of(m));
        }
        i += 8;
    }
    h.get(i..)?
        .iter()
        .position(|&x| x == a || x == b || x == c)
        .map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(h: &[u8], from: usize, set: &[u8]) -> Option<usize> {
        h.get(from..)?
            .iter()
            .position(|c| set.contains(c))
            .map(|p| from + p)
    }

    #[test]
    fn every_place_and_length() {
        // the needle at each place of each length, after bytes that differ
        // from it by one bit (where a borrow could mislead the trick)
        for len in 0..40 {
            for at in 0..len {
                for from in 0..=len + 1 {
                    let mut h: Vec<u8> = (0..len)
                        .map(|k| [b'#', b'!', 0xa2, 0, b'/'][k % 5])
                        .collect();
                    h[at] = b'"';
                    assert_eq!(
                        find1(&h, from, b'"'),
                        naive(&h, from, b"\""),
                        "{len} {at} {from}"
                    );
                    assert_eq!(
                        find2(&h, from, b'"', b' '),
                        naive(&h, from, b"\" "),
                        "{len} {at} {from}"
                    );
                    assert_eq!(
                        find3(&h, from, b'?', b'"', b'#'),
                        naive(&h, from, b"?\"#"),
                        "{len} {at} {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn first3_in_finds_the_first_needle_of_a_word() {
        for at in 0..8 {
            for later in at..8 {
                let mut b = [b'a'; 8];
                b[later] = b'#';
                b[at] = b'/';
                assert_eq!(first3_in(u64::from_le_bytes(b), b'/', b'?', b'#'), Some(at));
            }
        }
        assert_eq!(
            first3_in(u64::from_le_bytes(*b"abc\0\0\0\0\0"), b'/', b'?', b'#'),
            None
        );
    }

    proptest::proptest! {
        /// Each search finds what a byte loop finds, wherever it starts.
        #[test]
        fn searches_agree_with_a_byte_loop(
            h in proptest::collection::vec(proptest::sample::select(vec![b'"', b' ', b'/', b'?', b'#', b'\\', b'a', 0x80, 0xff, 0x21, 0x00, 0x01]), 0..70),
            from in 0usize..75,
        ) {
            proptest::prop_assert_eq!(find1(&h, from, b'['), naive(&h, from, b"["));
            proptest::prop_assert_eq!(find2(&h, from, b' ', b'"'), naive(&h, from, b" \""));
            proptest::prop_assert_eq!(find3(&h, from, b'/', b'?', b'#'), naive(&h, from, b"/?#"));
        }
    }
}
