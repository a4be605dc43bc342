//! ILP-over-HTTP ([RFC 0035]) for Interledger: each Prepare is an HTTP `POST` whose body is the
//! OER Prepare, and the response body is the Fulfill or the Reject.
//!
//! Both modes are here: the **synchronous** one that every implementation speaks
//! (interledger-rs, Rafiki, interledger4j, ilp-plugin-http), on by default, and the
//! **asynchronous** one of the current RFC draft (`202 Accepted` at once, the reply POSTed
//! later to the caller's callback URL), off by default on both sides (see [`callback`]):
//!
//! - [`Endpoint`]: the core. It maps an `http::Request<Bytes>` to an `http::Response<Bytes>`
//!   through an [`Authenticator`](ilp_core::Authenticator) and a
//!   [`PacketHandler`](ilp_core::PacketHandler), with no I/O of its own. Its docs list every
//!   status code and the decisions taken (content types, bearer forms, account naming).
//! - [`IlpHttpService`] (feature `tokio`, default): the core as a `tower::Service` for any
//!   request body, to mount in an axum or hyper application; reads bodies bounded in size
//!   and time. Per-source throttling needs the client's address: a `SocketAddr` request
//!   extension, or, with the `axum` feature, axum's `ConnectInfo<SocketAddr>` (serve the
//!   router with `into_make_service_with_connect_info::<SocketAddr>()`).
//! - [`HttpServer`] (feature `tokio`): a hyper server (HTTP/1.1 and HTTP/2 prior knowledge;
//!   TLS with ALPN `h2` and `http/1.1` with the `rustls` feature)
//!   with header and body timeouts, an idle timeout per connection (HTTP/2: `GOAWAY`),
//!   HTTP/2 keep-alive pings, caps on connections in all and per source address, and
//!   graceful shutdown (see [`ServerConfig`]).
//! - [`HttpClient`] (feature `tokio`; `https://` with the `rustls` feature, see
//!   [`tls_client_config`]): the client. [`HttpClient::send`] POSTs a Prepare to one peer
//!   over a pooled connection, as `BtpClient::send` does over BTP, and it is a
//!   [`PacketHandler`](ilp_core::PacketHandler) too. A timeout from the Prepare's expiry, a
//!   static bearer token or a per-request token ([`TokenSource`], e.g. a JWT minter), and
//!   every failure mapped to a Reject in one place ([`failure_reject`]).
//!   [`ClientConfig::new`] refuses a URL whose scheme, host or port is invalid, naming it
//!   ([`ClientConfigError`]): a port is never silently replaced by the default one.
//! - The asynchronous mode (feature `tokio`): as the callee,
//!   [`IlpHttpService::with_async`] with an [`AsyncConfig`] whose [`CallbackPolicy`] (for
//!   example [`CallbackRoutes`]) says where each account's replies may go; as the caller, an
//!   [`HttpClient`] with [`ClientConfig::asynchronous`] and the callback endpoint
//!   [`IlpHttpService::with_callbacks`], sharing one [`Callbacks`] table.
//!
//! Sizes come from the codec: a response or a callback body may be as large as the largest
//! packet ([`ilp_packet::MAX_PACKET_LEN`], 41 997 bytes, a Reject), and the default request
//! limit ([`DEFAULT_MAX_BODY_LEN`]) is the same.
//!
//! Secrets: a [`BearerToken`] (in [`ClientConfig::auth`] and in the [`CallbackRoutes`]) is
//! zeroed when dropped (with the `zeroize` crate), and so are the `Authorization` values the
//! client builds from it or from a [`TokenSource`]; `Debug` never prints them and they are
//! never logged.
//!
//! Re-exported for the signatures here: [`http`] (and its [`Uri`]), [`bytes`],
//! [`ilp_core`], [`ilp_packet`], and the [`async_trait`](macro@async_trait) attribute for implementing
//! [`PacketHandler`](ilp_core::PacketHandler) and [`Authenticator`](ilp_core::Authenticator);
//! no other crate needs adding.
//!
//! [RFC 0035]: https://interledger.org/developers/rfcs/ilp-over-http/
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
//! use ilp_core::TestReceiver;
//! use ilp_http::{HttpServer, ServerConfig};
//! use ilp_packet::Address;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
//! auth.add_account("alice".parse()?).await?;
//! let token = auth.mint_token(&"alice".parse()?, None).await?; // give it to alice
//!
//! let node = Address::from_static("example.node");
//! let config = ServerConfig::default().with_node_address(node.clone());
//! let server = HttpServer::bind(
//!     "127.0.0.1:7770".parse()?,
//!     Arc::new(auth),
//!     TestReceiver::new(node),
//!     config,
//! )
//! .await?;
//! // alice now sends `POST http://127.0.0.1:7770/accounts/alice/ilp` with
//! // `Authorization: Bearer <token>` and a Prepare as body.
//! server.shutdown().await;
//! # drop(token); Ok(()) }
//! ```
#![forbid(unsafe_code)]
// The docs link to items that only exist with the `tokio` or `rustls` features.
#![cfg_attr(
    not(all(feature = "tokio", feature = "rustls")),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod callback;
mod server;

#[cfg(feature = "tokio")]
pub use server::{AsyncConfig, HttpServer, IlpHttpService};
pub use server::{
    Endpoint, ServerConfig, DEFAULT_MAX_BODY_LEN, ILP_OCTET_STREAM, ILP_PEER_ID, OCTET_STREAM,
};

#[cfg(feature = "tokio")]
mod client;
#[cfg(feature = "tokio")]
mod url;
pub use callback::RequestId;

#[cfg(feature = "rustls")]
mod tls;
/// The attribute to implement [`PacketHandler`](ilp_core::PacketHandler) and
/// [`Authenticator`](ilp_core::Authenticator) (async traits).
pub use async_trait::async_trait;
/// The `bytes` crate's [`Bytes`](bytes::Bytes), the body type of [`Endpoint::handle`].
pub use bytes;
#[cfg(feature = "tokio")]
pub use callback::{CallbackPolicy, CallbackRoutes, CallbackTarget, Callbacks};
#[cfg(feature = "tokio")]
pub use client::{
    failure_reject, AsyncCaller, BearerToken, ClientConfig, ClientConfigError, HttpClient,
    OutgoingAuth, SendFailure, TokenSource, MAX_RESPONSE_LEN,
};
/// The `http` crate, for the types in this crate's signatures ([`Uri`], `http::Request`,
/// `http::Response`).
pub use http;
pub use http::Uri;
/// ilp-core: [`PacketHandler`](ilp_core::PacketHandler), [`Authenticator`](ilp_core::Authenticator),
/// `Request`, `Principal`, `IlpResult`.
pub use ilp_core;
/// ilp-packet: `Prepare`, `Fulfill`, `Reject`, `Address` and the size limits.
pub use ilp_packet;
/// The rustls crate, for its configuration types (feature `rustls`).
#[cfg(feature = "rustls")]
pub use rustls;
#[cfg(feature = "rustls")]
pub use tls::{tls_client_config, tls_server_config};
