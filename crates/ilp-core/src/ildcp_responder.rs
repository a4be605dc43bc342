//! [`IldcpResponder`]: answers IL-DCP requests (RFC 0031) from child accounts.

use std::collections::HashMap;

use async_trait::async_trait;
use ilp_packet::{ildcp, Address, Condition, ErrorCode};
use tracing::{debug, warn};

use crate::{reject, AccountId, Clock, IlpResult, PacketHandler, Request, SystemClock};

/// What a parent tells one child account by IL-DCP.
///
/// ```
/// use ilp_core::ChildConfig;
/// use ilp_packet::Address;
///
/// // The child gets `<node address>.<account>`:
/// let derived = ChildConfig::new("USD", 2);
/// // The child gets a fixed address:
/// let fixed = ChildConfig::new("USD", 2).with_address(Address::from_static("example.shop"));
/// assert!(derived.address.is_none() && fixed.address.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildConfig {
    /// The child's ILP address. `None`: this node's address with the account name appended
    /// (`example.parent` and account `alice` give `example.parent.alice`), as ilp-connector
    /// does by default.
    pub address: Option<Address>,
    /// The asset code of the link, for example `USD` or `XRP`.
    pub asset_code: String,
    /// The asset scale of the link: amounts are in units of 10^-scale.
    pub asset_scale: u8,
}

impl ChildConfig {
    /// A child with the given asset and the derived address.
    #[must_use]
    pub fn new(asset_code: impl Into<String>, asset_scale: u8) -> Self {
        Self {
            address: None,
            asset_code: asset_code.into(),
            asset_scale,
        }
    }

    /// Gives the child a fixed address instead of the derived one.
    #[must_use]
    pub fn with_address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }
}

/// Answers IL-DCP requests (Prepares to `peer.config`) itself, and passes every other Prepare
/// to the inner handler.
///
/// The answer is for the calling account (`request.from.account`), which must be a configured
/// child: a Fulfill with the zero fulfillment and an [`ildcp::Response`] holding the child's
/// address and the link's asset code and scale (see [`ChildConfig`]).
///
/// | Case | Reject | Cause | Remedy (for the child) |
/// |---|---|---|---|
/// | condition is not the peer-protocol condition | `F00 Bad Request` | not an IL-DCP request, or a broken client | send the request built by [`ildcp::Request::to_prepare`] |
/// | `expires_at` at or before now | `F00 Bad Request` | the request waited too long on the way, or the child's clock is behind | send a new request; check the clock |
/// | the account is not a configured child | `F00 Bad Request` | only children get their configuration from a parent | ask the parent's operator to make the account a child (or configure the address by hand) |
/// | the derived address would be invalid (over 1023 bytes) | `F00 Bad Request` | this node's address plus the account name is too long | the parent's operator gives the child a fixed address |
/// | the response cannot be encoded (asset code too long) | `T00 Internal Error` | misconfiguration of this node | the parent's operator fixes the asset code |
///
/// Every Reject names this node's address as `triggeredBy`, carries a message saying which
/// case it is, and no data (as `ilp-protocol-ildcp`'s server answers).
///
/// ```
/// use futures::executor::block_on;
/// use ilp_core::{ChildConfig, IldcpResponder, PacketHandler, Principal, Request, TestReceiver};
/// use ilp_packet::{ildcp, Address, Timestamp};
///
/// let node = Address::from_static("example.parent");
/// let handler = IldcpResponder::new(TestReceiver::new(node.clone()), node)
///     .with_child("alice".parse()?, ChildConfig::new("XRP", 9));
///
/// let prepare = ildcp::Request { expires_at: Timestamp::MAX }.to_prepare();
/// let from = Principal::account("alice".parse()?);
/// let fulfill = block_on(handler.handle(Request { from, prepare })).unwrap();
/// let response = ildcp::Response::from_fulfill(&fulfill)?;
/// assert_eq!(response.client_address.as_str(), "example.parent.alice");
/// assert_eq!((response.asset_code.as_str(), response.asset_scale), ("XRP", 9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct IldcpResponder<H, C = SystemClock> {
    inner: H,
    node_address: Address,
    children: HashMap<AccountId, ChildConfig>,
    clock: C,
}

