//! The asynchronous mode of the current RFC 0035 draft: the headers, [`RequestId`], and (with
//! the `tokio` feature) the callee's [`CallbackPolicy`] and the caller's [`Callbacks`].
//!
//! A caller sends its Prepare with `Prefer: respond-async`, a `Callback-Url` and a
//! `Request-Id`; the callee answers `202 Accepted` at once, and later `POST`s the Fulfill or
//! Reject to the callback URL with the same `Request-Id`. The caller's callback endpoint
//! answers `200`, or `400` for a `Request-Id` it does not know or has already had an answer
//! for. The callee retries on `5xx` and timeouts until the Prepare expires; the first reply
//! wins. No other implementation speaks this mode yet: both sides here are off by default,
//! and a callee without it answers synchronously, which an asynchronous
//! [`HttpClient`](crate::HttpClient) takes as well.
//!
//! # Example
//!
//! Node A sends to node B asynchronously; B POSTs the replies to A's callback endpoint. Each
//! authenticates the other with the token the other gave it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
//! use ilp_core::TestReceiver;
//! use ilp_http::{
//!     AsyncCaller, AsyncConfig, CallbackRoutes, Callbacks, ClientConfig, Endpoint, HttpClient,
//!     HttpServer, IlpHttpService, OutgoingAuth, ServerConfig,
//! };
//! use ilp_packet::Address;
//!
//! # async fn f(a_auth: AccountAuthenticator, b_auth: AccountAuthenticator,
//! #     token_a_gave_b: String, token_b_gave_a: String) -> Result<(), Box<dyn std::error::Error>> {
//! // Node B, the callee: account `a` may have its replies sent under A's callback URL.
//! let policy = CallbackRoutes::new().allow(
//!     "a".parse()?,
//!     "http://a.example:7770/ilp/callbacks".parse()?,
//!     OutgoingAuth::bearer(token_a_gave_b),
//! );
//! let b = Endpoint::new(
//!     Arc::new(b_auth),
//!     TestReceiver::new(Address::from_static("example.b")),
//!     ServerConfig::default(),
//! );
//! let b = IlpHttpService::new(b).with_async(AsyncConfig::new(policy));
//! let _b_server = HttpServer::bind_service("0.0.0.0:7770".parse()?, b).await?;
//!
//! // Node A, the caller: its server takes the replies (from account `b`) for its client.
//! let callbacks = Callbacks::default();
//! let a = Endpoint::new(
//!     Arc::new(a_auth),
//!     TestReceiver::new(Address::from_static("example.a")),
//!     ServerConfig::default(),
//! );
//! let a = IlpHttpService::new(a).with_callbacks("/ilp/callbacks", callbacks.clone());
//! let _a_server = HttpServer::bind_service("0.0.0.0:7770".parse()?, a).await?;
//! let to_b = HttpClient::new(
//!     ClientConfig::new(
//!         "http://b.example:7770/accounts/a/ilp",
//!         Address::from_static("example.a"),
//!     )?
//!     .with_auth(OutgoingAuth::bearer(token_b_gave_a))
//!     .with_async(AsyncCaller::new(
//!         "http://a.example:7770/ilp/callbacks".parse()?,
//!         callbacks,
//!         "b".parse()?,
//!     )),
//! )?;
//! // `to_b` is a PacketHandler: each Prepare is answered by B's callback, or R00 at expiry.
//! # drop(to_b); Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;

/// The `Prefer` header.
pub const PREFER: &str = "prefer";
/// The `Prefer` value that asks for the asynchronous mode.
pub const RESPOND_ASYNC: &str = "respond-async";
/// The header carrying the URL the reply goes to.
pub const CALLBACK_URL: &str = "callback-url";
/// The header carrying the [`RequestId`] that matches a reply to its Prepare.
pub const REQUEST_ID: &str = "request-id";

/// The identifier of one asynchronous exchange: a UUID in its text form (`8-4-4-4-12`
/// hexadecimal digits). The RFC asks for a version 4 (random) UUID; [`random`](Self::random)
/// makes one (in lower case), and any UUID text is accepted from peers. The text is kept as
/// received, so that a reply carries the `Request-Id` exactly as the caller sent it;
/// comparisons ignore case, as UUIDs are case-insensitive.
#[derive(Clone)]
pub struct RequestId([u8; 36]);

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for RequestId {}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for byte in self.0 {
            state.write_u8(byte.to_ascii_lowercase());
        }
    }
}

