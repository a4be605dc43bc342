//! [`MaxPacketAmount`]: refuses Prepares whose amount is above a maximum.

use async_trait::async_trait;
use ilp_packet::{Address, AmountTooLarge, ErrorCode, RejectBuilder};
use tracing::debug;

use crate::{IlpResult, PacketHandler, Request};

/// Refuses Prepares whose amount is above a maximum, before they reach the inner handler.
///
/// | Case | Reject | Cause | Remedy (for the sender) |
/// |---|---|---|---|
/// | amount > maximum | `F08 Amount Too Large` | this node does not carry packets this large | split the payment into smaller packets (the data says how large) |
///
/// The Reject names this node's address as `triggeredBy` and carries the 16-byte
/// [`AmountTooLarge`] data (`receivedAmount ‖ maximumAmount`, RFC 0027), which STREAM senders
/// read to shrink their packets. An amount equal to the maximum passes.
///
/// The amounts are in the units of the link the Prepare arrived on: put this handler where
/// packets come in, with the maximum of that link.
///
/// ```
/// use futures::executor::block_on;
/// use ilp_core::{test_condition, MaxPacketAmount, PacketHandler, Principal, Request, TestReceiver};
/// use ilp_packet::{Address, AmountTooLarge, ErrorCode, PrepareBuilder, Timestamp};
///
/// let node = Address::from_static("example.connector");
/// let handler = MaxPacketAmount::new(TestReceiver::new(node.clone()), node.clone(), 50);
///
/// let prepare = PrepareBuilder {
///     amount: 100,
///     expires_at: Timestamp::MAX,
///     execution_condition: test_condition(b""),
///     destination: &Address::from_static("example.bob"),
///     data: b"",
/// }
/// .build()?;
/// let from = Principal::account("alice".parse()?);
/// let reject = block_on(handler.handle(Request { from, prepare })).unwrap_err();
/// assert_eq!(reject.code(), ErrorCode::F08_AMOUNT_TOO_LARGE);
/// assert_eq!(AmountTooLarge::decode(reject.data())?, AmountTooLarge { received: 100, maximum: 50 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MaxPacketAmount<H> {
    inner: H,
    node_address: Address,
    maximum: u64,
}

impl<H> MaxPacketAmount<H> {
    /// Wraps `inner`, letting through Prepares of at most `maximum`. Rejects name
    /// `node_address` as `triggeredBy`.
    #[must_use]
    pub const fn new(inner: H, node_address: Address, maximum: u64) -> Self {
        Self {
            inner,
            node_address,
            maximum,
        }
    }

    /// The largest amount let through.
    #[must_use]
    pub const fn maximum(&self) -> u64 {
        self.maximum
    }

    /// The inner handler.
    #[must_use]
    pub const fn inner(&self) -> &H {
        &self.inner
    }
}

#[async_trait]
impl<H: PacketHandler> PacketHandler for MaxPacketAmount<H> {
    async fn handle(&self, request: Request) -> IlpResult {
        let amount = request.prepare.amount();
        if amount > self.maximum {
            debug!(
                account = %request.from.account,
                amount,
                maximum = self.maximum,
                "refusing prepare above the maximum packet amount (F08)"
            );
            let data = AmountTooLarge {
                received: amount,
                maximum: self.maximum,
            }
            .to_bytes();
            return Err(RejectBuilder {
                code: ErrorCode::F08_AMOUNT_TOO_LARGE,
                triggered_by: &self.node_address,
                message: &format!(
                    "packet size too large. maxAmount={} actualAmount={amount}",
                    self.maximum
                ),
                data: &data,
            }
            .build_lossy());
        }
        self.inner.handle(request).await
    }
}
