//! CCP, the connector-to-connector protocol for route broadcasts (the format shared by the
//! JavaScript `ilp-protocol-ccp` and interledger-rs; there is no ratified RFC).
//!
//! Both messages travel as Prepares with amount 0 and the [`Condition::PEER_PROTOCOL`]
//! condition: a [`RouteControlRequest`] to [`CONTROL_DESTINATION`] asks a speaker for updates,
//! a [`RouteUpdateRequest`] to [`UPDATE_DESTINATION`] carries them. The receiver answers with
//! [`response`], a Fulfill with 32 zero bytes and no data.
//!
//! Decoding is strict where the references differ: the control mode must be 0 (idle) or 1
//! (sync) and the update's speaker a valid ILP address (interledger-rs checks both, the
//! JavaScript reference neither). Route prefixes, path entries and withdrawn routes must be
//! ASCII (they are addresses; the JavaScript reference reads them as ASCII and mangles anything
//! else), feature names UTF-8. Property meta bits and values are kept verbatim (the JavaScript
//! encoder normalises meta bits; interledger-rs does not). Expiry is not checked here: decoding never reads the clock.
//!
//! ```
//! use ilp_packet::ccp::{Mode, RouteControlRequest, RoutingTableId};
//! use ilp_packet::Timestamp;
//!
//! let control = RouteControlRequest {
//!     mode: Mode::Sync,
//!     last_known_routing_table_id: RoutingTableId::default(),
//!     last_known_epoch: 0,
//!     features: vec![],
//! };
//! let prepare = control.to_prepare(Timestamp::MAX)?;
//! assert_eq!(RouteControlRequest::from_prepare(&prepare)?, control);
//! # Ok::<(), ilp_packet::DecodeError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::address::Address;
use crate::ildcp::peer_prepare;
use crate::oer::{self, Reader};
use crate::packet::{Fulfill, FulfillBuilder, Prepare};
use crate::{Condition, DecodeError, Fulfillment, Timestamp};

/// Where route control requests go.
pub const CONTROL_DESTINATION: &str = "peer.route.control";
/// Where route update requests go.
pub const UPDATE_DESTINATION: &str = "peer.route.update";

/// The reply to any accepted CCP request: a Fulfill with 32 zero bytes and empty data.
#[must_use]
pub fn response() -> Fulfill {
    FulfillBuilder {
        fulfillment: Fulfillment::PEER_PROTOCOL,
        data: &[],
    }
    .build_unchecked()
}

fn check_peer_prepare(prepare: &Prepare, destination: &str) -> Result<(), DecodeError> {
    if prepare.destination() != destination {
        return Err(DecodeError::UnexpectedValue("destination"));
    }
    if prepare.execution_condition() != Condition::PEER_PROTOCOL {
        return Err(DecodeError::UnexpectedValue("executionCondition"));
    }
    Ok(())
}

/// A speaker's routing table id: a UUID, shown in its hyphenated form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct RoutingTableId(pub [u8; 16]);

impl fmt::Display for RoutingTableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = crate::hex::encode(&self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for RoutingTableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoutingTableId({self})")
    }
}

/// The error of parsing a [`RoutingTableId`] from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a UUID in 8-4-4-4-12 hex form")]
#[non_exhaustive]
pub struct ParseRoutingTableIdError;

impl FromStr for RoutingTableId {
    type Err = ParseRoutingTableIdError;

    fn from_str(s: &str) -> Result<Self, ParseRoutingTableIdError> {
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return Err(ParseRoutingTableIdError);
        }
        let mut out = [0u8; 16];
        let mut digits = b.iter().filter(|&&c| c != b'-');
        for byte in &mut out {
            let mut value = 0u8;
            for _ in 0..2 {
                let c = *digits.next().ok_or(ParseRoutingTableIdError)?;
                let nibble = (c as char).to_digit(16).ok_or(ParseRoutingTableIdError)?;
                value = value << 4 | nibble as u8;
            }
            *byte = value;
        }
        Ok(Self(out))
    }
}

/// What a route receiver asks of a speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Mode {
    /// 0: stop sending updates.
    Idle,
    /// 1: send updates now and whenever the table changes.
    Sync,
}

impl Mode {
    /// The wire byte.
    #[must_use]
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Idle => 0,
            Self::Sync => 1,
        }
    }
}

impl TryFrom<u8> for Mode {
    type Error = DecodeError;

    fn try_from(byte: u8) -> Result<Self, DecodeError> {
        match byte {
            0 => Ok(Self::Idle),
            1 => Ok(Self::Sync),
            other => Err(DecodeError::UnknownMode(other)),
        }
    }
}

