//! [`ServerConfig`]: settings of the server core and of the hyper server.

use std::time::Duration;

use ilp_packet::{Address, MAX_PACKET_LEN};

/// The largest request body accepted by default, in bytes: the largest ILP packet of any type
/// ([`ilp_packet::MAX_PACKET_LEN`], 41 997 bytes), so every valid Prepare fits (at most
/// [`ilp_packet::MAX_PREPARE_LEN`], 33 857 bytes), and every Fulfill or Reject POSTed to a
/// callback endpoint too. Above interledger-rs's 40 000.
pub const DEFAULT_MAX_BODY_LEN: usize = MAX_PACKET_LEN;

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
    /// answered `413` without being read. The callback endpoint of the asynchronous mode
    /// accepts at least [`ilp_packet::MAX_PACKET_LEN`] whatever this says, so that the largest
    /// valid reply is never refused.
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
    /// The most connections open at once from one source (default 256, as many as an
    /// [`HttpClient`](crate::HttpClient) keeps idle per host); more from it are closed at once.
    /// An IPv6 source is counted per `/64` prefix (one host or one network). Hyper server only.
    pub max_connections_per_source: usize,
    /// How long a connection may stay open with no request in progress (default 120 s,
    /// longer than an [`HttpClient`](crate::HttpClient)'s `pool_idle_timeout`, so that our
    /// clients close first): then an HTTP/2 connection gets `GOAWAY`, and any connection is
    /// closed (at most 1 s after the `GOAWAY`). Counted from the connection's start or its
    /// last request's end. Hyper server only.
    pub idle_timeout: Duration,
    /// How often an HTTP/2 connection is pinged while it is open (default 30 s; `None`: never),
    /// to find dead peers. Hyper server only.
    pub http2_keep_alive_interval: Option<Duration>,
    /// How long the peer has to answer an HTTP/2 ping before the connection is closed (default
    /// 20 s). Hyper server only.
    pub http2_keep_alive_timeout: Duration,
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
            max_connections_per_source: 256,
            idle_timeout: Duration::from_secs(120),
            http2_keep_alive_interval: Some(Duration::from_secs(30)),
            http2_keep_alive_timeout: Duration::from_secs(20),
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

    /// Sets [`max_connections_per_source`](Self::max_connections_per_source).
    #[must_use]
    pub const fn with_max_connections_per_source(mut self, max: usize) -> Self {
        self.max_connections_per_source = max;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub const fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`http2_keep_alive_interval`](Self::http2_keep_alive_interval) and
    /// [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout).
    #[must_use]
    pub const fn with_http2_keep_alive(
        mut self,
        interval: Option<Duration>,
        timeout: Duration,
    ) -> Self {
        self.http2_keep_alive_interval = interval;
        self.http2_keep_alive_timeout = timeout;
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
