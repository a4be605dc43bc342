//! Hex (lower case) for byte fields in the JSON form; errors name the field.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(value: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::hex::encode(value))
}

/// A hex field of any length.
pub(crate) fn bytes<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
) -> Result<Bytes, D::Error> {
    let text = String::deserialize(d)?;
    crate::hex::decode_field(field, &text)
        .map(Bytes::from)
        .map_err(serde::de::Error::custom)
}

/// A hex field of exactly 32 bytes.
pub(crate) fn array32<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
) -> Result<[u8; 32], D::Error> {
    let text = String::deserialize(d)?;
    crate::hex::decode_array(field, &text).map_err(serde::de::Error::custom)
}

/// A 32-byte value ([`Condition`](crate::Condition), [`Fulfillment`](crate::Fulfillment)) from
/// 64 hex digits.
pub(crate) fn hex32<'de, D, T>(d: D, field: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<[u8; 32]>,
{
    array32(d, field).map(T::from)
}

/// A text field through `FromStr`; the error is prefixed with the field's name.
pub(crate) fn parse<'de, D, T>(d: D, field: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(d)?;
    text.parse()
        .map_err(|e| serde::de::Error::custom(format_args!("{field}: {e}")))
}

/// Deserialize functions for named fields: `name: Type = how("jsonName");` makes
/// `fn name(d) -> Result<Type, _>` that calls `how(d, "jsonName")`.
macro_rules! named_fields {
    ($($name:ident: $ty:ty = $how:ident($field:literal);)*) => {
        $(
            pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                $how(d, $field)
            }
        )*
    };
}

named_fields! {
    data: Bytes = bytes("data");
    value: Bytes = bytes("value");
    auth: [u8; 32] = array32("auth");
    expires_at: crate::Timestamp = parse("expiresAt");
    execution_condition: crate::Condition = hex32("executionCondition");
    fulfillment: crate::Fulfillment = hex32("fulfillment");
    destination: crate::Address = parse("destination");
    client_address: crate::Address = parse("clientAddress");
    speaker: crate::Address = parse("speaker");
    code: crate::ErrorCode = parse("code");
    last_known_routing_table_id: crate::ccp::RoutingTableId = parse("lastKnownRoutingTableId");
    routing_table_id: crate::ccp::RoutingTableId = parse("routingTableId");
}
