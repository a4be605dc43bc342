//! Criterion benches for the ilp workspace; see `benches/README.md` for the figures and how to
//! reproduce them. The benches live in `benches/benches/`; this library holds what several of
//! them share.
#![forbid(unsafe_code)]

pub mod round_trip {
    //! The fixture and report helpers of the transport round-trip benches (`btp`, `http`):
    //! the packet sizes, the receiving handler, runtimes, and reading criterion's
    //! medians back.

    use std::path::{Path, PathBuf};

    use async_trait::async_trait;
    use ilp_core::{reject, test_condition, test_fulfillment, IlpResult, PacketHandler, Request};
    use ilp_packet::{Address, ErrorCode, FulfillBuilder, Prepare, PrepareBuilder};
    use tokio::runtime::Runtime;

    /// How many Prepares each case keeps in flight.
    pub const IN_FLIGHT: [usize; 2] = [1, 64];
    /// The ILP packet sizes of the issue: a Prepare of 199 bytes ...
    pub const PREPARE_LEN: usize = 199;
    /// ... and a Fulfill of 35 (no data).
    pub const FULFILL_LEN: usize = 35;
    /// The receiver's address (the Prepare's destination and the Rejects' triggeredBy).
    pub const RECEIVER: &str = "test.bench.receiver";
    /// The account the round-trip client authenticates as, and its token.
    pub const ACCOUNT: &str = "bench";
    /// The token of [`ACCOUNT`].
    pub const TOKEN: &str = "bench-token-0123456789abcdef";

    /// A Prepare of exactly [`PREPARE_LEN`] bytes whose condition [`fulfill`] meets.
    #[must_use]
    pub fn prepare() -> Prepare {
        let destination = Address::from_static(RECEIVER);
        let expires_at = "2030-01-01T00:00:30.000Z"
            .parse()
            .expect("valid timestamp literal");
        let build = |len: usize| {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            PrepareBuilder {
                amount: 1_000,
                expires_at,
                execution_condition: test_condition(&data),
                destination: &destination,
                data: &data,
            }
            .build()
            .expect("data within bounds")
        };
        let prepare = (0..PREPARE_LEN)
            .map(build)
            .find(|p| p.as_bytes().len() == PREPARE_LEN)
            .expect("some data length gives a 199-byte Prepare");
        let fulfill = fulfill(&prepare).expect("the condition matches");
        assert_eq!(fulfill.as_bytes().len(), FULFILL_LEN);
        prepare
    }

    /// `TestReceiver`'s answer, without echoing the data: Fulfill with fulfillment
    /// SHA-256(data) when SHA-256 of that is the condition, else `F05`.
    pub fn fulfill(prepare: &Prepare) -> IlpResult {
        let fulfillment = test_fulfillment(prepare.data());
        if !fulfillment.fulfills(&prepare.execution_condition()) {
            return Err(reject(
                ErrorCode::F05_WRONG_CONDITION,
                &Address::from_static(RECEIVER),
                "condition is not SHA-256(SHA-256(data))",
            ));
        }
        Ok(FulfillBuilder {
            fulfillment,
            data: &[],
        }
        .build()
        .expect("no data"))
    }

    /// The servers' handler: [`fulfill`].
    #[derive(Debug, Clone, Copy)]
    pub struct Receiver;

    #[async_trait]
    impl PacketHandler for Receiver {
        async fn handle(&self, request: Request) -> IlpResult {
            fulfill(&request.prepare)
        }
    }

    /// A current-thread tokio runtime (one per side, so each side gets one core).
    #[must_use]
    pub fn current_thread() -> Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    }

    /// Where criterion writes its reports (as criterion 0.5 decides it).
    #[must_use]
    pub fn criterion_dir() -> PathBuf {
        if let Some(home) = std::env::var_os("CRITERION_HOME") {
            return PathBuf::from(home);
        }
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            return PathBuf::from(target).join("criterion");
        }
        let metadata = std::env::var_os("CARGO").and_then(|cargo| {
            std::process::Command::new(cargo)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()
        });
        let target = metadata.and_then(|m| {
            let text = String::from_utf8(m.stdout).ok()?;
            let key = "\"target_directory\":\"";
            let start = text.find(key)? + key.len();
            let end = start + text[start..].find('"')?;
            Some(PathBuf::from(&text[start..end]))
        });
        target.map_or_else(
            || PathBuf::from("target/criterion"),
            |t| t.join("criterion"),
        )
    }

    /// The median time per iteration of `group/name/in_flight` from its `estimates.json`, in
    /// nanoseconds.
    #[must_use]
    pub fn median_ns(dir: &Path, group: &str, name: &str, in_flight: usize) -> Option<f64> {
        let path = dir
            .join(group)
            .join(name)
            .join(in_flight.to_string())
            .join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let median = &text[text.find("\"median\"")?..];
        let key = "\"point_estimate\":";
        let value = &median[median.find(key)? + key.len()..];
        let end = value.find([',', '}'])?;
        value[..end].trim().parse().ok()
    }
}
