//! Reference vectors (see `testdata/README.md`): every vector is decoded and must give exactly
//! the outcome written in the test data, and every valid canonical input must encode back to the
//! same bytes, both from the decoded value and when rebuilt from the expected fields.
//!
//! Fields are compared through the public accessors, so these tests run without features; with
//! `--features serde` the JSON form is compared as well.

use std::fmt::Debug;

use bytes::{BufMut, Bytes};
use ilp_packet::ccp::{
    self, Mode, Route, RouteControlRequest, RouteProp, RouteUpdateRequest, RoutingTableId,
};
use ilp_packet::ildcp;
use ilp_packet::oer::{self, Reader};
use ilp_packet::{
    Address, Condition, ErrorCode, Fulfill, FulfillBuilder, Fulfillment, Packet, Prepare,
    PrepareBuilder, Reject, RejectBuilder, Timestamp,
};
use serde_json::{json, Value};

const OER: &str = include_str!("testdata/oer.json");
const PACKETS: &str = include_str!("testdata/packets.json");
const ADDRESSES: &str = include_str!("testdata/addresses.json");
const ILDCP: &str = include_str!("testdata/ildcp.json");
const CCP: &str = include_str!("testdata/ccp.json");

type Check = Result<(), String>;

// ---------------------------------------------------------------------------------------------
// Harness

/// Runs `check` on every vector of `text`, which must hold exactly `count` of them, and reports
/// every vector that fails (not only the first).
fn run(text: &str, count: usize, check: fn(&Value, &[u8]) -> Check) {
    let doc: Value = serde_json::from_str(text).expect("test data is JSON");
    let vectors = doc["vectors"].as_array().expect("test data has vectors");
    assert_eq!(vectors.len(), count, "number of vectors");
    assert_eq!(doc["count"].as_u64(), Some(count as u64), "declared count");
    let mut checked = 0;
    let mut failures = Vec::new();
    for v in vectors {
        let name = text_of(v, "name");
        let input = unhex(text_of(v, "hex"));
        if let Err(why) = check(v, &input) {
            failures.push(format!("- {name}: {why}"));
        }
        checked += 1;
    }
    assert_eq!(checked, count);
    assert!(
        failures.is_empty(),
        "{} of {count} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `Err` unless `got == expected`; long values are shortened in the message.
fn same<T: PartialEq + Debug + ?Sized>(what: &str, got: &T, expected: &T) -> Check {
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {}, expected {}",
            short(got),
            short(expected)
        ))
    }
}

fn short<T: Debug + ?Sized>(value: &T) -> String {
    let text = format!("{value:?}");
    if text.chars().count() > 300 {
        let head: String = text.chars().take(300).collect();
        format!("{head}…({} chars)", text.chars().count())
    } else {
        text
    }
}

/// Matches a decode result against the vector's outcome. For an expected error, the error's
/// `Debug` text must be exactly the one written down, and `Ok(None)` is returned; for an
/// expected success, the value and the expected fields are returned.
fn outcome<T, E: Debug>(v: &Value, got: Result<T, E>) -> Result<Option<(T, &Value)>, String> {
    let expected = &v["outcome"];
    match (expected.get("ok"), expected.get("error"), got) {
        (Some(fields), None, Ok(value)) => Ok(Some((value, fields))),
        (Some(_), None, Err(e)) => Err(format!("expected success, got error {e:?}")),
        (None, Some(Value::String(error)), Err(e)) => {
            same("error", format!("{e:?}").as_str(), error.as_str())?;
            Ok(None)
        }
        (None, Some(Value::String(error)), Ok(_)) => {
            Err(format!("expected error {error}, but it decoded"))
        }
        _ => panic!("malformed outcome {expected}"),
    }
}

fn text_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("test data: {key} is not a string in {}", short(v)))
}

/// An integer written as a JSON number or a decimal string.
fn uint(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().expect("test data: integer fits u64"),
        Value::String(s) => s.parse().expect("test data: decimal integer"),
        other => panic!("test data: not an integer: {other}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "test data: odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("test data: hex"))
        .collect()
}

fn bytes32(text: &str) -> [u8; 32] {
    unhex(text).try_into().expect("test data: 32 bytes")
}

fn timestamp(text: &str) -> Timestamp {
    text.parse().expect("test data: timestamp")
}

fn address(text: &str) -> Address {
    text.parse().expect("test data: address")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("test data: array")
        .iter()
        .map(|s| s.as_str().expect("test data: string").to_owned())
        .collect()
}

