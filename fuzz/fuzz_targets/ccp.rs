//! Any input as a CCP control or update payload: never panics; whatever decodes re-encodes
//! and decodes to the same value.
#![no_main]
use bytes::{Bytes, BytesMut};
use ilp_packet::ccp::{RouteControlRequest, RouteUpdateRequest};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(control) = RouteControlRequest::decode_data(&input) {
        let mut buf = BytesMut::with_capacity(control.data_len());
        control.encode_data(&mut buf);
        assert_eq!(buf.len(), control.data_len());
        assert_eq!(RouteControlRequest::decode_data(&buf), Ok(control));
    }
    if let Ok(update) = RouteUpdateRequest::decode_data(&input) {
        let mut buf = BytesMut::with_capacity(update.data_len());
        update.encode_data(&mut buf);
        assert_eq!(buf.len(), update.data_len());
        assert_eq!(RouteUpdateRequest::decode_data(&buf.freeze()), Ok(update));
    }
});
