//! Any text as hex, condition, fulfillment, error code: no panic; what parses prints back.
#![no_main]
use ilp_packet::{hex, Condition, ErrorCode, Fulfillment};

fn ok<T: std::str::FromStr + ToString>(text: &str, shown: &str) -> bool {
    text.parse::<T>().map_or(true, |v| v.to_string() == shown)
}
libfuzzer_sys::fuzz_target!(|text: &str| {
    let lower = text.to_lowercase();
    assert!(hex::decode(text).map_or(true, |b| hex::encode(&b) == lower));
    assert!(ok::<Condition>(text, &lower) && ok::<Fulfillment>(text, &lower));
    assert!(ok::<ErrorCode>(text, text));
});
