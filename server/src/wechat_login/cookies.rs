//! The login's two cookies: the session (who is logged in) and the binding
//! (which browser started an attempt). Both hold secrets whose hash alone is
//! stored.
//!
//! Over https both are `__Host-` cookies: the browser takes them only from
//! this very host over https, with `Path=/` and no `Domain`, so a sibling
//! subdomain or a plain-http page cannot plant one (cookie tossing, session
//! fixation). That is why the binding cookie, too, has `Path=/`: a prefix
//! that allowed `Path=/api/login` (`__Secure-`) would still let a sibling
//! subdomain plant a binding whose secret it knows, and then complete the
//! login its victim scanned. Over plain http (development) the names carry
//! no prefix, which browsers would refuse there.
//!
//! A request with two cookies of one of these names is refused: the second
//! one can only have been planted (a `Domain` or a `Path` cookie beside
//! ours), and which one a browser lists first is not to be relied on.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

use super::secrets;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginCookie {
    /// The session token: `SameSite=Lax`, kept for the session's lifetime.
    Session,
    /// The browser binding secret: `SameSite=Strict`, gone when the browser
    /// closes.
    Binding,
}

/// The request carries a cookie name twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duplicated;

impl LoginCookie {
    pub fn name(self, https: bool) -> &'static str {
        match (self, https) {
            (Self::Session, true) => "__Host-session",
            (Self::Session, false) => "session",
            (Self::Binding, true) => "__Host-login_binding",
            (Self::Binding, false) => "login_binding",
        }
    }

    /// Every value the request sends under this cookie's name (in order).
    fn values(self, headers: &HeaderMap, https: bool) -> Vec<String> {
        let name = self.name(https);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name() == name)
            .map(|cookie| cookie.value().to_owned())
            .collect()
    }

    /// The cookie's secret, if the request sends it once and it has the
    /// shape of one of our secrets; `Err` if the name comes twice.
    pub fn read(self, headers: &HeaderMap, https: bool) -> Result<Option<String>, Duplicated> {
        let mut values = self.values(headers, https);
        if values.len() > 1 {
            return Err(Duplicated);
        }
        Ok(values.pop().filter(|value| secrets::is_secret(value)))
    }

    /// Every well-formed secret sent under this name, duplicates included
    /// (to revoke whatever sessions a browser holds when it logs in anew).
    pub fn read_all(self, headers: &HeaderMap, https: bool) -> Vec<String> {
        self.values(headers, https)
            .into_iter()
            .filter(|value| secrets::is_secret(value))
            .collect()
    }

    /// `Set-Cookie` for `value`; `max_age` `None` ends with the browser.
    pub fn set(self, value: &str, https: bool, max_age: Option<Duration>) -> HeaderValue {
        let mut cookie = Cookie::build((self.name(https), value.to_owned()))
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(match self {
                Self::Session => SameSite::Lax,
                Self::Binding => SameSite::Strict,
            });
        if let Some(age) = max_age {
            let seconds = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
        }
        // Names are fixed and secrets are URL-safe base64: always valid.
        HeaderValue::from_str(&cookie.build().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` that removes the cookie.
    pub fn clear(self, https: bool) -> HeaderValue {
        self.set("", https, Some(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in cookies {
            headers.append(header::COOKIE, line.parse().unwrap());
        }
        headers
    }

    #[test]
    fn finds_a_well_formed_cookie_among_others() {
        let secret = secrets::new_secret();
        let h = headers(&[&format!("theme=dark; session={secret}; x=1")]);
        assert_eq!(
            LoginCookie::Session.read(&h, false),
            Ok(Some(secret.clone()))
        );
        assert_eq!(LoginCookie::Binding.read(&h, false), Ok(None));
        // Over https only the prefixed name counts.
        assert_eq!(LoginCookie::Session.read(&h, true), Ok(None));
        let h = headers(&[&format!("__Host-session={secret}")]);
        assert_eq!(LoginCookie::Session.read(&h, true), Ok(Some(secret)));
    }

    #[test]
    fn ignores_malformed_values() {
        let h = headers(&["session=not-a-secret", "=; ;session"]);
        assert_eq!(LoginCookie::Session.read(&h, false), Ok(None));
    }

    #[test]
    fn a_name_sent_twice_is_refused() {
        let (a, b) = (secrets::new_secret(), secrets::new_secret());
        for lines in [
            vec![format!("login_binding={a}; login_binding={b}")],
            vec![format!("login_binding={a}"), format!("login_binding={b}")],
            vec![format!("login_binding={a}; login_binding=junk")],
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let h = headers(&lines);
            assert_eq!(LoginCookie::Binding.read(&h, false), Err(Duplicated));
        }
        let h = headers(&[&format!("session={a}; session={b}")]);
        assert_eq!(LoginCookie::Session.read_all(&h, false), vec![a, b]);
    }

    #[test]
    fn cookies_have_the_contracts_flags() {
        let value = LoginCookie::Session.set("abc", true, Some(Duration::from_secs(60)));
        let text = value.to_str().unwrap();
        assert!(text.starts_with("__Host-session=abc"), "{text}");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age=60"] {
            assert!(text.contains(flag), "{flag} missing: {text}");
        }
        assert!(!text.contains("Domain"), "{text}");

        let binding = LoginCookie::Binding.set("abc", true, None);
        let text = binding.to_str().unwrap();
        assert!(text.starts_with("__Host-login_binding=abc"), "{text}");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
            assert!(text.contains(flag), "{flag} missing: {text}");
        }
        assert!(!text.contains("Max-Age"), "{text}");

        let plain = LoginCookie::Session.clear(false);
        let text = plain.to_str().unwrap();
        assert!(text.starts_with("session=;"), "{text}");
        assert!(
            text.contains("Max-Age=0") && !text.contains("Secure"),
            "{text}"
        );
    }
}
