//! `btp+ws://user:token@host:port/path` URLs, as ilp-plugin-btp reads them.

use std::fmt;
use std::str::FromStr;

use super::Error;

/// A BTP server URL split as ilp-plugin-btp splits it: the WebSocket URL to connect to (the
/// `btp+` prefix and the userinfo removed), and the username and token from the userinfo
/// (percent-decoded). `Debug` never shows the token.
///
/// ```
/// use ilp_btp::ws::BtpUrl;
///
/// let url: BtpUrl = "btp+ws://alice:s3cret@127.0.0.1:7768/accounts/alice/ilp/btp".parse()?;
/// assert_eq!(url.ws_url(), "ws://127.0.0.1:7768/accounts/alice/ilp/btp");
/// assert_eq!((url.username(), url.token()), ("alice", "s3cret"));
/// assert!(!format!("{url:?}").contains("s3cret"));
/// # Ok::<(), ilp_btp::ws::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BtpUrl {
    ws_url: String,
    username: String,
    token: String,
}

impl BtpUrl {
    /// The WebSocket URL connected to (`ws://` or `wss://`, without userinfo).
    #[must_use]
    pub fn ws_url(&self) -> &str {
        &self.ws_url
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

    /// A URL from its parts (the token given separately, as `ilp-send --token` does).
    #[must_use]
    pub fn with_credentials(mut self, username: &str, token: &str) -> Self {
        username.clone_into(&mut self.username);
        token.clone_into(&mut self.token);
        self
    }
}

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
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "btp+ws" | "ws" => "ws",
            "btp+wss" | "wss" => "wss",
            _ => return Err(Error::InvalidUrl("the scheme must be btp+ws or btp+wss")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(Error::InvalidUrl("missing host"));
        }
        let (username, token) = match userinfo {
            Some(info) => {
                let (user, token) = info.split_once(':').unwrap_or((info, ""));
                (percent_decode(user)?, percent_decode(token)?)
            }
            None => (String::new(), String::new()),
        };
        Ok(Self {
            ws_url: format!("{scheme}://{host}{path}"),
            username,
            token,
        })
    }
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
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
    String::from_utf8(out).map_err(|_| Error::InvalidUrl("userinfo is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_as_ilp_plugin_btp_does() {
        let u: BtpUrl = "btp+wss://a%40b:t%3Ak@host.example/x?y".parse().unwrap();
        assert_eq!(u.ws_url(), "wss://host.example/x?y");
        assert_eq!((u.username(), u.token()), ("a@b", "t:k"));
        assert!(u.is_tls());
        let u: BtpUrl = "ws://:tok@h:1".parse().unwrap();
        assert_eq!(
            (u.ws_url(), u.username(), u.token()),
            ("ws://h:1", "", "tok")
        );
        assert!(!u.is_tls());
        assert!("http://h".parse::<BtpUrl>().is_err());
        assert!("btp+ws://u:t@/p".parse::<BtpUrl>().is_err());
        assert!("btp+ws://u:%zz@h".parse::<BtpUrl>().is_err());
    }
}
