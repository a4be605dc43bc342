//! TLS (feature `rustls`): `https://` for [`HttpClient`](crate::HttpClient) and the reply
//! sender of the asynchronous mode, and TLS on [`HttpServer`](crate::HttpServer), with ALPN
//! offering `h2` and `http/1.1`.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

/// The ALPN protocols offered and accepted, best first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The crypto provider: the process default when one is installed
/// ([`CryptoProvider::install_default`]), else rustls' `ring` provider.
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// A rustls client configuration that trusts exactly `roots` (for
/// [`ClientConfig::with_tls`](crate::ClientConfig::with_tls) and
/// [`AsyncConfig::with_tls`](crate::AsyncConfig::with_tls)). It uses the process default
/// crypto provider when one is installed, else rustls' `ring` provider. The client sets the
/// ALPN protocols itself.
///
/// ```
/// use ilp_http::rustls::RootCertStore;
/// use ilp_http::{tls_client_config, ClientConfig};
/// use ilp_packet::Address;
///
/// let mut roots = RootCertStore::empty();
/// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?.cert;
/// roots.add(cert.der().clone())?; // the server's self-signed certificate, or a private CA
/// let config = ClientConfig::new(
///     "https://localhost:7770/accounts/alice/ilp",
///     Address::from_static("example.alice"),
/// )?
/// .with_tls(tls_client_config(roots)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// When the crypto provider supports no safe protocol version.
pub fn tls_client_config(roots: RootCertStore) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A rustls server configuration presenting `cert_chain` (the server's certificate first)
/// with `key`, without client certificates, accepting ALPN `h2` and `http/1.1`, for
/// [`ServerConfig::with_tls`](crate::ServerConfig::with_tls). It uses the process default
/// crypto provider when one is installed, else rustls' `ring` provider.
///
/// # Errors
///
/// When the key does not fit the certificate or is of an unsupported kind.
pub fn tls_server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The server configuration as used: one without ALPN protocols gets `h2` and `http/1.1`.
pub(crate) fn with_alpn(config: &Arc<rustls::ServerConfig>) -> Arc<rustls::ServerConfig> {
    if config.alpn_protocols.is_empty() {
        let mut config = (**config).clone();
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    } else {
        Arc::clone(config)
    }
}

/// The client configuration as hyper-rustls needs it: `config`, or Mozilla's roots
/// (webpki-roots) when `None`, with no ALPN protocols of its own (hyper-rustls sets them, and
/// panics if some are set).
pub(crate) fn client_config(
    config: Option<&Arc<rustls::ClientConfig>>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut config = match config {
        Some(config) => (**config).clone(),
        None => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            (*tls_client_config(roots)?).clone()
        }
    };
    config.alpn_protocols.clear();
    Ok(config)
}
