//! The sans-IO BTP session: a client and a server driven against each other in memory (quinn's
//! `Pair`), and hand-made frames fed to one side. The log test is in `session_logs.rs`, alone in
//! its binary: tracing caches per call site whether anyone listens, and tests running in
//! parallel without a subscriber would switch its events off.

mod session_common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ilp_btp::{
    Body, CloseReason, ContentType, ErrorCode as BtpErrorCode, Event, Frame, FrameType,
    ProtocolData, ProtocolEntry, RequestId, Session, SessionConfig, SessionError,
};
use ilp_core::{reject, Clock, IlpResult, ManualClock};
use ilp_packet::{Address, ErrorCode, Packet, Prepare};
use proptest::prelude::*;
use session_common::*;

// -------------------------------------------------------------------------------------------
// Authentication

#[test]
fn client_auth_message_is_ilp_plugin_btp_s() {
    let clock = clock();
    let mut client = Session::client(config(&clock, 1), USER, TOKEN, Instant::now()).unwrap();
    let frames = transmits(&mut client);
    assert_eq!(frames.len(), 1);
    let frame = decode(&frames[0]);
    assert_eq!(frame.frame_type(), FrameType::Message);
    let entries: Vec<_> = frame
        .protocol_data()
        .iter()
        .map(|e| (e.name().to_owned(), e.content_type(), e.data().clone()))
        .collect();
    assert_eq!(
        entries,
        [
            ("auth".into(), ContentType::OCTET_STREAM, Bytes::new()),
            (
                "auth_username".into(),
                ContentType::TEXT_PLAIN_UTF8,
                Bytes::from(USER)
            ),
            (
                "auth_token".into(),
                ContentType::TEXT_PLAIN_UTF8,
                Bytes::from(TOKEN)
            ),
        ]
    );
    // Same bytes as the codec's helper.
    assert_eq!(
        frames[0],
        Frame::auth(frame.request_id(), USER, TOKEN)
            .unwrap()
            .to_bytes()
    );
}

#[test]
fn pair_authenticates_with_empty_response_under_the_auth_id() {
    let mut pair = Pair::new();
    let auth = pair.client.poll_transmit().unwrap();
    let auth_id = decode(&auth).request_id();
    pair.server.handle_frame(auth, pair.now);
    let Some(Event::AuthRequested {
        id,
        username,
        token,
    }) = pair.server.poll_event()
    else {
        panic!("no AuthRequested")
    };
    assert_eq!(id, RequestId::new(auth_id));
    assert_eq!(username.as_deref(), Some(USER));
    assert_eq!(token.expose(), TOKEN);
    assert!(!format!("{token:?}").contains(TOKEN));
    assert!(!pair.server.is_authenticated());

    pair.server.accept(principal()).unwrap();
    assert_eq!(pair.server.principal(), Some(&principal()));
    let response = pair.server.poll_transmit().unwrap();
    let mut expected = vec![1];
    expected.extend(auth_id.to_be_bytes());
    expected.extend([2, 1, 0]);
    assert_eq!(&response[..], &expected[..]);
    pair.client.handle_frame(response, pair.now);
    assert_eq!(pair.client.poll_event(), Some(Event::Authenticated));
    assert!(pair.client.is_authenticated() && pair.server.is_authenticated());
    // Both sides answered: nothing left to time out.
    assert_eq!(pair.client.poll_timeout(), None);
    assert_eq!(pair.server.poll_timeout(), None);
    // A second accept is misuse.
    assert_eq!(
        pair.server.accept(principal()),
        Err(SessionError::NoPendingAuth)
    );
    assert_eq!(
        pair.client.accept(principal()),
        Err(SessionError::NoPendingAuth)
    );
}

#[test]
fn empty_username_and_rs_style_auth_without_username_give_none() {
    for frame in [
        Frame::auth(5, "", "tok").unwrap(),
        Frame::new(
            5,
            Body::Message(
                vec![
                    ProtocolEntry::new("auth", ContentType::OCTET_STREAM, Bytes::new()).unwrap(),
                    ProtocolEntry::new("auth_token", ContentType::TEXT_PLAIN_UTF8, "tok").unwrap(),
                ]
                .into(),
            ),
        )
        .unwrap(),
    ] {
        let mut server = Session::server(config(&clock(), 2), Instant::now());
        server.handle_frame(frame.to_bytes(), Instant::now());
        let Some(Event::AuthRequested {
            username, token, ..
        }) = server.poll_event()
        else {
            panic!("no AuthRequested")
        };
        assert_eq!((username, token.expose()), (None, "tok"));
    }
}

fn assert_not_accepted(bytes: &Bytes, id: u32) -> String {
    let frame = decode(bytes);
    assert_eq!(frame.request_id(), id);
    let Body::Error(error) = frame.body() else {
        panic!("not an Error: {frame:?}")
    };
    assert_eq!(error.code(), BtpErrorCode::F00_NOT_ACCEPTED);
    assert_eq!(error.name(), "NotAcceptedError");
    String::from_utf8(error.data().to_vec()).unwrap()
}

