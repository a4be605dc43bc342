//! Reference vectors (`testdata/btp.json`, restated from WIRE.md §10 with this crate's own
//! outcomes): every vector decodes to exactly the outcome written there, a decoded frame encodes
//! back to its input, and a frame rebuilt from the expected fields encodes to the input (or to
//! the recorded `reencoded_hex`).
//!
//! Fields are compared through the public accessors, so this runs without features; with
//! `--features serde` the JSON form is compared as well.

use bytes::{Bytes, BytesMut};
use ilp_btp::{Body, ContentType, ErrorBody, ErrorCode, Frame, ProtocolData, ProtocolEntry};
use serde_json::{json, Value};

const BTP: &str = include_str!("testdata/btp.json");
const COUNT: usize = 39;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn entries(p: &ProtocolData) -> Value {
    p.iter()
        .map(
            |e| json!({"name": e.name(), "contentType": e.content_type().0, "data": hex(e.data())}),
        )
        .collect()
}

/// The fields of a frame, in the test data's shape, read through the accessors.
fn fields(f: &Frame) -> Value {
    let mut v = json!({"requestId": f.request_id()});
    match f.body() {
        Body::Response(_) => v["type"] = json!("response"),
        Body::Message(_) => v["type"] = json!("message"),
        Body::Transfer { amount, .. } => {
            v["type"] = json!("transfer");
            v["amount"] = json!(amount.to_string());
        }
        Body::Error(e) => {
            v["type"] = json!("error");
            v["code"] = json!(e.code().as_str());
            v["name"] = json!(e.name());
            v["triggeredAt"] = json!(e.triggered_at().to_string());
            v["data"] = json!(hex(e.data()));
        }
        _ => unreachable!("no other frame types"),
    }
    v["protocolData"] = entries(f.protocol_data());
    v
}

/// A frame built from the test data's fields with the public constructors.
fn rebuild(v: &Value) -> Frame {
    let protocol_data: ProtocolData = v["protocolData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let ct = ContentType(e["contentType"].as_u64().unwrap() as u8);
            let data = unhex(e["data"].as_str().unwrap());
            ProtocolEntry::new(e["name"].as_str().unwrap().to_owned(), ct, data).unwrap()
        })
        .collect();
    let text = |k: &str| v[k].as_str().unwrap().to_owned();
    let body = match v["type"].as_str().unwrap() {
        "response" => Body::Response(protocol_data),
        "message" => Body::Message(protocol_data),
        "transfer" => Body::Transfer {
            amount: text("amount").parse().unwrap(),
            protocol_data,
        },
        "error" => Body::Error(
            ErrorBody::new(
                text("code").parse::<ErrorCode>().unwrap(),
                text("name"),
                text("triggeredAt").parse().unwrap(),
                unhex(&text("data")),
                protocol_data,
            )
            .unwrap(),
        ),
        other => panic!("type {other}"),
    };
    Frame::new(v["requestId"].as_u64().unwrap() as u32, body).unwrap()
}

fn check(v: &Value) -> Result<(), String> {
    let input = unhex(v["hex"].as_str().unwrap());
    let decoded = Frame::decode(Bytes::from(input.clone()));
    let outcome = &v["outcome"];
    if let Some(expected) = outcome.get("error") {
        return match decoded {
            Err(e) if format!("{e:?}") == expected.as_str().unwrap() => Ok(()),
            other => Err(format!("expected error {expected}, got {other:?}")),
        };
    }
    let frame = decoded.map_err(|e| format!("expected ok, got {e:?}"))?;
    let ok = &outcome["ok"];
    if &fields(&frame) != ok {
        return Err(format!("fields {} != {ok}", fields(&frame)));
    }
    // encode(decode(x)) == x, trailing bytes included.
    let mut buf = BytesMut::new();
    frame.encode(&mut buf);
    if buf[..] != input[..] || frame.to_bytes() != input || frame.encoded_len() != input.len() {
        return Err("decoded frame does not encode to its input".into());
    }
    // Rebuilt from the expected fields: the input, or the recorded canonical form.
    let expected = v
        .get("reencoded_hex")
        .map_or(input.clone(), |h| unhex(h.as_str().unwrap()));
    let rebuilt = rebuild(ok);
    if rebuilt.as_bytes() != expected {
        return Err(format!("rebuilt as {}", hex(rebuilt.as_bytes())));
    }
    if Frame::decode(rebuilt.to_bytes()).as_ref() != Ok(&rebuilt) {
        return Err("rebuilt frame does not decode to itself".into());
    }
    #[cfg(feature = "serde")]
    {
        let mut json = serde_json::to_value(&frame).unwrap();
        for e in json["protocolData"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("packet");
        }
        if &json != ok {
            return Err(format!("JSON {json} != {ok}"));
        }
        let from_json: Frame = serde_json::from_value(ok.clone()).unwrap();
        if from_json != rebuilt {
            return Err("JSON does not build the rebuilt frame".into());
        }
    }
    Ok(())
}

#[test]
fn every_vector_gives_its_outcome() {
    let doc: Value = serde_json::from_str(BTP).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), COUNT);
    assert_eq!(doc["count"].as_u64(), Some(COUNT as u64));
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|v| check(v).err().map(|why| format!("- {}: {why}", v["name"])))
        .collect();
    assert!(
        failures.is_empty(),
        "{} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn builders_write_the_reference_auth_and_ilp_frames() {
    let vector = |name: &str| {
        let doc: Value = serde_json::from_str(BTP).unwrap();
        let v = doc["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned();
        unhex(v.unwrap()["hex"].as_str().unwrap())
    };
    let auth = Frame::auth(1, "", "shh_its_a_secret").unwrap();
    assert_eq!(
        auth.as_bytes(),
        vector("Auth Message as sent by ilp-plugin-btp@1.5.0 client")
    );
    assert_eq!(auth.auth_token(), Some("shh_its_a_secret"));
    assert_eq!(auth.auth_username(), Some(""));

    let minimal = Frame::decode(
        vector(
            "Auth Message minimal per RFC23 (auth + auth_token), as interledger-rs client sends",
        )
        .into(),
    )
    .unwrap();
    assert_eq!(
        (minimal.auth_token(), minimal.auth_username()),
        (Some("token"), None)
    );

    assert_eq!(
        Frame::empty_response(0x1234_5678).as_bytes(),
        vector("Auth success Response (empty protocolData)")
    );
    let at = "2018-08-31T02:53:24.899Z".parse().unwrap();
    let refused = Frame::not_accepted(0x1234_5678, "invalid auth_token", at);
    assert_eq!(
        refused.as_bytes(),
        vector("Auth failure Error F00 NotAcceptedError (what ilp-plugin-btp server sends before closing)")
    );

    let message = vector("ILP Prepare carried in Message, subprotocol \"ilp\"");
    let frame = Frame::decode(message.clone().into()).unwrap();
    let prepare = ilp_packet::Prepare::decode(frame.ilp().unwrap().clone()).unwrap();
    assert_eq!(Frame::ilp_message(7, &prepare).unwrap().as_bytes(), message);

    let response = vector("ILP Fulfill carried in Response, subprotocol \"ilp\"");
    let frame = Frame::decode(response.clone().into()).unwrap();
    let fulfill = ilp_packet::Fulfill::decode(frame.ilp().unwrap().clone()).unwrap();
    assert_eq!(
        Frame::ilp_response(7, Ok(&fulfill)).unwrap().as_bytes(),
        response
    );
}
