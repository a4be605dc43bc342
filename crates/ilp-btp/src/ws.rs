//! BTP over WebSocket on tokio: [`BtpServer`], [`BtpClient`] and the connection loop
//! [`drive`] that both use (feature `tokio`, on by default).
//!
//! - [`BtpServer`] accepts WebSocket upgrades, authenticates each client through an
//!   [`Authenticator`](ilp_core::Authenticator), hands incoming Prepares to a
//!   [`PacketHandler`](ilp_core::PacketHandler), and gives the embedder an [`Connection`] per
//!   connected account to send Prepares down to it.
//! - [`BtpClient`] connects to a `btp+ws://user:token@host:port/path` URL, authenticates as
//!   ilp-plugin-btp does, reconnects with backoff, and is itself a `PacketHandler` for outgoing
//!   Prepares.
//! - With the `rustls` feature, [`BtpClient`] also connects to `btp+wss://` URLs (trusting
//!   Mozilla's roots, or the roots given with `ClientConfig::with_tls`), and [`BtpServer`]
//!   serves TLS when given a certificate with `ServerConfig::with_tls`. Without it, a
//!   `btp+wss://` URL fails with [`Error::TlsUnavailable`].
//! - With the `axum` feature, `BtpService` serves BTP on an HTTP server you run: mount it
//!   with `Router::route_service` beside your own routes and `ilp_http::IlpHttpService`, and
//!   serve the app with `into_make_service_with_connect_info::<SocketAddr>()` (so the
//!   authenticator sees each client's address). It answers the WebSocket upgrade itself
//!   through hyper: no axum `ws` feature and no tungstenite in your dependencies. Its
//!   `serve_upgraded` takes any `AsyncRead + AsyncWrite` already upgraded by another server.
//! - [`drive`] runs one [`Session`](crate::Session) over any `Stream + Sink` of
//!   [`tungstenite::Message`]s, for embedders with their own WebSocket setup; the
//!   [`tungstenite`] crate is re-exported here, so that its `Message` is the version
//!   [`drive`] expects.
//!
//! Lifecycle rules the adapters keep:
//!
//! - A [`BtpUrl`] is checked when parsed: a bad scheme ([`Error::InvalidScheme`]), host
//!   ([`Error::InvalidHost`]) or port ([`Error::InvalidPort`], such as `:99999` or `:0`) is
//!   refused, so a credential is never sent to a port the user did not write.
//! - No client connection outlives its [`BtpClient`]: a `connect` future dropped before it
//!   completes drops the connection it was opening (it never logs in on its own), `close()`
//!   ends a reconnection in progress and returns once closed, for every caller.
//! - What a server sends before it accepts a client's authentication is held by the client
//!   and handed on once accepted (see [`Session`](crate::Session)).
//! - Of two connections for one account, the one whose authentication the server accepted
//!   last keeps it, whatever order their tasks run in; the older one is closed.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
//! use ilp_btp::ws::{BtpClient, BtpServer, ClientConfig, ServerConfig};
//! use ilp_core::{PacketHandler, TestReceiver};
//! use ilp_packet::Address;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = AccountAuthenticator::new(NodeKey::from_bytes(&[7; 32])?, Arc::new(MemoryStore::new()));
//! auth.add_account("alice".parse()?).await?;
//! auth.add_token(&"alice".parse()?, "s3cret", None).await?;
//! let receiver = TestReceiver::new(Address::from_static("example.server"));
//! let server = BtpServer::bind("127.0.0.1:0".parse()?, Arc::new(auth), receiver, ServerConfig::default()).await?;
//!
//! let url = format!("btp+ws://alice:s3cret@{}/accounts/alice/ilp/btp", server.local_addr());
//! let incoming = TestReceiver::new(Address::from_static("example.client"));
//! let client = BtpClient::connect(&url, incoming, ClientConfig::default()).await?;
//! // client.handle(request).await sends a Prepare to the server.
//! client.close().await;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod client;
mod driver;
mod server;
#[cfg(feature = "axum")]
mod service;
#[cfg(feature = "rustls")]
mod tls;
mod url;

pub use client::{BtpClient, ClientConfig};
pub use driver::{drive, Connection, DriveConfig, SideMessage};
pub use server::{BtpServer, ServerConfig};
#[cfg(feature = "axum")]
pub use service::{BtpResponse, BtpService};
#[cfg(feature = "rustls")]
pub use tls::{tls_client_config, tls_server_config};
pub use url::BtpUrl;

