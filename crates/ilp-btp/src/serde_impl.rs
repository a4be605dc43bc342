//! The JSON form of frames (feature `serde`), as `ilp-inspect --as btp` prints it.

use bytes::Bytes;
use ilp_packet::{Packet, Timestamp};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{Body, ContentType, ErrorBody, ErrorCode, Frame, ProtocolData, ProtocolEntry};

#[derive(Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
enum Json {
    Response {
        request_id: u32,
        protocol_data: Vec<Entry>,
    },
    Error {
        request_id: u32,
        code: String,
        name: String,
        triggered_at: Timestamp,
        #[serde(with = "hex")]
        data: Bytes,
        protocol_data: Vec<Entry>,
    },
    Message {
        request_id: u32,
        protocol_data: Vec<Entry>,
    },
    Transfer {
        request_id: u32,
        amount: String,
        protocol_data: Vec<Entry>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    name: String,
    content_type: ContentType,
    #[serde(with = "hex")]
    data: Bytes,
    /// The decoded ILP packet of an `ilp` entry, when it decodes (output only).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    packet: Option<Packet>,
}

fn entries(p: &ProtocolData) -> Vec<Entry> {
    p.iter()
        .map(|e| Entry {
            name: e.name().to_owned(),
            content_type: e.content_type(),
            data: e.data().clone(),
            packet: (e.name() == crate::ILP)
                .then(|| Packet::decode(e.data().clone()).ok())
                .flatten(),
        })
        .collect()
}

fn protocol_data<E: de::Error>(entries: Vec<Entry>) -> Result<ProtocolData, E> {
    entries
        .into_iter()
        .map(|e| ProtocolEntry::new(e.name, e.content_type, e.data).map_err(E::custom))
        .collect()
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let request_id = self.request_id();
        match self.body() {
            Body::Response(p) => Json::Response {
                request_id,
                protocol_data: entries(p),
            },
            Body::Message(p) => Json::Message {
                request_id,
                protocol_data: entries(p),
            },
            Body::Transfer {
                amount,
                protocol_data,
            } => Json::Transfer {
                request_id,
                amount: amount.to_string(),
                protocol_data: entries(protocol_data),
            },
            Body::Error(e) => Json::Error {
                request_id,
                code: e.code().to_string(),
                name: e.name().to_owned(),
                triggered_at: e.triggered_at(),
                data: e.data().clone(),
                protocol_data: entries(e.protocol_data()),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (request_id, body) = match Json::deserialize(d)? {
            Json::Response {
                request_id,
                protocol_data: p,
            } => (request_id, Body::Response(protocol_data(p)?)),
            Json::Message {
                request_id,
                protocol_data: p,
            } => (request_id, Body::Message(protocol_data(p)?)),
            Json::Transfer {
                request_id,
                amount,
                protocol_data: p,
            } => {
                let amount = amount.parse().map_err(de::Error::custom)?;
                let protocol_data = protocol_data(p)?;
                (
                    request_id,
                    Body::Transfer {
                        amount,
                        protocol_data,
                    },
                )
            }
            Json::Error {
                request_id,
                code,
                name,
                triggered_at,
                data,
                protocol_data: p,
            } => {
                let code: ErrorCode = code.parse().map_err(de::Error::custom)?;
                let body = ErrorBody::new(code, name, triggered_at, data, protocol_data(p)?)
                    .map_err(de::Error::custom)?;
                (request_id, Body::Error(body))
            }
        };
        Self::new(request_id, body).map_err(de::Error::custom)
    }
}

mod hex {
    use bytes::Bytes;
    use serde::{de, Deserialize, Deserializer, Serializer};

    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    pub(super) fn serialize<S: Serializer>(value: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        let text: String = value
            .iter()
            .flat_map(|&b| [b >> 4, b & 0x0f])
            .map(|n| char::from(DIGITS[usize::from(n)]))
            .collect();
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        let nibble = |c: u8| {
            char::from(c)
                .to_digit(16)
                .map(|n| n as u8)
                .ok_or_else(|| de::Error::custom("invalid hex digit"))
        };
        if text.len() % 2 != 0 {
            return Err(de::Error::custom("odd number of hex digits"));
        }
        text.as_bytes()
            .chunks_exact(2)
            .map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?))
            .collect::<Result<Vec<u8>, D::Error>>()
            .map(Bytes::from)
    }
}
