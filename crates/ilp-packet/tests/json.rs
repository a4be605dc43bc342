//! The JSON form (feature `serde`), as `ilp-inspect` reads it: every bad value is refused with
//! an error that names its field, and every packet that decodes round-trips, the Reject with an
//! empty `triggeredBy` included.
#![cfg(feature = "serde")]

use ilp_packet::{ErrorCode, Fulfill, Message, Packet, Prepare, Reject};
use serde_json::{json, Value};

const ZERO32: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn prepare(field: &str, value: Value) -> Value {
    let mut p = json!({"type": "prepare", "amount": "107", "expiresAt": "2017-12-23T01:21:40.549Z",
        "executionCondition": ZERO32, "destination": "example.alice", "data": ""});
    p[field] = value;
    p
}

fn reject(field: &str, value: Value) -> Value {
    let mut r = json!({"type": "reject", "code": "F02", "triggeredBy": "g.x", "message": "",
        "data": ""});
    r[field] = value;
    r
}

/// The error of reading `value` as a `T`, without position (as from a `serde_json::Value`).
fn error<T: serde::de::DeserializeOwned + std::fmt::Debug>(value: &Value) -> String {
    serde_json::from_value::<T>(value.clone())
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn packet_json_errors_name_the_field() {
    let fulfill = json!({"type": "fulfill", "fulfillment": ZERO32, "data": "0"});
    assert_eq!(
        error::<Packet>(&fulfill),
        "data has an odd number of hex digits (1)"
    );
    let fulfill = json!({"type": "fulfill", "fulfillment": &ZERO32[2..], "data": ""});
    assert_eq!(
        error::<Fulfill>(&fulfill),
        "fulfillment is 31 bytes long; it must be exactly 32 bytes"
    );
    let cases = [
        (
            prepare("executionCondition", json!(format!("{}zz", &ZERO32[2..]))),
            "executionCondition has 'z' at character 62, which is not a hex digit",
        ),
        (
            prepare("destination", json!("nope.x")),
            "destination: address does not start with a known scheme",
        ),
        (
            prepare("expiresAt", json!("2017-13-23T01:21:40.549Z")),
            "expiresAt: timestamp month is out of range",
        ),
        (
            prepare("amount", json!("-1")),
            "amount: must be a decimal u64 (0 to 18446744073709551615)",
        ),
        (
            prepare("amount", json!("18446744073709551616")),
            "amount: must be a decimal u64 (0 to 18446744073709551615)",
        ),
        (
            prepare("data", json!("0d 21")),
            "data has ' ' at character 2, which is not a hex digit",
        ),
        (
            reject("code", json!("F2")),
            "code: error code is 2 bytes long; it must be exactly 3 ASCII characters, such as F02",
        ),
        (
            reject("triggeredBy", json!("g")),
            "triggeredBy: address has no segment after its scheme",
        ),
        (
            reject("message", json!("m".repeat(8192))),
            "message is 8192 bytes long; the maximum is 8191",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(error::<Packet>(&value), expected, "{value}");
        assert_eq!(error::<Message>(&value), expected, "{value}");
    }
    // Read from text, the message is the same.
    let text = r#"{"type":"fulfill","fulfillment":"00","data":""}"#;
    assert_eq!(
        serde_json::from_str::<Packet>(text)
            .unwrap_err()
            .to_string(),
        "fulfillment is 1 bytes long; it must be exactly 32 bytes"
    );
}

#[test]
fn peer_protocol_json_errors_name_the_field() {
    let cases = [
        (
            json!({"type": "ildcp-response", "clientAddress": "g", "assetScale": 9,
                "assetCode": "XRP"}),
            "clientAddress: address has no segment after its scheme",
        ),
        (
            json!({"type": "ildcp-request", "expiresAt": "soon"}),
            "expiresAt: timestamp has the wrong length or layout",
        ),
        (
            json!({"type": "ccp-control", "expiresAt": "2030-01-01T00:00:00.000Z", "mode": "sync",
                "lastKnownRoutingTableId": "70d1a134", "lastKnownEpoch": 0, "features": []}),
            "lastKnownRoutingTableId: not a UUID in 8-4-4-4-12 hex form",
        ),
        (
            json!({"type": "ccp-update", "expiresAt": "2030-01-01T00:00:00.000Z",
                "routingTableId": "70d1a134-a0df-4f47-964f-6e19e2ab3790", "currentEpochIndex": 1,
                "fromEpochIndex": 0, "toEpochIndex": 1, "holdDownTime": 30000, "speaker": "x.y",
                "newRoutes": [], "withdrawnRoutes": []}),
            "speaker: address does not start with a known scheme",
        ),
        (
            json!({"type": "ccp-update", "expiresAt": "2030-01-01T00:00:00.000Z",
                "routingTableId": "70d1a134-a0df-4f47-964f-6e19e2ab3790", "currentEpochIndex": 1,
                "fromEpochIndex": 0, "toEpochIndex": 1, "holdDownTime": 30000, "speaker": "g.s",
                "newRoutes": [{"prefix": "g.a", "path": [], "auth": ZERO32,
                    "props": [{"meta": 64, "id": 1, "value": "abc"}]}],
                "withdrawnRoutes": []}),
            "value has an odd number of hex digits (3)",
        ),
        (
            json!({"type": "ccp-update", "expiresAt": "2030-01-01T00:00:00.000Z",
                "routingTableId": "70d1a134-a0df-4f47-964f-6e19e2ab3790", "currentEpochIndex": 1,
                "fromEpochIndex": 0, "toEpochIndex": 1, "holdDownTime": 30000, "speaker": "g.s",
                "newRoutes": [{"prefix": "g.a", "path": [], "auth": "00", "props": []}],
                "withdrawnRoutes": []}),
            "auth is 1 bytes long; it must be exactly 32 bytes",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(error::<Message>(&value), expected, "{value}");
    }
}

#[test]
fn packet_json_lists_only_the_packet_types() {
    let request = json!({"type": "ildcp-request", "expiresAt": "2030-01-01T00:00:00.000Z"});
    assert_eq!(
        error::<Packet>(&request),
        "unknown variant `ildcp-request`, expected one of `prepare`, `fulfill`, `reject`"
    );
    // A Message may be any of them.
    assert!(serde_json::from_value::<Message>(request).is_ok());
    let fulfill = json!({"type": "fulfill", "fulfillment": ZERO32, "data": ""});
    assert_eq!(
        error::<Prepare>(&fulfill),
        "expected a prepare, found a fulfill"
    );
}

/// Issue 9: the JSON that `decode` prints for a Reject with an empty `triggeredBy` is read back
/// into the same bytes.
#[test]
fn reject_with_empty_triggered_by_roundtrips_through_json() {
    let wire = bytes::Bytes::from_static(b"\x0e\x0bF02\x00\x04oops\x01\xff");
    let decoded = Reject::decode(wire.clone()).unwrap();
    let json = serde_json::to_string(&decoded).unwrap();
    assert_eq!(
        json,
        r#"{"type":"reject","code":"F02","triggeredBy":"","message":"oops","data":"ff"}"#
    );
    let parsed: Reject = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.as_bytes(), &wire[..]);
    assert_eq!(parsed.code(), ErrorCode::F02_UNREACHABLE);
    let packet: Packet = serde_json::from_str(&json).unwrap();
    assert_eq!(packet.to_bytes(), wire);
    let message: Message = serde_json::from_str(&json).unwrap();
    assert_eq!(message.to_bytes().unwrap(), wire);
}