/// Reads a sequence: a VarUInt count, then that many items. Memory stays bounded by the input:
/// nothing is reserved up front, and every item consumes at least one byte.
fn read_seq<'a, T>(
    r: &mut Reader<'a>,
    field: &'static str,
    mut item: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let count = r.read_var_uint(field)?;
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(item(r)?);
    }
    Ok(out)
}

fn read_string(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let bytes = r.read_var_octets(field)?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::InvalidUtf8(field))
}

/// Reads a route prefix or address: ASCII only, as RFC 0015 addresses are (the JavaScript
/// reference reads these fields as ASCII and would mangle anything else).
fn read_ascii(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let bytes = r.read_var_octets(field)?;
    check_ascii(bytes, field)?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::NotAscii(field))
}

fn check_ascii(bytes: &[u8], field: &'static str) -> Result<(), DecodeError> {
    if bytes.is_ascii() {
        Ok(())
    } else {
        Err(DecodeError::NotAscii(field))
    }
}

fn strings_len(items: &[String]) -> usize {
    oer::var_uint_len(items.len() as u64)
        + items
            .iter()
            .map(|s| oer::var_octets_len(s.len()))
            .sum::<usize>()
}

fn put_strings(buf: &mut impl BufMut, items: &[String]) {
    oer::put_var_uint(buf, items.len() as u64);
    for s in items {
        oer::put_var_octets(buf, s.as_bytes());
    }
}

/// Sent by a route receiver to ask a speaker for updates (or to stop them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct RouteControlRequest {
    /// Idle or sync.
    pub mode: Mode,
    /// The speaker's table id as the receiver last saw it (all zero at first).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_hex::last_known_routing_table_id")
    )]
    pub last_known_routing_table_id: RoutingTableId,
    /// The epoch the receiver is at in that table.
    pub last_known_epoch: u32,
    /// Feature names (none are defined).
    pub features: Vec<String>,
}

impl RouteControlRequest {
    /// Reads a request out of a Prepare (destination and condition checked).
    pub fn from_prepare(prepare: &Prepare) -> Result<Self, DecodeError> {
        check_peer_prepare(prepare, CONTROL_DESTINATION)?;
        Self::decode_data(prepare.data())
    }

    /// Decodes an ILP packet holding a request.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        Self::from_prepare(&Prepare::decode(buf)?)
    }

    /// Decodes the request's payload (the Prepare's data). Bytes after it are ignored.
    pub fn decode_data(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        Ok(Self {
            mode: Mode::try_from(r.read_u8("mode")?)?,
            last_known_routing_table_id: RoutingTableId(r.read_array("lastKnownRoutingTableId")?),
            last_known_epoch: r.read_u32("lastKnownEpoch")?,
            features: read_seq(&mut r, "features", |r| read_string(r, "features"))?,
        })
    }

    /// The payload's encoded size.
    #[must_use]
    pub fn data_len(&self) -> usize {
        1 + 16 + 4 + strings_len(&self.features)
    }

    /// Writes the payload.
    pub fn encode_data(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.mode.to_u8());
        buf.put_slice(&self.last_known_routing_table_id.0);
        buf.put_u32(self.last_known_epoch);
        put_strings(buf, &self.features);
    }

    /// The request as a Prepare. Fails only when the payload exceeds 32767 bytes.
    pub fn to_prepare(&self, expires_at: Timestamp) -> Result<Prepare, DecodeError> {
        let mut data = BytesMut::with_capacity(self.data_len());
        self.encode_data(&mut data);
        peer_prepare(CONTROL_DESTINATION, expires_at, &data)
    }
}

/// One property attached to a route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct RouteProp {
    /// The meta byte, verbatim: 0x80 optional, 0x40 transitive, 0x20 partial, 0x10 UTF-8;
    /// the low four bits are reserved.
    pub meta: u8,
    /// The property id (none are defined).
    pub id: u16,
    /// The value (UTF-8 text when [`RouteProp::is_utf8`]).
    #[cfg_attr(
        feature = "serde",
        serde(
            serialize_with = "crate::serde_hex::serialize",
            deserialize_with = "crate::serde_hex::value"
        )
    )]
    pub value: Bytes,
}

impl RouteProp {
    /// Bit 0x80.
    #[must_use]
    pub const fn is_optional(&self) -> bool {
        self.meta & 0x80 != 0
    }
    /// Bit 0x40.
    #[must_use]
    pub const fn is_transitive(&self) -> bool {
        self.meta & 0x40 != 0
    }
    /// Bit 0x20.
    #[must_use]
    pub const fn is_partial(&self) -> bool {
        self.meta & 0x20 != 0
    }
    /// Bit 0x10.
    #[must_use]
    pub const fn is_utf8(&self) -> bool {
        self.meta & 0x10 != 0
    }
}

