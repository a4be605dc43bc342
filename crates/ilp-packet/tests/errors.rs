//! Every `DecodeError` variant, and every field name, that the reference vectors do not reach,
//! through the public API only. Each case asserts the exact error value.

use bytes::{BufMut, Bytes, BytesMut};
use ilp_packet::ccp::{self, RouteControlRequest, RouteUpdateRequest};
use ilp_packet::oer::{self, Reader};
use ilp_packet::{
    ildcp, Address, AddressError, AmountTooLarge, Condition, DecodeError, ErrorCode, Fulfill,
    FulfillBuilder, Fulfillment, Packet, Prepare, PrepareBuilder, Reject, RejectBuilder,
    TimestampError, MAX_DATA_LEN, MAX_MESSAGE_LEN,
};

const PREPARE: u8 = 12;
const FULFILL: u8 = 13;
const REJECT: u8 = 14;

/// A packet of type `ty` around `content`, with a canonical envelope length.
fn envelope(ty: u8, content: &[u8]) -> Bytes {
    let mut buf = vec![ty];
    oer::put_length(&mut buf, content.len());
    buf.extend_from_slice(content);
    Bytes::from(buf)
}

/// Prepare content up to (not including) the destination.
fn prepare_head() -> Vec<u8> {
    let mut c = Vec::new();
    c.put_u64(5);
    c.put_slice(b"20300101000000000");
    c.put_slice(Condition::PEER_PROTOCOL.as_bytes());
    c
}

/// Prepare content with `destination` (raw) and `data`.
fn prepare_content(destination: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = prepare_head();
    oer::put_var_octets(&mut c, destination);
    oer::put_var_octets(&mut c, data);
    c
}

/// Reject content from raw fields.
fn reject_content(code: &[u8; 3], triggered_by: &[u8], message: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = code.to_vec();
    oer::put_var_octets(&mut c, triggered_by);
    oer::put_var_octets(&mut c, message);
    oer::put_var_octets(&mut c, data);
    c
}

fn fulfill_content(data: &[u8]) -> Vec<u8> {
    let mut c = vec![0u8; 32];
    oer::put_var_octets(&mut c, data);
    c
}

fn decode_prepare(content: &[u8]) -> Result<Prepare, DecodeError> {
    Prepare::decode(envelope(PREPARE, content))
}

fn decode_reject(content: &[u8]) -> Result<Reject, DecodeError> {
    Reject::decode(envelope(REJECT, content))
}

fn decode_fulfill(content: &[u8]) -> Result<Fulfill, DecodeError> {
    Fulfill::decode(envelope(FULFILL, content))
}

fn invalid_address(field: &'static str, source: AddressError) -> DecodeError {
    DecodeError::InvalidAddress { field, source }
}

// ---------------------------------------------------------------------------------------------
// Envelope

#[test]
fn decode_other_packet_type_is_rejected() {
    let prepare = envelope(PREPARE, &prepare_content(b"g.a", b""));
    let fulfill = envelope(FULFILL, &fulfill_content(b""));
    let reject = envelope(REJECT, &reject_content(b"F00", b"g.a", b"", b""));
    let unexpected = |expected, found| DecodeError::UnexpectedPacketType { expected, found };
    assert_eq!(
        Prepare::decode(fulfill.clone()),
        Err(unexpected(PREPARE, FULFILL))
    );
    assert_eq!(
        Prepare::decode(reject.clone()),
        Err(unexpected(PREPARE, REJECT))
    );
    assert_eq!(
        Fulfill::decode(prepare.clone()),
        Err(unexpected(FULFILL, PREPARE))
    );
    assert_eq!(
        Fulfill::decode(reject.clone()),
        Err(unexpected(FULFILL, REJECT))
    );
    assert_eq!(
        Reject::decode(prepare.clone()),
        Err(unexpected(REJECT, PREPARE))
    );
    assert_eq!(
        Reject::decode(fulfill.clone()),
        Err(unexpected(REJECT, FULFILL))
    );
    // The peer protocols open the same envelopes.
    assert_eq!(
        ildcp::Request::decode(fulfill.clone()),
        Err(unexpected(PREPARE, FULFILL))
    );
    assert_eq!(
        ildcp::Response::decode(prepare),
        Err(unexpected(FULFILL, PREPARE))
    );
    assert_eq!(
        RouteControlRequest::decode(reject.clone()),
        Err(unexpected(PREPARE, REJECT))
    );
    assert_eq!(
        RouteUpdateRequest::decode(fulfill),
        Err(unexpected(PREPARE, FULFILL))
    );
    // An unknown type byte is UnknownPacketType from every decoder, not UnexpectedPacketType.
    for ty in [0u8, 1, 11, 15, 0xff] {
        let bytes = envelope(ty, &fulfill_content(b""));
        let unknown = Err(DecodeError::UnknownPacketType(ty));
        assert_eq!(Packet::decode(bytes.clone()).map(|_| ()), unknown);
        assert_eq!(Prepare::decode(bytes.clone()).map(|_| ()), unknown);
        assert_eq!(Fulfill::decode(bytes.clone()).map(|_| ()), unknown);
        assert_eq!(Reject::decode(bytes).map(|_| ()), unknown);
    }
}

