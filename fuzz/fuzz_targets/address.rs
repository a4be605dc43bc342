//! Any input: parsing never panics; an accepted address is the input, and its text parses back.
#![no_main]
use ilp_packet::Address;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(address) = Address::try_from(data) {
        assert_eq!(address.as_bytes(), data);
        assert_eq!(address.as_str().parse::<Address>().as_ref(), Ok(&address));
    }
});
