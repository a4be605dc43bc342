//! ILPv4 packets (RFC 0027): Prepare, Fulfill, Reject.
//!
//! Every packet keeps the buffer it was decoded from (or built into) and the offsets of its
//! fields, so decoding copies no payload, accessors return slices of that buffer, and encoding a
//! decoded packet is one `memcpy` of its original bytes, trailing bytes included.

use std::fmt;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::address::{self, Address};
use crate::oer::{self, Reader};
use crate::{Condition, DecodeError, ErrorCode, Fulfillment, Timestamp};

/// The largest `data` field ASN.1 allows in any ILP packet, in bytes.
pub const MAX_DATA_LEN: usize = 32_767;
/// The largest `message` field ASN.1 allows in a Reject, in bytes.
pub const MAX_MESSAGE_LEN: usize = 8_191;

/// The encoded length of the largest Prepare without trailing bytes: a 1 023-byte destination
/// and [`MAX_DATA_LEN`] bytes of data (33 857 bytes).
pub const MAX_PREPARE_LEN: usize =
    envelope_len(8 + 17 + 32 + var_len(Address::MAX_LEN) + var_len(MAX_DATA_LEN));
/// The encoded length of the largest Fulfill without trailing bytes: [`MAX_DATA_LEN`] bytes
/// of data (32 806 bytes).
pub const MAX_FULFILL_LEN: usize = envelope_len(32 + var_len(MAX_DATA_LEN));
/// The encoded length of the largest Reject without trailing bytes: a 1 023-byte
/// `triggeredBy`, a [`MAX_MESSAGE_LEN`]-byte message and [`MAX_DATA_LEN`] bytes of data
/// (41 997 bytes).
pub const MAX_REJECT_LEN: usize =
    envelope_len(3 + var_len(Address::MAX_LEN) + var_len(MAX_MESSAGE_LEN) + var_len(MAX_DATA_LEN));
/// The encoded length of the largest ILP packet of any type without trailing bytes (the
/// largest Reject, [`MAX_REJECT_LEN`]). A transport that bounds what it reads by this constant
/// carries every packet the builders can produce; packets that decode with trailing bytes
/// (RFC 0030 extensions) may be longer.
pub const MAX_PACKET_LEN: usize = MAX_REJECT_LEN;

/// The length of a variable-length octet string of `len` bytes, length determinant included.
const fn var_len(len: usize) -> usize {
    len + length_determinant_len(len)
}

/// The length of a packet with a body of `body` bytes: type byte, length determinant, body.
const fn envelope_len(body: usize) -> usize {
    1 + length_determinant_len(body) + body
}

/// The size of the canonical OER length determinant for `len` (all lengths here fit in 3).
const fn length_determinant_len(len: usize) -> usize {
    if len < 128 {
        1
    } else if len < 256 {
        2
    } else if len < 65_536 {
        3
    } else {
        4
    }
}

/// The type byte that opens every ILP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// 12: a Prepare.
    Prepare = 12,
    /// 13: a Fulfill.
    Fulfill = 13,
    /// 14: a Reject.
    Reject = 14,
}

impl PacketType {
    /// The type's name: `Prepare`, `Fulfill` or `Reject`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Prepare => "Prepare",
            Self::Fulfill => "Fulfill",
            Self::Reject => "Reject",
        }
    }
}

impl fmt::Display for PacketType {
    /// The type byte and the name, for example `12 (Prepare)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", *self as u8, self.name())
    }
}

impl TryFrom<u8> for PacketType {
    type Error = DecodeError;

    fn try_from(byte: u8) -> Result<Self, DecodeError> {
        match byte {
            12 => Ok(Self::Prepare),
            13 => Ok(Self::Fulfill),
            14 => Ok(Self::Reject),
            other => Err(DecodeError::UnknownPacketType(other)),
        }
    }
}

/// Checks the type byte and the envelope length; returns the content's range in `buf`.
/// Bytes after the envelope are allowed (RFC 0030: receivers MUST ignore extra bytes).
fn open(buf: &[u8], expected: PacketType) -> Result<Range<usize>, DecodeError> {
    let mut r = Reader::new(buf);
    let found = PacketType::try_from(r.read_u8("type")?)?;
    if found != expected {
        return Err(DecodeError::UnexpectedPacketType {
            expected: expected as u8,
            found: found as u8,
        });
    }
    let len = r.read_length("length")?;
    let start = buf.len() - r.len();
    r.read_bytes(len, "content")?;
    Ok(start..start + len)
}

