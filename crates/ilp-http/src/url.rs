//! The checks every URL the crate sends to goes through: the peer's, a callback URL named by a
//! caller or registered for an account. A URL that the connector would read differently from
//! what it says (hyper-util falls back to the scheme's default port when the port does not fit
//! in 16 bits) is refused, so a credential never goes to another port or host.

use std::net::{Ipv4Addr, Ipv6Addr};

use http::uri::{Scheme, Uri};

use crate::ClientConfigError;

/// The longest host name (RFC 1035: 253 characters, or 254 with the trailing dot).
const MAX_HOST_LEN: usize = 254;

/// Checks that `url` is absolute, `http://` (or `https://` when `https` is allowed), without
/// user information, with a valid host and, when it names one, a port from 1 to 65535.
/// `which` names the URL in the error ("peer URL", "callback URL").
pub(crate) fn check(url: &Uri, which: &'static str, https: bool) -> Result<(), ClientConfigError> {
    let (Some(scheme), Some(authority)) = (url.scheme(), url.authority()) else {
        return Err(ClientConfigError::RelativeUrl { url: which });
    };
    if *scheme != Scheme::HTTP && !(https && *scheme == Scheme::HTTPS) {
        return Err(ClientConfigError::UnsupportedScheme {
            url: which,
            scheme: scheme.as_str().to_owned(),
        });
    }
    let text = authority.as_str();
    if text.contains('@') {
        return Err(ClientConfigError::CredentialsInUrl { url: which });
    }
    let (host, port) = split_authority(text);
    if !valid_host(host) {
        return Err(ClientConfigError::InvalidHost {
            url: which,
            host: host.to_owned(),
        });
    }
    if let Some(port) = port {
        let valid = port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port != 0);
        if !valid {
            return Err(ClientConfigError::InvalidPort {
                url: which,
                port: port.to_owned(),
            });
        }
    }
    Ok(())
}

/// `true` when `url`'s path has a `.` or `..` segment, literal or percent-encoded (`%2e`,
/// `.%2E`, ...): a server may resolve it to a path outside the one that was checked.
pub(crate) fn has_dot_segment(url: &Uri) -> bool {
    url.path().split('/').any(|segment| {
        let dots = decode_dots(segment);
        dots == Some(1) || dots == Some(2)
    })
}

/// How many dots `segment` is made of, each `.` or `%2e` / `%2E`; `None` if anything else.
fn decode_dots(segment: &str) -> Option<usize> {
    let mut rest = segment.as_bytes();
    let mut count = 0;
    while !rest.is_empty() {
        match rest {
            [b'.', tail @ ..] => rest = tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => rest = tail,
            _ => return None,
        }
        count += 1;
    }
    Some(count)
}

/// The host and the port text (after the last `:` outside an IPv6 literal), if any.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// An IPv6 literal in brackets, a dotted IPv4 address, or a DNS name of letters, digits, `-`
/// and `_` in non-empty labels (a trailing dot allowed). Nothing percent-encoded.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok());
    }
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return false;
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().is_ok();
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(url: &str) -> Result<(), ClientConfigError> {
        check(&url.parse().expect(url), "peer URL", true)
    }

    #[test]
    fn good_urls_pass() {
        for url in [
            "http://127.0.0.1:7770/accounts/alice/ilp",
            "http://127.0.0.1/x",
            "https://peer.example/ilp",
            "http://peer.example.:1/ilp",
            "http://my_host-1.internal:65535/",
            "http://[::1]:8080/ilp",
            "http://[::1]/ilp",
        ] {
            assert_eq!(check_str(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn bad_ports_are_named() {
        for (url, port) in [
            ("http://127.0.0.1:99999/x", "99999"),
            ("http://127.0.0.1:65536/x", "65536"),
            ("http://127.0.0.1:0/x", "0"),
            ("http://127.0.0.1:/x", ""),
            ("http://[::1]:70000/x", "70000"),
            ("http://peer.example:000000080/x", "000000080"),
        ] {
            assert_eq!(
                check_str(url),
                Err(ClientConfigError::InvalidPort {
                    url: "peer URL",
                    port: port.to_owned()
                }),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_hosts_are_named() {
        for (url, host) in [
            ("http://999.1.1.1/x", "999.1.1.1"),
            ("http://1.2.3/x", "1.2.3"),
            ("http://a..b/x", "a..b"),
            ("http://.a/x", ".a"),
            ("http://[zz::1]/x", "[zz::1]"),
        ] {
            assert_eq!(
                check_str(url),
                Err(ClientConfigError::InvalidHost {
                    url: "peer URL",
                    host: host.to_owned()
                }),
                "{url}"
            );
        }
    }

    #[test]
    fn dot_segments_are_found_in_any_spelling() {
        let dots = |path: &str| has_dot_segment(&format!("http://h{path}").parse().unwrap());
        for bad in [
            "/a/../b",
            "/a/./b",
            "/a/..",
            "/a/.",
            "/%2e%2e/b",
            "/%2E./b",
            "/.%2e",
            "/a/%2E",
        ] {
            assert!(dots(bad), "{bad}");
        }
        for good in [
            "/a/b",
            "/a/...",
            "/a/.b",
            "/a/b.",
            "/%2e%2e%2e",
            "/a/b?x=/../",
            "/",
        ] {
            assert!(!dots(good), "{good}");
        }
    }
}
