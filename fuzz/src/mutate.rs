//! The mutations.

use super::{Rng, Target};

const INTERESTING_8: [u8; 9] = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20, 0x40];
const INTERESTING_32: [u32; 16] = [
    0,
    1,
    2,
    4,
    0x7f,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x1_0000,
    0x4_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x0010_0000,
];

fn put(buf: &mut [u8], at: usize, width: usize, value: u64, big_endian: bool) {
    for i in 0..width {
        let shift = if big_endian {
            (width - 1 - i) * 8
        } else {
            i * 8
        };
        if let Some(b) = buf.get_mut(at + i) {
            *b = (value >> shift) as u8;
        }
    }
}

fn get(buf: &[u8], at: usize, width: usize, big_endian: bool) -> u64 {
    (0..width).fold(0u64, |v, i| {
        let b = u64::from(buf.get(at + i).copied().unwrap_or(0));
        let shift = if big_endian {
            (width - 1 - i) * 8
        } else {
            i * 8
        };
        v | (b << shift)
    })
}

/// A chunk `(start, len)` of `len_of` bytes, mostly short.
fn chunk(rng: &mut Rng, len_of: usize) -> (usize, usize) {
    let start = rng.below(len_of);
    let max = (len_of - start).min(if rng.one_in(4) { 4096 } else { 32 });
    (start, 1 + rng.below(max))
}

/// Applies one random mutation to `input`. `corpus` supplies splice partners.
pub fn mutate(input: &mut Vec<u8>, rng: &mut Rng, corpus: &[Vec<u8>], target: &Target) {
    let len = input.len();
    match rng.below(15) {
        // Flip a bit.
        0 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        // A byte set to an interesting value.
        1 if len > 0 => {
            let at = rng.below(len);
            input[at] = INTERESTING_8[rng.below(INTERESTING_8.len())];
        }
        // A 16- or 32-bit word set to an interesting value, either byte order.
        2 if len > 1 => {
            let width = if rng.one_in(2) { 2 } else { 4 };
            let at = rng.below(len);
            let value = match rng.below(3) {
                0 => u64::from(INTERESTING_32[rng.below(INTERESTING_32.len())]),
                1 => (len as u64)
                    .wrapping_add(rng.below(9) as u64)
                    .wrapping_sub(4),
                _ => u64::from(INTERESTING_32[rng.below(INTERESTING_32.len())]).wrapping_neg(),
            };
            put(input, at, width, value, rng.one_in(2));
        }
        // Add or subtract a little from a byte or word.
        3 if len > 0 => {
            let width = [1, 2, 4][rng.below(3)];
            let at = rng.below(len);
            let be = rng.one_in(2);
            let delta = 1 + rng.below(35) as u64;
            let v = get(input, at, width, be);
            let v = if rng.one_in(2) {
                v.wrapping_add(delta)
            } else {
                v.wrapping_sub(delta)
            };
            put(input, at, width, v, be);
        }
        // Insert random bytes, or one byte repeated.
        4 => {
            let at = rng.below(len + 1);
            let most = if rng.one_in(8) { 512 } else { 16 };
            let n = 1 + rng.below(most);
            let bytes: Vec<u8> = if rng.one_in(2) {
                vec![rng.byte(); n]
            } else {
                (0..n).map(|_| rng.byte()).collect()
            };
            input.splice(at..at, bytes);
        }
        // Delete a chunk.
        5 if len > 0 => {
            let (start, n) = chunk(rng, len);
            input.drain(start..start + n);
        }
        // Truncate.
        6 if len > 0 => input.truncate(rng.below(len)),
        // Duplicate a chunk somewhere.
        7 if len > 0 => {
            let (start, n) = chunk(rng, len);
            let copy = input[start..start + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, copy);
        }
        // Overwrite a chunk with another of the same input.
        8 if len > 1 => {
            let (start, n) = chunk(rng, len);
            let to = rng.below(len - n + 1);
            input.copy_within(start..start + n, to);
        }
        // Splice: this input's head, another entry's tail.
        9 if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        // Insert or overwrite with a dictionary token.
        10 if !target.dictionary.is_empty() => {
            let token = target.dictionary[rng.below(target.dictionary.len())];
            let at = rng.below(len + 1);
            if rng.one_in(2) || at + token.len() > len {
                input.splice(at..at, token.iter().copied());
            } else {
                input[at..at + token.len()].copy_from_slice(token);
            }
        }
        // A length field of the format set to an absurd value.
        11 | 12 if target.length_fields.is_some() => {
            let fields = target.length_fields.map(|f| f(input)).unwrap_or_default();
            if fields.is_empty() {
                return;
            }
            let (at, width, be) = fields[rng.below(fields.len())];
            let old = get(input, at, width, be);
            let value = match rng.below(6) {
                0 => u64::from(INTERESTING_32[rng.below(INTERESTING_32.len())]),
                1 => old.wrapping_add(1 + rng.below(8) as u64),
                2 => old.wrapping_sub(1 + rng.below(8) as u64),
                3 => len as u64,
                4 => 1 << (16 + rng.below(16)),
                _ => rng.next_u64(),
            };
            put(input, at, width, value, be);
        }
        // A random byte anywhere.
        _ if len > 0 => {
            let at = rng.below(len);
            input[at] = rng.byte();
        }
        _ => input.push(rng.byte()),
    }
}