#[test]
fn server_refuses_a_first_frame_that_is_not_auth() {
    let clock = clock();
    let prepare = prepare_at("2030-01-01T00:00:30.000Z".parse().unwrap(), b"x");
    let not_auth = [
        Frame::ilp_message(77, &prepare).unwrap(),
        Frame::empty_response(77),
        // `auth_token` present but `auth` not primary.
        Frame::new(
            77,
            Body::Message(
                vec![ProtocolEntry::new("auth_token", ContentType::TEXT_PLAIN_UTF8, "t").unwrap()]
                    .into(),
            ),
        )
        .unwrap(),
        // `auth` primary but no `auth_token`.
        Frame::new(
            77,
            Body::Message(
                vec![ProtocolEntry::new("auth", ContentType::OCTET_STREAM, Bytes::new()).unwrap()]
                    .into(),
            ),
        )
        .unwrap(),
        Frame::new(
            77,
            Body::Transfer {
                amount: 5,
                protocol_data: ProtocolData::new(),
            },
        )
        .unwrap(),
    ];
    for frame in not_auth {
        let now = Instant::now();
        let mut server = Session::server(config(&clock, 2), now);
        server.handle_frame(frame.to_bytes(), now);
        let out = transmits(&mut server);
        assert_eq!(out.len(), 1, "{frame:?}");
        assert!(assert_not_accepted(&out[0], 77).contains("auth"));
        assert_eq!(
            drain(&mut server),
            [Event::Closed {
                reason: CloseReason::NotAuthenticated
            }]
        );
        assert!(server.is_closed());
        assert_eq!(server.close_reason(), Some(&CloseReason::NotAuthenticated));
        // Closed: input ignored.
        server.handle_frame(Frame::auth(1, USER, TOKEN).unwrap().to_bytes(), now);
        assert_eq!(server.poll_event(), None);
        assert_eq!(server.poll_transmit(), None);
    }
}

#[test]
fn server_closes_silently_on_an_undecodable_first_frame() {
    let now = Instant::now();
    let mut server = Session::server(config(&clock(), 2), now);
    server.handle_frame(Bytes::from_static(b"\x06\x00\x00\x00\x01\x05garbage"), now);
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(
        drain(&mut server),
        [Event::Closed {
            reason: CloseReason::NotAuthenticated
        }]
    );
}

