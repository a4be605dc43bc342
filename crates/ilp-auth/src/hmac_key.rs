//! HMAC-SHA256 (RFC 2104) keyed once, in memory that is zeroed on drop.
//!
//! The `hmac` crate's keyed state cannot be zeroed (its types implement no `Zeroize`), and
//! keying it anew for each MAC would double the work of every authentication. So the two
//! SHA-256 states after the key's inner and outer pads are kept here, as plain words that
//! [`zeroize`] clears, and each MAC resumes from them through `sha2`'s compression function.
//! The unit tests check the result against the `hmac` crate.

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const BLOCK: usize = 64;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

fn compress(state: &mut [u32; 8], block: &[u8]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

/// An HMAC-SHA256 key, ready: the states after the inner and the outer pad.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacKey {
    /// Keys HMAC-SHA256 with `key` (any length; longer than a block, it is hashed first).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut padded = Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let mut digest: [u8; 32] = Sha256::digest(key).into();
            padded[..32].copy_from_slice(&digest);
            digest.zeroize();
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut block = Zeroizing::new([0u8; BLOCK]);
            for (out, k) in block.iter_mut().zip(padded.iter()) {
                *out = k ^ byte;
            }
            let mut state = IV;
            compress(&mut state, &block[..]);
            state
        };
        Self {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// The MAC of the concatenation of `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = Stream::resume(self.inner);
        for part in parts {
            inner.update(part);
        }
        let inner_hash = inner.finish();
        let mut outer = Stream::resume(self.outer);
        outer.update(&inner_hash);
        outer.finish()
    }
}

/// A SHA-256 computation resumed after one block (the pad).
///
/// Not zeroed on drop, on purpose: its state starts as a copy of a keyed state but the final
/// compression overwrites it (what is left is the inner hash, or the MAC itself), and its
/// buffer holds only the message (the caller's) and the inner hash, neither of which gives
/// the key. Zeroing it (volatile writes, byte by byte) would cost each authentication a
/// noticeable part of its MAC. (Like every stack value, it may leave copies where the
/// compiler moved it; `zeroize` cannot reach those either.)
struct Stream {
    state: [u32; 8],
    buffer: [u8; BLOCK],
    buffered: usize,
    /// Bytes hashed, the pad block included.
    total: u64,
}

impl Stream {
    const fn resume(state: [u32; 8]) -> Self {
        Self {
            state,
            buffer: [0; BLOCK],
            buffered: 0,
            total: BLOCK as u64,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (BLOCK - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < BLOCK {
                return;
            }
            compress(&mut self.state, &self.buffer);
            self.buffered = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            compress(&mut self.state, block);
        }
        let rest = blocks.remainder();
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        self.buffer[self.buffered] = 0x80;
        self.buffer[self.buffered + 1..].fill(0);
        if self.buffered + 1 > BLOCK - 8 {
            compress(&mut self.state, &self.buffer);
            self.buffer.fill(0);
        }
        self.buffer[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        compress(&mut self.state, &self.buffer);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    fn reference(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn matches_the_hmac_crate_for_every_length_and_split() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for key_len in [0, 1, 31, 32, 33, 63, 64, 65, 100, 200] {
            let key = &bytes[..key_len];
            let hmac = HmacKey::new(key);
            for len in 0..=200 {
                let message = &bytes[50..50 + len];
                let expected = reference(key, message);
                assert_eq!(hmac.mac(&[message]), expected, "key {key_len}, len {len}");
                for split in [0, 1, len / 2, len.saturating_sub(1), len] {
                    let (a, b) = message.split_at(split.min(len));
                    assert_eq!(hmac.mac(&[a, b]), expected, "split {split}");
                    assert_eq!(hmac.mac(&[a, &[], b]), expected);
                }
            }
        }
    }

    #[test]
    fn rfc_4231_test_case_2() {
        let mac = HmacKey::new(b"Jefe").mac(&[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
