//! The asynchronous mode in the server: the callee's side ([`AsyncConfig`], [`Replies`]: `202`
//! now, the reply POSTed to the caller's callback later) and the caller's callback endpoint
//! ([`receive`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, AUTHORIZATION};
use http::{HeaderMap, HeaderValue, Response, StatusCode, Uri};
use ilp_core::{AccountId, Clock, Principal, Request, SystemClock};
use ilp_packet::{ErrorCode, Packet, Timestamp};
use tracing::{debug, warn, Instrument};

use super::Endpoint;
use crate::callback::{
    CallbackPolicy, CallbackTarget, Callbacks, RequestId, CALLBACK_URL, PREFER, REQUEST_ID,
    RESPOND_ASYNC,
};
use crate::client::{Auth, Transport, TransportSettings, CALLBACK_URL_NAME};
use crate::ClientConfigError;

/// Settings of the asynchronous mode on the callee's side
/// ([`IlpHttpService::with_async`](crate::IlpHttpService::with_async)).
///
/// Without it a server ignores `Prefer: respond-async` and answers every request
/// synchronously (`200`), as [RFC 7240] lets it. With it, a request with
/// `Prefer: respond-async` or a `Callback-Url` header is answered `202 Accepted` as soon as its
/// Prepare is decoded, and the Fulfill or Reject is POSTed to the callback URL later:
///
/// - The request must carry a `Request-Id` (a UUID), and its `Callback-Url` (or the one agreed
///   out of band when it names none) must be allowed by [`policy`](Self::policy) for the
///   authenticated account; else `400` with an `F00` Reject saying which.
/// - The `Callback-Url` must be an absolute `http://` or `https://` URL with a valid host and
///   port (see [`ClientConfig::new`](crate::ClientConfig::new)) and no `.` or `..` path
///   segment, literal or percent-encoded (`%2e`); else `400`.
/// - A `Request-Id` the account already has in progress is answered `202` again and not
///   handled twice. At most [`max_pending`](Self::max_pending) requests are in progress at
///   once; more get `503`.
/// - Once its reply is known, a `Request-Id` is remembered until its Prepare expires: the
///   account sending it again gets that same Fulfill or Reject at once, as a synchronous
///   `200` answer (which [RFC 7240] allows), and the Prepare is neither handled again nor its
///   reply POSTed again. At most [`max_answered`](Self::max_answered) replies of at most
///   [`max_answered_bytes`](Self::max_answered_bytes) bytes in all are remembered; beyond
///   either bound the ones whose Prepares expire first are forgotten (a warning is logged).
/// - The handler gets until the Prepare's expiry; a reply not ready by then is not sent (the
///   caller rejects `R00` on its own).
/// - The reply is POSTed with `Content-Type: application/octet-stream`, the `Request-Id` and
///   the target's `Authorization`. Each attempt may take [`attempt_timeout`](Self::attempt_timeout);
///   on `5xx`, a timeout or a connection failure it is tried again (after
///   [`first_retry`](Self::first_retry), doubling up to
///   [`max_retry_interval`](Self::max_retry_interval)) until the Prepare expires; any `2xx`
///   or `4xx` ends it.
///
/// [RFC 7240]: https://www.rfc-editor.org/rfc/rfc7240
#[derive(Clone)]
#[non_exhaustive]
pub struct AsyncConfig {
    /// Which callback URLs each account may name, and the credentials to send there.
    pub policy: Arc<dyn CallbackPolicy>,
    /// The most requests in progress at once (default 10 000).
    pub max_pending: usize,
    /// The most answered requests remembered until their Prepares expire (default 10 000; 0:
    /// none, and a repeated `Request-Id` is handled again once answered).
    pub max_answered: usize,
    /// The most bytes of replies remembered in all (default 32 MiB; a reply is at most
    /// [`ilp_packet::MAX_PACKET_LEN`] bytes).
    pub max_answered_bytes: usize,
    /// How long one attempt to POST a reply may take (default 5 s).
    pub attempt_timeout: Duration,
    /// The wait before the first retry (default 100 ms).
    pub first_retry: Duration,
    /// The longest wait between two attempts (default 2 s).
    pub max_retry_interval: Duration,
    /// The TLS settings for `https://` callback URLs (feature `rustls`): which servers to
    /// trust (default `None`: Mozilla's roots, from webpki-roots).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for AsyncConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncConfig")
            .field("max_pending", &self.max_pending)
            .field("max_answered", &self.max_answered)
            .field("max_answered_bytes", &self.max_answered_bytes)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("first_retry", &self.first_retry)
            .field("max_retry_interval", &self.max_retry_interval)
            .finish_non_exhaustive()
    }
}

