//! [`TestReceiver`]: the receiver of examples and tests, fulfilling by the test convention
//! `fulfillment = SHA-256(data)`.

use async_trait::async_trait;
use ilp_packet::{Address, Condition, ErrorCode, FulfillBuilder, Fulfillment};
use sha2::{Digest, Sha256};
use tracing::debug;

use crate::{reject, IlpResult, PacketHandler, Request};

/// The fulfillment of a test Prepare carrying `data`: SHA-256(`data`).
///
/// Anyone who sees the data can compute it, so this convention is for tests, examples and
/// load generators only, never for payments of value.
#[must_use]
pub fn test_fulfillment(data: &[u8]) -> Fulfillment {
    Fulfillment::from_bytes(Sha256::digest(data).into())
}

/// The condition a sender puts on a test Prepare carrying `data`: SHA-256(SHA-256(`data`)),
/// which [`TestReceiver`] fulfills.
#[must_use]
pub fn test_condition(data: &[u8]) -> Condition {
    test_fulfillment(data).condition()
}

/// A receiver that fulfills by the test convention (DESIGN.md, `ilp-receiver`): the
/// fulfillment of a Prepare is SHA-256 of its data. It does not look at the destination or
/// amount.
///
/// | Case | Answer |
/// |---|---|
/// | SHA-256(SHA-256(data)) = condition | Fulfill with fulfillment SHA-256(data) and the Prepare's data echoed |
/// | otherwise | `F05 Wrong Condition`, `triggeredBy` the receiver's address, no data. Cause: the sender did not build the condition with [`test_condition`]; remedy: do so |
///
/// ```
/// use futures::executor::block_on;
/// use ilp_core::{test_condition, test_fulfillment, PacketHandler, Principal, Request, TestReceiver};
/// use ilp_packet::{Address, PrepareBuilder, Timestamp};
///
/// let receiver = TestReceiver::new(Address::from_static("example.bob"));
/// let prepare = PrepareBuilder {
///     amount: 5,
///     expires_at: Timestamp::MAX,
///     execution_condition: test_condition(b"order 1"),
///     destination: &Address::from_static("example.bob"),
///     data: b"order 1",
/// }
/// .build()?;
/// let from = Principal::account("alice".parse()?);
/// let fulfill = block_on(receiver.handle(Request { from, prepare })).unwrap();
/// assert_eq!(fulfill.fulfillment(), test_fulfillment(b"order 1"));
/// assert_eq!(fulfill.data(), b"order 1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TestReceiver {
    address: Address,
}

impl TestReceiver {
    /// A receiver whose Rejects name `address` as `triggeredBy`.
    #[must_use]
    pub const fn new(address: Address) -> Self {
        Self { address }
    }

    /// The receiver's address.
    #[must_use]
    pub const fn address(&self) -> &Address {
        &self.address
    }
}

#[async_trait]
impl PacketHandler for TestReceiver {
    async fn handle(&self, request: Request) -> IlpResult {
        let data = request.prepare.data();
        let fulfillment = test_fulfillment(data);
        if !fulfillment.fulfills(&request.prepare.execution_condition()) {
            debug!(account = %request.from.account, "condition is not SHA-256(SHA-256(data)) (F05)");
            return Err(reject(
                ErrorCode::F05_WRONG_CONDITION,
                &self.address,
                "condition is not SHA-256(SHA-256(data))",
            ));
        }
        debug!(
            account = %request.from.account,
            amount = request.prepare.amount(),
            "fulfilling test prepare"
        );
        // A Prepare's data is at most MAX_DATA_LEN bytes, so echoing it cannot fail; answer
        // T00 rather than panic if that ever changes.
        FulfillBuilder { fulfillment, data }.build().map_err(|e| {
            reject(
                ErrorCode::T00_INTERNAL_ERROR,
                &self.address,
                &format!("cannot build fulfill: {e}"),
            )
        })
    }
}
