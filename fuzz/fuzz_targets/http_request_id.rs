//! Any input: parsing a `Request-Id` never panics; an accepted one is the input itself, 36
//! bytes, and equals its upper- and lower-case forms.
#![no_main]
use ilp_http::RequestId;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = text.parse::<RequestId>() {
        assert_eq!(id.as_str(), text);
        assert_eq!(text.len(), 36);
        assert_eq!(
            text.to_ascii_uppercase().parse::<RequestId>().as_ref(),
            Ok(&id)
        );
        assert_eq!(
            text.to_ascii_lowercase().parse::<RequestId>().as_ref(),
            Ok(&id)
        );
    }
});