/// One route a speaker advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Route {
    /// The address prefix the route leads to.
    pub prefix: String,
    /// The addresses of the nodes on the way, nearest first.
    pub path: Vec<String>,
    /// Reserved authentication bytes (senders fill them with zeros or a hash; nobody checks).
    #[cfg_attr(
        feature = "serde",
        serde(
            serialize_with = "crate::serde_hex::serialize",
            deserialize_with = "crate::serde_hex::auth"
        )
    )]
    pub auth: [u8; 32],
    /// Properties.
    pub props: Vec<RouteProp>,
}

impl Route {
    fn read(r: &mut Reader<'_>, data: &Bytes) -> Result<Self, DecodeError> {
        Ok(Self {
            prefix: read_ascii(r, "prefix")?,
            path: read_seq(r, "path", |r| read_ascii(r, "path"))?,
            auth: r.read_array("auth")?,
            props: read_seq(r, "props", |r| {
                Ok(RouteProp {
                    meta: r.read_u8("props")?,
                    id: r.read_u16("props")?,
                    value: data.slice_ref(r.read_var_octets("props")?),
                })
            })?,
        })
    }

    fn encoded_len(&self) -> usize {
        oer::var_octets_len(self.prefix.len())
            + strings_len(&self.path)
            + 32
            + oer::var_uint_len(self.props.len() as u64)
            + self
                .props
                .iter()
                .map(|p| 3 + oer::var_octets_len(p.value.len()))
                .sum::<usize>()
    }

    fn encode(&self, buf: &mut impl BufMut) {
        oer::put_var_octets(buf, self.prefix.as_bytes());
        put_strings(buf, &self.path);
        buf.put_slice(&self.auth);
        oer::put_var_uint(buf, self.props.len() as u64);
        for p in &self.props {
            buf.put_u8(p.meta);
            buf.put_u16(p.id);
            oer::put_var_octets(buf, &p.value);
        }
    }
}

/// Sent by a speaker: the routes that changed between two epochs of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct RouteUpdateRequest {
    /// The speaker's table id.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_hex::routing_table_id")
    )]
    pub routing_table_id: RoutingTableId,
    /// The speaker's latest epoch.
    pub current_epoch_index: u32,
    /// The first epoch this update covers.
    pub from_epoch_index: u32,
    /// The epoch after the last one this update covers (exclusive).
    pub to_epoch_index: u32,
    /// How long, in milliseconds, the receiver may keep these routes without a refresh.
    pub hold_down_time: u32,
    /// The speaker's ILP address.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_hex::speaker")
    )]
    pub speaker: Address,
    /// Routes added or replaced.
    pub new_routes: Vec<Route>,
    /// Prefixes withdrawn.
    pub withdrawn_routes: Vec<String>,
}

impl RouteUpdateRequest {
    /// Reads an update out of a Prepare (destination and condition checked).
    pub fn from_prepare(prepare: &Prepare) -> Result<Self, DecodeError> {
        check_peer_prepare(prepare, UPDATE_DESTINATION)?;
        Self::decode_data(&prepare.data_bytes())
    }

    /// Decodes an ILP packet holding an update.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        Self::from_prepare(&Prepare::decode(buf)?)
    }

    /// Decodes the update's payload (the Prepare's data); property values and the speaker share
    /// `data`'s buffer. Bytes after it are ignored.
    pub fn decode_data(data: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        Ok(Self {
            routing_table_id: RoutingTableId(r.read_array("routingTableId")?),
            current_epoch_index: r.read_u32("currentEpochIndex")?,
            from_epoch_index: r.read_u32("fromEpochIndex")?,
            to_epoch_index: r.read_u32("toEpochIndex")?,
            hold_down_time: r.read_u32("holdDownTime")?,
            speaker: {
                let raw = r.read_var_octets("speaker")?;
                Address::try_from(data.slice_ref(raw)).map_err(|e| ("speaker", e))?
            },
            new_routes: read_seq(&mut r, "newRoutes", |r| Route::read(r, data))?,
            withdrawn_routes: read_seq(&mut r, "withdrawnRoutes", |r| {
                read_ascii(r, "withdrawnRoutes")
            })?,
        })
    }

    /// The payload's encoded size.
    #[must_use]
    pub fn data_len(&self) -> usize {
        16 + 4 * 4
            + oer::var_octets_len(self.speaker.len())
            + oer::var_uint_len(self.new_routes.len() as u64)
            + self
                .new_routes
                .iter()
                .map(Route::encoded_len)
                .sum::<usize>()
            + strings_len(&self.withdrawn_routes)
    }

    /// Writes the payload.
    pub fn encode_data(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.routing_table_id.0);
        buf.put_u32(self.current_epoch_index);
        buf.put_u32(self.from_epoch_index);
        buf.put_u32(self.to_epoch_index);
        buf.put_u32(self.hold_down_time);
        oer::put_var_octets(buf, self.speaker.as_bytes());
        oer::put_var_uint(buf, self.new_routes.len() as u64);
        for route in &self.new_routes {
            route.encode(buf);
        }
        put_strings(buf, &self.withdrawn_routes);
    }

    /// The update as a Prepare. Fails when a prefix, path entry or withdrawn route is not ASCII,
    /// or when the payload exceeds 32767 bytes (split the routes over several updates).
    pub fn to_prepare(&self, expires_at: Timestamp) -> Result<Prepare, DecodeError> {
        for route in &self.new_routes {
            check_ascii(route.prefix.as_bytes(), "prefix")?;
            for hop in &route.path {
                check_ascii(hop.as_bytes(), "path")?;
            }
        }
        for prefix in &self.withdrawn_routes {
            check_ascii(prefix.as_bytes(), "withdrawnRoutes")?;
        }
        let mut data = BytesMut::with_capacity(self.data_len());
        self.encode_data(&mut data);
        peer_prepare(UPDATE_DESTINATION, expires_at, &data)
    }
}

