//! `btp+ws://user:token@host:port/path` URLs, as ilp-plugin-btp reads them, checked strictly.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::Error;

/// A BTP server URL split as ilp-plugin-btp splits it: the WebSocket URL to connect to (the
/// `btp+` prefix and the userinfo removed), and the username and token from the userinfo
/// (percent-decoded).
///
/// It is checked when it is made, so that a typo never sends the token somewhere else:
///
/// - the scheme must be `btp+ws`, `btp+wss`, `ws` or `wss` (any case), else
///   [`Error::InvalidScheme`];
/// - the host must be a DNS name, a dotted IPv4 address or a bracketed IPv6 address
///   (`[::1]`), else [`Error::InvalidHost`] (`999.0.0.1` and `::1` without brackets are
///   refused, not guessed at);
/// - a port, when the URL has a `:`, must be a number from 1 to 65535, else
///   [`Error::InvalidPort`]: `:99999`, `:0`, `:80x` and an empty port after `:` are refused,
///   never replaced by a default. A URL with no `:port` at all uses the scheme's port (80 for
///   `ws`, 443 for `wss`, as RFC 6455 says), which [`port`](Self::port) reports.
///
/// None of these errors repeats the URL or a part of it: a malformed URL may hold the token
/// where the host or port should be.
///
/// The token is a secret: `Debug` never shows it, it is compared in constant time, and its
/// memory is zeroed when the URL is dropped (with the `zeroize` crate).
///
/// ```
/// use ilp_btp::ws::{BtpUrl, Error};
///
/// let url: BtpUrl = "btp+ws://alice:s3cret@127.0.0.1:7768/accounts/alice/ilp/btp".parse()?;
/// assert_eq!(url.ws_url(), "ws://127.0.0.1:7768/accounts/alice/ilp/btp");
/// assert_eq!((url.host(), url.port()), ("127.0.0.1", 7768));
/// assert_eq!((url.username(), url.token()), ("alice", "s3cret"));
/// assert!(!format!("{url:?}").contains("s3cret"));
///
/// let bad = "btp+ws://alice:s3cret@127.0.0.1:99999".parse::<BtpUrl>();
/// assert!(matches!(bad, Err(Error::InvalidPort(_))));
/// # Ok::<(), ilp_btp::ws::Error>(())
/// ```
#[derive(Clone)]
pub struct BtpUrl {
    ws_url: String,
    host: String,
    port: u16,
    username: String,
    token: Zeroizing<String>,
}

impl BtpUrl {
    /// The WebSocket URL connected to (`ws://` or `wss://`, without userinfo).
    #[must_use]
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The host, as written (an IPv6 address keeps its brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connected to: the URL's, or 80 (`ws`) or 443 (`wss`) when it has none.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL asks for TLS (`btp+wss://` or `wss://`).
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.ws_url.starts_with("wss://")
    }

    /// The username (`auth_username`); empty when the URL has none.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The token (`auth_token`); empty when the URL has none. Never log it.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A URL from its parts (the token given separately, as `ilp-send --token` does). The
    /// old token's memory is zeroed.
    #[must_use]
    pub fn with_credentials(mut self, username: &str, token: &str) -> Self {
        username.clone_into(&mut self.username);
        self.token = Zeroizing::new(token.to_owned());
        self
    }
}

impl PartialEq for BtpUrl {
    fn eq(&self, other: &Self) -> bool {
        let same_token: bool = self.token.as_bytes().ct_eq(other.token.as_bytes()).into();
        // Every field is compared, whatever the first differences, so the time taken does
        // not tell which one differs.
        let same_rest = (self.ws_url == other.ws_url) & (self.username == other.username);
        same_token & same_rest
    }
}

impl Eq for BtpUrl {}

impl fmt::Debug for BtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BtpUrl")
            .field("ws_url", &self.ws_url)
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl FromStr for BtpUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or(Error::InvalidUrl("missing scheme"))?;
        let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "btp+ws" | "ws" => ("ws", 80),
            "btp+wss" | "wss" => ("wss", 443),
            _ => return Err(Error::InvalidScheme),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if path.contains('#') {
            return Err(Error::InvalidUrl(
                "a WebSocket URL has no fragment (#...); percent-encode a # in the token as %23",
            ));
        }
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(Error::InvalidUrl(
                "the path holds a space or a control character",
            ));
        }
        let (userinfo, host_port) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port)?;
        check_host(host)?;
        // Written back as parsed (`:00080` as `:80`); left out when the URL had none, since
        // the Host header then carries no port (RFC 6455).
        let (port, port_part) = match port {
            Some(port) => {
                let port = parse_port(port)?;
                (port, format!(":{port}"))
            }
            None => (default_port, String::new()),
        };
        let (username, token) = match userinfo {
            Some(info) => {
                let (user, token) = info.split_once(':').unwrap_or((info, ""));
                (percent_decode(user)?, percent_decode(token)?)
            }
            None => (Zeroizing::default(), Zeroizing::default()),
        };
        Ok(Self {
            ws_url: format!("{scheme}://{host}{port_part}{path}"),
            host: host.to_owned(),
            port,
            username: username.as_str().to_owned(),
            token,
        })
    }
}

