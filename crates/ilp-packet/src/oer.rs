//! Canonical OER primitives as ILP uses them (RFC 0030).
//!
//! Reading goes through [`Reader`], a cursor over a byte slice: every read names the field it
//! reads so that an error says where decoding stopped. Reading is strict: a length determinant
//! must be minimal (short form below 128, no leading zero byte in the long form, length-of-length
//! 1 to 8), a VarUInt must have 1 to 8 content bytes and no leading zero byte, and a declared
//! length may not run past the end of the input. Nothing here allocates.
//!
//! Writing goes through free functions over [`BufMut`]; they always produce the minimal form.
//! The `*_len` functions give the encoded size up front, so a caller can reserve once.
//!
//! ```
//! use bytes::BytesMut;
//! use ilp_packet::oer::{self, Reader};
//!
//! let mut buf = BytesMut::new();
//! oer::put_var_uint(&mut buf, 258);
//! oer::put_var_octets(&mut buf, b"abc");
//! assert_eq!(&buf[..], b"\x02\x01\x02\x03abc");
//!
//! let mut reader = Reader::new(&buf);
//! assert_eq!(reader.read_var_uint("n")?, 258);
//! assert_eq!(reader.read_var_octets("s")?, b"abc");
//! assert!(reader.is_empty());
//! # Ok::<(), ilp_packet::DecodeError>(())
//! ```

use bytes::BufMut;

use crate::DecodeError;

/// The largest length-of-length this crate reads (RFC 0030 lets implementations cap it at 8).
pub const MAX_LENGTH_OF_LENGTH: usize = 8;

/// A cursor over a byte slice that reads canonical OER values.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `input`.
    #[must_use]
    pub const fn new(input: &'a [u8]) -> Self {
        Self { input }
    }

    /// The bytes not read yet.
    #[must_use]
    pub const fn remaining(&self) -> &'a [u8] {
        self.input
    }

    /// How many bytes are left.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.input.len()
    }

    /// Whether every byte has been read.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// Takes the next `n` bytes.
    pub fn read_bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.input.len() {
            return Err(DecodeError::UnexpectedEnd(field));
        }
        let (head, tail) = self.input.split_at(n);
        self.input = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as an array.
    pub fn read_array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.read_bytes(N, field)?);
        Ok(out)
    }

    /// Reads a UInt8.
    pub fn read_u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.read_array::<1>(field)?[0])
    }

    /// Reads a big-endian UInt16.
    pub fn read_u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.read_array(field).map(u16::from_be_bytes)
    }

    /// Reads a big-endian UInt32.
    pub fn read_u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.read_array(field).map(u32::from_be_bytes)
    }

    /// Reads a big-endian UInt64.
    pub fn read_u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.read_array(field).map(u64::from_be_bytes)
    }

    /// Reads a length determinant. The length is not checked against the remaining input; use
    /// [`Reader::read_var_octets`] for a length followed by its content.
    pub fn read_length(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let first = self.read_u8(field)?;
        if first < 0x80 {
            return Ok(usize::from(first));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(DecodeError::IndefiniteLength(field));
        }
        if n > MAX_LENGTH_OF_LENGTH {
            return Err(DecodeError::LengthTooLarge(field));
        }
        let bytes = self.read_bytes(n, field)?;
        if bytes[0] == 0 {
            return Err(DecodeError::NonCanonicalLength(field));
        }
        let value = be_uint(bytes);
        if value < 0x80 {
            return Err(DecodeError::NonCanonicalLength(field));
        }
        // A length that does not fit in usize cannot fit in memory either.
        usize::try_from(value).map_err(|_| DecodeError::UnexpectedEnd(field))
    }

    /// Reads a VarOctetString: a length determinant and that many bytes.
    pub fn read_var_octets(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.read_length(field)?;
        self.read_bytes(len, field)
    }

    /// Reads a VarUInt: a length determinant (1 to 8) and a big-endian integer without leading
    /// zero bytes.
    pub fn read_var_uint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let bytes = self.read_var_octets(field)?;
        match bytes {
            [] => Err(DecodeError::VarUIntEmpty(field)),
            b if b.len() > 8 => Err(DecodeError::VarUIntTooLarge(field)),
            [0, _, ..] => Err(DecodeError::VarUIntLeadingZero(field)),
            b => Ok(be_uint(b)),
        }
    }
}

fn be_uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// The encoded size of a length determinant for `len`.
#[must_use]
pub const fn length_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + uint_width(len as u64)
    }
}

/// The encoded size of a VarOctetString of `len` bytes.
#[must_use]
pub const fn var_octets_len(len: usize) -> usize {
    length_len(len) + len
}

/// The encoded size of a VarUInt holding `value`.
#[must_use]
pub const fn var_uint_len(value: u64) -> usize {
    1 + uint_width(value)
}