/// Compares the crate's JSON form of `value` with the expected fields, and parses them back.
#[cfg(feature = "serde")]
fn same_json<T>(value: &T, fields: &Value) -> Check
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_value(value).map_err(|e| format!("serialize: {e}"))?;
    same("JSON form", &json, fields)?;
    let parsed: T =
        serde_json::from_value(fields.clone()).map_err(|e| format!("deserialize: {e}"))?;
    same("value parsed from JSON", &parsed, value)
}

// ---------------------------------------------------------------------------------------------
// OER

#[test]
fn oer_vectors() {
    run(OER, 40, check_oer);
}

fn check_oer(v: &Value, input: &[u8]) -> Check {
    let mut r = Reader::new(input);
    let mut encoded = Vec::new();
    match text_of(v, "type") {
        "LengthDeterminant" => {
            let Some((len, fields)) = outcome(v, r.read_length("length"))? else {
                return Ok(());
            };
            same("length", &(len as u64), &uint(&fields["length"]))?;
            same("encoded size", &oer::length_len(len), &input.len())?;
            oer::put_length(&mut encoded, len);
        }
        "VarUInt" => {
            let Some((value, fields)) = outcome(v, r.read_var_uint("value"))? else {
                return Ok(());
            };
            same("value", &value, &uint(&fields["value"]))?;
            same("encoded size", &oer::var_uint_len(value), &input.len())?;
            oer::put_var_uint(&mut encoded, value);
        }
        "VarOctetString" => {
            let Some((value, fields)) = outcome(v, r.read_var_octets("value"))? else {
                return Ok(());
            };
            same("value", hex(value).as_str(), text_of(fields, "value"))?;
            same(
                "encoded size",
                &oer::var_octets_len(value.len()),
                &input.len(),
            )?;
            oer::put_var_octets(&mut encoded, value);
        }
        "UInt8" => {
            let Some((value, fields)) = outcome(v, r.read_u8("value"))? else {
                return Ok(());
            };
            same("value", &u64::from(value), &uint(&fields["value"]))?;
            encoded.put_u8(value);
        }
        "UInt16" => {
            let Some((value, fields)) = outcome(v, r.read_u16("value"))? else {
                return Ok(());
            };
            same("value", &u64::from(value), &uint(&fields["value"]))?;
            encoded.put_u16(value);
        }
        "UInt32" => {
            let Some((value, fields)) = outcome(v, r.read_u32("value"))? else {
                return Ok(());
            };
            same("value", &u64::from(value), &uint(&fields["value"]))?;
            encoded.put_u32(value);
        }
        "UInt64" => {
            let Some((value, fields)) = outcome(v, r.read_u64("value"))? else {
                return Ok(());
            };
            same("value", &value, &uint(&fields["value"]))?;
            encoded.put_u64(value);
        }
        other => panic!("test data: unknown OER type {other}"),
    }
    same("bytes left after reading", &r.len(), &0)?;
    same("re-encoded", hex(&encoded).as_str(), hex(input).as_str())
}

// ---------------------------------------------------------------------------------------------
// Packets

#[test]
fn packet_vectors() {
    run(PACKETS, 46, check_packet_vector);
}

fn check_packet_vector(v: &Value, input: &[u8]) -> Check {
    let Some((packet, fields)) = outcome(v, Packet::decode(Bytes::copy_from_slice(input)))? else {
        return Ok(());
    };
    let reencoded = match v.get("reencoded_hex") {
        None => Some(input.to_vec()),
        Some(Value::Null) => None,
        Some(Value::String(h)) => Some(unhex(h)),
        Some(other) => panic!("test data: reencoded_hex {other}"),
    };
    check_packet(&packet, fields, input, reencoded.as_deref())
}

/// The fields of a packet, read through its accessors, in the JSON shape of the test data.
fn packet_fields(packet: &Packet) -> Value {
    match packet {
        Packet::Prepare(p) => json!({
            "type": "prepare",
            "amount": p.amount().to_string(),
            "expiresAt": p.expires_at().to_string(),
            "executionCondition": hex(p.execution_condition().as_bytes()),
            "destination": p.destination().as_str(),
            "data": hex(p.data()),
        }),
        Packet::Fulfill(p) => json!({
            "type": "fulfill",
            "fulfillment": hex(p.fulfillment().as_bytes()),
            "data": hex(p.data()),
        }),
        Packet::Reject(p) => json!({
            "type": "reject",
            "code": p.code().as_str(),
            "triggeredBy": p.triggered_by().as_ref().map_or("", Address::as_str),
            "message": p.message(),
            "data": hex(p.data()),
        }),
    }
}