/// `host[:port]` or `[v6][:port]`; the port is `None` when there is no `:`.
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), Error> {
    if host_port.starts_with('[') {
        let close = host_port
            .find(']')
            .ok_or(Error::InvalidHost("an IPv6 address has no closing ]"))?;
        let (host, rest) = host_port.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(Error::InvalidHost("text after the IPv6 address's ]")),
        };
    }
    match host_port.split_once(':') {
        Some((_, port)) if port.contains(':') => Err(Error::InvalidHost(
            "an IPv6 address must be written in brackets, as [::1]",
        )),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((host_port, None)),
    }
}

/// A DNS name, a dotted IPv4 address, or a bracketed IPv6 address without a zone.
fn check_host(host: &str) -> Result<(), Error> {
    if host.is_empty() {
        return Err(Error::InvalidHost("missing"));
    }
    if let Some(v6) = host.strip_prefix('[') {
        let v6 = v6.strip_suffix(']').unwrap_or(v6);
        return v6
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| Error::InvalidHost("not a valid IPv6 address"));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > 253 {
        return Err(Error::InvalidHost("longer than 253 characters"));
    }
    let mut numeric = true;
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(Error::InvalidHost(
                "a DNS label is empty or longer than 63 characters",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::InvalidHost(
                "a DNS name holds only letters, digits, '-', '_' and '.'",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(Error::InvalidHost("a DNS label starts or ends with '-'"));
        }
        numeric &= label.bytes().all(|b| b.is_ascii_digit());
    }
    // All digits and dots: an IPv4 address, which must then be a valid one (not 999.0.0.1,
    // not 1.2.3), rather than a name no resolver would look up.
    if numeric && name.parse::<Ipv4Addr>().is_err() {
        return Err(Error::InvalidHost("not a valid IPv4 address"));
    }
    Ok(())
}

fn parse_port(port: &str) -> Result<u16, Error> {
    if port.is_empty() {
        return Err(Error::InvalidPort(
            "empty after ':' (give the port, or remove the ':')",
        ));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidPort("not a decimal number"));
    }
    match port.trim_start_matches('0').len() {
        0 => Err(Error::InvalidPort(
            "0 is not a port a client can connect to",
        )),
        1..=5 => match port.parse::<u32>() {
            Ok(n) => u16::try_from(n).map_err(|_| Error::InvalidPort("over 65535")),
            Err(_) => Err(Error::InvalidPort("over 65535")),
        },
        _ => Err(Error::InvalidPort("over 65535")),
    }
}

