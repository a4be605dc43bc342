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
//! Deserializing builds the packet, so the same bounds apply; an empty `triggeredBy` is shown
//! for a decoded Reject that had one but refused on input, since this crate never produces it.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::packet::{
    Fulfill, FulfillBuilder, Packet, Prepare, PrepareBuilder, Reject, RejectBuilder,
};
use crate::{ccp, ildcp, Expiring, Message};
use crate::{Address, Condition, ErrorCode, Fulfillment, Timestamp};

/// Every JSON `type`; the packet variants are also the JSON of [`Packet`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Json {
    Prepare(PrepareJson),
    Fulfill(FulfillJson),
    Reject(RejectJson),
    #[serde(skip_serializing)]
    IldcpRequest(ildcp::Request),
    #[serde(skip_serializing)]
    IldcpResponse(ildcp::Response),
    #[serde(skip_serializing)]
    CcpControl(Expiring<ccp::RouteControlRequest>),
    #[serde(skip_serializing)]
    CcpUpdate(Expiring<ccp::RouteUpdateRequest>),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrepareJson {
    #[serde(with = "amount")]
    amount: u64,
    expires_at: Timestamp,
    execution_condition: Condition,
    destination: Address,
    #[serde(with = "crate::serde_hex::bytes")]
    data: Bytes,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FulfillJson {
    fulfillment: Fulfillment,
    #[serde(with = "crate::serde_hex::bytes")]
    data: Bytes,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RejectJson {
    code: ErrorCode,
    triggered_by: String,
    message: String,
    #[serde(with = "crate::serde_hex::bytes")]
    data: Bytes,
}

mod amount {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Amount {
            Text(String),
            Number(u64),
        }
        match Amount::deserialize(d)? {
            Amount::Number(n) => Ok(n),
            Amount::Text(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().map_err(serde::de::Error::custom)
            }
            Amount::Text(_) => Err(serde::de::Error::custom("amount must be a decimal u64")),
        }
    }
}

impl From<&Prepare> for Json {
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

impl From<&Fulfill> for Json {
    fn from(p: &Fulfill) -> Self {
        Self::Fulfill(FulfillJson {
            fulfillment: p.fulfillment(),
            data: p.data_bytes(),
        })
    }
}

impl From<&Reject> for Json {
    fn from(p: &Reject) -> Self {
        Self::Reject(RejectJson {
            code: p.code(),
            triggered_by: p.triggered_by().map(|a| a.to_string()).unwrap_or_default(),
            message: p.message().to_owned(),
            data: p.data_bytes(),
        })
    }
}

impl Json {
    fn build_message<E: serde::de::Error>(self) -> Result<Message, E> {
        Ok(match self {
            Self::Prepare(_) | Self::Fulfill(_) | Self::Reject(_) => Message::Packet(self.build()?),
            Self::IldcpRequest(r) => Message::IldcpRequest(r),
            Self::IldcpResponse(r) => Message::IldcpResponse(r),
            Self::CcpControl(r) => Message::CcpControl(r),
            Self::CcpUpdate(r) => Message::CcpUpdate(r),
        })
    }

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
            Self::IldcpRequest(_)
            | Self::IldcpResponse(_)
            | Self::CcpControl(_)
            | Self::CcpUpdate(_) => {
                return Err(E::custom("expected a prepare, fulfill or reject"));
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
                Json::from(self).serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match Json::deserialize(d)?.build()? {
                    Packet::$ty(p) => Ok(p),
                    _ => Err(serde::de::Error::custom(concat!("expected a ", $name))),
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
        Json::deserialize(d)?.build()
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Json::deserialize(d)?.build_message()
    }
}
