//! Every `DecodeError` variant, and every field name it can carry, through the public API.

use bytes::Bytes;
use ilp_btp::{
    Body, ContentType, DecodeError, ErrorBody, ErrorCode, Frame, ProtocolData, ProtocolEntry,
    MAX_ERROR_DATA_LEN, MAX_FRAME_LEN,
};
use ilp_packet::oer;
use ilp_packet::DecodeError as Oer;
use ilp_packet::TimestampError;

/// A frame of type `ty`, request id 1, around `content`.
fn frame(ty: u8, content: &[u8]) -> Bytes {
    let mut buf = vec![ty, 0, 0, 0, 1];
    oer::put_var_octets(&mut buf, content);
    Bytes::from(buf)
}

fn decode(ty: u8, content: &[u8]) -> Result<Frame, DecodeError> {
    Frame::decode(frame(ty, content))
}

/// Error content: code, name, triggeredAt, then `rest`.
fn error_content(code: &[u8], name: &[u8], at: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut c = code.to_vec();
    oer::put_var_octets(&mut c, name);
    oer::put_var_octets(&mut c, at);
    c.extend_from_slice(rest);
    c
}

#[test]
fn decode_unknown_and_legacy_types_is_rejected() {
    for ty in [0u8, 8, 12, 255] {
        assert_eq!(
            decode(ty, b"\x01\x00"),
            Err(DecodeError::UnknownFrameType(ty))
        );
    }
    for ty in [3u8, 4, 5] {
        assert_eq!(
            decode(ty, b"\x01\x00"),
            Err(DecodeError::LegacyFrameType(ty))
        );
    }
}

#[test]
fn decode_truncated_frames_is_rejected() {
    let end = |f: &'static str| Err(DecodeError::Oer(Oer::UnexpectedEnd(f)));
    assert_eq!(Frame::decode(Bytes::new()), end("type"));
    assert_eq!(
        Frame::decode(Bytes::from_static(b"\x01\x00\x00")),
        end("requestId")
    );
    assert_eq!(
        Frame::decode(Bytes::from_static(b"\x01\x00\x00\x00\x01")),
        end("content")
    );
    assert_eq!(decode(1, b""), end("protocolData"));
    assert_eq!(decode(6, b"\x01\x01"), end("protocolName"));
    assert_eq!(decode(6, b"\x01\x01\x03ilp"), end("contentType"));
    assert_eq!(decode(6, b"\x01\x01\x03ilp\x00"), end("protocolData.data"));
    assert_eq!(
        decode(6, b"\x01\x01\x03ilp\x00\x05ab"),
        end("protocolData.data")
    );
    // A count the input cannot hold fails on the first missing entry, allocating nothing big.
    assert_eq!(
        decode(6, b"\x08\xff\xff\xff\xff\xff\xff\xff\xff"),
        end("protocolName")
    );
    assert_eq!(decode(7, b"\x00\x00\x00"), end("amount"));
    assert_eq!(decode(2, b"F0"), end("code"));
    assert_eq!(decode(2, b"F00"), end("name"));
    assert_eq!(decode(2, b"F00\x00"), end("triggeredAt"));
    let no_data = error_content(b"F00", b"x", b"20171224161432Z", b"");
    assert_eq!(decode(2, &no_data), end("data"));
    let no_pd = error_content(b"F00", b"x", b"20171224161432Z", b"\x00");
    assert_eq!(decode(2, &no_pd), end("protocolData"));
}

#[test]
fn decode_non_canonical_oer_is_rejected() {
    let oer = |e| Err(DecodeError::Oer(e));
    assert_eq!(decode(1, b"\x00"), oer(Oer::VarUIntEmpty("protocolData")));
    assert_eq!(
        decode(1, b"\x02\x00\x00"),
        oer(Oer::VarUIntLeadingZero("protocolData"))
    );
    assert_eq!(
        decode(1, b"\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09"),
        oer(Oer::VarUIntTooLarge("protocolData"))
    );
    assert_eq!(
        Frame::decode(Bytes::from_static(b"\x01\x00\x00\x00\x01\x81\x02\x01\x00")),
        oer(Oer::NonCanonicalLength("content"))
    );
    assert_eq!(
        Frame::decode(Bytes::from_static(b"\x01\x00\x00\x00\x01\x80")),
        oer(Oer::IndefiniteLength("content"))
    );
    assert_eq!(
        decode(6, b"\x01\x01\x89"),
        oer(Oer::LengthTooLarge("protocolName"))
    );
}

