//! IL-DCP, the Interledger Dynamic Configuration Protocol (RFC 0031): a child asks its parent
//! for its ILP address and asset.
//!
//! The request is a Prepare to [`DESTINATION`] (`peer.config`) with amount 0 and the
//! [`Condition::PEER_PROTOCOL`] condition. The response is a Fulfill with the
//! [`Fulfillment::PEER_PROTOCOL`] (32 zero bytes) fulfillment whose data holds the client
//! address, asset scale and asset code.
//!
//! Decoding is strict where the JavaScript reference is: a response whose fulfillment is not
//! zero is refused (interledger-rs does not check it). Expiry is not checked here: decoding
//! never reads the clock.
//!
//! ```
//! use ilp_packet::{ildcp, Address, Timestamp};
//!
//! let request = ildcp::Request { expires_at: Timestamp::MAX }.to_prepare();
//! assert_eq!(request.destination(), ildcp::DESTINATION);
//! assert!(ildcp::Request::from_prepare(&request).is_ok());
//!
//! let response = ildcp::Response {
//!     client_address: Address::from_static("example.client"),
//!     asset_scale: 9,
//!     asset_code: "XRP".into(),
//! };
//! let fulfill = response.to_fulfill()?;
//! assert_eq!(ildcp::Response::from_fulfill(&fulfill)?, response);
//! # Ok::<(), ilp_packet::DecodeError>(())
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::address::Address;
use crate::oer::{self, Reader};
use crate::packet::{Fulfill, FulfillBuilder, Packet, Prepare, PrepareBuilder};
use crate::{Condition, DecodeError, Fulfillment, Timestamp};

/// The address IL-DCP requests are sent to.
pub const DESTINATION: &str = "peer.config";

/// An IL-DCP request. It carries nothing but its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Request {
    /// When the request expires (clients use now + 60 s).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_hex::expires_at")
    )]
    pub expires_at: Timestamp,
}

impl Request {
    /// Reads a request out of a Prepare: the destination must be `peer.config` and the condition
    /// [`Condition::PEER_PROTOCOL`]. The amount and data are not looked at (as in both
    /// references).
    pub fn from_prepare(prepare: &Prepare) -> Result<Self, DecodeError> {
        if prepare.destination() != DESTINATION {
            return Err(DecodeError::UnexpectedValue("destination"));
        }
        if prepare.execution_condition() != Condition::PEER_PROTOCOL {
            return Err(DecodeError::UnexpectedValue("executionCondition"));
        }
        Ok(Self {
            expires_at: prepare.expires_at(),
        })
    }

    /// Decodes an ILP packet holding a request.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        Self::from_prepare(&Prepare::decode(buf)?)
    }

    /// The request as a Prepare: amount 0, no data.
    #[must_use]
    pub fn to_prepare(&self) -> Prepare {
        PrepareBuilder {
            amount: 0,
            expires_at: self.expires_at,
            execution_condition: Condition::PEER_PROTOCOL,
            destination: &Address::from_static(DESTINATION),
            data: &[],
        }
        .build_unchecked()
    }
}

/// Builds a peer-protocol Prepare (amount 0, the fixed condition) to a `peer.*` address.
/// Fails only when `data` is longer than 32767 bytes.
pub(crate) fn peer_prepare(
    destination: &'static str,
    expires_at: Timestamp,
    data: &[u8],
) -> Result<Prepare, DecodeError> {
    PrepareBuilder {
        amount: 0,
        expires_at,
        execution_condition: Condition::PEER_PROTOCOL,
        destination: &Address::from_static(destination),
        data,
    }
    .build()
}

/// An IL-DCP response: what the parent tells the child about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Response {
    /// The child's ILP address.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_hex::client_address")
    )]
    pub client_address: Address,
    /// The asset scale of the link (amounts are in units of 10^-scale).
    pub asset_scale: u8,
    /// The asset code (UTF-8, for example `USD` or `XRP`).
    pub asset_code: String,
}