#[test]
fn server_times_out_without_auth() {
    let now = Instant::now();
    let mut server = Session::server(config(&clock(), 2), now);
    let deadline = now + Duration::from_secs(10);
    assert_eq!(server.poll_timeout(), Some(deadline));
    server.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(server.poll_event(), None);
    server.handle_timeout(deadline);
    assert_eq!(
        drain(&mut server),
        [Event::Closed {
            reason: CloseReason::AuthTimeout
        }]
    );
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn server_times_out_when_the_embedder_never_answers_auth() {
    let mut pair = Pair::with_configs(|c| c, |c| c.with_auth_timeout(Duration::from_secs(3)));
    pair.drive();
    assert!(matches!(
        pair.server_events.pop_front(),
        Some(Event::AuthRequested { .. })
    ));
    pair.advance(Duration::from_secs(3));
    assert_eq!(
        pair.server_events.pop_front(),
        Some(Event::Closed {
            reason: CloseReason::AuthTimeout
        })
    );
    assert_eq!(pair.server.accept(principal()), Err(SessionError::Closed));
}

#[test]
fn client_times_out_when_the_server_never_answers() {
    let clock = clock();
    let now = Instant::now();
    let mut client = Session::client(config(&clock, 1), USER, TOKEN, now).unwrap();
    let _ = transmits(&mut client);
    client.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(
        drain(&mut client),
        [Event::Closed {
            reason: CloseReason::AuthTimeout
        }]
    );
}

#[test]
fn reject_auth_sends_f00_under_the_auth_id_then_closes_both_sides() {
    let mut pair = Pair::new();
    let auth = pair.client.poll_transmit().unwrap();
    let auth_id = decode(&auth).request_id();
    pair.server.handle_frame(auth, pair.now);
    assert!(matches!(
        pair.server.poll_event(),
        Some(Event::AuthRequested { .. })
    ));

    pair.server.reject_auth("invalid auth_token").unwrap();
    let reason = CloseReason::AuthRejected {
        reason: "invalid auth_token".into(),
    };
    assert_eq!(
        drain(&mut pair.server),
        [Event::Closed {
            reason: reason.clone()
        }]
    );
    let out = transmits(&mut pair.server);
    assert_eq!(out.len(), 1);
    assert_eq!(assert_not_accepted(&out[0], auth_id), "invalid auth_token");

    pair.client.handle_frame(out[0].clone(), pair.now);
    assert_eq!(drain(&mut pair.client), [Event::Closed { reason }]);
    assert_eq!(pair.server.reject_auth("again"), Err(SessionError::Closed));
}

#[test]
fn server_drops_frames_between_auth_and_the_embedder_s_answer() {
    let mut pair = Pair::new();
    let p = pair.prepare(Duration::from_secs(30), b"early");
    // Held by the client until authenticated: nothing but the auth message goes out.
    let id = pair.client.send_prepare(p.clone(), pair.now).unwrap();
    assert_eq!(transmits(&mut pair.client).len(), 1);
    pair.server
        .handle_frame(Frame::auth(9, USER, TOKEN).unwrap().to_bytes(), pair.now);
    assert!(matches!(
        pair.server.poll_event(),
        Some(Event::AuthRequested { .. })
    ));
    // A hand-made Prepare before accept: not processed, no reply.
    pair.server
        .handle_frame(Frame::ilp_message(10, &p).unwrap().to_bytes(), pair.now);
    assert_eq!(pair.server.poll_event(), None);
    assert_eq!(pair.server.poll_transmit(), None);
    let _ = id;
}

#[test]
fn prepares_sent_before_auth_go_out_after_it_both_sides() {
    let mut pair = Pair::new();
    let from_client = pair.prepare(Duration::from_secs(30), b"c");
    let c_id = pair
        .client
        .send_prepare(from_client.clone(), pair.now)
        .unwrap();
    pair.drive();
    assert!(matches!(
        pair.server_events.pop_front(),
        Some(Event::AuthRequested { .. })
    ));
    assert!(pair.server_events.is_empty());
    let from_server = pair.prepare(Duration::from_secs(30), b"s");
    let s_id = pair
        .server
        .send_prepare(from_server.clone(), pair.now)
        .unwrap();
    assert_eq!(pair.server.poll_transmit(), None, "held until accept");
    pair.server.accept(principal()).unwrap();
    pair.drive();
    assert_eq!(pair.client_events.pop_front(), Some(Event::Authenticated));
    let Some(Event::Request { id, prepare }) = pair.server_events.pop_front() else {
        panic!()
    };
    assert_eq!(prepare, from_client);
    pair.server.respond(id, Ok(fulfill_for(&prepare))).unwrap();
    let Some(Event::Request { id, prepare }) = pair.client_events.pop_front() else {
        panic!()
    };
    assert_eq!(prepare, from_server);
    pair.client.respond(id, Ok(fulfill_for(&prepare))).unwrap();
    pair.drive();
    assert!(
        matches!(pair.client_events.pop_front(), Some(Event::Response { id, result: Ok(_) }) if id == c_id)
    );
    assert!(
        matches!(pair.server_events.pop_front(), Some(Event::Response { id, result: Ok(_) }) if id == s_id)
    );
}

/// A client session whose auth Message went out; the id it went under.
fn client_waiting_for_auth(clock: &ManualClock, now: Instant) -> (Session, u32) {
    let mut client = Session::client(config(clock, 5), USER, TOKEN, now).unwrap();
    let auth = decode(&client.poll_transmit().expect("the auth message"));
    (client, auth.request_id())
}

#[test]
fn client_holds_what_the_server_sends_before_the_auth_response() {
    let now = Instant::now();
    let clock = clock();
    let (mut client, auth_id) = client_waiting_for_auth(&clock, now);
    let p = prepare_at(
        clock.now().checked_add(Duration::from_secs(30)).unwrap(),
        b"early",
    );
    let pd: ProtocolData =
        vec![ProtocolEntry::new("paychan", ContentType::TEXT_PLAIN_UTF8, "c").unwrap()].into();
    client.handle_frame(Frame::ilp_message(5, &p).unwrap().to_bytes(), now);
    client.handle_frame(
        Frame::new(6, Body::Message(pd.clone())).unwrap().to_bytes(),
        now,
    );
    client.handle_frame(
        Frame::new(
            7,
            Body::Transfer {
                amount: 3,
                protocol_data: pd.clone(),
            },
        )
        .unwrap()
        .to_bytes(),
        now,
    );
    // Nothing is reported before the server accepted us; the Prepare holds a slot.
    assert_eq!(drain(&mut client), []);
    assert_eq!(client.incoming_in_flight(), 1);
    assert_eq!(
        transmits(&mut client),
        [
            Frame::empty_response(6).to_bytes(),
            Frame::empty_response(7).to_bytes()
        ]
    );
    client.handle_frame(Frame::empty_response(auth_id).to_bytes(), now);
    assert_eq!(
        drain(&mut client),
        [
            Event::Authenticated,
            Event::Request {
                id: RequestId::new(5),
                prepare: p.clone()
            },
            Event::Message {
                id: RequestId::new(6),
                protocol_data: pd.clone()
            },
            Event::Transfer {
                id: RequestId::new(7),
                amount: 3,
                protocol_data: pd
            },
        ]
    );
    // Handed on, it is answered as any other.
    client
        .respond(RequestId::new(5), Ok(fulfill_for(&p)))
        .unwrap();
    let reply = decode(&client.poll_transmit().unwrap());
    assert_eq!(
        (reply.frame_type(), reply.request_id()),
        (FrameType::Response, 5)
    );
    assert_eq!(ilp_of(&reply), Packet::Fulfill(fulfill_for(&p)));
    assert_eq!(client.incoming_in_flight(), 0);
}

#[test]
fn a_held_prepare_that_expires_before_the_auth_response_is_answered_r00_and_not_reported() {
    let now = Instant::now();
    let clock = clock();
    let (mut client, auth_id) = client_waiting_for_auth(&clock, now);
    let short = prepare_at(
        clock.now().checked_add(Duration::from_secs(1)).unwrap(),
        b"short",
    );
    client.handle_frame(Frame::ilp_message(5, &short).unwrap().to_bytes(), now);
    client.handle_timeout(now + Duration::from_secs(1));
    let reply = decode(&client.poll_transmit().expect("the R00"));
    assert_eq!(reply.request_id(), 5);
    let Packet::Reject(r) = ilp_of(&reply) else {
        panic!()
    };
    assert_eq!(r.code(), ErrorCode::R00_TRANSFER_TIMED_OUT);
    // The server reuses the id for a new Prepare, still before answering our auth.
    let later = prepare_at(
        clock.now().checked_add(Duration::from_secs(30)).unwrap(),
        b"later",
    );
    client.handle_frame(Frame::ilp_message(5, &later).unwrap().to_bytes(), now);
    client.handle_frame(Frame::empty_response(auth_id).to_bytes(), now);
    assert_eq!(
        drain(&mut client),
        [
            Event::Authenticated,
            Event::Request {
                id: RequestId::new(5),
                prepare: later
            }
        ]
    );
}

#[test]
fn a_client_refused_drops_what_it_held() {
    let now = Instant::now();
    let clock = clock();
    let (mut client, auth_id) = client_waiting_for_auth(&clock, now);
    let p = prepare_at(
        clock.now().checked_add(Duration::from_secs(30)).unwrap(),
        b"early",
    );
    client.handle_frame(Frame::ilp_message(5, &p).unwrap().to_bytes(), now);
    client.handle_frame(
        Frame::not_accepted(auth_id, "invalid auth_token", clock.now()).to_bytes(),
        now,
    );
    assert_eq!(
        drain(&mut client),
        [Event::Closed {
            reason: CloseReason::AuthRejected {
                reason: "invalid auth_token".into()
            }
        }]
    );
    assert_eq!(client.incoming_in_flight(), 0);
}

// -------------------------------------------------------------------------------------------
// ILP over BTP

#[test]
fn prepare_rides_in_a_message_and_fulfill_in_a_response_with_the_same_id() {
    let mut pair = Pair::connected();
    let p = pair.prepare(Duration::from_secs(30), b"hello");
    let id = pair.client.send_prepare(p.clone(), pair.now).unwrap();
    let wire = pair.client.poll_transmit().unwrap();
    let frame = decode(&wire);
    assert_eq!(frame.frame_type(), FrameType::Message);
    assert_eq!(frame.request_id(), id.get());
    assert_eq!(frame.protocol_data().len(), 1);
    assert_eq!(
        frame.ilp().unwrap(),
        p.as_bytes(),
        "the Prepare's own bytes"
    );
    assert_eq!(
        frame.protocol_data().primary().unwrap().content_type(),
        ContentType::OCTET_STREAM
    );

    pair.server.handle_frame(wire, pair.now);
    let Some(Event::Request {
        id: theirs,
        prepare,
    }) = pair.server.poll_event()
    else {
        panic!()
    };
    assert_eq!(theirs, id);
    assert_eq!(prepare, p);
    let fulfill = fulfill_for(&prepare);
    pair.server.respond(theirs, Ok(fulfill.clone())).unwrap();
    let reply = pair.server.poll_transmit().unwrap();
    let reply_frame = decode(&reply);
    assert_eq!(reply_frame.frame_type(), FrameType::Response);
    assert_eq!(reply_frame.request_id(), id.get());
    assert_eq!(reply_frame.ilp().unwrap(), fulfill.as_bytes());
    assert_eq!(
        pair.server.respond(theirs, Ok(fulfill.clone())),
        Err(SessionError::UnknownRequest(theirs))
    );

    pair.client.handle_frame(reply.clone(), pair.now);
    assert_eq!(
        drain(&mut pair.client),
        [Event::Response {
            id,
            result: Ok(fulfill)
        }]
    );
    assert_eq!(pair.client.outgoing_in_flight(), 0);
    assert_eq!(pair.client.poll_timeout(), None);

    // The same Response again (duplicate), and one with an unknown id: ignored, no reply.
    pair.client.handle_frame(reply, pair.now);
    let stray = Frame::ilp_response(id.get() ^ 1, Ok(&fulfill_for(&p))).unwrap();
    pair.client.handle_frame(stray.to_bytes(), pair.now);
    pair.client
        .handle_frame(Frame::empty_response(12345).to_bytes(), pair.now);
    pair.client.handle_frame(
        Frame::not_accepted(999, "nope", pair.clock.now()).to_bytes(),
        pair.now,
    );
    assert_eq!(pair.client.poll_event(), None);
    assert_eq!(pair.client.poll_transmit(), None);
    assert!(!pair.client.is_closed());
}

#[test]
fn reject_from_the_server_reaches_the_client() {
    let mut pair = Pair::connected();
    let p = pair.prepare(Duration::from_secs(30), b"x");
    let id = pair.server.send_prepare(p, pair.now).unwrap();
    pair.drive();
    let Some(Event::Request { id: theirs, .. }) = pair.client_events.pop_front() else {
        panic!()
    };
    let r = reject(
        ErrorCode::F02_UNREACHABLE,
        &Address::from_static("test.client"),
        "no route",
    );
    pair.client.respond(theirs, Err(r.clone())).unwrap();
    pair.drive();
    assert_eq!(
        pair.server_events.pop_front(),
        Some(Event::Response { id, result: Err(r) })
    );
}

/// The interledger-rs form: a Prepare in a Response, the Fulfill or Reject in a Message.
#[test]
fn inverted_form_is_accepted_on_input() {
    let mut pair = Pair::connected();
    let p = pair.prepare(Duration::from_secs(30), b"rs");
    let inverted_prepare = Frame::new(77, Body::Response(ilp_data(p.to_bytes()))).unwrap();
    pair.server
        .handle_frame(inverted_prepare.to_bytes(), pair.now);
    let Some(Event::Request { id, prepare }) = pair.server.poll_event() else {
        panic!()
    };
    assert_eq!((id.get(), &prepare), (77, &p));
    // Answered in the RFC form.
    pair.server.respond(id, Ok(fulfill_for(&p))).unwrap();
    let reply = decode(&pair.server.poll_transmit().unwrap());
    assert_eq!(
        (reply.frame_type(), reply.request_id()),
        (FrameType::Response, 77)
    );

    // Our Prepare, answered in a Message.
    let ours = pair.server.send_prepare(p.clone(), pair.now).unwrap();
    let _ = pair.server.poll_transmit();
    let r = reject(ErrorCode::T04_INSUFFICIENT_LIQUIDITY, &node(), "later");
    let inverted_reply = Frame::new(ours.get(), Body::Message(ilp_data(r.to_bytes()))).unwrap();
    pair.server
        .handle_frame(inverted_reply.to_bytes(), pair.now);
    assert_eq!(
        drain(&mut pair.server),
        [Event::Response {
            id: ours,
            result: Err(r)
        }]
    );
    assert_eq!(
        pair.server.poll_transmit(),
        None,
        "a reply in a Message gets no answer"
    );
}

#[test]
fn inverted_form_is_refused_when_configured_off() {
    let mut pair = Pair::connected_with(|c| c, |c| c.with_accept_inverted(false));
    let p = pair.prepare(Duration::from_secs(30), b"rs");
    let inverted_prepare = Frame::new(77, Body::Response(ilp_data(p.to_bytes()))).unwrap();
    pair.server
        .handle_frame(inverted_prepare.to_bytes(), pair.now);
    assert_eq!(pair.server.poll_event(), None);
    assert_eq!(
        pair.server.poll_transmit(),
        None,
        "a stray Response gets no answer"
    );

    let ours = pair.server.send_prepare(p.clone(), pair.now).unwrap();
    let _ = pair.server.poll_transmit();
    let f = fulfill_for(&p);
    let inverted_reply = Frame::new(ours.get(), Body::Message(ilp_data(f.to_bytes()))).unwrap();
    pair.server
        .handle_frame(inverted_reply.to_bytes(), pair.now);
    assert_eq!(pair.server.poll_event(), None);
    let out = transmits(&mut pair.server);
    assert_eq!(out.len(), 1);
    assert_not_accepted(&out[0], ours.get());
    assert_eq!(pair.server.outgoing_in_flight(), 1);
}

fn ilp_data(packet: Bytes) -> ProtocolData {
    vec![ProtocolEntry::new("ilp", ContentType::OCTET_STREAM, packet).unwrap()].into()
}

#[test]
fn undecodable_ilp_in_a_message_is_answered_f01() {
    let mut pair = Pair::connected();
    let bad = Frame::new(5, Body::Message(ilp_data(Bytes::from_static(b"\x0c\x01")))).unwrap();
    pair.server.handle_frame(bad.to_bytes(), pair.now);
    assert_eq!(pair.server.poll_event(), None);
    let reply = decode(&pair.server.poll_transmit().unwrap());
    assert_eq!(
        (reply.frame_type(), reply.request_id()),
        (FrameType::Response, 5)
    );
    let Packet::Reject(r) = ilp_of(&reply) else {
        panic!()
    };
    assert_eq!(r.code(), ErrorCode::F01_INVALID_PACKET);
    assert_eq!(r.triggered_by(), Some(node()));
}

#[test]
fn unreadable_or_missing_reply_resolves_our_prepare_with_t00() {
    let mut pair = Pair::connected();
    for reply in [
        Body::Response(ilp_data(Bytes::from_static(b"\x0d\x00"))),
        Body::Response(ProtocolData::new()),
    ] {
        let p = pair.prepare(Duration::from_secs(30), b"x");
        let id = pair.client.send_prepare(p, pair.now).unwrap();
        let _ = pair.client.poll_transmit();
        pair.client
            .handle_frame(Frame::new(id.get(), reply).unwrap().to_bytes(), pair.now);
        let Some(Event::Response {
            id: got,
            result: Err(r),
        }) = pair.client.poll_event()
        else {
            panic!()
        };
        assert_eq!((got, r.code()), (id, ErrorCode::T00_INTERNAL_ERROR));
    }
}

#[test]
fn btp_error_answering_our_prepare_becomes_a_reject() {
    let mut pair = Pair::connected();
    for (code, expected) in [
        (
            BtpErrorCode::T00_UNREACHABLE,
            ErrorCode::T01_PEER_UNREACHABLE,
        ),
        (BtpErrorCode::F00_NOT_ACCEPTED, ErrorCode::F00_BAD_REQUEST),
    ] {
        let p = pair.prepare(Duration::from_secs(30), b"x");
        let id = pair.client.send_prepare(p, pair.now).unwrap();
        let _ = pair.client.poll_transmit();
        let body = ilp_btp::ErrorBody::new(
            code,
            code.name().unwrap(),
            pair.clock.now(),
            "boom",
            ProtocolData::new(),
        )
        .unwrap();
        pair.client.handle_frame(
            Frame::new(id.get(), Body::Error(body)).unwrap().to_bytes(),
            pair.now,
        );
        let Some(Event::Response {
            id: got,
            result: Err(r),
        }) = pair.client.poll_event()
        else {
            panic!()
        };
        assert_eq!((got, r.code()), (id, expected));
        assert_eq!(pair.client.poll_transmit(), None);
    }
}

// -------------------------------------------------------------------------------------------
// Other subprotocols

#[test]
fn message_without_ilp_is_surfaced_and_answered_empty() {
    let mut pair = Pair::connected();
    let pd: ProtocolData = vec![
        ProtocolEntry::new("paychan", ContentType::APPLICATION_JSON, "{\"claim\":1}").unwrap(),
        ProtocolEntry::new("extra", ContentType(9), "x").unwrap(),
    ]
    .into();
    let msg = Frame::new(31, Body::Message(pd.clone())).unwrap();
    pair.client.handle_frame(msg.to_bytes(), pair.now);
    assert_eq!(
        drain(&mut pair.client),
        [Event::Message {
            id: RequestId::new(31),
            protocol_data: pd
        }]
    );
    assert_eq!(
        transmits(&mut pair.client),
        [Frame::empty_response(31).to_bytes()]
    );
}

#[test]
fn transfer_is_surfaced_and_answered_empty() {
    let mut pair = Pair::connected();
    let pd: ProtocolData =
        vec![ProtocolEntry::new("note", ContentType::TEXT_PLAIN_UTF8, "rent").unwrap()].into();
    let transfer = Frame::new(
        32,
        Body::Transfer {
            amount: 1_000,
            protocol_data: pd.clone(),
        },
    )
    .unwrap();
    pair.server.handle_frame(transfer.to_bytes(), pair.now);
    assert_eq!(
        drain(&mut pair.server),
        [Event::Transfer {
            id: RequestId::new(32),
            amount: 1_000,
            protocol_data: pd
        }]
    );
    assert_eq!(
        transmits(&mut pair.server),
        [Frame::empty_response(32).to_bytes()]
    );
}

// -------------------------------------------------------------------------------------------
// Request ids

#[test]
fn request_ids_are_random_distinct_and_seeded() {
    let ids = |seed| {
        let clock = clock();
        let now = Instant::now();
        let mut s = Session::server(config(&clock, seed).with_max_in_flight(10_000), now);
        s.handle_frame(Frame::auth(1, USER, TOKEN).unwrap().to_bytes(), now);
        let _ = drain(&mut s);
        s.accept(principal()).unwrap();
        let _ = transmits(&mut s);
        let exp = clock.now().checked_add(Duration::from_secs(30)).unwrap();
        (0..2_000)
            .map(|i| {
                s.send_prepare(prepare_at(exp, &[i as u8]), now)
                    .unwrap()
                    .get()
            })
            .collect::<Vec<_>>()
    };
    let a = ids(1);
    assert_eq!(
        a.iter().collect::<HashSet<_>>().len(),
        a.len(),
        "never reused in flight"
    );
    assert_eq!(a, ids(1), "same seed, same ids");
    assert_ne!(a, ids(2));
    assert!(a.windows(2).any(|w| w[0] > w[1]) && a.windows(2).any(|w| w[0] < w[1]));
    // Seeded from the OS when no seed is given: two sessions differ.
    let unseeded = || {
        let mut c = Session::client(SessionConfig::default(), "u", "t", Instant::now()).unwrap();
        decode(&c.poll_transmit().unwrap()).request_id()
    };
    assert_ne!((unseeded(), unseeded()), (unseeded(), unseeded()));
}

// -------------------------------------------------------------------------------------------
// Deadlines and closing

#[test]
fn unanswered_prepare_gets_r00_at_its_expiry_and_a_late_answer_is_ignored() {
    let mut pair = Pair::connected();
    let p = pair.prepare(Duration::from_secs(5), b"slow");
    let later = pair.prepare(Duration::from_secs(9), b"later");
    let id = pair.client.send_prepare(p, pair.now).unwrap();
    let id2 = pair.client.send_prepare(later, pair.now).unwrap();
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.now + Duration::from_secs(5))
    );
    pair.drive();
    let Some(Event::Request {
        id: theirs,
        prepare,
    }) = pair.server_events.pop_front()
    else {
        panic!()
    };
    pair.advance(Duration::from_millis(4_999));
    assert!(pair.client_events.is_empty());
    pair.client
        .handle_timeout(pair.now + Duration::from_millis(1));
    let Some(Event::Response {
        id: got,
        result: Err(r),
    }) = pair.client.poll_event()
    else {
        panic!()
    };
    assert_eq!((got, r.code()), (id, ErrorCode::R00_TRANSFER_TIMED_OUT));
    assert_eq!(r.triggered_by(), Some(node()));
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.now + Duration::from_millis(4_001))
    );
    // The late Fulfill is ignored.
    pair.server
        .respond(theirs, Ok(fulfill_for(&prepare)))
        .unwrap();
    pair.drive();
    assert!(pair.client_events.is_empty());
    let _ = id2;
}

