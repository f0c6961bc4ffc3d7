//! Who is asking: the client's address, user agent and whether the page
//! was served over https. Proxy headers count only with TRUST_PROXY_HEADERS.
//!
//! Behind a proxy, `X-Forwarded-For` is a list its client may have started
//! with anything: only the rightmost entry, the one our proxy appended
//! (nginx `$proxy_add_x_forwarded_for`, Caddy by default), is the address
//! that connected to it. Everything left of it is hearsay.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap},
};

use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub address: IpAddr,
    pub user_agent: String,
    pub https: bool,
}

/// User agents are shown to the WeChat user in confirm mode; keep them short.
const MAX_USER_AGENT: usize = 256;

impl ClientInfo {
    pub fn from_parts(parts: &Parts, trust_proxy_headers: bool) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let headers = &parts.headers;
        let forwarded = trust_proxy_headers
            .then(|| forwarded_for(headers))
            .flatten();
        let https = is_https(headers, trust_proxy_headers);
        let user_agent: String = header_text(headers, header::USER_AGENT.as_str())
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT)
            .collect();
        Self {
            address: forwarded.unwrap_or(peer),
            user_agent,
            https,
        }
    }

    /// What limits count by: the address itself for IPv4, its /64 for IPv6
    /// (one subscriber usually gets a whole /64: 2^64 addresses that would
    /// each get their own allowance).
    pub fn network(&self) -> IpAddr {
        network_of(self.address)
    }
}

/// Whether the browser reached us over https: only a trusted proxy can
/// tell (`X-Forwarded-Proto`); the server itself speaks plain http.
pub fn is_https(headers: &HeaderMap, trust_proxy_headers: bool) -> bool {
    trust_proxy_headers
        && last_entry(headers, "x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// See [`ClientInfo::network`]. IPv4-mapped IPv6 addresses count as IPv4.
pub fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, state.config.trust_proxy_headers))
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The last entry of a list header, across repeated headers too (a proxy
/// may add its own header line instead of extending the client's).
fn last_entry<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let last_line = headers.get_all(name).iter().next_back()?;
    let entry = last_line.to_str().ok()?.rsplit(',').next()?.trim();
    (!entry.is_empty()).then_some(entry)
}

/// The rightmost address of `X-Forwarded-For`: the one our proxy added.
/// `None` when it is missing or not an address (then the proxy itself is
/// the client, which is the safe side for the limits).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let entry = last_entry(headers, "x-forwarded-for")?;
    // Some proxies write IPv6 in brackets, or with a port.
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut parts = request.body(()).unwrap().into_parts().0;
        parts
            .extensions
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 5555))));
        parts
    }

    #[test]
    fn proxy_headers_count_only_when_trusted() {
        let p = parts(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let trusted = ClientInfo::from_parts(&p, true);
        assert_eq!(trusted.address, IpAddr::from([203, 0, 113, 7]));
        assert!(trusted.https);
        let untrusted = ClientInfo::from_parts(&p, false);
        assert_eq!(untrusted.address, IpAddr::from([10, 0, 0, 9]));
        assert!(!untrusted.https);
    }

    #[test]
    fn the_client_is_the_address_our_proxy_added_not_what_the_client_wrote() {
        // The client sent "X-Forwarded-For: 1.2.3.4"; nginx appended the
        // address it saw.
        let p = parts(&[("x-forwarded-for", "1.2.3.4, 198.51.100.20")]);
        assert_eq!(
            ClientInfo::from_parts(&p, true).address,
            IpAddr::from([198, 51, 100, 20])
        );
        // A proxy that adds a header line of its own.
        let p = parts(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.20"),
        ]);
        assert_eq!(
            ClientInfo::from_parts(&p, true).address,
            IpAddr::from([198, 51, 100, 20])
        );
        for entry in ["[2001:db8::1]", "[2001:db8::1]:443", "2001:db8::1"] {
            let p = parts(&[("x-forwarded-for", entry)]);
            assert_eq!(
                ClientInfo::from_parts(&p, true).address,
                "2001:db8::1".parse::<IpAddr>().unwrap(),
                "{entry}"
            );
        }
        // Garbage at the end: the proxy itself is the client.
        for value in ["198.51.100.20, nonsense", "", "1.2.3.4,"] {
            let p = parts(&[("x-forwarded-for", value)]);
            assert_eq!(
                ClientInfo::from_parts(&p, true).address,
                IpAddr::from([10, 0, 0, 9]),
                "{value:?}"
            );
        }
        let p = parts(&[("x-forwarded-proto", "https, http")]);
        assert!(!ClientInfo::from_parts(&p, true).https);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_eq!(network_of(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(network_of(a), network_of(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(network_of(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(network_of(mapped), v4);
    }

    #[test]
    fn user_agents_are_cleaned_and_cut() {
        let long = format!("Mozilla\t{}", "x".repeat(1000));
        let info = ClientInfo::from_parts(&parts(&[("user-agent", &long)]), false);
        assert_eq!(info.user_agent.len(), MAX_USER_AGENT);
        assert!(info.user_agent.starts_with("Mozillax"));
    }
}
