//! Any input: parsing never panics; an accepted wire timestamp re-encodes to the input and
//! survives the text and Unix-millisecond forms.
#![no_main]
use ilp_packet::Timestamp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Timestamp::from_ilp_bytes(data) {
        assert_eq!(&t.to_ilp_bytes()[..], data);
        assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Ok(t));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = text.parse::<Timestamp>() {
            assert_eq!(Timestamp::from_ilp_bytes(&t.to_ilp_bytes()), Ok(t));
        }
    }
});