/// The tungstenite crate (0.30) whose [`Message`](tungstenite::Message) [`drive`] reads and
/// writes, so that a WebSocket of your own can be adapted to it without adding tungstenite
/// (in the same version) to your dependencies.
pub use tungstenite;

/// The rustls crate these adapters use (feature `rustls`), to build
/// [`ClientConfig::with_tls`] and [`ServerConfig::with_tls`] settings with the same version.
#[cfg(feature = "rustls")]
pub use rustls;

use crate::CloseReason;

/// Why a WebSocket server or client could not start or connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is malformed (no `://`, bad percent-encoding or non-UTF-8 userinfo, a
    /// fragment, a space in the path), or its credentials cannot be used (too long for a BTP
    /// frame, or no valid account name); the text says which. Remedy: write it as
    /// `btp+ws://user:token@host:port/path`, percent-encoding `@`, `:`, `/` and `#` in the
    /// username and token.
    #[error("invalid BTP URL: {0}")]
    InvalidUrl(&'static str),
    /// The URL's scheme is not `btp+ws`, `btp+wss`, `ws` or `wss`. Remedy: use `btp+ws://`
    /// (or `btp+wss://` for TLS).
    #[error("invalid BTP URL: the scheme must be btp+ws or btp+wss")]
    InvalidScheme,
    /// The URL's host is missing or is not a DNS name, a valid dotted IPv4 address or a
    /// bracketed IPv6 address (the text says which; it never repeats the URL, which may hold a
    /// token). Remedy: fix the host; write IPv6 addresses as `[::1]`.
    #[error("invalid BTP URL: bad host: {0}")]
    InvalidHost(&'static str),
    /// The URL's port is not a number from 1 to 65535 (the text says why; it never repeats
    /// the URL). It is refused rather than replaced by a default port, so a typo never sends
    /// the token to another service. Remedy: fix the port, or remove `:port` to use the
    /// scheme's default (80 for `btp+ws`, 443 for `btp+wss`).
    #[error("invalid BTP URL: bad port: {0}")]
    InvalidPort(&'static str),
    /// Binding, accepting or connecting failed. Remedy: check the address and the network.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket handshake failed. Remedy: check that the URL points at a BTP WebSocket
    /// endpoint.
    #[error("WebSocket handshake failed: {0}")]
    Handshake(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// TLS failed: the server's certificate is not trusted or does not name the URL's host,
    /// the TLS handshake was refused, or the TLS settings are invalid (feature `rustls`; the
    /// source is a `rustls::Error`). Remedy: check the trust roots given with
    /// `ClientConfig::with_tls`, the URL's host, and the server's certificate and key.
    #[error("TLS failed: {0}")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A `btp+wss://` (or `wss://`) URL was given, but this build has no TLS. Remedy: enable
    /// the `rustls` feature of ilp-btp, or connect with `btp+ws://`.
    #[error("btp+wss:// needs TLS: enable the `rustls` feature of ilp-btp")]
    TlsUnavailable,
    /// The server refused the credentials (BTP Error `F00`). Remedy: check username and token.
    #[error("authentication refused: {reason}")]
    AuthRejected {
        /// The server's reason, as text.
        reason: String,
    },
    /// The connection or handshake did not complete in time. Remedy: check that the server
    /// is up and speaks BTP 2.0.
    #[error("timed out")]
    Timeout,
    /// The connection closed before authentication completed. Remedy: retry; see the reason.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<CloseReason> for Error {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::AuthRejected { reason } => Self::AuthRejected { reason },
            CloseReason::AuthTimeout => Self::Timeout,
            other => Self::Closed(other),
        }
    }
}

/// The WebSocket limits used on both sides: a message holds one BTP frame at most.
fn ws_config() -> tungstenite::protocol::WebSocketConfig {
    // tungstenite zero-fills the free part of its read buffer on every read attempt, and the
    // connection loop attempts a read on every turn: a small buffer keeps that cheap (and idle
    // connections small). A max-size frame takes a few more reads.
    tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(crate::MAX_FRAME_LEN + 1024))
        .max_frame_size(Some(crate::MAX_FRAME_LEN + 1024))
}
