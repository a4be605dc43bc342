//! Property tests: `decode(encode(f)) == f` for every frame type, trailing bytes are kept, and
//! arbitrary input never panics.

use bytes::{Bytes, BytesMut};
use ilp_btp::{
    Body, ContentType, ErrorBody, ErrorCode, Frame, ProtocolData, ProtocolEntry, MAX_ERROR_DATA_LEN,
};
use ilp_packet::Timestamp;
use proptest::collection::vec;
use proptest::prelude::*;

fn ascii(max: usize) -> impl Strategy<Value = String> {
    vec(0u8..0x80, 0..max).prop_map(|b| String::from_utf8(b).expect("ASCII"))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..40), vec(any::<u8>(), 120..max)]
}

fn protocol_data() -> impl Strategy<Value = ProtocolData> {
    let entry = (ascii(20), any::<u8>(), bytes(300)).prop_map(|(name, ct, data)| {
        ProtocolEntry::new(name, ContentType(ct), data).expect("ASCII name")
    });
    vec(entry, 0..6).prop_map(ProtocolData::from)
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.unix_millis()..=Timestamp::MAX.unix_millis())
        .prop_map(|ms| Timestamp::from_unix_millis(ms).expect("in range"))
}

fn body() -> impl Strategy<Value = Body> {
    let error = (
        prop::array::uniform3(0u8..0x80),
        ascii(30),
        timestamp(),
        bytes(MAX_ERROR_DATA_LEN),
        protocol_data(),
    )
        .prop_map(|(code, name, at, data, p)| {
            let code = ErrorCode::new(code).expect("IA5");
            Body::Error(ErrorBody::new(code, name, at, data, p).expect("valid"))
        });
    prop_oneof![
        protocol_data().prop_map(Body::Response),
        protocol_data().prop_map(Body::Message),
        (any::<u64>(), protocol_data()).prop_map(|(amount, protocol_data)| Body::Transfer {
            amount,
            protocol_data
        }),
        error,
    ]
}

proptest! {
    #[test]
    fn frame_roundtrips(request_id in any::<u32>(), body in body()) {
        let frame = Frame::new(request_id, body.clone()).unwrap();
        let mut buf = BytesMut::with_capacity(frame.encoded_len());
        frame.encode(&mut buf);
        prop_assert_eq!(buf.len(), frame.encoded_len());
        let decoded = Frame::decode(buf.freeze()).unwrap();
        prop_assert_eq!(decoded.body(), &body);
        prop_assert_eq!(decoded.request_id(), request_id);
        prop_assert_eq!(&decoded, &frame);
    }

    #[test]
    fn trailing_bytes_are_kept(request_id in any::<u32>(), body in body(),
                               inner in vec(any::<u8>(), 0..8), outer in vec(any::<u8>(), 0..8)) {
        let clean = Frame::new(request_id, body.clone()).unwrap();
        // Re-frame the content with `inner` appended, then append `outer`.
        let wire = clean.as_bytes();
        let mut r = ilp_packet::oer::Reader::new(&wire[5..]);
        let mut content = r.read_var_octets("content").unwrap().to_vec();
        content.extend_from_slice(&inner);
        let mut input = wire[..5].to_vec();
        ilp_packet::oer::put_var_octets(&mut input, &content);
        input.extend_from_slice(&outer);
        let frame = Frame::decode(Bytes::from(input.clone())).unwrap();
        prop_assert_eq!(frame.body(), &body);
        prop_assert_eq!(frame.to_bytes(), input);
        prop_assert_eq!(Frame::new(request_id, frame.into_body()).unwrap(), clean);
    }

    #[test]
    fn arbitrary_input_never_panics(input in vec(any::<u8>(), 0..200)) {
        if let Ok(frame) = Frame::decode(Bytes::from(input.clone())) {
            prop_assert_eq!(frame.to_bytes(), input);
            prop_assert_eq!(Frame::decode(frame.to_bytes()), Ok(frame));
        }
    }

    #[test]
    fn framed_garbage_never_panics(ty in prop::sample::select(vec![1u8, 2, 6, 7]),
                                   content in vec(any::<u8>(), 0..200)) {
        let mut input = vec![ty, 0, 0, 0, 1];
        ilp_packet::oer::put_var_octets(&mut input, &content);
        if let Ok(frame) = Frame::decode(Bytes::from(input.clone())) {
            prop_assert_eq!(frame.to_bytes(), input);
        }
    }
}
