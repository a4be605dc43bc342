//! Any message this crate decodes, for tools that inspect traffic (`ilp-inspect`).

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::packet::{Packet, PacketType, Prepare};
use crate::{ccp, ildcp, DecodeError, Timestamp};

/// How to read a buffer that holds an ILP packet: as a plain packet or as a peer protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// `ilp`: any Prepare, Fulfill or Reject.
    Ilp,
    /// `ildcp`: an IL-DCP request (Prepare), response (Fulfill) or refusal (Reject).
    Ildcp,
    /// `ccp-control`: a CCP route control request.
    CcpControl,
    /// `ccp-update`: a CCP route update request.
    CcpUpdate,
}

/// The error of parsing a [`MessageKind`]: the text is none of `ilp`, `ildcp`, `ccp-control`,
/// `ccp-update` (in any case). Use one of those.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message kind {0:?} (expected ilp, ildcp, ccp-control or ccp-update)")]
#[non_exhaustive]
pub struct ParseMessageKindError(String);

impl ParseMessageKindError {
    /// The text that was not a kind.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.0
    }
}

impl FromStr for MessageKind {
    type Err = ParseMessageKindError;

    /// Parses a kind by its name, ignoring ASCII case (`ilp`, `ILP` and `Ilp` are the same).
    ///
    /// ```
    /// use ilp_packet::MessageKind;
    ///
    /// assert_eq!("CCP-Control".parse(), Ok(MessageKind::CcpControl));
    /// assert!("btp".parse::<MessageKind>().is_err()); // BTP frames are ilp-btp's
    /// ```
    fn from_str(s: &str) -> Result<Self, ParseMessageKindError> {
        [Self::Ilp, Self::Ildcp, Self::CcpControl, Self::CcpUpdate]
            .into_iter()
            .find(|kind| kind.to_string().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseMessageKindError(s.to_owned()))
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ilp => "ilp",
            Self::Ildcp => "ildcp",
            Self::CcpControl => "ccp-control",
            Self::CcpUpdate => "ccp-update",
        })
    }
}

/// A decoded message of any kind this crate knows.
///
/// With the `serde` feature its JSON form carries a `type`: `prepare`, `fulfill` and `reject`
/// as for [`Packet`], and `ildcp-request`, `ildcp-response`, `ccp-control`, `ccp-update` with
/// the message's fields (CCP messages also carry the Prepare's `expiresAt`).
///
/// ```
/// use ilp_packet::{ildcp, Address, Message, MessageKind};
///
/// let response = ildcp::Response {
///     client_address: Address::from_static("test.parent.child"),
///     asset_scale: 2,
///     asset_code: "USD".into(),
/// };
/// let wire = response.to_fulfill()?.to_bytes();
/// let message = Message::decode_as(MessageKind::Ildcp, wire.clone())?;
/// assert_eq!(message, Message::IldcpResponse(response));
/// assert_eq!(message.to_bytes()?, wire);
/// # Ok::<(), ilp_packet::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
// Deserialize is written by hand in `packet_serde`, for precise errors.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "kebab-case"))]
#[non_exhaustive]
pub enum Message {
    /// An IL-DCP request.
    IldcpRequest(ildcp::Request),
    /// An IL-DCP response.
    IldcpResponse(ildcp::Response),
    /// A CCP route control request and the expiry of the Prepare that carries it.
    CcpControl(Expiring<ccp::RouteControlRequest>),
    /// A CCP route update request and the expiry of the Prepare that carries it.
    CcpUpdate(Expiring<ccp::RouteUpdateRequest>),
    /// A plain ILP packet (also an IL-DCP refusal, which is a Reject).
    #[cfg_attr(feature = "serde", serde(untagged))]
    Packet(Packet),
}

/// A peer-protocol request with the expiry of the Prepare that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Expiring<T> {
    /// When the Prepare expires.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_hex::expires_at")
    )]
    pub expires_at: Timestamp,
    /// The request.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub request: T,
}

impl Message {
    /// Decodes `buf` as the given kind.
    pub fn decode_as(kind: MessageKind, buf: Bytes) -> Result<Self, DecodeError> {
        let packet = Packet::decode(buf)?;
        let prepare = |p: &Packet| match p {
            Packet::Prepare(p) => Ok(p.clone()),
            other => Err(DecodeError::UnexpectedPacketType {
                expected: PacketType::Prepare as u8,
                found: other.packet_type() as u8,
            }),
        };
        Ok(match kind {
            MessageKind::Ilp => Self::Packet(packet),
            MessageKind::Ildcp => match &packet {
                Packet::Prepare(p) => Self::IldcpRequest(ildcp::Request::from_prepare(p)?),
                Packet::Fulfill(f) => Self::IldcpResponse(ildcp::Response::from_fulfill(f)?),
                Packet::Reject(_) => Self::Packet(packet),
            },
            MessageKind::CcpControl => {
                let p: Prepare = prepare(&packet)?;
                let request = ccp::RouteControlRequest::from_prepare(&p)?;
                Self::CcpControl(Expiring {
                    expires_at: p.expires_at(),
                    request,
                })
            }
            MessageKind::CcpUpdate => {
                let p: Prepare = prepare(&packet)?;
                let request = ccp::RouteUpdateRequest::from_prepare(&p)?;
                Self::CcpUpdate(Expiring {
                    expires_at: p.expires_at(),
                    request,
                })
            }
        })
    }

    /// Encodes the message as an ILP packet. Fails only when a peer-protocol payload exceeds
    /// 32767 bytes.
    pub fn to_bytes(&self) -> Result<Bytes, DecodeError> {
        Ok(match self {
            Self::Packet(p) => p.to_bytes(),
            Self::IldcpRequest(r) => r.to_prepare().into_bytes(),
            Self::IldcpResponse(r) => r.to_fulfill()?.into_bytes(),
            Self::CcpControl(c) => c.request.to_prepare(c.expires_at)?.into_bytes(),
            Self::CcpUpdate(c) => c.request.to_prepare(c.expires_at)?.into_bytes(),
        })
    }
}