/// Reads a VarOctetString and returns its range in `buf` (`r` reads inside `buf`).
fn var_octets_range(
    buf: &[u8],
    r: &mut Reader<'_>,
    field: &'static str,
    max: usize,
) -> Result<Range<usize>, DecodeError> {
    let bytes = r.read_var_octets(field)?;
    check_len(field, bytes.len(), max)?;
    let end = buf.len() - r.len();
    Ok(end - bytes.len()..end)
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        Err(DecodeError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// The size of a packet whose content is `content_len` bytes.
fn packet_len(content_len: usize) -> usize {
    1 + oer::length_len(content_len) + content_len
}

/// Reserves room for the whole packet and writes the type byte and the envelope length; returns
/// the range the content will take.
fn put_header(buf: &mut BytesMut, ty: PacketType, content_len: usize) -> Range<usize> {
    buf.reserve(packet_len(content_len));
    buf.put_u8(ty as u8);
    oer::put_length(buf, content_len);
    buf.len()..buf.len() + content_len
}

/// Appends a VarOctetString to `buf` and returns the range of its content.
fn put_octets(buf: &mut BytesMut, bytes: &[u8]) -> Range<usize> {
    oer::put_length(buf, bytes.len());
    let at = buf.len();
    buf.put_slice(bytes);
    at..buf.len()
}

/// Shows a byte field in `Debug` output: hex, shortened past 64 bytes.
struct HexPreview<'a>(&'a [u8]);

impl fmt::Debug for HexPreview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 64 {
            write!(f, "{}", crate::hex::encode(self.0))
        } else {
            write!(
                f,
                "{}…({} bytes)",
                crate::hex::encode(&self.0[..32]),
                self.0.len()
            )
        }
    }
}

/// The methods every packet type has over its wire buffer `buf`.
macro_rules! wire_methods {
    ($ty:ident) => {
        impl $ty {
            /// Appends the packet's bytes to `buf`.
            pub fn encode(&self, buf: &mut BytesMut) {
                buf.extend_from_slice(&self.buf);
            }

            /// The encoded size in bytes.
            #[must_use]
            pub fn encoded_len(&self) -> usize {
                self.buf.len()
            }

            /// The encoded packet (shares the buffer; copies nothing).
            #[must_use]
            pub fn to_bytes(&self) -> Bytes {
                self.buf.clone()
            }

            /// The encoded packet.
            #[must_use]
            pub fn into_bytes(self) -> Bytes {
                self.buf
            }

            /// The encoded packet as a slice.
            #[must_use]
            pub fn as_bytes(&self) -> &[u8] {
                &self.buf
            }
        }
    };
}

wire_methods!(Prepare);
wire_methods!(Fulfill);
wire_methods!(Reject);

// ---------------------------------------------------------------------------------------------
// Prepare

/// An ILP Prepare: a conditional transfer of `amount` to `destination`, valid until
/// `expires_at`, unlocked by the fulfillment whose SHA-256 is `execution_condition`.
///
/// A decoded Prepare keeps its wire buffer. [`Prepare::set_amount`] and
/// [`Prepare::set_expires_at`] rewrite those fixed-size fields inside it (in place when the
/// Prepare holds the only reference to the buffer, otherwise on one copy), so a connector
/// forwards a packet without encoding it again.
///
/// ```
/// use bytes::Bytes;
/// use ilp_packet::{Address, Condition, Prepare, PrepareBuilder, Timestamp};
///
/// let destination = Address::from_static("example.alice");
/// let prepare = PrepareBuilder {
///     amount: 107,
///     expires_at: "2017-12-23T01:21:40.549Z".parse()?,
///     execution_condition: Condition::from_bytes([7; 32]),
///     destination: &destination,
///     data: b"hello",
/// }
/// .build()?;
///
/// let mut forwarded = Prepare::decode(prepare.to_bytes())?;
/// assert_eq!(forwarded.destination(), &destination);
/// forwarded.set_amount(100);
/// assert_eq!(forwarded.amount(), 100);
/// assert_eq!(forwarded.data(), b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Prepare {
    buf: Bytes,
    /// Offset of the content (after type byte and envelope length).
    content: usize,
    amount: u64,
    expires_at: Timestamp,
    /// A view of the destination: into `buf` when decoded, the builder's address when built.
    destination: Address,
    destination_at: Range<usize>,
    data_at: Range<usize>,
}

/// Offsets of the fixed fields inside a Prepare's content.
const AMOUNT_AT: usize = 0;
const EXPIRES_AT: usize = 8;
const CONDITION_AT: usize = 25;
const PREPARE_FIXED_LEN: usize = 57;

