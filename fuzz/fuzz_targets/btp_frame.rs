//! Any input: decoding never panics; a decoded frame re-encodes to the input (trailing bytes
//! are kept) and decodes again to itself.
#![no_main]
use bytes::Bytes;
use ilp_btp::Frame;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(Bytes::copy_from_slice(data)) {
        assert_eq!(frame.as_bytes(), data);
        assert_eq!(Frame::decode(frame.to_bytes()).as_ref(), Ok(&frame));
    }
});
