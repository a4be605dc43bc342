//! The JSON form of ILP packets (feature `serde`), as `ilp-inspect` prints it:
//!
//! ```json
//! {"type":"prepare","amount":"107","expiresAt":"2017-12-23T01:21:40.549Z",
//!  "executionCondition":"<hex>","destination":"example.alice","data":"<hex>"}
//! {"type":"fulfill","fulfillment":"<hex>","data":"<hex>"}
//! {"type":"reject","code":"F02","triggeredBy":"g.connector","message":"<utf-8>","data":"<hex>"}
//! ```
//!
//! Amounts are decimal strings (a u64 does not fit a JSON number everywhere); bytes are lower
//! case hex. A Prepare, Fulfill or Reject serializes the same alone as inside a [`Packet`].
//! Deserializing builds the packet, so the same bounds apply. An empty `triggeredBy` is the
//! Reject with an empty address ([`Reject::with_empty_triggered_by`]), so every packet
//! round-trips through this form byte for byte (except RFC 0030 extension bytes after the last
//! field, which it does not carry). Errors name the JSON field, for example
//! `data has an odd number of hex digits (3)`.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::packet::{
    Fulfill, FulfillBuilder, Packet, Prepare, PrepareBuilder, Reject, RejectBuilder,
};
use crate::serde_hex;
use crate::{ccp, ildcp, Expiring, Message};
use crate::{Address, Condition, ErrorCode, Fulfillment, Timestamp};

/// The JSON of [`Packet`]: only the three packet types.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum PacketJson {
    Prepare(PrepareJson),
    Fulfill(FulfillJson),
    Reject(RejectJson),
}

/// The JSON of [`Message`]: every `type`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum MessageJson {
    Prepare(PrepareJson),
    Fulfill(FulfillJson),
    Reject(RejectJson),
    IldcpRequest(ildcp::Request),
    IldcpResponse(ildcp::Response),
    CcpControl(Expiring<ccp::RouteControlRequest>),
    CcpUpdate(Expiring<ccp::RouteUpdateRequest>),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrepareJson {
    #[serde(with = "amount")]
    amount: u64,
    #[serde(deserialize_with = "serde_hex::expires_at")]
    expires_at: Timestamp,
    #[serde(deserialize_with = "serde_hex::execution_condition")]
    execution_condition: Condition,
    #[serde(deserialize_with = "serde_hex::destination")]
    destination: Address,
    #[serde(
        serialize_with = "serde_hex::serialize",
        deserialize_with = "serde_hex::data"
    )]
    data: Bytes,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FulfillJson {
    #[serde(deserialize_with = "serde_hex::fulfillment")]
    fulfillment: Fulfillment,
    #[serde(
        serialize_with = "serde_hex::serialize",
        deserialize_with = "serde_hex::data"
    )]
    data: Bytes,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RejectJson {
    #[serde(deserialize_with = "serde_hex::code")]
    code: ErrorCode,
    /// An address, or empty.
    triggered_by: String,
    message: String,
    #[serde(
        serialize_with = "serde_hex::serialize",
        deserialize_with = "serde_hex::data"
    )]
    data: Bytes,
}

mod amount {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    /// A decimal string (as printed) or a JSON number, 0 to 2^64-1.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(AmountVisitor)
    }

    const EXPECTED: &str = "amount: must be a decimal u64 (0 to 18446744073709551615)";

    struct AmountVisitor;

    impl serde::de::Visitor<'_> for AmountVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a decimal string or a number from 0 to 18446744073709551615")
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n).map_err(|_| E::custom(EXPECTED))
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<u64, E> {
            Err(E::custom(EXPECTED))
        }

        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<u64, E> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::custom(EXPECTED));
            }
            s.parse().map_err(|_| E::custom(EXPECTED))
        }
    }
}

impl From<&Prepare> for PacketJson {
    fn from(p: &Prepare) -> Self {
        Self::Prepare(PrepareJson {
            amount: p.amount(),
            expires_at: p.expires_at(),
            execution_condition: p.execution_condition(),
            destination: p.destination().clone(),
            data: p.data_bytes(),
        })
    }
}

impl From<&Fulfill> for PacketJson {
    fn from(p: &Fulfill) -> Self {
        Self::Fulfill(FulfillJson {
            fulfillment: p.fulfillment(),
            data: p.data_bytes(),
        })
    }
}

impl From<&Reject> for PacketJson {
    fn from(p: &Reject) -> Self {
        Self::Reject(RejectJson {
            code: p.code(),
            triggered_by: p.triggered_by().map(|a| a.to_string()).unwrap_or_default(),
            message: p.message().to_owned(),
            data: p.data_bytes(),
        })
    }
}

impl MessageJson {
    fn build<E: serde::de::Error>(self) -> Result<Message, E> {
        Ok(match self {
            Self::Prepare(p) => Message::Packet(PacketJson::Prepare(p).build()?),
            Self::Fulfill(p) => Message::Packet(PacketJson::Fulfill(p).build()?),
            Self::Reject(p) => Message::Packet(PacketJson::Reject(p).build()?),
            Self::IldcpRequest(r) => Message::IldcpRequest(r),
            Self::IldcpResponse(r) => Message::IldcpResponse(r),
            Self::CcpControl(r) => Message::CcpControl(r),
            Self::CcpUpdate(r) => Message::CcpUpdate(r),
        })
    }
}

impl PacketJson {
    fn build<E: serde::de::Error>(self) -> Result<Packet, E> {
        let packet = match self {
            Self::Prepare(p) => PrepareBuilder {
                amount: p.amount,
                expires_at: p.expires_at,
                execution_condition: p.execution_condition,
                destination: &p.destination,
                data: &p.data,
            }
            .build()
            .map(Packet::Prepare),
            Self::Fulfill(p) => FulfillBuilder {
                fulfillment: p.fulfillment,
                data: &p.data,
            }
            .build()
            .map(Packet::Fulfill),
            Self::Reject(p) if p.triggered_by.is_empty() => {
                Reject::with_empty_triggered_by(p.code, &p.message, &p.data).map(Packet::Reject)
            }
            Self::Reject(p) => {
                let triggered_by = Address::try_from(p.triggered_by)
                    .map_err(|e| E::custom(format_args!("triggeredBy: {e}")))?;
                RejectBuilder {
                    code: p.code,
                    triggered_by: &triggered_by,
                    message: &p.message,
                    data: &p.data,
                }
                .build()
                .map(Packet::Reject)
            }
        };
        packet.map_err(E::custom)
    }
}

macro_rules! serde_via_json {
    ($ty:ident, $name:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                PacketJson::from(self).serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match PacketJson::deserialize(d)?.build()? {
                    Packet::$ty(p) => Ok(p),
                    other => Err(serde::de::Error::custom(format_args!(
                        concat!("expected a ", $name, ", found a {}"),
                        other.packet_type().name().to_ascii_lowercase()
                    ))),
                }
            }
        }
    };
}

serde_via_json!(Prepare, "prepare");
serde_via_json!(Fulfill, "fulfill");
serde_via_json!(Reject, "reject");

impl Serialize for Packet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Prepare(p) => p.serialize(s),
            Self::Fulfill(p) => p.serialize(s),
            Self::Reject(p) => p.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Packet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PacketJson::deserialize(d)?.build()
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        MessageJson::deserialize(d)?.build()
    }
}
