//! Codec benches: this workspace's `ilp-packet` against `interledger-packet` 0.4 (interledger-rs).
//!
//! Both implementations run in the same criterion group for every case, so each ratio comes from
//! one run on one machine state. Names are `<case>/ours[/<data len>]` and
//! `<case>/interledger-packet[/<data len>]`. See `benches/README.md` for the figures.
//!
//! Inputs are built once, outside the timing loops, and checked to be identical on both sides.
//! Each side decodes from its own owned buffer type, starting from what a server holds after
//! reading a packet off the wire: a shared, reference-counted buffer.
//!
//! - ours: `Prepare::decode(bytes.clone())` with a `bytes` 1.x `Bytes` (a reference-count
//!   increment; decoding copies nothing);
//! - interledger-packet: `Prepare::try_from(BytesMut::from(bytes04.clone()))` with a `bytes` 0.4
//!   `Bytes`. Its `TryFrom` takes a unique `BytesMut`; `BytesMut::from(Bytes)` tries
//!   `try_mut` and, the buffer being shared, copies it. That is the conversion interledger-rs's
//!   HTTP server made (`Prepare::try_from(BytesMut::from(chunk))`).
//!
//! The `*_unique` groups are supplementary: each side gets a buffer it owns alone (made outside
//! the timing by `iter_batched`), so interledger-packet decodes without the copy and our
//! setters patch in place. They separate parsing cost from buffer-handling cost.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use ilp_packet::{
    Address, ErrorCode, Fulfill, FulfillBuilder, Fulfillment, Prepare, PrepareBuilder, Reject,
    RejectBuilder, Timestamp, MAX_DATA_LEN,
};
use interledger_packet as theirs;

/// Data sizes of the Prepare cases. 32 KiB (32768) is one byte over the ASN.1 bound that
/// `ilp-packet` enforces ([`MAX_DATA_LEN`] = 32767), so the largest case is the largest legal one.
const PREPARE_DATA_SIZES: [usize; 3] = [0, 1024, MAX_DATA_LEN];

/// Ours, writing into a buffer the caller reuses (as a transport writes into its frame buffer).
const OURS_INTO_BUFFER: &str = "ours-into-buffer";
const OURS: &str = "ours";
const THEIRS: &str = "interledger-packet";

const DESTINATION: &str = "g.us-fed.ach.0.acmebank.swx0a0.acmecorp.sales.199.~ipr.cdfa5e16";
const EXPIRES_AT: &str = "2030-01-01T00:00:30.000Z";
const FORWARD_EXPIRES_AT: &str = "2030-01-01T00:00:29.000Z";
const AMOUNT: u64 = 1_000_000;
const FORWARD_AMOUNT: u64 = 999_000;
const FULFILLMENT: [u8; 32] = [42; 32];

const REJECT_TRIGGERED_BY: &str = "g.connector.xyz";
const REJECT_MESSAGE: &str = "no route to g.us-fed.ach.0.acmebank";
const REJECT_DATA: &[u8] = b"\x00\x01route-lookup-v1";
const FULFILL_DATA_LEN: usize = 32;

/// Deterministic, non-constant payload bytes.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) + 7) as u8).collect()
}

fn timestamp(s: &str) -> Timestamp {
    s.parse().expect("valid timestamp literal")
}

fn theirs_address(s: &str) -> theirs::Address {
    s.parse().expect("valid address for interledger-packet")
}

/// The same packet as a `bytes` 1.x and a `bytes` 0.4 buffer, each owned by the fixture (so the
/// clones the benches take are shared, as a server's receive buffer is).
struct Wire {
    ours: Bytes,
    theirs: bytes04::Bytes,
}

impl Wire {
    fn new(encoded: &[u8]) -> Self {
        let wire = Self {
            ours: Bytes::copy_from_slice(encoded),
            theirs: bytes04::Bytes::from(encoded),
        };
        // Take one clone of each first, so that both buffers are already in their shared
        // representation (bytes 1.x promotes a Vec-backed buffer on its first clone, bytes 0.4
        // moves to its ARC kind) and every timed clone costs the same.
        drop((wire.ours.clone(), wire.theirs.clone()));
        wire
    }

