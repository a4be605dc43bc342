//! BTP 2.0 frames: `type UInt8 · requestId UInt32 · content VarOctetString`.

use bytes::{BufMut, Bytes, BytesMut};
use ilp_packet::oer::{self, Reader};
use ilp_packet::{Fulfill, Prepare, Reject, Timestamp};

use crate::protocol_data::{ContentType, ProtocolData, ProtocolEntry};
use crate::{time, DecodeError, ErrorCode};

/// The largest frame this crate reads or writes, in bytes (64 KiB). The largest ILP packet (a
/// Reject with maximal fields, 41 997 bytes) fits with room for the envelope, side entries and
/// an Error frame's 8 KiB `data`. Larger inputs are refused before anything is parsed.
pub const MAX_FRAME_LEN: usize = 65_536;

/// The largest `data` of an Error frame (the ASN.1 bound, `OCTET STRING (SIZE (0..8192))`).
pub const MAX_ERROR_DATA_LEN: usize = 8_192;

/// The name of the ProtocolData entry that carries an ILP packet.
pub const ILP: &str = "ilp";

/// The type byte that opens every BTP 2.0 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// 1: the successful answer to a Message or Transfer.
    Response = 1,
    /// 2: the failed answer to a Message or Transfer.
    Error = 2,
    /// 6: a request carrying data (ILP packets, authentication, settlement messages).
    Message = 6,
    /// 7: a request that moves `amount` (in units agreed out of band).
    Transfer = 7,
}

impl TryFrom<u8> for FrameType {
    type Error = DecodeError;

    fn try_from(byte: u8) -> Result<Self, DecodeError> {
        match byte {
            1 => Ok(Self::Response),
            2 => Ok(Self::Error),
            6 => Ok(Self::Message),
            7 => Ok(Self::Transfer),
            3..=5 => Err(DecodeError::LegacyFrameType(byte)),
            other => Err(DecodeError::UnknownFrameType(other)),
        }
    }
}

/// The content of a BTP Error frame: why a Message or Transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorBody {
    code: ErrorCode,
    name: Bytes,
    triggered_at: Timestamp,
    data: Bytes,
    protocol_data: ProtocolData,
}

impl ErrorBody {
    /// An Error body. Fails with [`DecodeError::NotAscii`] (`name`) when the name is not IA5,
    /// or [`DecodeError::TooLong`] (`data`) past [`MAX_ERROR_DATA_LEN`].
    pub fn new(
        code: ErrorCode,
        name: impl Into<Bytes>,
        triggered_at: Timestamp,
        data: impl Into<Bytes>,
        protocol_data: ProtocolData,
    ) -> Result<Self, DecodeError> {
        let (name, data) = (name.into(), data.into());
        DecodeError::check_ascii("name", &name)?;
        DecodeError::check_len("data", data.len(), MAX_ERROR_DATA_LEN)?;
        Ok(Self {
            code,
            name,
            triggered_at,
            data,
            protocol_data,
        })
    }

    /// The error code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error name (by convention the RFC 0023 name of the code, such as `NotAcceptedError`).
    #[must_use]
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).expect("ASCII is checked on construction")
    }

    /// When the error happened. A leap second on the wire (`…235960…`) reads as the first
    /// second of the next day.
    #[must_use]
    pub const fn triggered_at(&self) -> Timestamp {
        self.triggered_at
    }

    /// Details; both references write UTF-8 text here (the JavaScript one a JSON object).
    #[must_use]
    pub const fn data(&self) -> &Bytes {
        &self.data
    }

    /// Side data.
    #[must_use]
    pub const fn protocol_data(&self) -> &ProtocolData {
        &self.protocol_data
    }

    fn content_len(&self) -> usize {
        3 + oer::var_octets_len(self.name.len())
            + oer::var_octets_len(time::ENCODED_LEN)
            + oer::var_octets_len(self.data.len())
            + self.protocol_data.encoded_len()
    }
}

/// What a frame carries, by type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Body {
    /// 1: a successful answer.
    Response(ProtocolData),
    /// 2: a failed answer.
    Error(ErrorBody),
    /// 6: a request.
    Message(ProtocolData),
    /// 7: a request that moves money.
    Transfer {
        /// The amount, in units agreed out of band.
        amount: u64,
        /// Side data.
        protocol_data: ProtocolData,
    },
}

impl Body {
    /// The frame type that carries this body.
    #[must_use]
    pub const fn frame_type(&self) -> FrameType {
        match self {
            Self::Response(_) => FrameType::Response,
            Self::Error(_) => FrameType::Error,
            Self::Message(_) => FrameType::Message,
            Self::Transfer { .. } => FrameType::Transfer,
        }
    }

    /// The ProtocolData (every type has one).
    #[must_use]
    pub const fn protocol_data(&self) -> &ProtocolData {
        match self {
            Self::Response(p) | Self::Message(p) => p,
            Self::Error(e) => &e.protocol_data,
            Self::Transfer { protocol_data, .. } => protocol_data,
        }
    }