impl AsyncConfig {
    /// The asynchronous mode with `policy` and default limits.
    #[must_use]
    pub fn new(policy: impl CallbackPolicy + 'static) -> Self {
        Self {
            policy: Arc::new(policy),
            max_pending: 10_000,
            max_answered: 10_000,
            max_answered_bytes: 32 << 20,
            attempt_timeout: Duration::from_secs(5),
            first_retry: Duration::from_millis(100),
            max_retry_interval: Duration::from_secs(2),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// Sets [`tls`](Self::tls) (feature `rustls`).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn with_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets [`max_pending`](Self::max_pending).
    #[must_use]
    pub const fn with_max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending;
        self
    }

    /// Sets [`max_answered`](Self::max_answered).
    #[must_use]
    pub const fn with_max_answered(mut self, max_answered: usize) -> Self {
        self.max_answered = max_answered;
        self
    }

    /// Sets [`max_answered_bytes`](Self::max_answered_bytes).
    #[must_use]
    pub const fn with_max_answered_bytes(mut self, max_answered_bytes: usize) -> Self {
        self.max_answered_bytes = max_answered_bytes;
        self
    }

    /// Sets [`attempt_timeout`](Self::attempt_timeout).
    #[must_use]
    pub const fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets [`first_retry`](Self::first_retry) and
    /// [`max_retry_interval`](Self::max_retry_interval).
    #[must_use]
    pub const fn with_retry(mut self, first: Duration, max: Duration) -> Self {
        self.first_retry = first;
        self.max_retry_interval = max;
        self
    }
}

/// What the asynchronous headers of a request ask for.
pub(crate) struct AsyncRequest {
    callback_url: Option<Uri>,
    request_id: Option<RequestId>,
    bad_callback_url: bool,
}

/// The asynchronous mode's headers: `None` when the request does not ask for it.
pub(crate) fn async_request(headers: &HeaderMap) -> Option<AsyncRequest> {
    let prefer = headers.get_all(PREFER).iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',').any(|preference| {
                let token = preference.split(';').next().unwrap_or_default().trim();
                token.eq_ignore_ascii_case(RESPOND_ASYNC)
            })
        })
    });
    let callback = headers.get(CALLBACK_URL);
    if !prefer && callback.is_none() {
        return None;
    }
    let callback_url = callback
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<Uri>().ok())
        .filter(|url| {
            crate::url::check(url, CALLBACK_URL_NAME, true).is_ok()
                && !crate::url::has_dot_segment(url)
        });
    Some(AsyncRequest {
        bad_callback_url: callback.is_some() && callback_url.is_none(),
        callback_url,
        request_id: request_id(headers),
    })
}

fn request_id(headers: &HeaderMap) -> Option<RequestId> {
    headers.get(REQUEST_ID)?.to_str().ok()?.trim().parse().ok()
}

/// One asynchronous request: the account that sent it and its `Request-Id`.
type Key = (AccountId, RequestId);

/// The callee's state: the reply sender, the requests in progress and the ones answered.
pub(crate) struct Replies {
    config: AsyncConfig,
    transport: Transport,
    table: Mutex<Table>,
    /// Notified when the last request in progress ends.
    idle: tokio::sync::Notify,
}