#[test]
fn incoming_prepare_unanswered_at_expiry_is_answered_r00_by_the_session() {
    let mut pair = Pair::connected();
    let p = pair.prepare(Duration::from_secs(2), b"stuck");
    let id = pair.client.send_prepare(p, pair.now).unwrap();
    pair.drive();
    let Some(Event::Request {
        id: theirs,
        prepare,
    }) = pair.server_events.pop_front()
    else {
        panic!()
    };
    assert_eq!(pair.server.incoming_in_flight(), 1);
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.now + Duration::from_secs(2))
    );
    // Both sides time out at the same instant: the client resolves it first (R00, its own),
    // and the server's R00 reply is then a duplicate the client ignores.
    pair.advance(Duration::from_secs(2));
    assert_eq!(pair.server.incoming_in_flight(), 0);
    let Some(Event::Response {
        id: got,
        result: Err(r),
    }) = pair.client_events.pop_front()
    else {
        panic!()
    };
    assert_eq!((got, r.code()), (id, ErrorCode::R00_TRANSFER_TIMED_OUT));
    assert!(pair.client_events.is_empty());
    assert_eq!(
        pair.server.respond(theirs, Ok(fulfill_for(&prepare))),
        Err(SessionError::UnknownRequest(theirs))
    );
}

#[test]
fn incoming_expiry_reply_is_sent() {
    let now = Instant::now();
    let clock = clock();
    let mut server = authenticated_server(&clock, now, |c| c);
    let p = prepare_at(
        clock.now().checked_add(Duration::from_secs(1)).unwrap(),
        b"x",
    );
    server.handle_frame(Frame::ilp_message(3, &p).unwrap().to_bytes(), now);
    assert!(matches!(server.poll_event(), Some(Event::Request { .. })));
    server.handle_timeout(now + Duration::from_secs(1));
    let reply = decode(&server.poll_transmit().unwrap());
    assert_eq!(
        (reply.frame_type(), reply.request_id()),
        (FrameType::Response, 3)
    );
    let Packet::Reject(r) = ilp_of(&reply) else {
        panic!()
    };
    assert_eq!(r.code(), ErrorCode::R00_TRANSFER_TIMED_OUT);
}

