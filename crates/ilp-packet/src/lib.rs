//! A strict, zero-copy codec for Interledger v4 packets.
//!
//! This crate reads and writes everything that travels inside ILP:
//! [`Prepare`], [`Fulfill`] and [`Reject`] packets ([RFC 0027]), their canonical OER encoding
//! ([`oer`], [RFC 0030]), ILP [`Address`]es ([RFC 0015]), [`ErrorCode`]s, the fixed-length
//! [`Timestamp`], [`Condition`]s and [`Fulfillment`]s, IL-DCP messages ([`ildcp`], [RFC 0031])
//! and CCP route broadcasts ([`ccp`]). It has no I/O and no `unsafe` code, and it never panics
//! on any input. Nothing in it reads the clock except [`Timestamp::now`], a convenience for
//! callers that want the system time: every decoder, builder and check takes the time it needs
//! as an argument (expiry is the caller's check), so sans-IO code and tests pass their own. It is byte-for-byte compatible with the JavaScript reference
//! (npm `ilp-packet`, `ilp-protocol-ildcp`, `ilp-protocol-ccp`).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use ilp_packet::{Address, Fulfillment, Packet, PrepareBuilder, Timestamp};
//!
//! // The receiver's secret preimage, and the condition the sender locks the payment with.
//! let fulfillment = Fulfillment::from_bytes([42; 32]);
//! let prepare = PrepareBuilder {
//!     amount: 1_000,
//!     expires_at: "2030-01-01T00:00:30.000Z".parse()?,
//!     execution_condition: fulfillment.condition(),
//!     destination: &Address::from_static("g.bob.wallet"),
//!     data: b"invoice 17",
//! }
//! .build()?;
//!
//! // On the wire and back: decoding copies no payload.
//! let wire: Bytes = prepare.to_bytes();
//! let Packet::Prepare(mut received) = Packet::decode(wire)? else { unreachable!() };
//! assert_eq!(received.destination().as_str(), "g.bob.wallet");
//! assert_eq!(&received.data()[..], b"invoice 17");
//! assert!(fulfillment.fulfills(&received.execution_condition()));
//!
//! // A connector takes its cut and a safety margin, rewriting the fixed fields in place.
//! received.set_amount(990);
//! received.set_expires_at("2030-01-01T00:00:29.000Z".parse::<Timestamp>()?);
//! assert_eq!(received.amount(), 990);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Strictness, and where the references disagree
//!
//! The RFCs are strict; the JavaScript reference and interledger-rs are each lenient in
//! different places. This crate decodes strictly, with one tolerance the RFC demands:
//!
//! - **Lengths and integers** must be canonical: a long-form length under 128, a long form with
//!   a leading zero byte, a length-of-length of 0 or over 8, a VarUInt of length 0, over 8 or
//!   with a leading zero byte are all refused ([`DecodeError`] names which).
//! - **Extra bytes after the last field**, inside the envelope or after it, are accepted and
//!   kept in the packet's buffer (RFC 0030: receivers MUST ignore them), so a forwarded packet
//!   leaves byte for byte as it came.
//! - **Timestamps** are 17 ASCII digits with every field range-checked: month 13, February 30,
//!   hour 24, second 60 (leap seconds must be smeared), spaces and signs are refused. The
//!   JavaScript reference rolls such dates over instead.
//! - **Addresses** must match RFC 0015 (scheme allow-list, segment characters, 1 to 1023 bytes),
//!   checked by hand, without a regex.
//! - **Reject `triggeredBy`** may be empty (the JavaScript reference and interledger-rs send
//!   that when a plugin or the sender rejects): it decodes as `None`, and
//!   [`Reject::with_empty_triggered_by`] builds it, so every packet that decodes can be built
//!   again byte for byte.
//! - **Reject codes** must be IA5 (ASCII); codes not in RFC 0027 are accepted. Parsed from text
//!   they must be exactly three characters. The **message**
//!   must be UTF-8.
//! - **Field bounds** from the ASN.1 are enforced on input and on build: `data` at most
//!   [`MAX_DATA_LEN`] (32767) bytes, `message` at most [`MAX_MESSAGE_LEN`] (8191). Neither
//!   reference checks them.
//! - **IL-DCP** responses must carry the zero fulfillment (as the JavaScript reference checks);
//!   **CCP** control modes other than idle/sync and update speakers that are not valid
//!   addresses are refused (as interledger-rs does).
//!
//! Every decode error maps to the ILP code `F01 Invalid Packet` through
//! [`DecodeError::reject_code`]. Decoding allocates nothing for ILP packets, and at most a
//! constant factor of the input's size for IL-DCP and CCP messages.
//!
//! # Features
//!
//! - `serde`: the JSON form of packets, IL-DCP and CCP messages used by `ilp-inspect`
//!   (camelCase fields, decimal-string amounts, lower-case hex bytes). Deserializing runs the
//!   builders; its errors name the JSON field (`data has an odd number of hex digits (3)`).
//!   [`hex`] is the hex codec it uses.
//!
//! [RFC 0015]: https://interledger.org/rfcs/0015-ilp-addresses/
//! [RFC 0027]: https://interledger.org/rfcs/0027-interledger-protocol-4/
//! [RFC 0030]: https://interledger.org/rfcs/0030-notes-on-oer-encoding/
//! [RFC 0031]: https://interledger.org/rfcs/0031-dynamic-configuration-protocol/

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

/// Serde through `Display` and `FromStr`, for the validated text types (feature `serde`).
macro_rules! serde_via_str {
    ($ty:ty) => {
        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

mod address;
pub mod ccp;
mod condition;
mod error;
mod error_code;
pub mod hex;
pub mod ildcp;
mod message;
pub mod oer;
mod packet;
#[cfg(feature = "serde")]
mod packet_serde;
#[cfg(feature = "serde")]
mod serde_hex;
mod timestamp;

pub use address::{Address, SCHEMES};
pub use condition::{Condition, Fulfillment};
pub use error::{AddressError, DecodeError, TimestampError};
pub use error_code::{AmountTooLarge, ErrorClass, ErrorCode};
pub use message::{Expiring, Message, MessageKind, ParseMessageKindError};
pub use packet::{
    Fulfill, FulfillBuilder, Packet, PacketType, Prepare, PrepareBuilder, Reject, RejectBuilder,
    MAX_DATA_LEN, MAX_FULFILL_LEN, MAX_MESSAGE_LEN, MAX_PACKET_LEN, MAX_PREPARE_LEN,
    MAX_REJECT_LEN,
};
pub use timestamp::Timestamp;

/// `Result` with this crate's [`DecodeError`].
pub type Result<T, E = DecodeError> = std::result::Result<T, E>;