/// Why a text is not a [`RequestId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Request-Id must be a UUID (8-4-4-4-12 hexadecimal digits)")]
pub struct InvalidRequestId;

impl RequestId {
    /// A new random (version 4) UUID, from the operating system's random source.
    ///
    /// # Errors
    ///
    /// When the operating system has no random source.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            text[at] = HEX[usize::from(byte >> 4)];
            text[at + 1] = HEX[usize::from(byte & 0x0f)];
            at += 2;
        }
        Ok(Self(text))
    }

    /// The UUID text, as made or received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII hexadecimal digits and dashes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for RequestId {
    type Err = InvalidRequestId;

    fn from_str(s: &str) -> Result<Self, InvalidRequestId> {
        let bytes: &[u8; 36] = s.as_bytes().try_into().map_err(|_| InvalidRequestId)?;
        let mut text = [0u8; 36];
        for (i, (&byte, out)) in bytes.iter().zip(&mut text).enumerate() {
            *out = match (i, byte) {
                (8 | 13 | 18 | 23, b'-') => b'-',
                (8 | 13 | 18 | 23, _) => return Err(InvalidRequestId),
                (_, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => byte,
                _ => return Err(InvalidRequestId),
            };
        }
        Ok(Self(text))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

#[cfg(feature = "tokio")]
pub use tokio_parts::*;

#[cfg(feature = "tokio")]
mod tokio_parts {
    use std::collections::HashMap;
    use std::fmt;
    use std::sync::{Arc, Mutex, PoisonError};

    use http::Uri;
    use ilp_core::{AccountId, IlpResult, Principal};
    use tokio::sync::oneshot;

    use super::RequestId;
    use crate::OutgoingAuth;

    /// Where and how a callee sends the reply to an asynchronous request.
    #[derive(Debug, Clone)]
    #[non_exhaustive]
    pub struct CallbackTarget {
        /// The URL the reply is POSTed to.
        pub url: Uri,
        /// The `Authorization` sent with it.
        pub auth: OutgoingAuth,
    }

    impl CallbackTarget {
        /// A target at `url`, authenticated with `auth`.
        #[must_use]
        pub fn new(url: Uri, auth: OutgoingAuth) -> Self {
            Self { url, auth }
        }
    }

    /// Decides, for the callee, whether an account may have replies sent to a callback URL,
    /// and with which credentials. A server POSTs to URLs its callers name, so this is what
    /// keeps it from being made to call anywhere: a URL the policy does not allow is refused
    /// with `400`.
    pub trait CallbackPolicy: Send + Sync {
        /// The target for replies to `principal`, given the request's `Callback-Url`
        /// (`None` when the request named none: the URL may be agreed out of band), or `None`
        /// to refuse.
        fn target(
            &self,
            principal: &Principal,
            callback_url: Option<&Uri>,
        ) -> Option<CallbackTarget>;
    }

    /// A [`CallbackPolicy`] from a fixed table: for each account, the callback URLs it may
    /// name (same scheme and authority, and a path at or under the registered one, with no
    /// `.` or `..` segment, literal or percent-encoded like `%2e%2e`) and the `Authorization`
    /// to send there (a [`BearerToken`](crate::BearerToken) is zeroed when the routes are
    /// dropped; `Debug` shows no secret). A request that names no `Callback-Url` gets the
    /// registered URL itself. A registered URL with an invalid port or host is never POSTed
    /// to (the reply is dropped, with a warning).
    ///
    /// ```
    /// use ilp_http::{CallbackRoutes, OutgoingAuth};
    ///
    /// # fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let routes = CallbackRoutes::new().allow(
    ///     "alice".parse()?,
    ///     "https://alice.example/ilp/callbacks".parse()?,
    ///     OutgoingAuth::bearer("token-alice-gave-us"),
    /// );
    /// # drop(routes); Ok(()) }
    /// ```
    #[derive(Debug, Clone, Default)]
    pub struct CallbackRoutes {
        routes: HashMap<AccountId, CallbackTarget>,
    }

    impl CallbackRoutes {
        /// An empty table: every callback is refused.
        #[must_use]
        pub fn new() -> Self {
            Self::default()
        }

        /// Lets `account` have replies sent to `url` or under it, with `auth`. Replaces the
        /// account's previous entry.
        #[must_use]
        pub fn allow(mut self, account: AccountId, url: Uri, auth: OutgoingAuth) -> Self {
            self.routes.insert(account, CallbackTarget { url, auth });
            self
        }
    }

    impl CallbackPolicy for CallbackRoutes {
        fn target(
            &self,
            principal: &Principal,
            callback_url: Option<&Uri>,
        ) -> Option<CallbackTarget> {
            let allowed = self.routes.get(&principal.account)?;
            let Some(url) = callback_url else {
                return Some(allowed.clone());
            };
            let base = allowed.url.path().trim_end_matches('/');
            let under = url
                .path()
                .strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            // `/callbacks/../admin` is "under" `/callbacks` as text, not once resolved.
            (url.scheme() == allowed.url.scheme()
                && url.authority() == allowed.url.authority()
                && under
                && !crate::url::has_dot_segment(url))
            .then(|| CallbackTarget {
                url: url.clone(),
                auth: allowed.auth.clone(),
            })
        }
    }

    /// The caller's side of the asynchronous mode: the requests waiting for a reply, shared
    /// by the [`HttpClient`](crate::HttpClient)s that send asynchronously and the callback
    /// endpoint that receives the replies
    /// ([`IlpHttpService::with_callbacks`](crate::IlpHttpService::with_callbacks)). Cheap to
    /// clone; clones share the table.
    ///
    /// Each entry lives until its reply arrives or its Prepare expires, and there are at most
    /// [`max_pending`](Self::new) of them; a request over the limit is rejected `T03` without
    /// being sent.
    #[derive(Clone)]
    pub struct Callbacks {
        inner: Arc<Mutex<Table>>,
    }

    struct Table {
        pending: HashMap<RequestId, Entry>,
        max_pending: usize,
    }

    struct Entry {
        account: AccountId,
        reply: oneshot::Sender<IlpResult>,
    }

    impl fmt::Debug for Callbacks {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let table = self.lock();
            f.debug_struct("Callbacks")
                .field("pending", &table.pending.len())
                .field("max_pending", &table.max_pending)
                .finish()
        }
    }

    impl Default for Callbacks {
        /// A table of at most 10 000 pending requests.
        fn default() -> Self {
            Self::new(10_000)
        }
    }

    /// Why a reply was not taken by [`Callbacks::deliver`]: answered `400`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("unknown or already answered Request-Id")]
    pub struct UnknownRequest;

    /// Why [`Callbacks`] could not take one more request.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum RegisterError {
        Full,
        Random,
    }

    impl Callbacks {
        /// A table of at most `max_pending` requests waiting at once.
        #[must_use]
        pub fn new(max_pending: usize) -> Self {
            Self {
                inner: Arc::new(Mutex::new(Table {
                    pending: HashMap::new(),
                    max_pending,
                })),
            }
        }

        /// How many requests are waiting for a reply.
        #[must_use]
        pub fn pending(&self) -> usize {
            self.lock().pending.len()
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
            // The table is consistent after every statement: a panic elsewhere cannot break it.
            self.inner.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// Hands a reply to the request waiting for `id`, if it was sent to `from`: the
        /// reply must come from the account the request went to. The first reply wins.
        ///
        /// # Errors
        ///
        /// [`UnknownRequest`] when no request waits for `id` from `from` (never sent, already
        /// answered, expired, or another account's).
        pub fn deliver(
            &self,
            id: &RequestId,
            from: &AccountId,
            reply: IlpResult,
        ) -> Result<(), UnknownRequest> {
            let entry = {
                let mut table = self.lock();
                match table.pending.get(id) {
                    Some(entry) if entry.account == *from => table.pending.remove(id),
                    _ => None,
                }
            };
            entry
                .ok_or(UnknownRequest)?
                .reply
                .send(reply)
                .map_err(|_| UnknownRequest)
        }

        /// Adds a request to `account` under a new random id.
        pub(crate) fn register(&self, account: AccountId) -> Result<Waiting, RegisterError> {
            let mut table = self.lock();
            if table.pending.len() >= table.max_pending {
                return Err(RegisterError::Full);
            }
            let (tx, rx) = oneshot::channel();
            let id = loop {
                let id = RequestId::random().map_err(|_| RegisterError::Random)?;
                if !table.pending.contains_key(&id) {
                    break id;
                }
            };
            table
                .pending
                .insert(id.clone(), Entry { account, reply: tx });
            Ok(Waiting {
                id,
                reply: rx,
                callbacks: self.clone(),
            })
        }
    }

    /// One request waiting for its reply; leaving the table when dropped.
    pub(crate) struct Waiting {
        pub(crate) id: RequestId,
        pub(crate) reply: oneshot::Receiver<IlpResult>,
        callbacks: Callbacks,
    }

    impl Drop for Waiting {
        fn drop(&mut self) {
            self.callbacks.lock().pending.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tokio")]
    #[test]
    fn routes_allow_urls_at_or_under_the_registered_one() {
        use ilp_core::Principal;
        let routes = CallbackRoutes::new().allow(
            "alice".parse().unwrap(),
            "http://alice.example:8080/ilp/callbacks".parse().unwrap(),
            crate::OutgoingAuth::bearer("t"),
        );
        let alice = Principal::account("alice".parse().unwrap());
        let bob = Principal::account("bob".parse().unwrap());
        let target = |who: &Principal, url: &str| {
            routes
                .target(who, Some(&url.parse().unwrap()))
                .map(|t| t.url.to_string())
        };
        for ok in [
            "http://alice.example:8080/ilp/callbacks",
            "http://alice.example:8080/ilp/callbacks/",
            "http://alice.example:8080/ilp/callbacks/x/y?z=1",
        ] {
            assert_eq!(target(&alice, ok).as_deref(), Some(ok));
        }
        for refused in [
            "http://alice.example:8080/ilp/callbacksx",
            "http://alice.example:8080/ilp",
            "https://alice.example:8080/ilp/callbacks",
            "http://alice.example:8081/ilp/callbacks",
            "http://alice.example/ilp/callbacks",
            "http://evil.example:8080/ilp/callbacks",
            "http://alice.example:8080/ilp/callbacks/../admin",
            "http://alice.example:8080/ilp/callbacks/%2e%2e/admin",
            "http://alice.example:8080/ilp/callbacks/.%2E/admin",
            "http://alice.example:8080/ilp/callbacks/./x",
        ] {
            assert_eq!(target(&alice, refused), None, "{refused}");
        }
        assert_eq!(
            target(&bob, "http://alice.example:8080/ilp/callbacks"),
            None
        );
        let agreed = routes.target(&alice, None).unwrap();
        assert_eq!(
            agreed.url.to_string(),
            "http://alice.example:8080/ilp/callbacks"
        );
    }

    #[test]
    fn random_ids_are_version_4_and_parse_back() {
        let id = RequestId::random().unwrap();
        let text = id.as_str();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(text.parse::<RequestId>().unwrap(), id);
        assert_ne!(RequestId::random().unwrap(), id);
    }

    proptest::proptest! {
        #[test]
        fn any_uuid_text_round_trips(bytes: [u8; 16], upper: bool) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let text = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]
            );
            let text = if upper { text.to_ascii_uppercase() } else { text };
            let id: RequestId = text.parse().unwrap();
            proptest::prop_assert_eq!(id.as_str(), text.as_str());
            proptest::prop_assert_eq!(id.to_string().parse::<RequestId>(), Ok(id.clone()));
            proptest::prop_assert_eq!(text.to_ascii_lowercase().parse::<RequestId>(), Ok(id));
        }

        #[test]
        fn anything_else_is_refused_without_panic(text: String) {
            let shaped = text.len() == 36
                && text.bytes().enumerate().all(|(i, b)| match i {
                    8 | 13 | 18 | 23 => b == b'-',
                    _ => b.is_ascii_hexdigit(),
                });
            proptest::prop_assert_eq!(text.parse::<RequestId>().is_ok(), shaped);
        }
    }

    #[test]
    fn ids_are_uuid_text_only() {
        let id: RequestId = "3F2504E0-4F89-41D3-9A0C-0305E82C3301".parse().unwrap();
        assert_eq!(id.as_str(), "3F2504E0-4F89-41D3-9A0C-0305E82C3301");
        let lower: RequestId = "3f2504e0-4f89-41d3-9a0c-0305e82c3301".parse().unwrap();
        assert_eq!(id, lower);
        use std::hash::BuildHasher as _;
        let state = std::hash::RandomState::new();
        assert_eq!(state.hash_one(&id), state.hash_one(&lower));
        for bad in [
            "",
            "3f2504e0-4f89-41d3-9a0c-0305e82c330",
            "3f2504e0-4f89-41d3-9a0c-0305e82c33011",
            "3f2504e0x4f89-41d3-9a0c-0305e82c3301",
            "3f2504e0-4f89-41d3-9a0c-0305e82c330g",
            "3f2504e0-4f89-41d3-9a0c-0305e82c33-1",
            "3f2504e0-4f89-41d3-9a0c-0305e82c33é",
        ] {
            assert_eq!(bad.parse::<RequestId>(), Err(InvalidRequestId), "{bad}");
        }
    }
}
