//! The settings of running the site: where the public reaches it
//! (`PUBLIC_URL`) and who may see the operator page (`ADMIN_OPENIDS`).

use super::{invalid, ConfigError};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpsConfig {
    /// `PUBLIC_URL`: the site's address as visitors and WeChat reach it,
    /// e.g. `https://example.com`, without a trailing slash. `server doctor`
    /// prints the callback URL to enter in the WeChat console from it and
    /// checks that the site answers there.
    pub public_url: Option<String>,
    /// `ADMIN_OPENIDS`: the WeChat users (openids of this 服务号) who see
    /// the operator page `/admin`; everyone else gets a 404 there.
    pub admin_openids: Vec<String>,
}

impl OpsConfig {
    pub fn is_admin(&self, openid: &str) -> bool {
        self.admin_openids.iter().any(|admin| admin == openid)
    }
}

/// WeChat's openids are 28 URL-safe base64 characters; a little room either
/// way, for other accounts' formats and the sandbox's test users.
const MAX_OPENID: usize = 64;

pub(super) fn ops_config(get: &impl Fn(&str) -> Option<String>) -> Result<OpsConfig, ConfigError> {
    let public_url = get("PUBLIC_URL").map(|url| public_url(&url)).transpose()?;
    let mut admin_openids = Vec::new();
    for openid in get("ADMIN_OPENIDS")
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let ok = openid.len() <= MAX_OPENID
            && openid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !ok {
            return Err(invalid(
                "ADMIN_OPENIDS",
                format!(
                    "\"{openid}\" is not an openid (letters, digits, '-' and '_', like \
                     oAbC…, 28 characters); separate several with commas"
                ),
            ));
        }
        if !admin_openids.iter().any(|known| known == openid) {
            admin_openids.push(openid.to_owned());
        }
    }
    Ok(OpsConfig {
        public_url,
        admin_openids,
    })
}

/// An http(s) origin: scheme, host, optional port; nothing else (the site's
/// routes are at the root of its host).
fn public_url(text: &str) -> Result<String, ConfigError> {
    let wrong = |why: &str| {
        invalid(
            "PUBLIC_URL",
            format!("\"{text}\" {why}; write the site's address like https://example.com"),
        )
    };
    let url = url::Url::parse(text).map_err(|_| wrong("is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(wrong("is not an http(s) URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(wrong("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(wrong("must not carry a user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(wrong(
            "must be the site's root, without a path, query or fragment",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<OpsConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ops_config(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn nothing_set_means_no_url_and_no_admins() {
        assert_eq!(config(&[]).unwrap(), OpsConfig::default());
        assert!(!OpsConfig::default().is_admin(""));
    }

    #[test]
    fn the_public_url_is_an_origin() {
        for (given, kept) in [
            ("https://example.com", "https://example.com"),
            ("https://example.com/", "https://example.com"),
            (
                "https://写作.example.cn:8443",
                "https://xn--2qq67c.example.cn:8443",
            ),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("HTTPS://Example.COM", "https://example.com"),
        ] {
            let config = config(&[("PUBLIC_URL", given)]).unwrap();
            assert_eq!(config.public_url.as_deref(), Some(kept), "{given}");
        }
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https://example.com/site",
            "https://example.com/?a=1",
            "https://example.com/#top",
            "https://user:pass@example.com",
        ] {
            let err = config(&[("PUBLIC_URL", bad)]).unwrap_err();
            assert_eq!(err.name, "PUBLIC_URL", "{bad}");
        }
    }

    #[test]
    fn admin_openids_are_a_list() {
        let config = config(&[(
            "ADMIN_OPENIDS",
            "oAbCdEfGhIjKlMnOpQrStUvWx-_1, oSecond000000000000000000000 oAbCdEfGhIjKlMnOpQrStUvWx-_1",
        )])
        .unwrap();
        assert_eq!(
            config.admin_openids,
            [
                "oAbCdEfGhIjKlMnOpQrStUvWx-_1",
                "oSecond000000000000000000000"
            ]
        );
        assert!(config.is_admin("oSecond000000000000000000000"));
        assert!(!config.is_admin("oSecond"));
        for bad in ["o;DROP", &"o".repeat(65), "o€"] {
            let err = self::config(&[("ADMIN_OPENIDS", bad)]).unwrap_err();
            assert_eq!(err.name, "ADMIN_OPENIDS", "{bad}");
        }
    }
}