/// Percent-decodes userinfo; the buffers are zeroed on every path (it may be the token).
fn percent_decode(s: &str) -> Result<Zeroizing<String>, Error> {
    let bytes = s.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(Error::InvalidUrl("bad percent-encoding in the userinfo"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // `out` never grows past its capacity, so no copy of the secret is left unzeroed.
    match String::from_utf8(std::mem::take(&mut *out)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(error) => {
            error.into_bytes().zeroize();
            Err(Error::InvalidUrl("userinfo is not UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_as_ilp_plugin_btp_does() {
        let u: BtpUrl = "btp+wss://a%40b:t%3Ak@host.example/x?y".parse().unwrap();
        assert_eq!(u.ws_url(), "wss://host.example/x?y");
        assert_eq!((u.host(), u.port()), ("host.example", 443));
        assert_eq!((u.username(), u.token()), ("a@b", "t:k"));
        assert!(u.is_tls());
        let u: BtpUrl = "ws://:tok@h:1".parse().unwrap();
        assert_eq!(
            (u.ws_url(), u.username(), u.token()),
            ("ws://h:1", "", "tok")
        );
        assert!(!u.is_tls());
        let u: BtpUrl = "BTP+WS://[::1]:7768/p".parse().unwrap();
        assert_eq!(
            (u.ws_url(), u.host(), u.port()),
            ("ws://[::1]:7768/p", "[::1]", 7768)
        );
        let u: BtpUrl = "btp+ws://node.example./".parse().unwrap();
        assert_eq!((u.ws_url(), u.port()), ("ws://node.example./", 80));
        assert!(matches!(
            "btp+ws://u:%zz@h".parse::<BtpUrl>(),
            Err(Error::InvalidUrl("bad percent-encoding in the userinfo"))
        ));
        assert!(matches!(
            "btp+ws://u:%ff@h".parse::<BtpUrl>(),
            Err(Error::InvalidUrl("userinfo is not UTF-8"))
        ));
        assert!(matches!(
            "btp+ws://h:1/p#frag".parse::<BtpUrl>(),
            Err(Error::InvalidUrl(
                "a WebSocket URL has no fragment (#...); percent-encode a # in the token as %23"
            ))
        ));
        assert!(matches!(
            "btp+ws://h:1/a b".parse::<BtpUrl>(),
            Err(Error::InvalidUrl(
                "the path holds a space or a control character"
            ))
        ));
    }

    #[test]
    fn ports_are_checked() {
        for (url, why) in [
            ("btp+ws://alice@127.0.0.1:99999", "over 65535"),
            ("btp+ws://alice@127.0.0.1:65536", "over 65535"),
            ("btp+ws://alice@127.0.0.1:000000000080000", "over 65535"),
            (
                "btp+ws://alice@127.0.0.1:0",
                "0 is not a port a client can connect to",
            ),
            ("btp+ws://alice@127.0.0.1:80x/p", "not a decimal number"),
            ("btp+ws://alice@127.0.0.1:+80", "not a decimal number"),
            ("btp+ws://alice@127.0.0.1:-1", "not a decimal number"),
            ("btp+ws://alice@[::1]:1x", "not a decimal number"),
            (
                "btp+ws://alice@127.0.0.1:/p",
                "empty after ':' (give the port, or remove the ':')",
            ),
        ] {
            match url.parse::<BtpUrl>() {
                Err(Error::InvalidPort(reason)) => assert_eq!(reason, why, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        let u: BtpUrl = "btp+ws://h:65535".parse().unwrap();
        assert_eq!((u.port(), u.ws_url()), (65535, "ws://h:65535"));
        let u: BtpUrl = "btp+ws://h:00080".parse().unwrap();
        assert_eq!((u.port(), u.ws_url()), (80, "ws://h:80"));
    }

    #[test]
    fn hosts_are_checked() {
        for (url, why) in [
            ("btp+ws://u:t@/p", "missing"),
            ("btp+ws://u:t@:80/p", "missing"),
            ("btp+ws://999.0.0.1:80", "not a valid IPv4 address"),
            ("btp+ws://1.2.3:80", "not a valid IPv4 address"),
            (
                "btp+ws://::1:80",
                "an IPv6 address must be written in brackets, as [::1]",
            ),
            ("btp+ws://[::1/p", "an IPv6 address has no closing ]"),
            ("btp+ws://[::1]x:80", "text after the IPv6 address's ]"),
            ("btp+ws://[::g]:80", "not a valid IPv6 address"),
            ("btp+ws://[fe80::1%25eth0]:80", "not a valid IPv6 address"),
            (
                "btp+ws://bad%2ehost:80",
                "a DNS name holds only letters, digits, '-', '_' and '.'",
            ),
            (
                "btp+ws://a b:80",
                "a DNS name holds only letters, digits, '-', '_' and '.'",
            ),
            (
                "btp+ws://a..b:80",
                "a DNS label is empty or longer than 63 characters",
            ),
            ("btp+ws://-a.b:80", "a DNS label starts or ends with '-'"),
        ] {
            match url.parse::<BtpUrl>() {
                Err(Error::InvalidHost(reason)) => assert_eq!(reason, why, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        let long = format!("btp+ws://{}.b:80", "a".repeat(64));
        assert!(matches!(long.parse::<BtpUrl>(), Err(Error::InvalidHost(_))));
    }

    #[test]
    fn schemes_are_checked() {
        for url in ["http://h:80", "btp+http://h:80", "btp+ws2://h", "://h"] {
            assert!(
                matches!(url.parse::<BtpUrl>(), Err(Error::InvalidScheme)),
                "{url}"
            );
        }
        assert!(matches!(
            "h:80/p".parse::<BtpUrl>(),
            Err(Error::InvalidUrl("missing scheme"))
        ));
    }

    #[test]
    fn errors_never_repeat_the_url() {
        // The token is where a port would be (an unescaped '/' in it ends the authority).
        let error = "btp+ws://alice:sec/ret@host:80"
            .parse::<BtpUrl>()
            .unwrap_err();
        assert!(!error.to_string().contains("sec"), "{error}");
        assert!(matches!(error, Error::InvalidPort("not a decimal number")));
    }

    #[test]
    fn tokens_are_compared_and_replaced() {
        let a: BtpUrl = "btp+ws://alice:one@h:1".parse().unwrap();
        assert_eq!(a, a.clone());
        assert_ne!(a, a.clone().with_credentials("alice", "two"));
        assert_ne!(a, a.clone().with_credentials("bob", "one"));
        let b = a.clone().with_credentials("bob", "two");
        assert_eq!((b.username(), b.token()), ("bob", "two"));
        assert!(!format!("{b:?}").contains("two"));
    }
}