impl Prepare {
    /// Decodes a Prepare. The fields are views into `buf`; bytes after the last field, inside
    /// or after the envelope, are kept.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        let content = open(&buf, PacketType::Prepare)?;
        let body = &buf[..content.end];
        let mut r = Reader::new(&body[content.start..]);
        let amount = r.read_u64("amount")?;
        let expires_at = Timestamp::from_ilp_bytes(r.read_bytes(17, "expiresAt")?)?;
        r.read_bytes(32, "executionCondition")?;
        // No length bound here: an address over 1023 bytes is an `InvalidAddress`.
        let destination_at = var_octets_range(body, &mut r, "destination", usize::MAX)?;
        address::validate(&body[destination_at.clone()]).map_err(|e| ("destination", e))?;
        let data_at = var_octets_range(body, &mut r, "data", MAX_DATA_LEN)?;
        Ok(Self {
            destination: Address::from_validated(buf.slice(destination_at.clone())),
            buf,
            content: content.start,
            amount,
            expires_at,
            destination_at,
            data_at,
        })
    }

    /// The amount, in the units of the link it travels on.
    #[must_use]
    pub const fn amount(&self) -> u64 {
        self.amount
    }

    /// When the Prepare expires.
    #[must_use]
    pub const fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The condition a fulfillment must hash to.
    #[must_use]
    pub fn execution_condition(&self) -> Condition {
        let at = self.content + CONDITION_AT;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&self.buf[at..at + 32]);
        Condition::from_bytes(bytes)
    }

    /// The ILP address the packet is for.
    #[must_use]
    pub const fn destination(&self) -> &Address {
        &self.destination
    }

    /// The end-to-end data: a slice of the packet's buffer.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data_at.clone()]
    }

    /// The end-to-end data as an owned view of the packet's buffer (copies nothing).
    #[must_use]
    pub fn data_bytes(&self) -> Bytes {
        self.buf.slice(self.data_at.clone())
    }

    /// Sets the amount, rewriting the 8 bytes in the packet's buffer.
    pub fn set_amount(&mut self, amount: u64) {
        self.amount = amount;
        self.patch(AMOUNT_AT, &amount.to_be_bytes());
    }

    /// Sets the expiry, rewriting the 17 bytes in the packet's buffer.
    pub fn set_expires_at(&mut self, expires_at: Timestamp) {
        self.expires_at = expires_at;
        self.patch(EXPIRES_AT, &expires_at.to_ilp_bytes());
    }

    /// Overwrites content bytes at `at`: in place when this Prepare holds the only reference to
    /// its buffer, otherwise on one copy of it (copy-on-write).
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        // Drop our own view first so that the buffer can be unique.
        self.destination = Address::from_validated(Bytes::from_static(b"g.x"));
        let shared = std::mem::take(&mut self.buf);
        let mut buf = shared
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let at = self.content + at;
        buf[at..at + bytes.len()].copy_from_slice(bytes);
        self.buf = buf.freeze();
        self.destination = Address::from_validated(self.buf.slice(self.destination_at.clone()));
    }
}

impl fmt::Debug for Prepare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepare")
            .field("amount", &self.amount)
            .field("expires_at", &self.expires_at)
            .field("execution_condition", &self.execution_condition())
            .field("destination", &self.destination)
            .field("data", &HexPreview(self.data()))
            .finish()
    }
}

/// The fields of a new Prepare. [`PrepareBuilder::build`] encodes them into a new buffer,
/// [`PrepareBuilder::encode`] into one the caller reuses.
#[derive(Debug, Clone, Copy)]
pub struct PrepareBuilder<'a> {
    /// The amount.
    pub amount: u64,
    /// When the Prepare expires.
    pub expires_at: Timestamp,
    /// The condition a fulfillment must hash to.
    pub execution_condition: Condition,
    /// Where the packet goes.
    pub destination: &'a Address,
    /// End-to-end data, at most [`MAX_DATA_LEN`] bytes.
    pub data: &'a [u8],
}