/// Bytes needed for `value` without leading zeros (at least 1).
const fn uint_width(value: u64) -> usize {
    if value == 0 {
        1
    } else {
        8 - (value.leading_zeros() as usize / 8)
    }
}

/// Writes a length determinant in its minimal form.
pub fn put_length(buf: &mut impl BufMut, len: usize) {
    if len < 0x80 {
        buf.put_u8(len as u8);
    } else {
        let width = uint_width(len as u64);
        buf.put_u8(0x80 | width as u8);
        buf.put_slice(&(len as u64).to_be_bytes()[8 - width..]);
    }
}

/// Writes a VarOctetString: the minimal length determinant, then the bytes.
pub fn put_var_octets(buf: &mut impl BufMut, bytes: &[u8]) {
    put_length(buf, bytes.len());
    buf.put_slice(bytes);
}

/// Writes a VarUInt in its minimal form (`0` is `01 00`).
pub fn put_var_uint(buf: &mut impl BufMut, value: u64) {
    let width = uint_width(value);
    buf.put_u8(width as u8);
    buf.put_slice(&value.to_be_bytes()[8 - width..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(input: &[u8]) -> Result<usize, DecodeError> {
        let mut r = Reader::new(input);
        let len = r.read_length("len")?;
        assert!(r.is_empty(), "length reader left bytes");
        Ok(len)
    }

    #[test]
    fn length_forms_decode() {
        assert_eq!(length(&[0x00]), Ok(0));
        assert_eq!(length(&[0x7f]), Ok(127));
        assert_eq!(length(&[0x81, 0x80]), Ok(128));
        assert_eq!(length(&[0x82, 0x01, 0x00]), Ok(256));
        assert_eq!(
            length(&[0x88, 0xac, 0x01, 0x05, 0x5a, 0x1d, 0xeb, 0xac, 0x1e]),
            Ok(0xac01_055a_1deb_ac1e)
        );
    }

    #[test]
    fn decode_non_canonical_lengths_is_rejected() {
        assert_eq!(length(&[0x80]), Err(DecodeError::IndefiniteLength("len")));
        assert_eq!(
            length(&[0x81, 0x7f]),
            Err(DecodeError::NonCanonicalLength("len"))
        );
        assert_eq!(
            length(&[0x81, 0x00]),
            Err(DecodeError::NonCanonicalLength("len"))
        );
        assert_eq!(
            length(&[0x82, 0x00, 0x80]),
            Err(DecodeError::NonCanonicalLength("len"))
        );
        assert_eq!(
            length(&[0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Err(DecodeError::LengthTooLarge("len"))
        );
        assert_eq!(
            length(&[0x82, 0xff]),
            Err(DecodeError::UnexpectedEnd("len"))
        );
        assert_eq!(length(&[]), Err(DecodeError::UnexpectedEnd("len")));
    }

    #[test]
    fn decode_bad_var_uints_is_rejected() {
        let read = |b: &[u8]| Reader::new(b).read_var_uint("n");
        assert_eq!(read(&[0x01, 0x00]), Ok(0));
        assert_eq!(
            read(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Ok(u64::MAX)
        );
        assert_eq!(read(&[0x00]), Err(DecodeError::VarUIntEmpty("n")));
        assert_eq!(
            read(&[0x02, 0x00, 0x01]),
            Err(DecodeError::VarUIntLeadingZero("n"))
        );
        assert_eq!(
            read(&[0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Err(DecodeError::VarUIntTooLarge("n"))
        );
        assert_eq!(read(&[0x04, 1, 2, 3]), Err(DecodeError::UnexpectedEnd("n")));
        assert_eq!(read(&[0x01]), Err(DecodeError::UnexpectedEnd("n")));
    }

    #[test]
    fn fixed_integers_decode_big_endian() {
        let mut r = Reader::new(&[
            0x00, 0x12, 0x34, 0xab, 0xab, 0xab, 0xab, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        assert_eq!(r.read_u8("a"), Ok(0));
        assert_eq!(r.read_u16("b"), Ok(0x1234));
        assert_eq!(r.read_u32("c"), Ok(0xabab_abab));
        assert_eq!(r.read_u64("d"), Ok(0x0102_0304_0506_0708));
        assert_eq!(r.read_u8("e"), Err(DecodeError::UnexpectedEnd("e")));
    }

    #[test]
    fn writers_are_minimal_and_sized() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 40] {
            let mut buf = Vec::new();
            put_length(&mut buf, len);
            assert_eq!(buf.len(), length_len(len), "len {len}");
            assert_eq!(length(&buf), Ok(len));
        }
        for value in [0u64, 1, 255, 256, 258, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            put_var_uint(&mut buf, value);
            assert_eq!(buf.len(), var_uint_len(value));
            assert_eq!(Reader::new(&buf).read_var_uint("n"), Ok(value));
        }
        let mut buf = Vec::new();
        put_var_uint(&mut buf, 258);
        assert_eq!(buf, [0x02, 0x01, 0x02]);
    }
}