#[test]
fn an_expired_prepare_is_not_sent() {
    let mut pair = Pair::connected();
    let p = prepare_at(pair.clock.now(), b"old");
    let id = pair.client.send_prepare(p, pair.now).unwrap();
    assert_eq!(pair.client.poll_transmit(), None);
    let Some(Event::Response {
        id: got,
        result: Err(r),
    }) = pair.client.poll_event()
    else {
        panic!()
    };
    assert_eq!((got, r.code()), (id, ErrorCode::R00_TRANSFER_TIMED_OUT));
}

#[test]
fn handle_closed_fails_everything_in_flight_at_once_with_t01() {
    let mut pair = Pair::connected();
    let mut ids = HashSet::new();
    for i in 0..5u8 {
        let p = pair.prepare(Duration::from_secs(30 + u64::from(i)), &[i]);
        ids.insert(pair.client.send_prepare(p, pair.now).unwrap());
    }
    pair.drive();
    // One more, still in the transmit queue: dropped with the rest, never sent.
    let queued = pair.prepare(Duration::from_secs(30), b"q");
    ids.insert(pair.client.send_prepare(queued, pair.now).unwrap());
    pair.client.handle_closed(pair.now);
    assert_eq!(pair.client.poll_transmit(), None);
    let events = drain(&mut pair.client);
    assert_eq!(events.len(), 7);
    let mut failed = HashSet::new();
    for event in &events[..6] {
        let Event::Response { id, result: Err(r) } = event else {
            panic!("{event:?}")
        };
        assert_eq!(r.code(), ErrorCode::T01_PEER_UNREACHABLE);
        assert_eq!(r.triggered_by(), Some(node()));
        failed.insert(*id);
    }
    assert_eq!(failed, ids);
    assert_eq!(
        events[6],
        Event::Closed {
            reason: CloseReason::ConnectionLost
        }
    );
    assert_eq!(pair.client.poll_timeout(), None);
    // After close: sends are refused with T01 at once; a second handle_closed is a no-op.
    let p = pair.prepare(Duration::from_secs(30), b"late");
    assert_eq!(
        pair.client.send_prepare(p, pair.now).unwrap_err().code(),
        ErrorCode::T01_PEER_UNREACHABLE
    );
    pair.client.handle_closed(pair.now);
    assert_eq!(pair.client.poll_event(), None);
    assert_eq!(
        pair.client.respond(
            RequestId::new(1),
            Err(reject(ErrorCode::T00_INTERNAL_ERROR, &node(), ""))
        ),
        Err(SessionError::Closed)
    );
}