/// Builds a packet with the builders from the expected fields (`None` is kept for test data
/// that no builder can produce; today every packet can be built).
fn build_packet(fields: &Value) -> Result<Option<Packet>, String> {
    let data = unhex(text_of(fields, "data"));
    let built = match text_of(fields, "type") {
        "prepare" => PrepareBuilder {
            amount: uint(&fields["amount"]),
            expires_at: timestamp(text_of(fields, "expiresAt")),
            execution_condition: Condition::from_bytes(bytes32(text_of(
                fields,
                "executionCondition",
            ))),
            destination: &address(text_of(fields, "destination")),
            data: &data,
        }
        .build()
        .map(Packet::Prepare),
        "fulfill" => FulfillBuilder {
            fulfillment: Fulfillment::from_bytes(bytes32(text_of(fields, "fulfillment"))),
            data: &data,
        }
        .build()
        .map(Packet::Fulfill),
        "reject" => {
            let code = text_of(fields, "code")
                .parse::<ErrorCode>()
                .expect("test data: code");
            let message = text_of(fields, "message");
            match text_of(fields, "triggeredBy") {
                "" => Reject::with_empty_triggered_by(code, message, &data),
                triggered_by => RejectBuilder {
                    code,
                    triggered_by: &address(triggered_by),
                    message,
                    data: &data,
                }
                .build(),
            }
            .map(Packet::Reject)
        }
        other => panic!("test data: packet type {other}"),
    };
    built
        .map(Some)
        .map_err(|e| format!("building from the fields: {e:?}"))
}