/// The requests in progress, and the replies remembered until their Prepares expire.
#[derive(Default)]
struct Table {
    in_progress: HashSet<Key>,
    answered: HashMap<Key, Answered>,
    /// The keys of `answered` by expiry (then by arrival), soonest first.
    by_expiry: BTreeMap<(Timestamp, u64), Key>,
    /// The bytes of the replies in `answered`.
    answered_bytes: usize,
    /// The arrival number of the next answered request.
    next: u64,
}

struct Answered {
    reply: Bytes,
    /// The position in `by_expiry`.
    at: (Timestamp, u64),
}

impl Table {
    /// Forgets the replies whose Prepares expired by `now`.
    fn purge(&mut self, now: Timestamp) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.forget(&key);
        }
    }

    fn forget(&mut self, key: &Key) {
        if let Some(answered) = self.answered.remove(key) {
            self.answered_bytes -= answered.reply.len();
            self.by_expiry.remove(&answered.at);
        }
    }

    /// Remembers `reply` to `key` until `expires_at`, forgetting the replies that expire first
    /// while over `max` entries or `max_bytes` bytes.
    fn remember(
        &mut self,
        key: Key,
        reply: Bytes,
        expires_at: Timestamp,
        max: usize,
        max_bytes: usize,
    ) {
        if max == 0 {
            return;
        }
        if reply.len() > max_bytes {
            warn!(
                max_bytes,
                "ilp-http: reply too large to be remembered for retries"
            );
            return;
        }
        let mut forgotten = 0usize;
        while self.answered.len() >= max || self.answered_bytes + reply.len() > max_bytes {
            let Some((_, oldest)) = self.by_expiry.pop_first() else {
                break;
            };
            self.forget(&oldest);
            forgotten += 1;
        }
        if forgotten > 0 {
            warn!(
                max,
                max_bytes,
                forgotten,
                "ilp-http: too many answered requests remembered, forgot the soonest to expire"
            );
        }
        let at = (expires_at, self.next);
        self.next += 1;
        self.answered_bytes += reply.len();
        self.by_expiry.insert(at, key.clone());
        self.answered.insert(key, Answered { reply, at });
    }
}