impl PrepareBuilder<'_> {
    fn content_len(&self) -> usize {
        PREPARE_FIXED_LEN
            + oer::var_octets_len(self.destination.len())
            + oer::var_octets_len(self.data.len())
    }

    /// The size of the encoded packet.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        packet_len(self.content_len())
    }

    /// Encodes the Prepare into a new buffer. Fails only when `data` is longer than
    /// [`MAX_DATA_LEN`].
    pub fn build(&self) -> Result<Prepare, DecodeError> {
        check_len("data", self.data.len(), MAX_DATA_LEN)?;
        Ok(self.build_unchecked())
    }

    /// Appends the encoded Prepare to `buf` (which allocates nothing when `buf` has room).
    /// Fails only when `data` is longer than [`MAX_DATA_LEN`]; `buf` is then unchanged.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), DecodeError> {
        check_len("data", self.data.len(), MAX_DATA_LEN)?;
        self.write(buf);
        Ok(())
    }

    /// Writes the packet; returns the offsets of the content, destination and data.
    fn write(&self, buf: &mut BytesMut) -> [Range<usize>; 3] {
        let start = buf.len();
        let content = put_header(buf, PacketType::Prepare, self.content_len());
        buf.put_u64(self.amount);
        buf.put_slice(&self.expires_at.to_ilp_bytes());
        buf.put_slice(self.execution_condition.as_bytes());
        let destination_at = put_octets(buf, self.destination.as_bytes());
        let data_at = put_octets(buf, self.data);
        [content, destination_at, data_at].map(|r| r.start - start..r.end - start)
    }

    /// Encodes without checking the data bound (for callers whose data is known to fit).
    pub(crate) fn build_unchecked(&self) -> Prepare {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        let [content, destination_at, data_at] = self.write(&mut buf);
        Prepare {
            buf: buf.freeze(),
            content: content.start,
            amount: self.amount,
            expires_at: self.expires_at,
            destination: self.destination.clone(),
            destination_at,
            data_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fulfill

/// An ILP Fulfill: the fulfillment that unlocks a Prepare's condition, and end-to-end data.
///
/// ```
/// use ilp_packet::{Fulfill, FulfillBuilder, Fulfillment};
///
/// let fulfill = FulfillBuilder { fulfillment: Fulfillment::from_bytes([0; 32]), data: b"" }.build()?;
/// assert_eq!(fulfill.as_bytes().len(), 35);
/// assert_eq!(Fulfill::decode(fulfill.to_bytes())?, fulfill);
/// # Ok::<(), ilp_packet::DecodeError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Fulfill {
    buf: Bytes,
    content: usize,
    data_at: Range<usize>,
}

impl Fulfill {
    /// Decodes a Fulfill; bytes after the last field are kept.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        let content = open(&buf, PacketType::Fulfill)?;
        let body = &buf[..content.end];
        let mut r = Reader::new(&body[content.start..]);
        r.read_bytes(32, "fulfillment")?;
        let data_at = var_octets_range(body, &mut r, "data", MAX_DATA_LEN)?;
        Ok(Self {
            buf,
            content: content.start,
            data_at,
        })
    }

    /// The fulfillment.
    #[must_use]
    pub fn fulfillment(&self) -> Fulfillment {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&self.buf[self.content..self.content + 32]);
        Fulfillment::from_bytes(bytes)
    }

    /// The end-to-end data: a slice of the packet's buffer.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data_at.clone()]
    }

    /// The end-to-end data as an owned view of the packet's buffer (copies nothing).
    #[must_use]
    pub fn data_bytes(&self) -> Bytes {
        self.buf.slice(self.data_at.clone())
    }
}

impl fmt::Debug for Fulfill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fulfill")
            .field("fulfillment", &self.fulfillment())
            .field("data", &HexPreview(self.data()))
            .finish()
    }
}

/// The fields of a new Fulfill.
#[derive(Debug, Clone, Copy)]
pub struct FulfillBuilder<'a> {
    /// The preimage of the Prepare's condition.
    pub fulfillment: Fulfillment,
    /// End-to-end data, at most [`MAX_DATA_LEN`] bytes.
    pub data: &'a [u8],
}