#[test]
fn local_close_reports_local() {
    let mut pair = Pair::connected();
    pair.server.close();
    assert_eq!(
        drain(&mut pair.server),
        [Event::Closed {
            reason: CloseReason::Local
        }]
    );
}

// -------------------------------------------------------------------------------------------
// Bounds

fn authenticated_server(
    clock: &ManualClock,
    now: Instant,
    f: impl FnOnce(SessionConfig) -> SessionConfig,
) -> Session {
    let mut server = Session::server(f(config(clock, 2)), now);
    server.handle_frame(Frame::auth(1, USER, TOKEN).unwrap().to_bytes(), now);
    assert!(matches!(
        server.poll_event(),
        Some(Event::AuthRequested { .. })
    ));
    server.accept(principal()).unwrap();
    let _ = transmits(&mut server);
    server
}

#[test]
fn undecodable_frames_get_no_reply_and_close_after_the_configured_number() {
    let now = Instant::now();
    let clock = clock();
    let mut server = authenticated_server(&clock, now, |c| c.with_max_invalid_frames(3));
    let garbage = [
        Bytes::new(),
        Bytes::from_static(b"\x03\x00\x00\x00\x01\x02\x01\x00"), // BTP 1.0 type
        Bytes::from_static(b"\x01\x00\x00\x00\x01\x05\x01\x00"), // truncated
    ];
    for (i, bytes) in garbage.into_iter().enumerate() {
        server.handle_frame(bytes, now);
        assert_eq!(server.poll_transmit(), None);
        if i < 2 {
            assert_eq!(server.poll_event(), None);
            assert!(!server.is_closed());
        }
    }
    assert_eq!(
        drain(&mut server),
        [Event::Closed {
            reason: CloseReason::TooManyInvalidFrames
        }]
    );
}