impl<H> IldcpResponder<H> {
    /// Wraps `inner`, with no children yet. Rejects name `node_address` as `triggeredBy`, and
    /// derived child addresses start with it. Uses the system clock.
    #[must_use]
    pub fn new(inner: H, node_address: Address) -> Self {
        Self {
            inner,
            node_address,
            children: HashMap::new(),
            clock: SystemClock,
        }
    }
}

impl<H, C> IldcpResponder<H, C> {
    /// Makes `account` a child with `config` (replacing any earlier config for it).
    #[must_use]
    pub fn with_child(mut self, account: AccountId, config: ChildConfig) -> Self {
        self.children.insert(account, config);
        self
    }

    /// Reads the time from `clock` (for example a [`ManualClock`](crate::ManualClock) in tests).
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> IldcpResponder<H, C2> {
        IldcpResponder {
            inner: self.inner,
            node_address: self.node_address,
            children: self.children,
            clock,
        }
    }

    /// The configured children.
    #[must_use]
    pub const fn children(&self) -> &HashMap<AccountId, ChildConfig> {
        &self.children
    }

    /// The inner handler.
    #[must_use]
    pub const fn inner(&self) -> &H {
        &self.inner
    }

    fn refuse(&self, code: ErrorCode, message: &str) -> IlpResult {
        Err(reject(code, &self.node_address, message))
    }
}

#[async_trait]
impl<H: PacketHandler, C: Clock> PacketHandler for IldcpResponder<H, C> {
    async fn handle(&self, request: Request) -> IlpResult {
        let prepare = &request.prepare;
        if prepare.destination() != ildcp::DESTINATION {
            return self.inner.handle(request).await;
        }
        let account = &request.from.account;
        if prepare.execution_condition() != Condition::PEER_PROTOCOL {
            debug!(%account, "IL-DCP request with the wrong condition (F00)");
            return self.refuse(
                ErrorCode::F00_BAD_REQUEST,
                "packet does not contain correct condition for a peer protocol request.",
            );
        }
        let now = self.clock.now();
        let expires_at = prepare.expires_at();
        if expires_at <= now {
            debug!(%account, %expires_at, %now, "expired IL-DCP request (F00)");
            return self.refuse(
                ErrorCode::F00_BAD_REQUEST,
                "IL-DCP request packet is expired.",
            );
        }
        let Some(child) = self.children.get(account) else {
            debug!(%account, "IL-DCP request from an account that is not a child (F00)");
            return self.refuse(
                ErrorCode::F00_BAD_REQUEST,
                "IL-DCP request from an account that is not a child of this node.",
            );
        };
        let client_address = match &child.address {
            Some(address) => address.clone(),
            None => match self.node_address.with_suffix(account.as_str()) {
                Ok(address) => address,
                Err(e) => {
                    warn!(%account, error = %e, "cannot derive a child address for IL-DCP (F00)");
                    return self.refuse(
                        ErrorCode::F00_BAD_REQUEST,
                        "cannot derive a valid ILP address for this account.",
                    );
                }
            },
        };
        let response = ildcp::Response {
            client_address,
            asset_scale: child.asset_scale,
            asset_code: child.asset_code.clone(),
        };
        match response.to_fulfill() {
            Ok(fulfill) => {
                debug!(
                    %account,
                    client_address = %response.client_address,
                    asset_code = %response.asset_code,
                    asset_scale = response.asset_scale,
                    "answered IL-DCP request"
                );
                Ok(fulfill)
            }
            Err(e) => {
                warn!(%account, error = %e, "cannot encode the IL-DCP response (T00)");
                self.refuse(
                    ErrorCode::T00_INTERNAL_ERROR,
                    "cannot encode the IL-DCP response.",
                )
            }
        }
    }
}