impl FulfillBuilder<'_> {
    fn content_len(&self) -> usize {
        32 + oer::var_octets_len(self.data.len())
    }

    /// The size of the encoded packet.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        packet_len(self.content_len())
    }

    /// Encodes the Fulfill into a new buffer. Fails only when `data` is longer than
    /// [`MAX_DATA_LEN`].
    pub fn build(&self) -> Result<Fulfill, DecodeError> {
        check_len("data", self.data.len(), MAX_DATA_LEN)?;
        Ok(self.build_unchecked())
    }

    /// Appends the encoded Fulfill to `buf` (which allocates nothing when `buf` has room).
    /// Fails only when `data` is longer than [`MAX_DATA_LEN`]; `buf` is then unchanged.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), DecodeError> {
        check_len("data", self.data.len(), MAX_DATA_LEN)?;
        self.write(buf);
        Ok(())
    }

    fn write(&self, buf: &mut BytesMut) -> [Range<usize>; 2] {
        let start = buf.len();
        let content = put_header(buf, PacketType::Fulfill, self.content_len());
        buf.put_slice(self.fulfillment.as_bytes());
        let data_at = put_octets(buf, self.data);
        [content, data_at].map(|r| r.start - start..r.end - start)
    }

    /// Encodes without checking the data bound (for callers whose data is known to fit).
    pub(crate) fn build_unchecked(&self) -> Fulfill {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        let [content, data_at] = self.write(&mut buf);
        Fulfill {
            buf: buf.freeze(),
            content: content.start,
            data_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reject

/// An ILP Reject: why a Prepare failed, which node said so, and optional data.
///
/// `triggeredBy` may be empty on the wire: the JavaScript reference and interledger-rs send such
/// Rejects when a plugin or a sender rejects, and [`Reject::triggered_by`] shows it as `None`.
/// [`RejectBuilder`] builds Rejects that name the node; [`Reject::with_empty_triggered_by`]
/// builds the empty form, so every Reject this crate decodes can be built again, byte for byte.
///
/// ```
/// use ilp_packet::{Address, ErrorCode, Reject, RejectBuilder};
///
/// let node = Address::from_static("g.connector");
/// let reject = RejectBuilder {
///     code: ErrorCode::F02_UNREACHABLE,
///     triggered_by: &node,
///     message: "no route found",
///     data: b"",
/// }
/// .build()?;
/// let decoded = Reject::decode(reject.to_bytes())?;
/// assert_eq!(decoded.code(), ErrorCode::F02_UNREACHABLE);
/// assert_eq!(decoded.triggered_by(), Some(node));
/// assert_eq!(decoded.message(), "no route found");
/// # Ok::<(), ilp_packet::DecodeError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Reject {
    buf: Bytes,
    code: ErrorCode,
    triggered_by_at: Range<usize>,
    message_at: Range<usize>,
    data_at: Range<usize>,
}

impl Reject {
    /// Decodes a Reject; bytes after the last field are kept. The code must be IA5, the
    /// `triggeredBy` address valid or empty, the message UTF-8 of at most 8191 bytes.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        let content = open(&buf, PacketType::Reject)?;
        let body = &buf[..content.end];
        let mut r = Reader::new(&body[content.start..]);
        let code = ErrorCode::new(r.read_array("code")?)?;
        // As for destinations, an over-long address is an `InvalidAddress`.
        let triggered_by_at = var_octets_range(body, &mut r, "triggeredBy", usize::MAX)?;
        if !triggered_by_at.is_empty() {
            address::validate(&body[triggered_by_at.clone()]).map_err(|e| ("triggeredBy", e))?;
        }
        let message_at = var_octets_range(body, &mut r, "message", MAX_MESSAGE_LEN)?;
        std::str::from_utf8(&body[message_at.clone()])
            .map_err(|_| DecodeError::InvalidUtf8("message"))?;
        let data_at = var_octets_range(body, &mut r, "data", MAX_DATA_LEN)?;
        Ok(Self {
            buf,
            code,
            triggered_by_at,
            message_at,
            data_at,
        })
    }

    /// Builds a Reject whose `triggeredBy` is empty on the wire (a zero-length address), as
    /// the JavaScript reference and interledger-rs send when a plugin or the sender itself
    /// rejects and no node address is known. [`Reject::triggered_by`] of the result is `None`.
    /// A node that knows its address should use [`RejectBuilder`] instead.
    ///
    /// Fails only when `message` or `data` exceeds its bound ([`MAX_MESSAGE_LEN`],
    /// [`MAX_DATA_LEN`]).
    ///
    /// ```
    /// use ilp_packet::{ErrorCode, Reject};
    ///
    /// let reject = Reject::with_empty_triggered_by(ErrorCode::F00_BAD_REQUEST, "", b"")?;
    /// assert_eq!(reject.as_bytes(), b"\x0e\x06F00\x00\x00\x00");
    /// assert_eq!(reject.triggered_by(), None);
    /// assert_eq!(Reject::decode(reject.to_bytes())?, reject);
    /// # Ok::<(), ilp_packet::DecodeError>(())
    /// ```
    pub fn with_empty_triggered_by(
        code: ErrorCode,
        message: &str,
        data: &[u8],
    ) -> Result<Self, DecodeError> {
        RejectFields {
            code,
            triggered_by: b"",
            message,
            data,
        }
        .build()
    }

    /// The error code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The node that rejected the packet (a view of the packet's buffer); `None` when the field
    /// was empty on the wire.
    #[must_use]
    pub fn triggered_by(&self) -> Option<Address> {
        let at = self.triggered_by_at.clone();
        (!at.is_empty()).then(|| Address::from_validated(self.buf.slice(at)))
    }

    /// The human-readable message.
    #[must_use]
    pub fn message(&self) -> &str {
        // Checked to be UTF-8 when decoded or built.
        std::str::from_utf8(&self.buf[self.message_at.clone()]).unwrap_or_default()
    }

    /// The data: a slice of the packet's buffer.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data_at.clone()]
    }

    /// The data as an owned view of the packet's buffer (copies nothing).
    #[must_use]
    pub fn data_bytes(&self) -> Bytes {
        self.buf.slice(self.data_at.clone())
    }
}

impl fmt::Debug for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reject")
            .field("code", &self.code)
            .field("triggered_by", &self.triggered_by())
            .field("message", &self.message())
            .field("data", &HexPreview(self.data()))
            .finish()
    }
}