#[test]
fn oversized_frames_are_refused_unread_and_counted() {
    let now = Instant::now();
    let clock = clock();
    let mut server = authenticated_server(&clock, now, |c| {
        c.with_max_frame_size(128).with_max_invalid_frames(2)
    });
    let p = prepare_at(
        clock.now().checked_add(Duration::from_secs(9)).unwrap(),
        &[0; 200],
    );
    let big = Frame::ilp_message(7, &p).unwrap().to_bytes();
    assert!(big.len() > 128);
    server.handle_frame(big.clone(), now);
    assert_eq!((server.poll_event(), server.poll_transmit()), (None, None));
    // A small valid frame still works.
    server.handle_frame(Frame::empty_response(3).to_bytes(), now);
    assert!(!server.is_closed());
    server.handle_frame(big, now);
    assert_eq!(
        drain(&mut server),
        [Event::Closed {
            reason: CloseReason::TooManyInvalidFrames
        }]
    );
}

#[test]
fn outgoing_beyond_max_in_flight_is_refused_t03_without_sending() {
    let mut pair = Pair::connected_with(|c| c.with_max_in_flight(2), |c| c);
    for i in 0..2u8 {
        let p = pair.prepare(Duration::from_secs(30), &[i]);
        pair.client.send_prepare(p, pair.now).unwrap();
    }
    assert_eq!(transmits(&mut pair.client).len(), 2);
    let p = pair.prepare(Duration::from_secs(30), b"one too many");
    let r = pair.client.send_prepare(p, pair.now).unwrap_err();
    assert_eq!(r.code(), ErrorCode::T03_CONNECTOR_BUSY);
    assert_eq!(r.triggered_by(), Some(node()));
    assert_eq!(pair.client.poll_transmit(), None);
    assert_eq!(pair.client.poll_event(), None);
    assert_eq!(pair.client.outgoing_in_flight(), 2);
}

#[test]
fn incoming_beyond_max_in_flight_is_answered_t05_at_once() {
    let now = Instant::now();
    let clock = clock();
    let mut server = authenticated_server(&clock, now, |c| c.with_max_in_flight(2));
    let exp = clock.now().checked_add(Duration::from_secs(30)).unwrap();
    for id in 1..=3u32 {
        let p = prepare_at(exp, &id.to_be_bytes());
        server.handle_frame(Frame::ilp_message(id, &p).unwrap().to_bytes(), now);
    }
    let events = drain(&mut server);
    assert_eq!(events.len(), 2);
    assert_eq!(server.incoming_in_flight(), 2);
    let out = transmits(&mut server);
    assert_eq!(out.len(), 1);
    let reply = decode(&out[0]);
    assert_eq!(
        (reply.frame_type(), reply.request_id()),
        (FrameType::Response, 3)
    );
    let Packet::Reject(r) = ilp_of(&reply) else {
        panic!()
    };
    assert_eq!(r.code(), ErrorCode::T05_RATE_LIMITED);
    // A request reusing an id in flight is dropped.
    let p = prepare_at(exp, b"dup");
    server.handle_frame(Frame::ilp_message(1, &p).unwrap().to_bytes(), now);
    assert_eq!((server.poll_event(), server.poll_transmit()), (None, None));
}

// -------------------------------------------------------------------------------------------
// Randomized: many Prepares both ways, answered in random order, each exactly once.