/// Checks a decoded packet: its fields, that it encodes back to `input` unchanged, that the
/// type-specific decoder agrees, and that the builders produce `reencoded` (when given).
fn check_packet(packet: &Packet, fields: &Value, input: &[u8], reencoded: Option<&[u8]>) -> Check {
    same("fields", &packet_fields(packet), fields)?;
    same(
        "to_bytes",
        hex(&packet.to_bytes()).as_str(),
        hex(input).as_str(),
    )?;
    same("as_bytes", packet.as_bytes(), input)?;
    same("encoded_len", &packet.encoded_len(), &input.len())?;
    let mut buf = bytes::BytesMut::new();
    packet.encode(&mut buf);
    same("encode", &buf[..], input)?;

    let bytes = Bytes::copy_from_slice(input);
    match packet {
        Packet::Prepare(p) => same("Prepare::decode", &Prepare::decode(bytes).as_ref(), &Ok(p))?,
        Packet::Fulfill(p) => same("Fulfill::decode", &Fulfill::decode(bytes).as_ref(), &Ok(p))?,
        Packet::Reject(p) => {
            same("Reject::decode", &Reject::decode(bytes).as_ref(), &Ok(p))?;
            // An empty wire triggeredBy is accepted and shows as None.
            let empty = text_of(fields, "triggeredBy").is_empty();
            same("triggered_by is None", &p.triggered_by().is_none(), &empty)?;
        }
    }

    let built = build_packet(fields)?;
    match (&built, reencoded) {
        (Some(built), Some(expected)) => {
            same(
                "rebuilt with the builders",
                hex(&built.to_bytes()).as_str(),
                hex(expected).as_str(),
            )?;
            same("rebuilt fields", &packet_fields(built), fields)?;
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err("test data says no builder can produce it, but one did".into())
        }
        (None, Some(_)) => {
            return Err("no builder can produce it, but test data expects bytes".into())
        }
    }

    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_value(packet).map_err(|e| format!("serialize: {e}"))?;
        same("JSON form", &json, fields)?;
        // Deserializing builds the packet, so it works exactly where the builders do.
        let parsed = serde_json::from_value::<Packet>(fields.clone());
        match (parsed, reencoded) {
            (Ok(parsed), Some(expected)) => {
                same("packet parsed from JSON", &parsed.to_bytes()[..], expected)?;
            }
            (Err(_), None) => {}
            (Ok(_), None) => return Err("JSON parsed, but no builder should produce it".into()),
            (Err(e), Some(_)) => return Err(format!("deserialize: {e}")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Addresses

#[test]
fn address_vectors() {
    run(ADDRESSES, 30, check_address);
}

fn check_address(v: &Value, input: &[u8]) -> Check {
    let got = Address::try_from(input);
    // Every way into an Address gives the same answer.
    same(
        "from Bytes",
        &Address::try_from(Bytes::copy_from_slice(input)),
        &got,
    )?;
    if let Ok(text) = std::str::from_utf8(input) {
        same("from str", &text.parse::<Address>(), &got)?;
        same("from String", &Address::try_from(text.to_owned()), &got)?;
    }
    let Some((addr, fields)) = outcome(v, got)? else {
        return Ok(());
    };
    same("address", addr.as_str(), text_of(fields, "address"))?;
    same("length", &(addr.len() as u64), &uint(&fields["length"]))?;
    same("as_bytes", addr.as_bytes(), input)?;
    same("to_string", addr.to_string().as_bytes(), input)?;
    same(
        "scheme",
        &Some(addr.scheme()),
        &addr.as_str().split('.').next(),
    )?;
    #[cfg(feature = "serde")]
    same_json(&addr, &fields["address"])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// IL-DCP

#[test]
fn ildcp_vectors() {
    run(ILDCP, 9, check_ildcp);
}

fn check_ildcp(v: &Value, input: &[u8]) -> Check {
    let bytes = Bytes::copy_from_slice(input);
    match text_of(v, "kind") {
        "request" => {
            let Some((request, fields)) = outcome(v, ildcp::Request::decode(bytes.clone()))? else {
                return Ok(());
            };
            let expected = ildcp::Request {
                expires_at: timestamp(text_of(fields, "expiresAt")),
            };
            same("request", &request, &expected)?;
            let packet = Packet::decode(bytes).map_err(|e| format!("{e:?}"))?;
            same("is_request", &ildcp::is_request(&packet), &true)?;
            same(
                "rebuilt",
                hex(&expected.to_prepare().to_bytes()).as_str(),
                hex(input).as_str(),
            )?;
            #[cfg(feature = "serde")]
            same_json(&request, fields)?;
        }
        "response" => {
            let Some((response, fields)) = outcome(v, ildcp::Response::decode(bytes.clone()))?
            else {
                return Ok(());
            };
            let expected = ildcp::Response {
                client_address: address(text_of(fields, "clientAddress")),
                asset_scale: u8::try_from(uint(&fields["assetScale"])).expect("test data: scale"),
                asset_code: text_of(fields, "assetCode").to_owned(),
            };
            same("response", &response, &expected)?;
            let fulfill = Fulfill::decode(bytes).map_err(|e| format!("{e:?}"))?;
            same(
                "fulfillment",
                &fulfill.fulfillment(),
                &Fulfillment::PEER_PROTOCOL,
            )?;
            same(
                "response data",
                &ildcp::Response::decode_data(&fulfill.data_bytes()),
                &Ok(expected.clone()),
            )?;
            same("data_len", &expected.data_len(), &fulfill.data().len())?;
            let rebuilt = expected
                .to_fulfill()
                .map_err(|e| format!("to_fulfill: {e:?}"))?;
            same(
                "rebuilt",
                hex(&rebuilt.to_bytes()).as_str(),
                hex(input).as_str(),
            )?;
            #[cfg(feature = "serde")]
            same_json(&response, fields)?;
        }
        "reject" => {
            let Some((packet, fields)) = outcome(v, Packet::decode(bytes.clone()))? else {
                return Ok(());
            };
            check_packet(&packet, fields, input, Some(input))?;
            same("is_request", &ildcp::is_request(&packet), &false)?;
        }
        other => panic!("test data: IL-DCP kind {other}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CCP

#[test]
fn ccp_vectors() {
    run(CCP, 15, check_ccp);
}

fn mode(text: &str) -> Mode {
    match text {
        "idle" => Mode::Idle,
        "sync" => Mode::Sync,
        other => panic!("test data: mode {other}"),
    }
}

fn routing_table_id(v: &Value) -> RoutingTableId {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .expect("test data: routing table id")
}

fn control_from(fields: &Value) -> RouteControlRequest {
    RouteControlRequest {
        mode: mode(text_of(fields, "mode")),
        last_known_routing_table_id: routing_table_id(&fields["lastKnownRoutingTableId"]),
        last_known_epoch: u32::try_from(uint(&fields["lastKnownEpoch"])).expect("test data: u32"),
        features: strings(&fields["features"]),
    }
}

fn update_from(fields: &Value) -> RouteUpdateRequest {
    let u32_of = |key: &str| u32::try_from(uint(&fields[key])).expect("test data: u32");
    RouteUpdateRequest {
        routing_table_id: routing_table_id(&fields["routingTableId"]),
        current_epoch_index: u32_of("currentEpochIndex"),
        from_epoch_index: u32_of("fromEpochIndex"),
        to_epoch_index: u32_of("toEpochIndex"),
        hold_down_time: u32_of("holdDownTime"),
        speaker: address(text_of(fields, "speaker")),
        new_routes: fields["newRoutes"]
            .as_array()
            .expect("test data: newRoutes")
            .iter()
            .map(|route| Route {
                prefix: text_of(route, "prefix").to_owned(),
                path: strings(&route["path"]),
                auth: bytes32(text_of(route, "auth")),
                props: route["props"]
                    .as_array()
                    .expect("test data: props")
                    .iter()
                    .map(|prop| RouteProp {
                        meta: u8::try_from(uint(&prop["meta"])).expect("test data: meta"),
                        id: u16::try_from(uint(&prop["id"])).expect("test data: id"),
                        value: Bytes::from(unhex(text_of(prop, "value"))),
                    })
                    .collect(),
            })
            .collect(),
        withdrawn_routes: strings(&fields["withdrawnRoutes"]),
    }
}

fn check_ccp(v: &Value, input: &[u8]) -> Check {
    let bytes = Bytes::copy_from_slice(input);
    let kind = text_of(v, "kind");
    let rebuilt = match kind {
        "control" => {
            let Some((control, fields)) = outcome(v, RouteControlRequest::decode(bytes.clone()))?
            else {
                return Ok(());
            };
            let expected = control_from(fields);
            same("control request", &control, &expected)?;
            let prepare = Prepare::decode(bytes.clone()).map_err(|e| format!("{e:?}"))?;
            same(
                "payload",
                &RouteControlRequest::decode_data(prepare.data()),
                &Ok(expected.clone()),
            )?;
            same("data_len", &expected.data_len(), &prepare.data().len())?;
            #[cfg(feature = "serde")]
            same_json(&control, fields)?;
            expected.to_prepare(timestamp(text_of(v, "expiresAt")))
        }
        "update" => {
            let Some((update, fields)) = outcome(v, RouteUpdateRequest::decode(bytes.clone()))?
            else {
                return Ok(());
            };
            let expected = update_from(fields);
            same("update request", &update, &expected)?;
            let prepare = Prepare::decode(bytes.clone()).map_err(|e| format!("{e:?}"))?;
            same(
                "payload",
                &RouteUpdateRequest::decode_data(&prepare.data_bytes()),
                &Ok(expected.clone()),
            )?;
            same("data_len", &expected.data_len(), &prepare.data().len())?;
            #[cfg(feature = "serde")]
            same_json(&update, fields)?;
            expected.to_prepare(timestamp(text_of(v, "expiresAt")))
        }
        "response" => {
            let Some((packet, fields)) = outcome(v, Packet::decode(bytes))? else {
                return Ok(());
            };
            check_packet(&packet, fields, input, Some(input))?;
            return same("ccp::response()", &ccp::response().to_bytes()[..], input);
        }
        other => panic!("test data: CCP kind {other}"),
    };

    // The carrying Prepare: amount 0, the peer-protocol condition, the kind's destination.
    let prepare = Prepare::decode(bytes).map_err(|e| format!("{e:?}"))?;
    let destination = if kind == "control" {
        ccp::CONTROL_DESTINATION
    } else {
        ccp::UPDATE_DESTINATION
    };
    same("amount", &prepare.amount(), &0)?;
    same("destination", prepare.destination().as_str(), destination)?;
    same(
        "condition",
        &prepare.execution_condition(),
        &Condition::PEER_PROTOCOL,
    )?;
    let expires_at = prepare.expires_at();
    same(
        "expiresAt",
        expires_at.to_string().as_str(),
        text_of(v, "expiresAt"),
    )?;

    // Decoding never reads the clock and does not check expiry: expired requests decode, and comparing
    // expiresAt with the current time is the caller's job. Here "now" is the fake clock of the
    // reference test suite the vector comes from.
    if let Some(expiry) = v.get("expiry") {
        let now = timestamp(text_of(expiry, "now"));
        let expired = expiry["expired"].as_bool().expect("test data: expired");
        same(
            "expired at the reference suite's now",
            &(expires_at < now),
            &expired,
        )?;
    }

    let rebuilt = rebuilt.map_err(|e| format!("to_prepare: {e:?}"))?;
    same(
        "rebuilt",
        hex(&rebuilt.to_bytes()).as_str(),
        hex(input).as_str(),
    )
}