/// The fields of a new Reject.
#[derive(Debug, Clone, Copy)]
pub struct RejectBuilder<'a> {
    /// The error code.
    pub code: ErrorCode,
    /// The node rejecting the packet. For a Reject with an empty `triggeredBy`, see
    /// [`Reject::with_empty_triggered_by`].
    pub triggered_by: &'a Address,
    /// A human-readable message, at most [`MAX_MESSAGE_LEN`] bytes.
    pub message: &'a str,
    /// Data, at most [`MAX_DATA_LEN`] bytes.
    pub data: &'a [u8],
}

impl RejectBuilder<'_> {
    fn fields(&self) -> RejectFields<'_> {
        RejectFields {
            code: self.code,
            triggered_by: self.triggered_by.as_bytes(),
            message: self.message,
            data: self.data,
        }
    }

    /// The size of the encoded packet.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.fields().encoded_len()
    }

    /// Encodes the Reject into a new buffer. Fails only when `message` or `data` exceeds its
    /// bound.
    pub fn build(&self) -> Result<Reject, DecodeError> {
        self.fields().build()
    }

    /// Encodes the Reject, cutting an over-long `message` (at a character boundary) to
    /// [`MAX_MESSAGE_LEN`] bytes and `data` to [`MAX_DATA_LEN`] bytes. Never fails: for a node
    /// that must answer with a Reject whatever text it has.
    #[must_use]
    pub fn build_lossy(&self) -> Reject {
        let mut end = self.message.len().min(MAX_MESSAGE_LEN);
        while !self.message.is_char_boundary(end) {
            end -= 1;
        }
        RejectFields {
            message: &self.message[..end],
            data: &self.data[..self.data.len().min(MAX_DATA_LEN)],
            ..self.fields()
        }
        .build_unchecked()
    }

    /// Appends the encoded Reject to `buf` (which allocates nothing when `buf` has room).
    /// Fails only when `message` or `data` exceeds its bound; `buf` is then unchanged.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), DecodeError> {
        let fields = self.fields();
        fields.check()?;
        fields.write(buf);
        Ok(())
    }
}

/// The fields of a Reject as they go on the wire: `triggered_by` is a valid address or empty.
#[derive(Clone, Copy)]
struct RejectFields<'a> {
    code: ErrorCode,
    triggered_by: &'a [u8],
    message: &'a str,
    data: &'a [u8],
}

impl RejectFields<'_> {
    fn content_len(&self) -> usize {
        3 + oer::var_octets_len(self.triggered_by.len())
            + oer::var_octets_len(self.message.len())
            + oer::var_octets_len(self.data.len())
    }

    fn encoded_len(&self) -> usize {
        packet_len(self.content_len())
    }

    fn check(&self) -> Result<(), DecodeError> {
        check_len("message", self.message.len(), MAX_MESSAGE_LEN)?;
        check_len("data", self.data.len(), MAX_DATA_LEN)
    }

    fn build(&self) -> Result<Reject, DecodeError> {
        self.check()?;
        Ok(self.build_unchecked())
    }

    fn build_unchecked(&self) -> Reject {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        let [_, triggered_by_at, message_at, data_at] = self.write(&mut buf);
        Reject {
            buf: buf.freeze(),
            code: self.code,
            triggered_by_at,
            message_at,
            data_at,
        }
    }

    fn write(&self, buf: &mut BytesMut) -> [Range<usize>; 4] {
        let start = buf.len();
        let content = put_header(buf, PacketType::Reject, self.content_len());
        buf.put_slice(self.code.as_bytes());
        let by_at = put_octets(buf, self.triggered_by);
        let message_at = put_octets(buf, self.message.as_bytes());
        let data_at = put_octets(buf, self.data);
        [content, by_at, message_at, data_at].map(|r| r.start - start..r.end - start)
    }
}

// ---------------------------------------------------------------------------------------------
// Packet

/// Any ILP packet.
///
/// ```
/// use ilp_packet::{Packet, PacketType};
///
/// let bytes = bytes::Bytes::from_static(&[0x0d, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
///     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/// let packet = Packet::decode(bytes)?;
/// assert_eq!(packet.packet_type(), PacketType::Fulfill);
/// # Ok::<(), ilp_packet::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // Prepare is the common case; boxing it would cost an allocation
pub enum Packet {
    /// A Prepare.
    Prepare(Prepare),
    /// A Fulfill.
    Fulfill(Fulfill),
    /// A Reject.
    Reject(Reject),
}