#[test]
fn decode_broken_envelope_is_rejected() {
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    let decode = |bytes: &'static [u8]| Packet::decode(Bytes::from_static(bytes)).map(|_| ());
    assert_eq!(decode(&[]), end("type"));
    assert_eq!(Prepare::decode(Bytes::new()).map(|_| ()), end("type"));
    assert_eq!(Fulfill::decode(Bytes::new()).map(|_| ()), end("type"));
    assert_eq!(Reject::decode(Bytes::new()).map(|_| ()), end("type"));
    assert_eq!(decode(&[PREPARE]), end("length"));
    assert_eq!(decode(&[FULFILL, 0x82, 0x01]), end("length"));
    assert_eq!(decode(&[REJECT, 0x05, 1, 2]), end("content"));
    assert_eq!(
        decode(&[PREPARE, 0x80, 0]),
        Err(DecodeError::IndefiniteLength("length"))
    );
    assert_eq!(
        decode(&[FULFILL, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        Err(DecodeError::LengthTooLarge("length"))
    );
    assert_eq!(
        decode(&[REJECT, 0x81, 0x05, 0, 0, 0, 0, 0]),
        Err(DecodeError::NonCanonicalLength("length"))
    );
}

/// Every strict prefix of a canonical packet ends inside the type, the length or the content.
#[test]
fn decode_every_prefix_of_a_packet_is_unexpected_end() {
    let data = [7u8; 200];
    let packets = [
        envelope(PREPARE, &prepare_content(b"g.alice", b"hi")),
        envelope(PREPARE, &prepare_content(b"g.alice", &data)),
        envelope(FULFILL, &fulfill_content(b"ok")),
        envelope(REJECT, &reject_content(b"F02", b"g.c", b"no route", &data)),
    ];
    for packet in packets {
        assert!(Packet::decode(packet.clone()).is_ok());
        let length_len = if packet[1] < 0x80 {
            1
        } else {
            1 + usize::from(packet[1] & 0x7f)
        };
        for cut in 0..packet.len() {
            let field = match cut {
                0 => "type",
                n if n < 1 + length_len => "length",
                _ => "content",
            };
            assert_eq!(
                Packet::decode(packet.slice(..cut)),
                Err(DecodeError::UnexpectedEnd(field)),
                "cut at {cut} of {}",
                packet.len()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Truncation inside each field (the envelope is consistent, the content ends early)

#[test]
fn decode_truncated_prepare_fields_is_rejected() {
    let head = prepare_head();
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    assert_eq!(decode_prepare(&[]), end("amount"));
    assert_eq!(decode_prepare(&head[..7]), end("amount"));
    assert_eq!(decode_prepare(&head[..8]), end("expiresAt"));
    assert_eq!(decode_prepare(&head[..24]), end("expiresAt"));
    assert_eq!(decode_prepare(&head[..25]), end("executionCondition"));
    assert_eq!(decode_prepare(&head[..56]), end("executionCondition"));
    assert_eq!(decode_prepare(&head), end("destination"));
    let mut c = head.clone();
    c.extend_from_slice(b"\x05g.a");
    assert_eq!(decode_prepare(&c), end("destination"));
    let mut c = head.clone();
    c.extend_from_slice(&[0x82, 0x04]);
    assert_eq!(decode_prepare(&c), end("destination"));
    let mut c = head.clone();
    c.extend_from_slice(b"\x03g.a");
    assert_eq!(decode_prepare(&c), end("data"));
    c.extend_from_slice(b"\x04abc");
    assert_eq!(decode_prepare(&c), end("data"));
}

#[test]
fn decode_truncated_fulfill_fields_is_rejected() {
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    assert_eq!(decode_fulfill(&[]).map(|_| ()), end("fulfillment"));
    assert_eq!(decode_fulfill(&[0; 31]).map(|_| ()), end("fulfillment"));
    assert_eq!(decode_fulfill(&[0; 32]).map(|_| ()), end("data"));
    let mut c = vec![0u8; 32];
    c.extend_from_slice(b"\x03ab");
    assert_eq!(decode_fulfill(&c).map(|_| ()), end("data"));
}

#[test]
fn decode_truncated_reject_fields_is_rejected() {
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    assert_eq!(decode_reject(&[]).map(|_| ()), end("code"));
    assert_eq!(decode_reject(b"F0").map(|_| ()), end("code"));
    assert_eq!(decode_reject(b"F02").map(|_| ()), end("triggeredBy"));
    assert_eq!(decode_reject(b"F02\x05g.a").map(|_| ()), end("triggeredBy"));
    assert_eq!(decode_reject(b"F02\x03g.a").map(|_| ()), end("message"));
    assert_eq!(
        decode_reject(b"F02\x03g.a\x09no").map(|_| ()),
        end("message")
    );
    assert_eq!(decode_reject(b"F02\x03g.a\x02no").map(|_| ()), end("data"));
    assert_eq!(
        decode_reject(b"F02\x03g.a\x02no\x02x").map(|_| ()),
        end("data")
    );
    // The empty triggeredBy is accepted, so truncation moves on to the next field.
    assert_eq!(decode_reject(b"F02\x00").map(|_| ()), end("message"));
}

// ---------------------------------------------------------------------------------------------
// Field contents

#[test]
fn decode_empty_destination_is_rejected() {
    assert_eq!(
        decode_prepare(&prepare_content(b"", b"")),
        Err(invalid_address("destination", AddressError::Empty))
    );
}

#[test]
fn decode_reject_with_invalid_triggered_by_is_rejected() {
    let cases: [(&[u8], AddressError); 5] = [
        (b"g..x", AddressError::EmptySegment(2)),
        (b"nope", AddressError::InvalidScheme),
        (b"g", AddressError::MissingSegment),
        (b"g.a b", AddressError::InvalidCharacter(3)),
        (b"g.\xc3\xa4", AddressError::InvalidCharacter(2)),
    ];
    for (triggered_by, source) in cases {
        assert_eq!(
            decode_reject(&reject_content(b"F00", triggered_by, b"", b"")),
            Err(invalid_address("triggeredBy", source)),
            "{triggered_by:?}"
        );
    }
    let longest = format!("g.{}", "a".repeat(1021));
    let reject = decode_reject(&reject_content(b"F00", longest.as_bytes(), b"", b"")).unwrap();
    assert_eq!(reject.triggered_by().as_ref().map(Address::len), Some(1023));
}

/// RFC 0015: an address is at most 1023 bytes; a longer triggeredBy is an invalid address, like
/// any other invalid triggeredBy.
#[test]
fn decode_reject_with_1024_byte_triggered_by_is_an_invalid_address() {
    let too_long = format!("g.{}", "a".repeat(1022));
    assert_eq!(
        decode_reject(&reject_content(b"F00", too_long.as_bytes(), b"", b"")),
        Err(invalid_address("triggeredBy", AddressError::TooLong(1024)))
    );
}

#[test]
fn decode_reject_code_outside_ia5_is_rejected() {
    for code in [*b"\x80AA", *b"F\xff0", *b"F0\xc3"] {
        assert_eq!(
            decode_reject(&reject_content(&code, b"g.a", b"", b"")),
            Err(DecodeError::InvalidErrorCode),
            "{code:?}"
        );
        assert_eq!(ErrorCode::new(code), Err(DecodeError::InvalidErrorCode));
    }
    // Any IA5 code is accepted, defined or not (0x7f included).
    let reject = decode_reject(&reject_content(b"tw\x7f", b"g.a", b"", b"")).unwrap();
    assert_eq!(reject.code().as_bytes(), b"tw\x7f");
    assert_eq!(reject.code().name(), None);
}

/// Issue 17: text of the wrong length is a length error (in bytes), not "not IA5".
#[test]
fn parse_error_code_of_wrong_length_says_so() {
    for (text, len) in [("F2", 2), ("", 0), ("F000", 4), ("F0é", 4), ("  F02", 5)] {
        assert_eq!(
            text.parse::<ErrorCode>(),
            Err(DecodeError::ErrorCodeLength(len)),
            "{text:?}"
        );
    }
    assert_eq!(
        "F2".parse::<ErrorCode>().unwrap_err().to_string(),
        "error code is 2 bytes long; it must be exactly 3 ASCII characters, such as F02"
    );
    // Three bytes that are not all ASCII: not IA5.
    assert_eq!(
        "Fé".parse::<ErrorCode>(),
        Err(DecodeError::InvalidErrorCode)
    );
    assert_eq!("F02".parse::<ErrorCode>(), Ok(ErrorCode::F02_UNREACHABLE));
}

/// Issue 17: the message names the packet types, not only their numbers.
#[test]
fn unexpected_packet_type_names_both_types() {
    let fulfill = envelope(FULFILL, &fulfill_content(b""));
    let reject = envelope(REJECT, &reject_content(b"F00", b"g.a", b"", b""));
    assert_eq!(
        Prepare::decode(reject).unwrap_err().to_string(),
        "expected packet type 12 (Prepare), found 14 (Reject)"
    );
    assert_eq!(
        Reject::decode(fulfill).unwrap_err().to_string(),
        "expected packet type 14 (Reject), found 13 (Fulfill)"
    );
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0x0f, 0x00]))
            .unwrap_err()
            .to_string(),
        "unknown packet type 15 (expected 12 Prepare, 13 Fulfill or 14 Reject)"
    );
}

/// Issue 9: a Reject with an empty triggeredBy can be built, and is the exact wire form that
/// decodes as `None`.
#[test]
fn reject_with_empty_triggered_by_builds_what_decodes() {
    let wire = envelope(REJECT, &reject_content(b"F02", b"", b"no route", b"\x01"));
    let decoded = Reject::decode(wire.clone()).unwrap();
    assert_eq!(decoded.triggered_by(), None);
    let built =
        Reject::with_empty_triggered_by(ErrorCode::F02_UNREACHABLE, "no route", b"\x01").unwrap();
    assert_eq!(built.as_bytes(), &wire[..]);
    assert_eq!(built, decoded);
    assert_eq!(built.triggered_by(), None);
    assert_eq!(built.message(), "no route");
    assert_eq!(built.data(), b"\x01");
    // The bounds apply as to RejectBuilder.
    let message = "x".repeat(MAX_MESSAGE_LEN + 1);
    assert_eq!(
        Reject::with_empty_triggered_by(ErrorCode::F00_BAD_REQUEST, &message, b""),
        Err(DecodeError::TooLong {
            field: "message",
            len: MAX_MESSAGE_LEN + 1,
            max: MAX_MESSAGE_LEN
        })
    );
    let data = vec![0; MAX_DATA_LEN + 1];
    assert_eq!(
        Reject::with_empty_triggered_by(ErrorCode::F00_BAD_REQUEST, "", &data),
        Err(DecodeError::TooLong {
            field: "data",
            len: MAX_DATA_LEN + 1,
            max: MAX_DATA_LEN
        })
    );
}

#[test]
fn decode_reject_message_not_utf8_is_rejected() {
    for message in [&b"\xff\xfe"[..], &b"caf\xc3"[..], &b"\xed\xa0\x80"[..]] {
        assert_eq!(
            decode_reject(&reject_content(b"F99", b"g.a", message, b"")),
            Err(DecodeError::InvalidUtf8("message")),
            "{message:?}"
        );
    }
}

#[test]
fn decode_fields_over_their_bound_is_rejected() {
    let message = vec![b'x'; MAX_MESSAGE_LEN + 1];
    assert_eq!(
        decode_reject(&reject_content(b"F99", b"g.a", &message, b"")),
        Err(DecodeError::TooLong {
            field: "message",
            len: 8192,
            max: 8191
        })
    );
    let data = vec![0u8; MAX_DATA_LEN + 1];
    let too_long_data = Err(DecodeError::TooLong {
        field: "data",
        len: 32_768,
        max: 32_767,
    });
    assert_eq!(
        decode_reject(&reject_content(b"F99", b"g.a", b"", &data)).map(|_| ()),
        too_long_data.clone()
    );
    assert_eq!(
        decode_fulfill(&fulfill_content(&data)).map(|_| ()),
        too_long_data
    );
    // The bounds themselves are fine.
    let reject = decode_reject(&reject_content(
        b"F99",
        b"g.a",
        &message[..MAX_MESSAGE_LEN],
        &data[..MAX_DATA_LEN],
    ))
    .unwrap();
    assert_eq!(
        (reject.message().len(), reject.data().len()),
        (8191, 32_767)
    );
    let fulfill = decode_fulfill(&fulfill_content(&data[..MAX_DATA_LEN])).unwrap();
    assert_eq!(fulfill.data().len(), 32_767);
    let prepare = decode_prepare(&prepare_content(b"g.a", &data[..MAX_DATA_LEN])).unwrap();
    assert_eq!(prepare.data().len(), 32_767);
}

#[test]
fn build_fields_over_their_bound_is_refused() {
    let data = vec![0u8; MAX_DATA_LEN + 1];
    let message = "x".repeat(MAX_MESSAGE_LEN + 1);
    let dest = Address::from_static("g.a");
    let too_long_data = DecodeError::TooLong {
        field: "data",
        len: 32_768,
        max: 32_767,
    };
    let prepare = PrepareBuilder {
        amount: 0,
        expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
        execution_condition: Condition::PEER_PROTOCOL,
        destination: &dest,
        data: &data,
    }
    .build();
    assert_eq!(prepare.map(|_| ()), Err(too_long_data.clone()));
    let fulfill = FulfillBuilder {
        fulfillment: Fulfillment::PEER_PROTOCOL,
        data: &data,
    }
    .build();
    assert_eq!(fulfill.map(|_| ()), Err(too_long_data.clone()));
    let reject = |message: &str, data: &[u8]| {
        RejectBuilder {
            code: ErrorCode::F99_APPLICATION_ERROR,
            triggered_by: &dest,
            message,
            data,
        }
        .build()
        .map(|_| ())
    };
    assert_eq!(reject("", &data), Err(too_long_data.clone()));
    assert_eq!(
        reject(&message, b""),
        Err(DecodeError::TooLong {
            field: "message",
            len: 8192,
            max: 8191
        })
    );
    // An IL-DCP response whose data would not fit one Fulfill.
    let response = ildcp::Response {
        client_address: Address::from_static("g.a"),
        asset_scale: 0,
        asset_code: "x".repeat(MAX_DATA_LEN),
    };
    let len = response.data_len();
    assert_eq!(
        response.to_fulfill().map(|_| ()),
        Err(DecodeError::TooLong {
            field: "data",
            len,
            max: 32_767
        })
    );
    // A CCP control request whose features would not fit one Prepare.
    let control = RouteControlRequest {
        mode: ccp::Mode::Sync,
        last_known_routing_table_id: ccp::RoutingTableId::default(),
        last_known_epoch: 0,
        features: vec!["f".repeat(MAX_DATA_LEN)],
    };
    let len = control.data_len();
    assert_eq!(
        control
            .to_prepare("2030-01-01T00:00:00Z".parse().unwrap())
            .map(|_| ()),
        Err(DecodeError::TooLong {
            field: "data",
            len,
            max: 32_767
        })
    );
}

#[test]
fn decode_timestamp_fields_out_of_range_is_rejected() {
    let cases: [(&[u8; 17], TimestampError); 9] = [
        (b"20171224166032279", TimestampError::OutOfRange("minute")),
        (b"20170100000000000", TimestampError::OutOfRange("day")),
        (b"20170431000000000", TimestampError::OutOfRange("day")),
        (b"21000229000000000", TimestampError::OutOfRange("day")),
        (b"20171224990000000", TimestampError::OutOfRange("hour")),
        (b"20170012000000000", TimestampError::OutOfRange("month")),
        (b"2017-224161432279", TimestampError::NotDigit(4)),
        (b"20171224161432 79", TimestampError::NotDigit(14)),
        (b"2017122416143227\xff", TimestampError::NotDigit(16)),
    ];
    for (wire, error) in cases {
        let mut content = Vec::new();
        content.put_u64(1);
        content.put_slice(wire);
        content.put_slice(&[0; 32]);
        oer::put_var_octets(&mut content, b"g.a");
        oer::put_var_octets(&mut content, b"");
        assert_eq!(
            decode_prepare(&content),
            Err(DecodeError::InvalidTimestamp(error)),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
    // 29 February exists in leap years, including 2000.
    for leap in [b"20000229000000000", b"20240229235959999"] {
        let mut content = Vec::new();
        content.put_u64(1);
        content.put_slice(leap);
        content.put_slice(&[0; 32]);
        oer::put_var_octets(&mut content, b"g.a");
        oer::put_var_octets(&mut content, b"");
        assert!(decode_prepare(&content).is_ok());
    }
}

// ---------------------------------------------------------------------------------------------
// OER reader: fixed-size reads and fields

#[test]
fn read_past_the_end_names_the_field() {
    let mut r = Reader::new(&[1, 2, 3]);
    assert_eq!(r.read_u32("u32"), Err(DecodeError::UnexpectedEnd("u32")));
    assert_eq!(r.read_u64("u64"), Err(DecodeError::UnexpectedEnd("u64")));
    assert_eq!(
        r.read_array::<4>("array"),
        Err(DecodeError::UnexpectedEnd("array"))
    );
    assert_eq!(
        r.read_bytes(4, "bytes"),
        Err(DecodeError::UnexpectedEnd("bytes"))
    );
    // Failed reads consume nothing.
    assert_eq!(r.len(), 3);
    assert_eq!(r.read_u16("u16"), Ok(0x0102));
    assert_eq!(r.read_u16("u16"), Err(DecodeError::UnexpectedEnd("u16")));
    assert_eq!(r.read_u8("u8"), Ok(3));
    assert_eq!(r.read_u8("u8"), Err(DecodeError::UnexpectedEnd("u8")));
    assert!(r.is_empty());
    // A length that cannot fit in memory is a length past the end of the input.
    let mut r = Reader::new(&[0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        r.read_var_octets("huge"),
        Err(DecodeError::UnexpectedEnd("huge"))
    );
}

#[test]
fn decode_short_amount_too_large_data_is_rejected() {
    assert_eq!(
        AmountTooLarge::decode(&[0; 7]),
        Err(DecodeError::UnexpectedEnd("receivedAmount"))
    );
    assert_eq!(
        AmountTooLarge::decode(&[0; 15]),
        Err(DecodeError::UnexpectedEnd("maximumAmount"))
    );
    assert_eq!(
        AmountTooLarge::decode(&[0; 17]),
        Ok(AmountTooLarge {
            received: 0,
            maximum: 0
        })
    );
}

// ---------------------------------------------------------------------------------------------
// IL-DCP

fn peer_prepare(destination: &'static str, condition: Condition, data: &[u8]) -> Prepare {
    PrepareBuilder {
        amount: 0,
        expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
        execution_condition: condition,
        destination: &Address::from_static(destination),
        data,
    }
    .build()
    .unwrap()
}

#[test]
fn decode_ildcp_request_with_wrong_fields_is_rejected() {
    let wrong_destination = peer_prepare("peer.configs", Condition::PEER_PROTOCOL, b"");
    assert_eq!(
        ildcp::Request::decode(wrong_destination.to_bytes()),
        Err(DecodeError::UnexpectedValue("destination"))
    );
    let wrong_condition = peer_prepare("peer.config", Condition::from_bytes([0; 32]), b"");
    assert_eq!(
        ildcp::Request::from_prepare(&wrong_condition),
        Err(DecodeError::UnexpectedValue("executionCondition"))
    );
    // Neither the amount nor the data is looked at.
    let mut with_amount = peer_prepare("peer.config", Condition::PEER_PROTOCOL, b"extra");
    with_amount.set_amount(7);
    assert!(ildcp::Request::from_prepare(&with_amount).is_ok());
}

#[test]
fn decode_ildcp_response_data_with_bad_fields_is_rejected() {
    let decode = |data: &'static [u8]| ildcp::Response::decode_data(&Bytes::from_static(data));
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    assert_eq!(decode(b""), end("clientAddress"));
    assert_eq!(decode(b"\x05g.a"), end("clientAddress"));
    assert_eq!(
        decode(b"\x80"),
        Err(DecodeError::IndefiniteLength("clientAddress"))
    );
    assert_eq!(
        decode(b"\x00\x09\x03XRP"),
        Err(invalid_address("clientAddress", AddressError::Empty))
    );
    assert_eq!(decode(b"\x03g.a"), end("assetScale"));
    assert_eq!(decode(b"\x03g.a\x09\x03XR"), end("assetCode"));
    assert_eq!(
        decode(b"\x03g.a\x09\x81\x03XRP"),
        Err(DecodeError::NonCanonicalLength("assetCode"))
    );
    assert_eq!(
        decode(b"\x03g.a\x09\x02\xc3\x28"),
        Err(DecodeError::InvalidUtf8("assetCode"))
    );
    // Bytes after the asset code are ignored.
    assert_eq!(
        decode(b"\x03g.a\x09\x03XRPmore"),
        Ok(ildcp::Response {
            client_address: Address::from_static("g.a"),
            asset_scale: 9,
            asset_code: "XRP".into(),
        })
    );
}

// ---------------------------------------------------------------------------------------------
// CCP

#[test]
fn decode_ccp_request_to_the_other_destination_is_rejected() {
    let control = RouteControlRequest {
        mode: ccp::Mode::Idle,
        last_known_routing_table_id: ccp::RoutingTableId::default(),
        last_known_epoch: 0,
        features: vec![],
    }
    .to_prepare("2030-01-01T00:00:00Z".parse().unwrap())
    .unwrap();
    assert_eq!(
        RouteUpdateRequest::from_prepare(&control),
        Err(DecodeError::UnexpectedValue("destination"))
    );
    let update = peer_prepare(ccp::UPDATE_DESTINATION, Condition::PEER_PROTOCOL, b"");
    assert_eq!(
        RouteControlRequest::from_prepare(&update),
        Err(DecodeError::UnexpectedValue("destination"))
    );
    let wrong_condition =
        peer_prepare(ccp::UPDATE_DESTINATION, Condition::from_bytes([9; 32]), b"");
    assert_eq!(
        RouteUpdateRequest::from_prepare(&wrong_condition),
        Err(DecodeError::UnexpectedValue("executionCondition"))
    );
}

#[test]
fn decode_ccp_control_with_bad_fields_is_rejected() {
    let decode = RouteControlRequest::decode_data;
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    let mut data = vec![1u8];
    assert_eq!(decode(&[]), end("mode"));
    assert_eq!(decode(&[0xff]), Err(DecodeError::UnknownMode(0xff)));
    assert_eq!(decode(&data), end("lastKnownRoutingTableId"));
    data.extend_from_slice(&[0xab; 16]);
    assert_eq!(decode(&data), end("lastKnownEpoch"));
    data.extend_from_slice(&[0, 0, 0, 7]);
    assert_eq!(decode(&data), end("features"));
    let with = |tail: &[u8]| {
        let mut d = data.clone();
        d.extend_from_slice(tail);
        decode(&d)
    };
    assert_eq!(with(&[0x00]), Err(DecodeError::VarUIntEmpty("features")));
    assert_eq!(
        with(&[0x02, 0x00, 0x01]),
        Err(DecodeError::VarUIntLeadingZero("features"))
    );
    assert_eq!(
        with(&[0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        Err(DecodeError::VarUIntTooLarge("features"))
    );
    assert_eq!(with(&[0x01, 0x02, 0x03, b'f', b'o', b'o']), end("features"));
    assert_eq!(with(&[0x01, 0x01, 0x03, b'f', b'o']), end("features"));
    assert_eq!(
        with(&[0x01, 0x01, 0x02, 0xc3, 0x28]),
        Err(DecodeError::InvalidUtf8("features"))
    );
    // Bytes after the features are ignored.
    let ok = with(&[0x01, 0x01, 0x03, b'f', b'o', b'o', 0xee]).unwrap();
    assert_eq!(
        (ok.mode, ok.last_known_epoch, ok.features),
        (ccp::Mode::Sync, 7, vec!["foo".to_owned()])
    );
}

/// An update payload up to and including `speaker`, with the given route and withdrawal tail.
fn update_data(speaker: &[u8], tail: &[u8]) -> Bytes {
    let mut d = BytesMut::new();
    d.put_slice(&[0x11; 16]);
    d.put_u32(3);
    d.put_u32(1);
    d.put_u32(3);
    d.put_u32(30_000);
    oer::put_var_octets(&mut d, speaker);
    d.put_slice(tail);
    d.freeze()
}

#[test]
fn decode_ccp_update_with_bad_fields_is_rejected() {
    let decode = |data: &Bytes| RouteUpdateRequest::decode_data(data);
    let end = |field| Err(DecodeError::UnexpectedEnd(field));
    let full = update_data(b"g.s", b"");
    for (cut, field) in [
        (0, "routingTableId"),
        (15, "routingTableId"),
        (16, "currentEpochIndex"),
        (20, "fromEpochIndex"),
        (24, "toEpochIndex"),
        (28, "holdDownTime"),
        (32, "speaker"),
        (34, "speaker"),
        (36, "newRoutes"),
    ] {
        assert_eq!(decode(&full.slice(..cut)), end(field), "cut at {cut}");
    }
    assert_eq!(
        decode(&update_data(b"", b"\x01\x00\x01\x00")),
        Err(invalid_address("speaker", AddressError::Empty))
    );
    assert_eq!(
        decode(&update_data(b"g.", b"\x01\x00\x01\x00")),
        Err(invalid_address("speaker", AddressError::EmptySegment(2)))
    );

    // One route: prefix "g.x", path ["g.y"], zero auth, one prop.
    let mut route = Vec::new();
    route.extend_from_slice(b"\x01\x01\x03g.x\x01\x01\x03g.y");
    route.extend_from_slice(&[0; 32]);
    route.extend_from_slice(b"\x01\x01\x50\x00\x07\x02hi");
    let heartbeat_tail = b"\x01\x00";
    let with_routes = |routes: &[u8], withdrawn: &[u8]| {
        let mut tail = routes.to_vec();
        tail.extend_from_slice(withdrawn);
        decode(&update_data(b"g.s", &tail))
    };
    // Cut the route part at each field (the withdrawn routes never come).
    for (cut, field) in [
        (2, "prefix"),
        (4, "prefix"),
        (6, "path"),
        (8, "path"),
        (10, "path"),
        (11, "path"),
        (12, "auth"),
        (43, "auth"),
        (44, "props"),
        (45, "props"),
        (46, "props"),
        (47, "props"),
        (49, "props"),
        (50, "props"),
        (51, "props"),
    ] {
        assert_eq!(with_routes(&route[..cut], b""), end(field), "cut at {cut}");
    }
    assert_eq!(with_routes(&route, b""), end("withdrawnRoutes"));
    assert_eq!(
        with_routes(&route, b"\x01\x01\x04g.w"),
        end("withdrawnRoutes")
    );
    let ok = with_routes(&route, b"\x01\x01\x03g.w").unwrap();
    assert_eq!(ok.new_routes.len(), 1);
    assert_eq!(ok.new_routes[0].props[0].meta, 0x50);
    assert!(ok.new_routes[0].props[0].is_utf8() && ok.new_routes[0].props[0].is_transitive());
    assert_eq!(&ok.new_routes[0].props[0].value[..], b"hi");
    assert_eq!(ok.withdrawn_routes, ["g.w"]);

    // Route prefixes, paths and withdrawn routes must be ASCII (invalid UTF-8 is not ASCII).
    let bad = b"\x02\xc3\x28";
    let mut prefix_route = b"\x01\x01".to_vec();
    prefix_route.extend_from_slice(bad);
    assert_eq!(
        with_routes(&prefix_route, b""),
        Err(DecodeError::NotAscii("prefix"))
    );
    let mut path_route = b"\x01\x01\x03g.x\x01\x01".to_vec();
    path_route.extend_from_slice(bad);
    assert_eq!(
        with_routes(&path_route, b""),
        Err(DecodeError::NotAscii("path"))
    );
    let mut withdrawn = b"\x01\x01".to_vec();
    withdrawn.extend_from_slice(bad);
    assert_eq!(
        with_routes(heartbeat_tail, &withdrawn),
        Err(DecodeError::NotAscii("withdrawnRoutes"))
    );
    assert_eq!(
        with_routes(b"\x00", b""),
        Err(DecodeError::VarUIntEmpty("newRoutes"))
    );
    assert_eq!(
        with_routes(heartbeat_tail, b"\x02\x00\x00"),
        Err(DecodeError::VarUIntLeadingZero("withdrawnRoutes"))
    );
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_decode_error_is_answered_with_f01() {
    let errors = [
        DecodeError::UnexpectedEnd("data"),
        DecodeError::IndefiniteLength("length"),
        DecodeError::LengthTooLarge("length"),
        DecodeError::NonCanonicalLength("length"),
        DecodeError::VarUIntEmpty("features"),
        DecodeError::VarUIntTooLarge("features"),
        DecodeError::VarUIntLeadingZero("features"),
        DecodeError::UnknownPacketType(15),
        DecodeError::UnexpectedPacketType {
            expected: 12,
            found: 13,
        },
        invalid_address("destination", AddressError::Empty),
        DecodeError::InvalidTimestamp(TimestampError::OutOfRange("month")),
        DecodeError::InvalidErrorCode,
        DecodeError::InvalidUtf8("message"),
        DecodeError::TooLong {
            field: "data",
            len: 32_768,
            max: 32_767,
        },
        DecodeError::UnexpectedValue("destination"),
        DecodeError::UnknownMode(2),
        DecodeError::ErrorCodeLength(2),
        DecodeError::InvalidHexDigit {
            field: "hex",
            found: ' ',
            at: 2,
        },
        DecodeError::OddHexLength {
            field: "hex",
            len: 3,
        },
        DecodeError::WrongLength {
            field: "condition",
            len: 2,
            expected: 32,
        },
    ];
    for e in errors {
        assert_eq!(e.reject_code(), ErrorCode::F01_INVALID_PACKET, "{e:?}");
        assert!(!e.to_string().is_empty());
    }
}
