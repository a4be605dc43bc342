//! No token in the session's logs. Alone in its test binary, so that no test running in
//! parallel without a subscriber makes tracing switch these call sites off.

mod session_common;

use std::time::Duration;

use ilp_btp::Event;
use session_common::*;

// -------------------------------------------------------------------------------------------
// Logs

mod capture {
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Writes every event's fields, formatted, into a shared string.
    #[derive(Clone, Default)]
    pub(crate) struct Capture(pub(crate) Arc<Mutex<String>>);

    struct Fields<'a>(&'a mut String);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, "{}={:?} ", field.name(), value);
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut out = self.0.lock().unwrap();
            span.record(&mut Fields(&mut out));
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut Fields(&mut self.0.lock().unwrap()));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut out = self.0.lock().unwrap();
            event.record(&mut Fields(&mut out));
            out.push('\n');
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[test]
fn debug_logs_never_contain_the_token() {
    let capture = capture::Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let mut pair = Pair::connected();
        let p = pair.prepare(Duration::from_secs(30), b"x");
        pair.client.send_prepare(p, pair.now).unwrap();
        pair.drive();
        let Some(Event::Request { id, prepare }) = pair.server_events.pop_front() else {
            panic!()
        };
        pair.server.respond(id, Ok(fulfill_for(&prepare))).unwrap();
        pair.drive();
        // A refused authentication too.
        let mut other = Pair::new();
        other.drive();
        other.server.reject_auth("invalid auth_token").unwrap();
        other.drive();
        // And the events' Debug.
        let _ = format!("{:?}", other.server_events);
    });
    let logs = capture.0.lock().unwrap();
    assert!(logs.contains("auth requested"), "{logs}");
    assert!(logs.contains("username=\"alice\""), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
}