impl Packet {
    /// Decodes whichever packet `buf` holds.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        let first = *buf.first().ok_or(DecodeError::UnexpectedEnd("type"))?;
        match PacketType::try_from(first)? {
            PacketType::Prepare => Prepare::decode(buf).map(Self::Prepare),
            PacketType::Fulfill => Fulfill::decode(buf).map(Self::Fulfill),
            PacketType::Reject => Reject::decode(buf).map(Self::Reject),
        }
    }

    /// Which kind of packet this is.
    #[must_use]
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Prepare(_) => PacketType::Prepare,
            Self::Fulfill(_) => PacketType::Fulfill,
            Self::Reject(_) => PacketType::Reject,
        }
    }

    /// The encoded packet as a slice.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Prepare(p) => p.as_bytes(),
            Self::Fulfill(p) => p.as_bytes(),
            Self::Reject(p) => p.as_bytes(),
        }
    }

    /// The encoded packet (shares the buffer; copies nothing).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Self::Prepare(p) => p.to_bytes(),
            Self::Fulfill(p) => p.to_bytes(),
            Self::Reject(p) => p.to_bytes(),
        }
    }

    /// Appends the packet's bytes to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.extend_from_slice(self.as_bytes());
    }

    /// The encoded size in bytes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.as_bytes().len()
    }
}

impl From<Prepare> for Packet {
    fn from(p: Prepare) -> Self {
        Self::Prepare(p)
    }
}

impl From<Fulfill> for Packet {
    fn from(p: Fulfill) -> Self {
        Self::Fulfill(p)
    }
}