    fn content_len(&self) -> usize {
        match self {
            Self::Response(p) | Self::Message(p) => p.encoded_len(),
            Self::Error(e) => e.content_len(),
            Self::Transfer { protocol_data, .. } => 8 + protocol_data.encoded_len(),
        }
    }

    fn write_content(&self, buf: &mut impl BufMut) {
        match self {
            Self::Response(p) | Self::Message(p) => p.write(buf),
            Self::Error(e) => {
                buf.put_slice(e.code.as_bytes());
                oer::put_var_octets(buf, &e.name);
                oer::put_var_octets(buf, &time::format(e.triggered_at));
                oer::put_var_octets(buf, &e.data);
                e.protocol_data.write(buf);
            }
            Self::Transfer {
                amount,
                protocol_data,
            } => {
                buf.put_u64(*amount);
                protocol_data.write(buf);
            }
        }
    }
}

/// A BTP 2.0 frame: its request id, its [`Body`] and its wire bytes.
///
/// A frame always holds its encoding: a decoded frame keeps the input (trailing bytes included,
/// so [`Frame::to_bytes`] gives the input back), a built frame is encoded once by
/// [`Frame::new`]. Entries of a decoded frame are views of its buffer.
///
/// ```
/// use ilp_btp::{Frame, FrameType};
///
/// let frame = Frame::decode(bytes::Bytes::from_static(b"\x01\x12\x34\x56\x78\x02\x01\x00"))?;
/// assert_eq!(frame.frame_type(), FrameType::Response);
/// assert_eq!(frame.request_id(), 0x1234_5678);
/// assert!(frame.protocol_data().is_empty());
/// assert_eq!(frame, Frame::empty_response(0x1234_5678));
/// # Ok::<(), ilp_btp::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    buf: Bytes,
    request_id: u32,
    body: Body,
}

