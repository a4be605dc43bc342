//! [`FulfillmentCheck`]: turns a Fulfill that does not match the Prepare's condition into a
//! Reject.

use async_trait::async_trait;
use ilp_packet::{Address, ErrorCode};
use tracing::debug;

use crate::{reject, IlpResult, PacketHandler, Request};

/// The message of the F05 Reject, as the JavaScript connector words it.
const WRONG_FULFILLMENT: &str = "fulfillment did not match expected value.";

/// Checks the answer of the inner handler: a Fulfill whose fulfillment does not hash
/// (SHA-256) to the Prepare's execution condition becomes a Reject.
///
/// | Case | Reject | Cause | Remedy |
/// |---|---|---|---|
/// | SHA-256(fulfillment) ≠ condition | `F05 Wrong Condition` | the next hop (or the receiver) answered with a fulfillment for another packet, or is broken | none for the sender: the packet cannot be completed through this hop; the operator should look at the next hop |
///
/// The Reject names this node's address as `triggeredBy`, has the message
/// `fulfillment did not match expected value.` (as ilp-connector and Rafiki answer) and no
/// data. Matching Fulfills and all Rejects from the inner handler pass through untouched.
///
/// A connector puts this around its outgoing link, so that it never passes on (nor pays for)
/// a Fulfill it could not itself claim with.
///
/// ```
/// use bytes::Bytes;
/// use futures::executor::block_on;
/// use async_trait::async_trait;
/// use ilp_core::{FulfillmentCheck, IlpResult, PacketHandler, Principal, Request};
/// use ilp_packet::{Address, Condition, ErrorCode, FulfillBuilder, Fulfillment, PrepareBuilder, Timestamp};
///
/// /// Fulfills everything with the same (usually wrong) preimage.
/// struct Liar;
/// #[async_trait]
/// impl PacketHandler for Liar {
///     async fn handle(&self, _: Request) -> IlpResult {
///         Ok(FulfillBuilder { fulfillment: Fulfillment::from_bytes([7; 32]), data: b"" }
///             .build()
///             .expect("empty data fits"))
///     }
/// }
///
/// let node = Address::from_static("example.connector");
/// let handler = FulfillmentCheck::new(Liar, node.clone());
/// let prepare = PrepareBuilder {
///     amount: 1,
///     expires_at: Timestamp::MAX,
///     execution_condition: Condition::from_bytes([1; 32]),
///     destination: &Address::from_static("example.bob"),
///     data: b"",
/// }
/// .build()?;
/// let from = Principal::account("alice".parse()?);
/// let reject = block_on(handler.handle(Request { from, prepare })).unwrap_err();
/// assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
/// assert_eq!(reject.message(), "fulfillment did not match expected value.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FulfillmentCheck<H> {
    inner: H,
    node_address: Address,
}

impl<H> FulfillmentCheck<H> {
    /// Wraps `inner`. Rejects name `node_address` as `triggeredBy`.
    #[must_use]
    pub const fn new(inner: H, node_address: Address) -> Self {
        Self {
            inner,
            node_address,
        }
    }

    /// The inner handler.
    #[must_use]
    pub const fn inner(&self) -> &H {
        &self.inner
    }
}

#[async_trait]
impl<H: PacketHandler> PacketHandler for FulfillmentCheck<H> {
    async fn handle(&self, request: Request) -> IlpResult {
        let condition = request.prepare.execution_condition();
        let account = request.from.account.clone();
        let fulfill = self.inner.handle(request).await?;
        if fulfill.fulfillment().fulfills(&condition) {
            return Ok(fulfill);
        }
        // The fulfillment itself is not logged: it is the preimage of someone's payment.
        debug!(%account, %condition, "fulfillment does not match the condition (F05)");
        Err(reject(
            ErrorCode::F05_WRONG_CONDITION,
            &self.node_address,
            WRONG_FULFILLMENT,
        ))
    }
}