serde_via_str!(RoutingTableId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_table_id_text_roundtrips() {
        let id: RoutingTableId = "70d1a134-a0df-4f47-964f-6e19e2ab3790".parse().unwrap();
        assert_eq!(id.0[0], 0x70);
        assert_eq!(id.to_string(), "70d1a134-a0df-4f47-964f-6e19e2ab3790");
        for bad in [
            "70d1a134a0df4f47964f6e19e2ab3790",
            "70d1a134-a0df-4f47-964f-6e19e2ab379g",
            "",
        ] {
            assert_eq!(
                bad.parse::<RoutingTableId>(),
                Err(ParseRoutingTableIdError),
                "{bad}"
            );
        }
    }

    #[test]
    fn decode_unknown_mode_is_rejected() {
        let mut data = vec![2u8];
        data.extend_from_slice(&[0; 20]);
        data.extend_from_slice(&[1, 0]);
        assert_eq!(
            RouteControlRequest::decode_data(&data),
            Err(DecodeError::UnknownMode(2))
        );
    }

    #[test]
    fn huge_counts_fail_without_allocating_for_them() {
        // features count = u64::MAX with nothing after it.
        let mut data = vec![1u8];
        data.extend_from_slice(&[0; 20]);
        data.extend_from_slice(&[8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            RouteControlRequest::decode_data(&data),
            Err(DecodeError::UnexpectedEnd("features"))
        );
    }

    #[test]
    fn update_with_non_ascii_prefixes_is_refused() {
        let route = |prefix: &str, hop: &str| Route {
            prefix: prefix.into(),
            path: vec![hop.into()],
            auth: [0; 32],
            props: vec![],
        };
        let mut update = RouteUpdateRequest {
            routing_table_id: RoutingTableId::default(),
            current_epoch_index: 1,
            from_epoch_index: 0,
            to_epoch_index: 1,
            hold_down_time: 30_000,
            speaker: Address::from_static("g.speaker"),
            new_routes: vec![route("g.\u{e4}", "g.a")],
            withdrawn_routes: vec![],
        };
        assert_eq!(
            update.to_prepare(Timestamp::MAX),
            Err(DecodeError::NotAscii("prefix"))
        );
        update.new_routes = vec![route("g.a", "g.\u{e4}")];
        assert_eq!(
            update.to_prepare(Timestamp::MAX),
            Err(DecodeError::NotAscii("path"))
        );
        update.new_routes = vec![route("g.a", "g.b")];
        update.withdrawn_routes = vec!["g.\u{e4}".into()];
        assert_eq!(
            update.to_prepare(Timestamp::MAX),
            Err(DecodeError::NotAscii("withdrawnRoutes"))
        );
        // The same bytes, written without the check, are refused on input.
        let mut data = BytesMut::new();
        update.encode_data(&mut data);
        assert_eq!(
            RouteUpdateRequest::decode_data(&data.freeze()),
            Err(DecodeError::NotAscii("withdrawnRoutes"))
        );
    }

    #[test]
    fn update_too_large_for_one_prepare_is_refused() {
        let update = RouteUpdateRequest {
            routing_table_id: RoutingTableId::default(),
            current_epoch_index: 0,
            from_epoch_index: 0,
            to_epoch_index: 0,
            hold_down_time: 30_000,
            speaker: Address::from_static("g.speaker"),
            new_routes: vec![],
            withdrawn_routes: vec!["g.x".repeat(100); 200],
        };
        assert!(matches!(
            update.to_prepare(Timestamp::MAX),
            Err(DecodeError::TooLong { field: "data", .. })
        ));
    }
}
