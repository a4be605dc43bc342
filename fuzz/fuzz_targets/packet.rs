//! Any input: decoding never panics; a decoded packet re-encodes to the input (trailing bytes
//! are kept) and decodes again to itself.
#![no_main]
use bytes::Bytes;
use ilp_packet::Packet;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::decode(Bytes::copy_from_slice(data)) {
        assert_eq!(packet.as_bytes(), data);
        assert_eq!(Packet::decode(packet.to_bytes()).as_ref(), Ok(&packet));
    }
});