impl From<Reject> for Packet {
    fn from(p: Reject) -> Self {
        Self::Reject(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_lengths_are_the_largest_built_packets() {
        let destination =
            Address::try_from(Bytes::from(format!("g.{}", "a".repeat(1021)))).unwrap();
        let data = vec![0xAB; MAX_DATA_LEN];
        let prepare = PrepareBuilder {
            amount: u64::MAX,
            expires_at: Timestamp::MAX,
            execution_condition: Condition::from_bytes([1; 32]),
            destination: &destination,
            data: &data,
        }
        .build()
        .unwrap();
        assert_eq!(prepare.as_bytes().len(), MAX_PREPARE_LEN);
        assert_eq!(MAX_PREPARE_LEN, 33_857);
        let fulfill = FulfillBuilder {
            fulfillment: Fulfillment::from_bytes([2; 32]),
            data: &data,
        }
        .build()
        .unwrap();
        assert_eq!(fulfill.as_bytes().len(), MAX_FULFILL_LEN);
        assert_eq!(MAX_FULFILL_LEN, 32_806);
        let message = "m".repeat(MAX_MESSAGE_LEN);
        let reject = RejectBuilder {
            code: ErrorCode::F99_APPLICATION_ERROR,
            triggered_by: &destination,
            message: &message,
            data: &data,
        }
        .build()
        .unwrap();
        assert_eq!(reject.as_bytes().len(), MAX_REJECT_LEN);
        assert_eq!(MAX_PACKET_LEN, 41_997);
    }

    fn prepare() -> Prepare {
        PrepareBuilder {
            amount: 107,
            expires_at: Timestamp::from_ilp_bytes(b"20171223012140549").unwrap(),
            execution_condition: Condition::from_bytes([9; 32]),
            destination: &Address::from_static("example.alice"),
            data: b"some data",
        }
        .build()
        .unwrap()
    }

    #[test]
    fn set_amount_patches_in_place_when_unique() {
        let mut p = Prepare::decode(Bytes::from(prepare().as_bytes().to_vec())).unwrap();
        let before = p.as_bytes().as_ptr();
        p.set_amount(5);
        p.set_expires_at(Timestamp::MAX);
        assert_eq!(
            p.as_bytes().as_ptr(),
            before,
            "unique buffer must be patched in place"
        );
        let again = Prepare::decode(p.to_bytes()).unwrap();
        assert_eq!((again.amount(), again.expires_at()), (5, Timestamp::MAX));
        assert_eq!(again.data(), b"some data");
        assert_eq!(again.destination(), "example.alice");
    }

    #[test]
    fn set_amount_copies_when_shared() {
        let original = prepare();
        let mut p = original.clone();
        p.set_amount(1);
        assert_eq!(original.amount(), 107);
        assert_eq!(Prepare::decode(original.to_bytes()).unwrap().amount(), 107);
        assert_eq!(Prepare::decode(p.to_bytes()).unwrap().amount(), 1);
        assert_eq!(p.destination(), original.destination());
    }

    #[test]
    fn decode_wrong_type_is_rejected() {
        let fulfill = FulfillBuilder {
            fulfillment: Fulfillment::from_bytes([0; 32]),
            data: b"",
        }
        .build()
        .unwrap();
        assert_eq!(
            Prepare::decode(fulfill.to_bytes()),
            Err(DecodeError::UnexpectedPacketType {
                expected: 12,
                found: 13
            })
        );
        assert_eq!(
            Packet::decode(Bytes::from_static(&[0x0f, 0x00])),
            Err(DecodeError::UnknownPacketType(15))
        );
        assert_eq!(
            Packet::decode(Bytes::new()),
            Err(DecodeError::UnexpectedEnd("type"))
        );
    }

    #[test]
    fn builders_encode_into_a_reused_buffer() {
        let dest = Address::from_static("g.connector");
        let mut buf = BytesMut::from(&b"frame header:"[..]);
        let p = PrepareBuilder {
            amount: 9,
            expires_at: Timestamp::MAX,
            execution_condition: Condition::from_bytes([3; 32]),
            destination: &dest,
            data: b"xyz",
        };
        p.encode(&mut buf).unwrap();
        let f = FulfillBuilder {
            fulfillment: Fulfillment::from_bytes([4; 32]),
            data: b"ok",
        };
        f.encode(&mut buf).unwrap();
        let r = RejectBuilder {
            code: ErrorCode::T04_INSUFFICIENT_LIQUIDITY,
            triggered_by: &dest,
            message: "busy",
            data: b"",
        };
        r.encode(&mut buf).unwrap();
        let mut expected = b"frame header:".to_vec();
        for (bytes, len) in [
            (p.build().unwrap().to_bytes(), p.encoded_len()),
            (f.build().unwrap().to_bytes(), f.encoded_len()),
            (r.build().unwrap().to_bytes(), r.encoded_len()),
        ] {
            assert_eq!(bytes.len(), len);
            expected.extend_from_slice(&bytes);
        }
        assert_eq!(&buf[..], &expected[..]);

        // A refused packet leaves the buffer as it was.
        let too_long = vec![0u8; MAX_DATA_LEN + 1];
        let before = buf.clone();
        assert!(FulfillBuilder {
            data: &too_long,
            ..f
        }
        .encode(&mut buf)
        .is_err());
        assert!(PrepareBuilder {
            data: &too_long,
            ..p
        }
        .encode(&mut buf)
        .is_err());
        assert!(RejectBuilder {
            data: &too_long,
            ..r
        }
        .encode(&mut buf)
        .is_err());
        assert_eq!(buf, before);
    }

    #[test]
    fn build_lossy_cuts_to_the_bounds() {
        let by = Address::from_static("g.node");
        let message = format!("{}é", "x".repeat(MAX_MESSAGE_LEN - 1));
        let data = vec![7u8; MAX_DATA_LEN + 5];
        let r = RejectBuilder {
            code: ErrorCode::T00_INTERNAL_ERROR,
            triggered_by: &by,
            message: &message,
            data: &data,
        }
        .build_lossy();
        assert_eq!(r.message(), &message[..MAX_MESSAGE_LEN - 1]);
        assert_eq!(r.data().len(), MAX_DATA_LEN);
        assert_eq!(Reject::decode(r.to_bytes()), Ok(r.clone()));
        let short = RejectBuilder {
            code: ErrorCode::T00_INTERNAL_ERROR,
            triggered_by: &by,
            message: "m",
            data: b"d",
        };
        assert_eq!(short.build_lossy(), short.build().unwrap());
    }

    #[test]
    fn builders_refuse_oversized_fields() {
        let data = vec![0u8; MAX_DATA_LEN + 1];
        let dest = Address::from_static("g.a");
        let built = PrepareBuilder {
            amount: 0,
            expires_at: Timestamp::MIN,
            execution_condition: Condition::from_bytes([0; 32]),
            destination: &dest,
            data: &data,
        }
        .build();
        assert_eq!(
            built,
            Err(DecodeError::TooLong {
                field: "data",
                len: 32_768,
                max: 32_767
            })
        );
        let message = "x".repeat(MAX_MESSAGE_LEN + 1);
        let built = RejectBuilder {
            code: ErrorCode::F00_BAD_REQUEST,
            triggered_by: &dest,
            message: &message,
            data: b"",
        }
        .build();
        assert_eq!(
            built,
            Err(DecodeError::TooLong {
                field: "message",
                len: 8192,
                max: 8191
            })
        );
        let built = FulfillBuilder {
            fulfillment: Fulfillment::from_bytes([0; 32]),
            data: &data,
        }
        .build();
        assert_eq!(
            built,
            Err(DecodeError::TooLong {
                field: "data",
                len: 32_768,
                max: 32_767
            })
        );
    }

    #[test]
    fn debug_shows_fields_and_shortens_data() {
        let text = format!("{:?}", prepare());
        assert!(
            text.contains("amount: 107") && text.contains("example.alice"),
            "{text}"
        );
        let big = PrepareBuilder {
            amount: 1,
            expires_at: Timestamp::MIN,
            execution_condition: Condition::from_bytes([0; 32]),
            destination: &Address::from_static("g.a"),
            data: &[0xab; 100],
        }
        .build()
        .unwrap();
        assert!(format!("{big:?}").contains("(100 bytes)"));
    }
}