impl fmt::Debug for Replies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replies")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Replies {
    /// Fails only when the TLS settings are unusable (feature `rustls`).
    pub(crate) fn new(config: AsyncConfig) -> Result<Self, ClientConfigError> {
        let transport = Transport::new(TransportSettings {
            http2_only: false,
            connect_timeout: config.attempt_timeout,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            #[cfg(feature = "rustls")]
            tls: config.tls.clone(),
        })?;
        Ok(Self {
            transport,
            config,
            table: Mutex::new(Table::default()),
            idle: tokio::sync::Notify::new(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table is consistent after every statement: a panic elsewhere cannot break it.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers an asynchronous request: `202` and a task that handles the Prepare and POSTs
    /// the reply, or `400` / `503`.
    pub(crate) fn accept(
        self: &Arc<Self>,
        endpoint: &Endpoint,
        principal: Principal,
        request: AsyncRequest,
        body: Bytes,
    ) -> Response<Bytes> {
        if request.bad_callback_url {
            debug!("ilp-http: invalid Callback-Url");
            return endpoint.bad_request(
                ErrorCode::F00_BAD_REQUEST,
                "Callback-Url must be an absolute http:// or https:// URL with a valid host and port and no dot segments",
            );
        }
        let Some(id) = request.request_id else {
            debug!("ilp-http: asynchronous request without a valid Request-Id");
            return endpoint.bad_request(
                ErrorCode::F00_BAD_REQUEST,
                "asynchronous request needs a Request-Id (a UUID)",
            );
        };
        let Some(target) = self
            .config
            .policy
            .target(&principal, request.callback_url.as_ref())
        else {
            debug!(request_id = %id, "ilp-http: callback URL not allowed");
            return endpoint.bad_request(
                ErrorCode::F00_BAD_REQUEST,
                "callback URL not allowed for this account",
            );
        };
        let prepare = match endpoint.decode(body) {
            Ok(prepare) => prepare,
            Err(response) => return *response,
        };
        let key = (principal.account.clone(), id.clone());
        {
            let mut table = self.table();
            table.purge(SystemClock.now());
            if let Some(answered) = table.answered.get(&key) {
                debug!(request_id = %id, "ilp-http: Request-Id already answered, same reply");
                return super::packet_response(StatusCode::OK, answered.reply.clone());
            }
            if table.in_progress.contains(&key) {
                debug!(request_id = %id, "ilp-http: Request-Id already in progress");
                return accepted();
            }
            if table.in_progress.len() >= self.config.max_pending {
                warn!(
                    max = self.config.max_pending,
                    "ilp-http: too many asynchronous requests in progress"
                );
                return super::Refusal::Unavailable.into_response();
            }
            table.in_progress.insert(key.clone());
        }
        let guard = InProgress {
            replies: Arc::clone(self),
            key,
        };
        let handler = Arc::clone(endpoint.handler());
        let span = tracing::debug_span!("ilp_http_reply", request_id = %id, url = %target.url);
        tokio::spawn(
            async move {
                let in_progress = guard;
                let expires_at = prepare.expires_at();
                let left = expires_at.saturating_duration_since(SystemClock.now());
                let handling = handler.handle(Request {
                    from: principal,
                    prepare,
                });
                let Ok(result) = tokio::time::timeout(left, handling).await else {
                    debug!("ilp-http: handler not done by the expiry, no reply sent");
                    return;
                };
                let body = match result {
                    Ok(fulfill) => fulfill.into_bytes(),
                    Err(reject) => reject.into_bytes(),
                };
                let replies = &in_progress.replies;
                replies.table().remember(
                    in_progress.key.clone(),
                    body.clone(),
                    expires_at,
                    replies.config.max_answered,
                    replies.config.max_answered_bytes,
                );
                replies.send(&target, &id, body, expires_at).await;
            }
            .instrument(span),
        );
        accepted()
    }

    /// POSTs a reply until it is taken (`2xx`), refused (`4xx`) or the Prepare expired.
    async fn send(&self, target: &CallbackTarget, id: &RequestId, body: Bytes, until: Timestamp) {
        // The policy's URL too: a bad port must not send the credentials to another one.
        let checked = crate::url::check(&target.url, CALLBACK_URL_NAME, true).and_then(|()| {
            if crate::url::has_dot_segment(&target.url) {
                Err(ClientConfigError::DotSegment {
                    url: CALLBACK_URL_NAME,
                })
            } else {
                Ok(())
            }
        });
        if let Err(error) = checked {
            warn!(%error, "ilp-http: callback URL refused, reply not sent");
            return;
        }
        let auth = match Auth::new(target.auth.clone()) {
            Ok(auth) => auth,
            Err(error) => {
                warn!(%error, "ilp-http: cannot send the reply");
                return;
            }
        };
        let Ok(id_value) = HeaderValue::from_str(id.as_str()) else {
            return;
        };
        let mut wait = self.config.first_retry;
        for attempt in 1u32.. {
            let now = SystemClock.now();
            let left = until.saturating_duration_since(now);
            if left.is_zero() {
                warn!(
                    attempt,
                    "ilp-http: reply not taken before the expiry, given up"
                );
                return;
            }
            let mut headers = vec![(HeaderName::from_static(REQUEST_ID), id_value.clone())];
            // Kept until the attempt ends: a minted token's bytes are then zeroed.
            let mut _secret = None;
            if let Some((value, secret)) = auth.header(|| now) {
                headers.push((AUTHORIZATION, value));
                _secret = secret;
            }
            let post = self.transport.post(&target.url, headers, body.clone());
            match tokio::time::timeout(left.min(self.config.attempt_timeout), post).await {
                Ok(Ok(response)) if response.status().is_success() => {
                    debug!(attempt, status = %response.status(), "ilp-http: reply taken");
                    return;
                }
                Ok(Ok(response)) if response.status().is_client_error() => {
                    warn!(attempt, status = %response.status(), "ilp-http: reply refused");
                    return;
                }
                Ok(Ok(response)) => {
                    debug!(attempt, status = %response.status(), "ilp-http: reply failed, will retry");
                }
                Ok(Err(failure)) => {
                    debug!(attempt, ?failure, "ilp-http: reply failed, will retry");
                }
                Err(_) => debug!(attempt, "ilp-http: reply timed out, will retry"),
            }
            let left = until.saturating_duration_since(SystemClock.now());
            tokio::time::sleep(wait.min(left)).await;
            wait = (wait * 2).min(self.config.max_retry_interval);
        }
    }
}

/// Keeps a request in the in-progress set while its task lives.
struct InProgress {
    replies: Arc<Replies>,
    key: (AccountId, RequestId),
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut table = self.replies.table();
        table.in_progress.remove(&self.key);
        if table.in_progress.is_empty() {
            self.replies.idle.notify_waiters();
        }
    }
}

impl Replies {
    /// Waits until no request is in progress: every reply sent, refused, or given up at its
    /// Prepare's expiry.
    pub(crate) async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            if self.table().in_progress.is_empty() {
                return;
            }
            idle.await;
        }
    }
}

