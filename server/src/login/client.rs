//! Who is asking: the client's address, user agent and whether the page
//! was served over https. Proxy headers count only with TRUST_PROXY_HEADERS.

use std::net::{IpAddr, SocketAddr};

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
        let https = trust_proxy_headers
            && header_text(headers, "x-forwarded-proto")
                .is_some_and(|p| p.eq_ignore_ascii_case("https"));
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

/// The first (client-most) address of `X-Forwarded-For`.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    header_text(headers, "x-forwarded-for")?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
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
            ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
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
    fn user_agents_are_cleaned_and_cut() {
        let long = format!("Mozilla\t{}", "x".repeat(1000));
        let info = ClientInfo::from_parts(&parts(&[("user-agent", &long)]), false);
        assert_eq!(info.user_agent.len(), MAX_USER_AGENT);
        assert!(info.user_agent.starts_with("Mozillax"));
    }
}
