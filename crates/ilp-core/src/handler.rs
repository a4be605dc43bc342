//! The packet handler trait and the request it handles.

use std::sync::Arc;

use async_trait::async_trait;
use ilp_packet::{Address, ErrorCode, Fulfill, Prepare, Reject, RejectBuilder};

use crate::Principal;

/// The outcome of a Prepare: a Fulfill, or a Reject. A Reject is a value, not an error.
pub type IlpResult = Result<Fulfill, Reject>;

/// A Prepare and who sent it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The authenticated sender.
    pub from: Principal,
    /// The packet.
    pub prepare: Prepare,
}

/// Handles Prepares. Servers call it with what they receive; clients implement it to send
/// (a transport client *is* a handler). Middleware is a struct wrapping an inner handler.
///
/// ```
/// use async_trait::async_trait;
/// use ilp_core::{reject, IlpResult, PacketHandler, Request};
/// use ilp_packet::{Address, ErrorCode};
///
/// /// Rejects everything with F02.
/// struct NoRoute(Address);
///
/// #[async_trait]
/// impl PacketHandler for NoRoute {
///     async fn handle(&self, _request: Request) -> IlpResult {
///         Err(reject(ErrorCode::F02_UNREACHABLE, &self.0, "no route"))
///     }
/// }
/// ```
#[async_trait]
pub trait PacketHandler: Send + Sync {
    /// Handles one Prepare.
    async fn handle(&self, request: Request) -> IlpResult;
}

#[async_trait]
impl<T: PacketHandler + ?Sized> PacketHandler for Arc<T> {
    async fn handle(&self, request: Request) -> IlpResult {
        (**self).handle(request).await
    }
}

#[async_trait]
impl<T: PacketHandler + ?Sized> PacketHandler for Box<T> {
    async fn handle(&self, request: Request) -> IlpResult {
        (**self).handle(request).await
    }
}

#[async_trait]
impl<T: PacketHandler + ?Sized> PacketHandler for &T {
    async fn handle(&self, request: Request) -> IlpResult {
        (**self).handle(request).await
    }
}

/// A Reject with no data from `triggered_by`. An over-long message is cut to the 8191 bytes a
/// Reject may carry, so this never fails.
#[must_use]
pub fn reject(code: ErrorCode, triggered_by: &Address, message: &str) -> Reject {
    RejectBuilder {
        code,
        triggered_by,
        message,
        data: &[],
    }
    .build_lossy()
}