fn accepted() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// The caller's callback endpoint: takes a reply POSTed by `principal` and hands it to the
/// request waiting in `callbacks`. `200` when taken; `400` (with no body) for a missing or
/// malformed `Request-Id`, a body that is not a Fulfill or Reject, or a `Request-Id` unknown,
/// already answered, expired or sent to another account.
pub(crate) fn receive(
    callbacks: &Callbacks,
    principal: &Principal,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<Bytes> {
    let status = match request_id(headers) {
        None => {
            debug!("ilp-http: callback without a valid Request-Id");
            StatusCode::BAD_REQUEST
        }
        Some(id) => {
            let reply = match Packet::decode(body) {
                Ok(Packet::Fulfill(fulfill)) => Some(Ok(fulfill)),
                Ok(Packet::Reject(reject)) => Some(Err(reject)),
                Ok(Packet::Prepare(_)) | Err(_) => None,
            };
            match reply.map(|reply| callbacks.deliver(&id, &principal.account, reply)) {
                Some(Ok(())) => {
                    debug!(request_id = %id, "ilp-http: callback taken");
                    StatusCode::OK
                }
                Some(Err(error)) => {
                    debug!(request_id = %id, %error, "ilp-http: callback refused");
                    StatusCode::BAD_REQUEST
                }
                None => {
                    debug!(request_id = %id, "ilp-http: callback body is not a Fulfill or Reject");
                    StatusCode::BAD_REQUEST
                }
            }
        }
    };
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_async_mode_is_asked_by_prefer_or_a_callback_url() {
        assert!(async_request(&HeaderMap::new()).is_none());
        assert!(async_request(&headers(&[("prefer", "handling=lenient")])).is_none());
        assert!(async_request(&headers(&[("prefer", "respond-async")])).is_some());
        assert!(async_request(&headers(&[("prefer", "wait=5, Respond-Async; x=1")])).is_some());
        assert!(async_request(&headers(&[("prefer", "a"), ("prefer", "respond-async")])).is_some());
        let request = async_request(&headers(&[("callback-url", "http://h/c")])).unwrap();
        assert_eq!(request.callback_url.unwrap().to_string(), "http://h/c");
        assert!(!request.bad_callback_url);
        assert!(request.request_id.is_none());
        let request = async_request(&headers(&[
            ("callback-url", "h/c"),
            ("request-id", " 3F2504E0-4F89-41D3-9A0C-0305E82C3301 "),
        ]))
        .unwrap();
        assert!(request.bad_callback_url);
        assert_eq!(
            request.request_id.unwrap().as_str(),
            "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
        );
    }
}