impl Frame {
    /// Decodes a frame. Bytes after the ProtocolData, inside or after the envelope, are
    /// accepted and kept (RFC 0030: receivers MUST ignore them).
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        DecodeError::check_len("frame", buf.len(), MAX_FRAME_LEN)?;
        let mut r = Reader::new(&buf);
        let frame_type = FrameType::try_from(r.read_u8("type")?)?;
        let request_id = r.read_u32("requestId")?;
        let mut c = Reader::new(r.read_var_octets("content")?);
        let body = match frame_type {
            FrameType::Response => Body::Response(ProtocolData::read(&buf, &mut c)?),
            FrameType::Message => Body::Message(ProtocolData::read(&buf, &mut c)?),
            FrameType::Transfer => Body::Transfer {
                amount: c.read_u64("amount")?,
                protocol_data: ProtocolData::read(&buf, &mut c)?,
            },
            FrameType::Error => {
                let code = ErrorCode::new(c.read_array("code")?)?;
                let name = c.read_var_octets("name")?;
                DecodeError::check_ascii("name", name)?;
                let triggered_at = time::parse(c.read_var_octets("triggeredAt")?)
                    .map_err(DecodeError::InvalidTriggeredAt)?;
                let data = c.read_var_octets("data")?;
                DecodeError::check_len("data", data.len(), MAX_ERROR_DATA_LEN)?;
                Body::Error(ErrorBody {
                    code,
                    name: buf.slice_ref(name),
                    triggered_at,
                    data: buf.slice_ref(data),
                    protocol_data: ProtocolData::read(&buf, &mut c)?,
                })
            }
        };
        Ok(Self {
            buf,
            request_id,
            body,
        })
    }

    /// Encodes a frame into a new buffer, reserved once. Fails only with
    /// [`DecodeError::TooLong`] (`frame`) past [`MAX_FRAME_LEN`].
    pub fn new(request_id: u32, body: Body) -> Result<Self, DecodeError> {
        let content_len = body.content_len();
        let len = 5 + oer::var_octets_len(content_len);
        DecodeError::check_len("frame", len, MAX_FRAME_LEN)?;
        let mut buf = BytesMut::with_capacity(len);
        buf.put_u8(body.frame_type() as u8);
        buf.put_u32(request_id);
        oer::put_length(&mut buf, content_len);
        body.write_content(&mut buf);
        debug_assert_eq!(buf.len(), len);
        Ok(Self {
            buf: buf.freeze(),
            request_id,
            body,
        })
    }

    /// The authentication Message as ilp-plugin-btp sends it: `auth` (octet-stream, empty,
    /// primary), `auth_username` (text, may be empty) and `auth_token` (text). Fails only past
    /// [`MAX_FRAME_LEN`].
    pub fn auth(request_id: u32, username: &str, token: &str) -> Result<Self, DecodeError> {
        let entries = vec![
            ProtocolEntry::from_static("auth", ContentType::OCTET_STREAM, Bytes::new()),
            ProtocolEntry::from_static(
                "auth_username",
                ContentType::TEXT_PLAIN_UTF8,
                Bytes::copy_from_slice(username.as_bytes()),
            ),
            ProtocolEntry::from_static(
                "auth_token",
                ContentType::TEXT_PLAIN_UTF8,
                Bytes::copy_from_slice(token.as_bytes()),
            ),
        ];
        Self::new(request_id, Body::Message(entries.into()))
    }

    /// A Message carrying a Prepare in its `ilp` entry (octet-stream). The Prepare's bytes are
    /// copied once, into the frame's buffer; it is not encoded again. Fails only past
    /// [`MAX_FRAME_LEN`] (a Prepare with many trailing bytes).
    pub fn ilp_message(request_id: u32, prepare: &Prepare) -> Result<Self, DecodeError> {
        Self::new(request_id, Body::Message(ilp_entry(prepare.to_bytes())))
    }

    /// A Response carrying a Fulfill or Reject in its `ilp` entry (an ILP Reject is a BTP
    /// Response too, not a BTP Error). Copies the packet's bytes once. Fails only past
    /// [`MAX_FRAME_LEN`].
    pub fn ilp_response(
        request_id: u32,
        reply: Result<&Fulfill, &Reject>,
    ) -> Result<Self, DecodeError> {
        let packet = match reply {
            Ok(fulfill) => fulfill.to_bytes(),
            Err(reject) => reject.to_bytes(),
        };
        Self::new(request_id, Body::Response(ilp_entry(packet)))
    }

    /// A Response with no entries (`01 id 02 01 00`): authentication succeeded, or a Message
    /// needed no answer.
    #[must_use]
    pub fn empty_response(request_id: u32) -> Self {
        Self::new(request_id, Body::Response(ProtocolData::new())).expect("an empty Response fits")
    }

    /// An Error `F00 NotAcceptedError` with `reason` as its data and no entries, as the
    /// JavaScript reference answers a refused authentication (`invalid auth_token`). The reason
    /// is truncated to [`MAX_ERROR_DATA_LEN`] bytes (at a character boundary).
    #[must_use]
    pub fn not_accepted(request_id: u32, reason: &str, triggered_at: Timestamp) -> Self {
        let mut end = reason.len().min(MAX_ERROR_DATA_LEN);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let body = ErrorBody {
            code: ErrorCode::F00_NOT_ACCEPTED,
            name: Bytes::from_static(b"NotAcceptedError"),
            triggered_at,
            data: Bytes::copy_from_slice(&reason.as_bytes()[..end]),
            protocol_data: ProtocolData::new(),
        };
        Self::new(request_id, Body::Error(body)).expect("an Error with bounded data fits")
    }

    /// The request id that pairs a request with its answer.
    #[must_use]
    pub const fn request_id(&self) -> u32 {
        self.request_id
    }

    /// The frame type.
    #[must_use]
    pub const fn frame_type(&self) -> FrameType {
        self.body.frame_type()
    }

    /// The body.
    #[must_use]
    pub const fn body(&self) -> &Body {
        &self.body
    }

    /// The body, dropping the buffer.
    #[must_use]
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The ProtocolData (every frame type has one).
    #[must_use]
    pub const fn protocol_data(&self) -> &ProtocolData {
        self.body.protocol_data()
    }

    /// The bytes of the `ilp` entry, to decode with `ilp_packet::Packet::decode` (zero-copy:
    /// cloning the `Bytes` copies nothing). Looked up by name in any frame type: the entry need
    /// not be primary, and interledger-rs sends Prepares in Responses (WIRE §4.4).
    #[must_use]
    pub fn ilp(&self) -> Option<&Bytes> {
        self.protocol_data().get(ILP).map(ProtocolEntry::data)
    }

    /// The `auth_token` of an authentication Message (a Message whose primary entry is
    /// `auth`); `None` for any other frame, when the entry is missing, or when it is not UTF-8.
    #[must_use]
    pub fn auth_token(&self) -> Option<&str> {
        self.auth_entry("auth_token")
    }

    /// The `auth_username` of an authentication Message, as [`Frame::auth_token`]. RFC 0023
    /// dropped this entry in 2018; the JavaScript client still sends it (often empty).
    #[must_use]
    pub fn auth_username(&self) -> Option<&str> {
        self.auth_entry("auth_username")
    }

    fn auth_entry(&self, name: &str) -> Option<&str> {
        let Body::Message(p) = &self.body else {
            return None;
        };
        if p.primary()?.name() != "auth" {
            return None;
        }
        p.get(name)?.as_str()
    }

    /// Appends the frame's bytes to `buf` (a reused buffer).
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.extend_from_slice(&self.buf);
    }

    /// The encoded size in bytes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// The encoded frame (shares the buffer; copies nothing).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        self.buf.clone()
    }

    /// The encoded frame.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.buf
    }

    /// The encoded frame as a slice.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

fn ilp_entry(packet: Bytes) -> ProtocolData {
    vec![ProtocolEntry::from_static(
        ILP,
        ContentType::OCTET_STREAM,
        packet,
    )]
    .into()
}
