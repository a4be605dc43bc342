//! TLS settings for `btp+wss://` (feature `rustls`).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::Error;

/// The crypto provider: the process default when one is installed
/// ([`CryptoProvider::install_default`]), else rustls' `ring` provider.
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// A rustls client configuration that trusts exactly `roots`, for
/// [`ClientConfig::with_tls`](super::ClientConfig::with_tls). It uses the process default
/// crypto provider when one is installed, else rustls' `ring` provider.
///
/// ```
/// use ilp_btp::ws::{tls_client_config, ClientConfig};
/// use ilp_btp::ws::rustls::RootCertStore;
///
/// let mut roots = RootCertStore::empty();
/// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?.cert;
/// roots.add(cert.der().clone())?; // the server's self-signed certificate, or a private CA
/// let config = ClientConfig::default().with_tls(tls_client_config(roots)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Tls`] when the crypto provider supports no safe protocol version.
pub fn tls_client_config(roots: RootCertStore) -> Result<Arc<rustls::ClientConfig>, Error> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A rustls server configuration presenting `cert_chain` (the server's certificate first)
/// with `key`, without client certificates, for
/// [`ServerConfig::with_tls`](super::ServerConfig::with_tls). It uses the process default
/// crypto provider when one is installed, else rustls' `ring` provider.
///
/// # Errors
///
/// [`Error::Tls`] when the key does not fit the certificate or is of an unsupported kind.
pub fn tls_server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)
        .map_err(tls_error)?;
    Ok(Arc::new(config))
}

/// Mozilla's root certificates (webpki-roots): what a client trusts when
/// [`ClientConfig::tls`](super::ClientConfig::tls) is `None`.
pub(super) fn default_client_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    tls_client_config(roots)
}

fn tls_error(error: rustls::Error) -> Error {
    Error::Tls(Box::new(error))
}

/// The rustls error inside an I/O error, as tokio-rustls reports a failed TLS handshake.
pub(super) fn from_io(io: std::io::Error) -> Error {
    if !io
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        return Error::Io(io);
    }
    let kind = io.kind();
    io.into_inner()
        .map_or_else(|| Error::Io(kind.into()), Error::Tls)
}