#[test]
fn decode_non_ascii_fields_is_rejected() {
    assert_eq!(
        decode(6, b"\x01\x01\x02\xc3\xa9\x00\x00"),
        Err(DecodeError::NotAscii("protocolName"))
    );
    let bad_code = error_content(b"F\x800", b"x", b"20171224161432Z", b"\x00\x01\x00");
    assert_eq!(decode(2, &bad_code), Err(DecodeError::NotAscii("code")));
    let bad_name = error_content(b"F00", "é".as_bytes(), b"20171224161432Z", b"\x00\x01\x00");
    assert_eq!(decode(2, &bad_name), Err(DecodeError::NotAscii("name")));
    // The same checks guard the constructors.
    assert_eq!(
        ProtocolEntry::new("é", ContentType::OCTET_STREAM, "").unwrap_err(),
        DecodeError::NotAscii("protocolName")
    );
    assert_eq!(
        ErrorCode::new(*b"\xff00"),
        Err(DecodeError::NotAscii("code"))
    );
    let at = ilp_packet::Timestamp::MIN;
    let e = ErrorBody::new(
        ErrorCode::F00_NOT_ACCEPTED,
        "é",
        at,
        "",
        ProtocolData::new(),
    );
    assert_eq!(e, Err(DecodeError::NotAscii("name")));
}

#[test]
fn decode_bad_triggered_at_is_rejected() {
    let at = |t: &[u8]| decode(2, &error_content(b"F00", b"x", t, b"\x00\x01\x00"));
    let bad = |e| Err(DecodeError::InvalidTriggeredAt(e));
    assert_eq!(
        at(b"20171224161432.279"),
        bad(TimestampError::InvalidFormat)
    );
    assert_eq!(
        at(b"2017122416143x.279Z"),
        bad(TimestampError::NotDigit(13))
    );
    assert_eq!(
        at(b"20170230161432Z"),
        bad(TimestampError::OutOfRange("day"))
    );
    assert_eq!(
        at(b"20171224166032Z"),
        bad(TimestampError::OutOfRange("minute"))
    );
    assert_eq!(
        at(b"20171224161460Z"),
        bad(TimestampError::OutOfRange("second"))
    );
    assert_eq!(at(b"99991231235960Z"), bad(TimestampError::YearOutOfRange));
}

#[test]
fn oversized_frames_and_error_data_are_rejected() {
    let big = vec![0u8; MAX_FRAME_LEN + 1];
    assert_eq!(
        Frame::decode(Bytes::from(big)),
        Err(DecodeError::TooLong {
            field: "frame",
            len: MAX_FRAME_LEN + 1,
            max: MAX_FRAME_LEN
        })
    );
    let entry =
        ProtocolEntry::new("ilp", ContentType::OCTET_STREAM, vec![0u8; MAX_FRAME_LEN]).unwrap();
    let built = Frame::new(1, Body::Message(vec![entry].into()));
    assert!(
        matches!(
            built,
            Err(DecodeError::TooLong {
                field: "frame",
                max: MAX_FRAME_LEN,
                ..
            })
        ),
        "{built:?}"
    );

    let mut rest = Vec::new();
    oer::put_var_octets(&mut rest, &vec![b'x'; MAX_ERROR_DATA_LEN + 1]);
    rest.extend_from_slice(b"\x01\x00");
    let too_long = DecodeError::TooLong {
        field: "data",
        len: MAX_ERROR_DATA_LEN + 1,
        max: MAX_ERROR_DATA_LEN,
    };
    assert_eq!(
        decode(2, &error_content(b"F00", b"x", b"20171224161432Z", &rest)),
        Err(too_long.clone())
    );
    let at = ilp_packet::Timestamp::MIN;
    let body = ErrorBody::new(
        ErrorCode::F00_NOT_ACCEPTED,
        "x",
        at,
        vec![0u8; MAX_ERROR_DATA_LEN + 1],
        ProtocolData::new(),
    );
    assert_eq!(body, Err(too_long));
    // not_accepted truncates its reason instead, at a character boundary.
    let reason = "é".repeat(MAX_ERROR_DATA_LEN);
    let Body::Error(e) = Frame::not_accepted(1, &reason, at).into_body() else {
        unreachable!()
    };
    assert_eq!(e.data().len(), MAX_ERROR_DATA_LEN);
}

#[test]
fn auth_helpers_need_an_auth_message() {
    let token = ProtocolEntry::new("auth_token", ContentType::TEXT_PLAIN_UTF8, "t").unwrap();
    let auth = ProtocolEntry::new("auth", ContentType::OCTET_STREAM, "").unwrap();
    let not_primary =
        Frame::new(1, Body::Message(vec![token.clone(), auth.clone()].into())).unwrap();
    assert_eq!(not_primary.auth_token(), None);
    let response = Frame::new(1, Body::Response(vec![auth.clone(), token].into())).unwrap();
    assert_eq!(response.auth_token(), None);
    let bad_utf8 =
        ProtocolEntry::new("auth_token", ContentType::TEXT_PLAIN_UTF8, &b"\xff"[..]).unwrap();
    let frame = Frame::new(1, Body::Message(vec![auth, bad_utf8].into())).unwrap();
    assert_eq!(frame.auth_token(), None);
    assert_eq!(
        frame
            .protocol_data()
            .get("auth_token")
            .map(|e| &e.data()[..]),
        Some(&b"\xff"[..])
    );
    assert_eq!(frame.ilp(), None);
}
