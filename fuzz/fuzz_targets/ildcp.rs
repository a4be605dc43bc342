//! Any input as an IL-DCP response payload or packet: never panics; whatever decodes
//! re-encodes and decodes to the same value.
#![no_main]
use bytes::Bytes;
use ilp_packet::ildcp::{Request, Response};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(response) = Response::decode_data(&input) {
        match response.to_fulfill() {
            Ok(fulfill) => assert_eq!(Response::decode(fulfill.to_bytes()), Ok(response)),
            Err(_) => assert!(response.data_len() > ilp_packet::MAX_DATA_LEN),
        }
    }
    if let Ok(request) = Request::decode(input.clone()) {
        assert_eq!(Request::decode(request.to_prepare().to_bytes()), Ok(request));
    }
    if let Ok(response) = Response::decode(input) {
        assert_eq!(Response::decode(response.to_fulfill().unwrap().to_bytes()), Ok(response));
    }
});
