//! Shared by the session tests: a client and a server `Session` driven against each other in
//! memory (quinn's `Pair`), and helpers to make packets and read frames.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ilp_btp::{Event, Frame, Session, SessionConfig};
use ilp_core::{test_condition, test_fulfillment, Clock, ManualClock, Principal};
use ilp_packet::{Address, Fulfill, FulfillBuilder, Packet, Prepare, PrepareBuilder, Timestamp};

pub const USER: &str = "alice";
pub const TOKEN: &str = "s3cret-token-123";

pub fn node() -> Address {
    Address::from_static("test.node")
}

pub fn clock() -> ManualClock {
    ManualClock::new("2030-01-01T00:00:00.000Z".parse().unwrap())
}

pub fn config(clock: &ManualClock, seed: u64) -> SessionConfig {
    SessionConfig::default()
        .with_node_address(node())
        .with_clock(clock.clone())
        .with_rng_seed(seed)
}

pub fn prepare_at(expires_at: Timestamp, data: &[u8]) -> Prepare {
    PrepareBuilder {
        amount: 10,
        expires_at,
        execution_condition: test_condition(data),
        destination: &Address::from_static("test.bob"),
        data,
    }
    .build()
    .unwrap()
}

pub fn fulfill_for(prepare: &Prepare) -> Fulfill {
    FulfillBuilder {
        fulfillment: test_fulfillment(prepare.data()),
        data: prepare.data(),
    }
    .build()
    .unwrap()
}

pub fn principal() -> Principal {
    Principal::account(USER.parse().unwrap())
}

pub fn drain(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

pub fn transmits(session: &mut Session) -> Vec<Bytes> {
    std::iter::from_fn(|| session.poll_transmit()).collect()
}

pub fn decode(bytes: &Bytes) -> Frame {
    Frame::decode(bytes.clone()).unwrap()
}

pub fn ilp_of(frame: &Frame) -> Packet {
    Packet::decode(frame.ilp().expect("an ilp entry").clone()).unwrap()
}

/// A client and a server wired back to back, with a shared fake clock.
pub struct Pair {
    pub client: Session,
    pub server: Session,
    pub now: Instant,
    pub clock: ManualClock,
    pub client_events: VecDeque<Event>,
    pub server_events: VecDeque<Event>,
}

impl Pair {
    pub fn with_configs(
        client: impl FnOnce(SessionConfig) -> SessionConfig,
        server: impl FnOnce(SessionConfig) -> SessionConfig,
    ) -> Self {
        let clock = clock();
        let now = Instant::now();
        Self {
            client: Session::client(client(config(&clock, 1)), USER, TOKEN, now).unwrap(),
            server: Session::server(server(config(&clock, 2)), now),
            now,
            clock,
            client_events: VecDeque::new(),
            server_events: VecDeque::new(),
        }
    }

    pub fn new() -> Self {
        Self::with_configs(|c| c, |c| c)
    }

    /// Authenticated both ways.
    pub fn connected() -> Self {
        Self::connected_with(|c| c, |c| c)
    }

    pub fn connected_with(
        client: impl FnOnce(SessionConfig) -> SessionConfig,
        server: impl FnOnce(SessionConfig) -> SessionConfig,
    ) -> Self {
        let mut pair = Self::with_configs(client, server);
        pair.drive();
        let Some(Event::AuthRequested { .. }) = pair.server_events.pop_front() else {
            panic!("no AuthRequested");
        };
        pair.server.accept(principal()).unwrap();
        pair.drive();
        assert_eq!(pair.client_events.pop_front(), Some(Event::Authenticated));
        assert!(pair.client.is_authenticated() && pair.server.is_authenticated());
        pair
    }

    /// Moves frames both ways until neither side has anything to write; collects events.
    pub fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.client.poll_transmit() {
                self.server.handle_frame(bytes, self.now);
                moved = true;
            }
            while let Some(bytes) = self.server.poll_transmit() {
                self.client.handle_frame(bytes, self.now);
                moved = true;
            }
            self.client_events.extend(drain(&mut self.client));
            self.server_events.extend(drain(&mut self.server));
            if !moved {
                break;
            }
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.clock.advance(by);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
    }

    pub fn prepare(&self, expires_in: Duration, data: &[u8]) -> Prepare {
        prepare_at(self.clock.now().checked_add(expires_in).unwrap(), data)
    }
}
