//! Any input as an IL-DCP request, response or response payload: never panics; whatever
//! decodes re-encodes and decodes to the same value.
#![no_main]
use bytes::Bytes;
use ilp_packet::ildcp::{Request, Response};

fn roundtrip(response: Response) {
    match response.to_fulfill() {
        Ok(fulfill) => assert_eq!(Response::decode(fulfill.to_bytes()), Ok(response)),
        Err(_) => assert!(response.data_len() > ilp_packet::MAX_DATA_LEN),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(response) = Response::decode_data(&input) {
        roundtrip(response);
    }
    if let Ok(response) = Response::decode(input.clone()) {
        roundtrip(response);
    }
    if let Ok(request) = Request::decode(input) {
        let again = Request::decode(request.to_prepare().to_bytes());
        assert_eq!(again, Ok(request));
    }
});