    fn len(&self) -> usize {
        self.ours.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: the same fields for both implementations.

struct PrepareFields {
    data: Vec<u8>,
    destination: Address,
    theirs_destination: theirs::Address,
    expires_at: Timestamp,
    theirs_expires_at: SystemTime,
    fulfillment: Fulfillment,
}

impl PrepareFields {
    fn new(data_len: usize) -> Self {
        let expires_at = timestamp(EXPIRES_AT);
        Self {
            data: payload(data_len),
            destination: DESTINATION.parse().expect("valid address"),
            theirs_destination: theirs_address(DESTINATION),
            expires_at,
            theirs_expires_at: SystemTime::from(expires_at),
            fulfillment: Fulfillment::from_bytes(FULFILLMENT),
        }
    }

    fn ours(&self) -> Prepare {
        PrepareBuilder {
            amount: AMOUNT,
            expires_at: self.expires_at,
            execution_condition: self.fulfillment.condition(),
            destination: &self.destination,
            data: &self.data,
        }
        .build()
        .expect("data within bounds")
    }

    fn theirs(&self, condition: &[u8; 32]) -> theirs::Prepare {
        theirs::PrepareBuilder {
            amount: AMOUNT,
            expires_at: self.theirs_expires_at,
            execution_condition: condition,
            destination: self.theirs_destination.clone(),
            data: &self.data,
        }
        .build()
    }

    /// Builds with both implementations, checks they agree byte for byte, returns the wire.
    fn wire(&self) -> Wire {
        let ours = self.ours();
        let condition = *ours.execution_condition().as_bytes();
        let theirs = self.theirs(&condition);
        assert_eq!(ours.as_bytes(), theirs.as_ref(), "Prepare encodings differ");
        Wire::new(ours.as_bytes())
    }
}

fn fulfill_wire() -> Wire {
    let data = payload(FULFILL_DATA_LEN);
    let ours = FulfillBuilder {
        fulfillment: Fulfillment::from_bytes(FULFILLMENT),
        data: &data,
    }
    .build()
    .expect("data within bounds");
    let theirs = theirs::FulfillBuilder {
        fulfillment: &FULFILLMENT,
        data: &data,
    }
    .build();
    assert_eq!(ours.as_bytes(), theirs.as_ref(), "Fulfill encodings differ");
    Wire::new(ours.as_bytes())
}

fn reject_wire() -> Wire {
    let ours = RejectBuilder {
        code: ErrorCode::F02_UNREACHABLE,
        triggered_by: &Address::from_static(REJECT_TRIGGERED_BY),
        message: REJECT_MESSAGE,
        data: REJECT_DATA,
    }
    .build()
    .expect("fields within bounds");
    let theirs = theirs::RejectBuilder {
        code: theirs::ErrorCode::F02_UNREACHABLE,
        message: REJECT_MESSAGE.as_bytes(),
        triggered_by: Some(&theirs_address(REJECT_TRIGGERED_BY)),
        data: REJECT_DATA,
    }
    .build();
    assert_eq!(ours.as_bytes(), theirs.as_ref(), "Reject encodings differ");
    Wire::new(ours.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// The conversions each side's decoder needs, from the shared wire buffer.

fn decode_ours_prepare(wire: &Bytes) -> Prepare {
    Prepare::decode(wire.clone()).expect("valid Prepare")
}

fn decode_theirs_prepare(wire: &bytes04::Bytes) -> theirs::Prepare {
    theirs::Prepare::try_from(bytes04::BytesMut::from(wire.clone())).expect("valid Prepare")
}

/// Checks once, outside the timing, that both decoders read the same fields.
fn check_decoders_agree(wire: &Wire) {
    let ours = decode_ours_prepare(&wire.ours);
    let theirs = decode_theirs_prepare(&wire.theirs);
    assert_eq!(ours.amount(), theirs.amount());
    assert_eq!(SystemTime::from(ours.expires_at()), theirs.expires_at());
    assert_eq!(ours.destination().as_str(), &*theirs.destination());
    assert_eq!(ours.data(), theirs.data());
    assert_eq!(
        &ours.execution_condition().as_bytes()[..],
        theirs.execution_condition()
    );
}

// ---------------------------------------------------------------------------------------------
// Decode

fn decode_prepare(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_prepare");
    for size in PREPARE_DATA_SIZES {
        let wire = PrepareFields::new(size).wire();
        check_decoders_agree(&wire);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::new(OURS, size), &wire.ours, |b, wire| {
            b.iter(|| decode_ours_prepare(black_box(wire)));
        });
        group.bench_with_input(BenchmarkId::new(THEIRS, size), &wire.theirs, |b, wire| {
            b.iter(|| decode_theirs_prepare(black_box(wire)));
        });
    }
    group.finish();
}

fn decode_fulfill(c: &mut Criterion) {
    let wire = fulfill_wire();
    let mut group = c.benchmark_group("decode_fulfill");
    group.bench_function(OURS, |b| {
        b.iter(|| Fulfill::decode(black_box(&wire.ours).clone()).expect("valid Fulfill"));
    });
    group.bench_function(THEIRS, |b| {
        b.iter(|| {
            theirs::Fulfill::try_from(bytes04::BytesMut::from(black_box(&wire.theirs).clone()))
                .expect("valid Fulfill")
        });
    });
    group.finish();
}

fn decode_reject(c: &mut Criterion) {
    let wire = reject_wire();
    let ours = Reject::decode(wire.ours.clone()).expect("valid Reject");
    let theirs =
        theirs::Reject::try_from(bytes04::BytesMut::from(wire.theirs.clone())).expect("valid");
    assert_eq!(ours.message().as_bytes(), theirs.message());
    assert_eq!(
        ours.triggered_by().as_ref().map(Address::as_str),
        theirs.triggered_by().as_deref()
    );

    let mut group = c.benchmark_group("decode_reject");
    group.bench_function(OURS, |b| {
        b.iter(|| Reject::decode(black_box(&wire.ours).clone()).expect("valid Reject"));
    });
    group.bench_function(THEIRS, |b| {
        b.iter(|| {
            theirs::Reject::try_from(bytes04::BytesMut::from(black_box(&wire.theirs).clone()))
                .expect("valid Reject")
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Encode: build from fields into a fresh buffer, and take the buffer.

fn encode_prepare(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_prepare");
    for size in PREPARE_DATA_SIZES {
        let fields = PrepareFields::new(size);
        let condition = fields.fulfillment.condition();
        let wire = fields.wire();
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::new(OURS, size), &fields, |b, f| {
            b.iter(|| {
                let f = black_box(f);
                PrepareBuilder {
                    amount: black_box(AMOUNT),
                    expires_at: f.expires_at,
                    execution_condition: black_box(condition),
                    destination: &f.destination,
                    data: &f.data,
                }
                .build()
                .expect("data within bounds")
                .into_bytes()
            });
        });
        let mut buf = BytesMut::with_capacity(wire.len());
        group.bench_with_input(BenchmarkId::new(OURS_INTO_BUFFER, size), &fields, |b, f| {
            b.iter(|| {
                let f = black_box(f);
                buf.clear();
                PrepareBuilder {
                    amount: black_box(AMOUNT),
                    expires_at: f.expires_at,
                    execution_condition: black_box(condition),
                    destination: &f.destination,
                    data: &f.data,
                }
                .encode(&mut buf)
                .expect("data within bounds");
                black_box(&buf);
            });
        });
        let condition = *condition.as_bytes();
        group.bench_with_input(BenchmarkId::new(THEIRS, size), &fields, |b, f| {
            b.iter(|| {
                let f = black_box(f);
                let packet = theirs::PrepareBuilder {
                    amount: black_box(AMOUNT),
                    expires_at: f.theirs_expires_at,
                    execution_condition: black_box(&condition),
                    // The builder takes the address by value.
                    destination: f.theirs_destination.clone(),
                    data: &f.data,
                }
                .build();
                bytes04::BytesMut::from(packet)
            });
        });
    }
    group.finish();
}

fn encode_fulfill(c: &mut Criterion) {
    let data = payload(FULFILL_DATA_LEN);
    let mut group = c.benchmark_group("encode_fulfill");
    group.bench_function(OURS, |b| {
        b.iter(|| {
            FulfillBuilder {
                fulfillment: Fulfillment::from_bytes(black_box(FULFILLMENT)),
                data: black_box(&data),
            }
            .build()
            .expect("data within bounds")
            .into_bytes()
        });
    });
    let mut buf = BytesMut::new();
    group.bench_function(OURS_INTO_BUFFER, |b| {
        b.iter(|| {
            buf.clear();
            FulfillBuilder {
                fulfillment: Fulfillment::from_bytes(black_box(FULFILLMENT)),
                data: black_box(&data),
            }
            .encode(&mut buf)
            .expect("data within bounds");
            black_box(&buf);
        });
    });
    group.bench_function(THEIRS, |b| {
        b.iter(|| {
            let packet = theirs::FulfillBuilder {
                fulfillment: black_box(&FULFILLMENT),
                data: black_box(&data),
            }
            .build();
            bytes04::BytesMut::from(packet)
        });
    });
    group.finish();
}

fn encode_reject(c: &mut Criterion) {
    let triggered_by = Address::from_static(REJECT_TRIGGERED_BY);
    let theirs_triggered_by = theirs_address(REJECT_TRIGGERED_BY);
    let mut group = c.benchmark_group("encode_reject");
    group.bench_function(OURS, |b| {
        b.iter(|| {
            RejectBuilder {
                code: black_box(ErrorCode::F02_UNREACHABLE),
                triggered_by: black_box(&triggered_by),
                message: black_box(REJECT_MESSAGE),
                data: black_box(REJECT_DATA),
            }
            .build()
            .expect("fields within bounds")
            .into_bytes()
        });
    });
    let mut buf = BytesMut::new();
    group.bench_function(OURS_INTO_BUFFER, |b| {
        b.iter(|| {
            buf.clear();
            RejectBuilder {
                code: black_box(ErrorCode::F02_UNREACHABLE),
                triggered_by: black_box(&triggered_by),
                message: black_box(REJECT_MESSAGE),
                data: black_box(REJECT_DATA),
            }
            .encode(&mut buf)
            .expect("fields within bounds");
            black_box(&buf);
        });
    });
    group.bench_function(THEIRS, |b| {
        b.iter(|| {
            let packet = theirs::RejectBuilder {
                code: black_box(theirs::ErrorCode::F02_UNREACHABLE),
                message: black_box(REJECT_MESSAGE.as_bytes()),
                triggered_by: Some(black_box(&theirs_triggered_by)),
                data: black_box(REJECT_DATA),
            }
            .build();
            bytes04::BytesMut::from(packet)
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Forward: decode a Prepare, take a cut and a safety margin, get the bytes back.

fn forward_ours(mut prepare: Prepare, expires_at: Timestamp) -> Bytes {
    prepare.set_amount(FORWARD_AMOUNT);
    prepare.set_expires_at(expires_at);
    prepare.to_bytes()
}

fn forward_theirs(mut prepare: theirs::Prepare, expires_at: SystemTime) -> bytes04::Bytes {
    prepare.set_amount(FORWARD_AMOUNT);
    prepare.set_expires_at(expires_at);
    bytes04::BytesMut::from(prepare).freeze()
}

fn forward(c: &mut Criterion) {
    let expires_at = timestamp(FORWARD_EXPIRES_AT);
    let theirs_expires_at = SystemTime::from(expires_at);
    let mut group = c.benchmark_group("forward");
    for size in PREPARE_DATA_SIZES {
        let wire = PrepareFields::new(size).wire();
        let ours = forward_ours(decode_ours_prepare(&wire.ours), expires_at);
        let theirs = forward_theirs(decode_theirs_prepare(&wire.theirs), theirs_expires_at);
        assert_eq!(&ours[..], &theirs[..], "forwarded packets differ");
        assert_eq!(
            Prepare::decode(ours).expect("valid").amount(),
            FORWARD_AMOUNT
        );
        // Copy-on-write on both sides: the shared fixture buffers keep the original fields.
        assert_eq!(decode_ours_prepare(&wire.ours).amount(), AMOUNT);
        assert_eq!(decode_theirs_prepare(&wire.theirs).amount(), AMOUNT);

        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::new(OURS, size), &wire.ours, |b, wire| {
            b.iter(|| forward_ours(decode_ours_prepare(black_box(wire)), black_box(expires_at)));
        });
        group.bench_with_input(BenchmarkId::new(THEIRS, size), &wire.theirs, |b, wire| {
            b.iter(|| {
                forward_theirs(
                    decode_theirs_prepare(black_box(wire)),
                    black_box(theirs_expires_at),
                )
            });
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Supplementary: each side owns its buffer alone (no copy needed by either).

fn unique(c: &mut Criterion) {
    let expires_at = timestamp(FORWARD_EXPIRES_AT);
    let theirs_expires_at = SystemTime::from(expires_at);
    let wires: Vec<(usize, Wire)> = PREPARE_DATA_SIZES
        .iter()
        .map(|&size| (size, PrepareFields::new(size).wire()))
        .collect();

    let mut group = c.benchmark_group("decode_prepare_unique");
    for (size, wire) in &wires {
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::new(OURS, size), &wire.ours, |b, wire| {
            b.iter_batched(
                || Bytes::copy_from_slice(wire),
                |buf| Prepare::decode(buf).expect("valid Prepare"),
                BatchSize::SmallInput,
            );
        });
        group.bench_with_input(BenchmarkId::new(THEIRS, size), &wire.theirs, |b, wire| {
            b.iter_batched(
                || bytes04::BytesMut::from(&wire[..]),
                |buf| theirs::Prepare::try_from(buf).expect("valid Prepare"),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();

    let mut group = c.benchmark_group("forward_unique");
    for (size, wire) in &wires {
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::new(OURS, size), &wire.ours, |b, wire| {
            b.iter_batched(
                || Bytes::copy_from_slice(wire),
                |buf| forward_ours(Prepare::decode(buf).expect("valid Prepare"), expires_at),
                BatchSize::SmallInput,
            );
        });
        group.bench_with_input(BenchmarkId::new(THEIRS, size), &wire.theirs, |b, wire| {
            b.iter_batched(
                || bytes04::BytesMut::from(&wire[..]),
                |buf| {
                    let prepare = theirs::Prepare::try_from(buf).expect("valid Prepare");
                    forward_theirs(prepare, theirs_expires_at)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    decode_prepare(&mut c);
    decode_fulfill(&mut c);
    decode_reject(&mut c);
    encode_prepare(&mut c);
    encode_fulfill(&mut c);
    encode_reject(&mut c);
    forward(&mut c);
    unique(&mut c);
    c.final_summary();
}