impl Response {
    /// Reads a response out of a Fulfill: the fulfillment must be 32 zero bytes and the data a
    /// valid response. Bytes after the asset code are ignored (RFC 0030).
    pub fn from_fulfill(fulfill: &Fulfill) -> Result<Self, DecodeError> {
        if fulfill.fulfillment() != Fulfillment::PEER_PROTOCOL {
            return Err(DecodeError::UnexpectedValue("fulfillment"));
        }
        Self::decode_data(&fulfill.data_bytes())
    }

    /// Decodes an ILP packet holding a response.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        Self::from_fulfill(&Fulfill::decode(buf)?)
    }

    /// Decodes the data of a response Fulfill (shares `data`'s buffer for the address).
    pub fn decode_data(data: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let address = r.read_var_octets("clientAddress")?;
        let client_address =
            Address::try_from(data.slice_ref(address)).map_err(|e| ("clientAddress", e))?;
        let asset_scale = r.read_u8("assetScale")?;
        let code = r.read_var_octets("assetCode")?;
        let asset_code =
            std::str::from_utf8(code).map_err(|_| DecodeError::InvalidUtf8("assetCode"))?;
        Ok(Self {
            client_address,
            asset_scale,
            asset_code: asset_code.to_owned(),
        })
    }

    /// The encoded size of the response data.
    #[must_use]
    pub fn data_len(&self) -> usize {
        oer::var_octets_len(self.client_address.len())
            + 1
            + oer::var_octets_len(self.asset_code.len())
    }

    /// Writes the response data.
    pub fn encode_data(&self, buf: &mut impl BufMut) {
        oer::put_var_octets(buf, self.client_address.as_bytes());
        buf.put_u8(self.asset_scale);
        oer::put_var_octets(buf, self.asset_code.as_bytes());
    }

    /// The response as a Fulfill. Fails only when the asset code is so long that the data
    /// exceeds 32767 bytes.
    pub fn to_fulfill(&self) -> Result<Fulfill, DecodeError> {
        let mut data = BytesMut::with_capacity(self.data_len());
        self.encode_data(&mut data);
        FulfillBuilder {
            fulfillment: Fulfillment::PEER_PROTOCOL,
            data: &data,
        }
        .build()
    }
}

/// Whether `packet` is an IL-DCP request (a Prepare to `peer.config`).
#[must_use]
pub fn is_request(packet: &Packet) -> bool {
    matches!(packet, Packet::Prepare(p) if p.destination() == DESTINATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_request_with_wrong_condition_is_rejected() {
        let dest = Address::from_static(DESTINATION);
        let p = PrepareBuilder {
            amount: 0,
            expires_at: Timestamp::MAX,
            execution_condition: Condition::from_bytes([1; 32]),
            destination: &dest,
            data: b"",
        }
        .build()
        .unwrap();
        assert_eq!(
            Request::from_prepare(&p),
            Err(DecodeError::UnexpectedValue("executionCondition"))
        );
        assert!(is_request(&Packet::Prepare(p)));
    }

    #[test]
    fn decode_response_with_bad_fields_is_rejected() {
        let bad_utf8 = Bytes::from_static(b"\x03g.a\x02\x01\xff");
        assert_eq!(
            Response::decode_data(&bad_utf8),
            Err(DecodeError::InvalidUtf8("assetCode"))
        );
        let missing_code = Bytes::from_static(b"\x03g.a\x02");
        assert_eq!(
            Response::decode_data(&missing_code),
            Err(DecodeError::UnexpectedEnd("assetCode"))
        );
        let f = FulfillBuilder {
            fulfillment: Fulfillment::from_bytes([1; 32]),
            data: b"\x03g.a\x02\x00",
        }
        .build()
        .unwrap();
        assert_eq!(
            Response::from_fulfill(&f),
            Err(DecodeError::UnexpectedValue("fulfillment"))
        );
    }
}
