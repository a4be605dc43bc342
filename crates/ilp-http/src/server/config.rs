//! [`ServerConfig`]: settings of the server core and of the hyper server.

use std::time::Duration;

use ilp_packet::Address;

/// The largest request body accepted by default, in bytes: interledger-rs's limit. A Prepare
/// carries at most 32 767 bytes of data, so every valid Prepare fits.
pub const DEFAULT_MAX_BODY_LEN: usize = 40_000;

/// Settings of an ILP-over-HTTP server ([`Endpoint`](crate::Endpoint) and, with the `tokio`
/// feature, the service and the hyper server). Pub fields, [`Default`] and by-value `with_*`
/// setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The node's own address: `triggeredBy` of the `F01` Reject sent with a `400`
    /// (default `private.http`).
    pub node_address: Address,
    /// The request path. `{account}` stands for one non-empty path segment naming the
    /// account (default `/accounts/{account}/ilp`, as interledger-rs and interledger4j). A
    /// path without `{account}` matches itself exactly (for example `/ilp`, as Rafiki); the
    /// account then comes from the `ilp-peer-id` header or from the token alone.
    pub path: String,
    /// The largest body accepted, in bytes (default [`DEFAULT_MAX_BODY_LEN`]); larger ones are
    /// answered `413` without being read.
    pub max_body_len: usize,
    /// How long a new connection may take to send its first request head (HTTP/1.1), or its
    /// first bytes (HTTP/2) (default 10 s). Hyper server only.
    pub header_read_timeout: Duration,
    /// How long reading one request body may take once authenticated (default 10 s); a slower
    /// one is answered `408`. Service and hyper server only.
    pub body_read_timeout: Duration,
    /// The most connections open at once (default 10 000); more are closed at once. Hyper
    /// server only.
    pub max_connections: usize,
    /// How long `shutdown` waits for the requests in flight (default 30 s). Hyper server only.
    pub shutdown_timeout: Duration,
    /// TLS (feature `rustls`): when set, every connection starts with a TLS handshake with
    /// this configuration (a configuration without ALPN protocols gets `h2` and `http/1.1`),
    /// which must end within [`header_read_timeout`](Self::header_read_timeout). See
    /// [`tls_server_config`](crate::tls_server_config). Hyper server only.
    #[cfg(feature = "rustls")]
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            node_address: Address::from_static("private.http"),
            path: "/accounts/{account}/ilp".to_owned(),
            max_body_len: DEFAULT_MAX_BODY_LEN,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(30),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl ServerConfig {
    /// Sets [`node_address`](Self::node_address).
    #[must_use]
    pub fn with_node_address(mut self, node_address: Address) -> Self {
        self.node_address = node_address;
        self
    }

    /// Sets [`path`](Self::path).
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets [`max_body_len`](Self::max_body_len).
    #[must_use]
    pub const fn with_max_body_len(mut self, max_body_len: usize) -> Self {
        self.max_body_len = max_body_len;
        self
    }

    /// Sets [`header_read_timeout`](Self::header_read_timeout).
    #[must_use]
    pub const fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`body_read_timeout`](Self::body_read_timeout).
    #[must_use]
    pub const fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub const fn with_max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Sets [`tls`](Self::tls) (feature `rustls`).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn with_tls(mut self, tls: std::sync::Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets [`shutdown_timeout`](Self::shutdown_timeout).
    #[must_use]
    pub const fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }
}