#[derive(Debug, Clone)]
enum Step {
    ClientSends,
    ServerSends,
    /// Answer the n-th pending request (modulo) on the client or the server.
    Answer {
        on_client: bool,
        pick: usize,
        fulfill: bool,
    },
    Advance(u16),
    Drive,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::ClientSends),
        3 => Just(Step::ServerSends),
        4 => (any::<bool>(), any::<usize>(), any::<bool>())
            .prop_map(|(on_client, pick, fulfill)| Step::Answer { on_client, pick, fulfill }),
        1 => (0u16..3_000).prop_map(Step::Advance),
        2 => Just(Step::Drive),
    ]
}

fn run(steps: &[Step], max_in_flight: usize) {
    let mut pair = Pair::connected_with(
        |c| c.with_max_in_flight(max_in_flight),
        |c| c.with_max_in_flight(max_in_flight),
    );
    // Sent by the client / server: id -> data, and what each got back.
    let mut sent: [HashMap<RequestId, Vec<u8>>; 2] = Default::default();
    let mut answered: [HashMap<RequestId, IlpResult>; 2] = Default::default();
    let mut pending: [Vec<(RequestId, Prepare)>; 2] = Default::default();
    let mut counter = 0u32;
    let collect = |pair: &mut Pair,
                   sent: &[HashMap<RequestId, Vec<u8>>; 2],
                   answered: &mut [HashMap<RequestId, IlpResult>; 2],
                   pending: &mut [Vec<(RequestId, Prepare)>; 2]| {
        for (side, events) in [&mut pair.client_events, &mut pair.server_events]
            .into_iter()
            .enumerate()
        {
            for event in events.drain(..) {
                match event {
                    Event::Request { id, prepare } => pending[side].push((id, prepare)),
                    Event::Response { id, result } => {
                        assert!(sent[side].contains_key(&id), "answer to an unknown id");
                        if let Ok(f) = &result {
                            assert_eq!(f.data(), &sent[side][&id][..], "answer to another prepare");
                        }
                        assert!(
                            answered[side].insert(id, result).is_none(),
                            "answered twice"
                        );
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    };
    for s in steps {
        match s {
            Step::ClientSends | Step::ServerSends => {
                let side = usize::from(matches!(s, Step::ServerSends));
                counter += 1;
                let data = counter.to_be_bytes().to_vec();
                let p = pair.prepare(Duration::from_secs(5), &data);
                let session = if side == 0 {
                    &mut pair.client
                } else {
                    &mut pair.server
                };
                match session.send_prepare(p, pair.now) {
                    Ok(id) => {
                        assert!(sent[side].insert(id, data).is_none(), "id reused");
                    }
                    Err(r) => assert_eq!(r.code(), ErrorCode::T03_CONNECTOR_BUSY),
                }
            }
            Step::Answer {
                on_client,
                pick,
                fulfill,
            } => {
                let side = usize::from(!*on_client);
                if !pending[side].is_empty() {
                    let (id, prepare) = pending[side].swap_remove(pick % pending[side].len());
                    let result = if *fulfill {
                        Ok(fulfill_for(&prepare))
                    } else {
                        Err(reject(ErrorCode::F99_APPLICATION_ERROR, &node(), "no"))
                    };
                    let session = if side == 0 {
                        &mut pair.client
                    } else {
                        &mut pair.server
                    };
                    // It may have expired (answered R00 by the session) in the meantime.
                    match session.respond(id, result) {
                        Ok(()) | Err(SessionError::UnknownRequest(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            Step::Advance(ms) => pair.advance(Duration::from_millis(u64::from(*ms))),
            Step::Drive => pair.drive(),
        }
        collect(&mut pair, &sent, &mut answered, &mut pending);
        // A sent id is in flight or answered, never both.
        for side in 0..2 {
            let in_flight = sent[side].len() - answered[side].len();
            let session = if side == 0 {
                &pair.client
            } else {
                &pair.server
            };
            assert_eq!(session.outgoing_in_flight(), in_flight);
            assert!(in_flight <= max_in_flight);
        }
    }
    // Let everything settle: answer all, then let time run out; every Prepare gets one answer.
    pair.drive();
    collect(&mut pair, &sent, &mut answered, &mut pending);
    for (side, pending) in pending.iter_mut().enumerate() {
        for (id, prepare) in std::mem::take(pending) {
            let session = if side == 0 {
                &mut pair.client
            } else {
                &mut pair.server
            };
            let _ = session.respond(id, Ok(fulfill_for(&prepare)));
        }
    }
    pair.drive();
    pair.advance(Duration::from_secs(6));
    collect(&mut pair, &sent, &mut answered, &mut pending);
    for side in 0..2 {
        assert_eq!(
            answered[side].len(),
            sent[side].len(),
            "every prepare answered"
        );
    }
    assert_eq!(
        pair.client.outgoing_in_flight() + pair.server.outgoing_in_flight(),
        0
    );
    assert_eq!(
        pair.client.incoming_in_flight() + pair.server.incoming_in_flight(),
        0
    );
    assert_eq!(pair.client.poll_timeout(), None);
    assert_eq!(pair.server.poll_timeout(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_prepare_is_answered_exactly_once(
        steps in proptest::collection::vec(step(), 1..300),
        max_in_flight in 1usize..50,
    ) {
        run(&steps, max_in_flight);
    }
}

#[test]
fn many_prepares_both_ways_in_random_order() {
    // A long deterministic run (xorshift), beyond what proptest tries.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let steps: Vec<Step> = (0..20_000)
        .map(|_| match next() % 13 {
            0..=2 => Step::ClientSends,
            3..=5 => Step::ServerSends,
            6..=10 => Step::Answer {
                on_client: next() % 2 == 0,
                pick: next() as usize,
                fulfill: next() % 3 != 0,
            },
            11 => Step::Advance((next() % 400) as u16),
            _ => Step::Drive,
        })
        .collect();
    run(&steps, 500);
}
