use std::error::Error as _;
use std::fmt;

use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::config::{ClientConfig, TokenEndpoint};
use super::types::{AccessToken, Follower, OauthIdentity, QrTicket, TokenAnswer};
use super::ApiError;

/// WeChat limits `scene_str` to 64 characters.
pub const MAX_SCENE_CHARS: usize = 64;
/// WeChat's answers are small JSON objects; anything bigger is not WeChat.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A WeChat API client for one official account. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    appid: String,
    secret: SecretString,
    token_endpoint: TokenEndpoint,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("appid", &self.appid)
            .field("secret", &"[redacted]")
            .field("token_endpoint", &self.token_endpoint)
            .finish()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| ApiError::Http(describe(&e.without_url(), &[])))?;
        Ok(Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            appid: config.appid,
            secret: config.secret,
            token_endpoint: TokenEndpoint::default(),
        })
    }

    /// Chooses the endpoint the token cache fetches from (stable by default).
    pub fn with_token_endpoint(mut self, endpoint: TokenEndpoint) -> Self {
        self.token_endpoint = endpoint;
        self
    }

    pub fn token_endpoint(&self) -> TokenEndpoint {
        self.token_endpoint
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// `POST cgi-bin/stable_token`. `force_refresh` makes WeChat issue a new
    /// token (tightly rate-limited by WeChat; for a token known to be bad).
    pub async fn fetch_stable_token(&self, force_refresh: bool) -> Result<AccessToken, ApiError> {
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret.expose_secret(),
            "force_refresh": force_refresh,
        });
        let request = self
            .http
            .post(format!("{}/cgi-bin/stable_token", self.base_url))
            .json(&body);
        let answer: TokenAnswer = self.call(request, &[]).await?;
        Ok(answer.into())
    }

    /// `GET cgi-bin/token`. The secret travels in the URL, which is why no
    /// error from here ever includes a URL.
    pub async fn fetch_token(&self) -> Result<AccessToken, ApiError> {
        let request = self
            .http
            .get(format!("{}/cgi-bin/token", self.base_url))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", self.appid.as_str()),
                ("secret", self.secret.expose_secret()),
            ]);
        let answer: TokenAnswer = self.call(request, &[]).await?;
        Ok(answer.into())
    }

    /// `POST cgi-bin/qrcode/create` for a temporary `QR_STR_SCENE` code.
    pub async fn create_qr(
        &self,
        access_token: &str,
        scene: &str,
        expire_seconds: u32,
    ) -> Result<QrTicket, ApiError> {
        let scene_chars = scene.chars().count();
        if scene_chars == 0 || scene_chars > MAX_SCENE_CHARS {
            return Err(ApiError::InvalidScene);
        }
        let body = json!({
            "expire_seconds": expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": { "scene": { "scene_str": scene } },
        });
        let request = self
            .http
            .post(format!("{}/cgi-bin/qrcode/create", self.base_url))
            .query(&[("access_token", access_token)])
            .json(&body);
        self.call(request, &[access_token]).await
    }

    /// `GET sns/oauth2/access_token`: the openid of the user who authorised
    /// the 网页授权 `code` (`snsapi_base`). WeChat answers a code once, for
    /// five minutes, and only to the appid it was issued for (40029 invalid
    /// code, 40163 code been used).
    pub async fn oauth_identity(&self, code: &str) -> Result<OauthIdentity, ApiError> {
        let request = self
            .http
            .get(format!("{}/sns/oauth2/access_token", self.base_url))
            .query(&[
                ("appid", self.appid.as_str()),
                ("secret", self.secret.expose_secret()),
                ("code", code),
                ("grant_type", "authorization_code"),
            ]);
        self.call(request, &[code]).await
    }

    /// `GET cgi-bin/user/info`: whether `openid` follows the account.
    pub async fn follower(&self, access_token: &str, openid: &str) -> Result<Follower, ApiError> {
        let request = self
            .http
            .get(format!("{}/cgi-bin/user/info", self.base_url))
            .query(&[
                ("access_token", access_token),
                ("openid", openid),
                ("lang", "zh_CN"),
            ]);
        self.call(request, &[access_token]).await
    }

    /// Sends, reads a bounded answer, maps `errcode`, decodes. `extra_secrets`
    /// are scrubbed from any text that ends up in an error.
    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        extra_secrets: &[&str],
    ) -> Result<T, ApiError> {
        let secrets = self.secrets(extra_secrets);
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_error(e, &secrets))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(e, &secrets))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ApiError::Decode("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(ApiError::Status(status.as_u16()));
        }
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| ApiError::Decode(e.to_string()))?;
        if let Some(code) = value.get("errcode").and_then(Value::as_i64) {
            if code != 0 {
                let message = value
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return Err(ApiError::WeChat {
                    code,
                    message: scrub(message, &secrets),
                });
            }
        }
        serde_json::from_value(value).map_err(|e| ApiError::Decode(e.to_string()))
    }

    fn secrets<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec![self.secret.expose_secret()];
        all.extend_from_slice(extra);
        all
    }
}

impl From<TokenAnswer> for AccessToken {
    fn from(answer: TokenAnswer) -> Self {
        Self {
            token: SecretString::from(answer.access_token),
            expires_in: answer.expires_in,
        }
    }
}

fn transport_error(error: reqwest::Error, secrets: &[&str]) -> ApiError {
    if error.is_timeout() {
        ApiError::Timeout
    } else {
        ApiError::Http(describe(&error.without_url(), secrets))
    }
}

/// The error and its sources, one after another, scrubbed of secrets.
/// (`without_url` already removed the URL from the top-level error.)
fn describe(error: &reqwest::Error, secrets: &[&str]) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    scrub(&text, secrets)
}

/// Belt and braces: nothing WeChat or the transport says should contain a
/// secret, but if it ever does, it must not reach a log.
fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |acc, s| acc.replace(s, "[redacted]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_every_secret() {
        assert_eq!(
            scrub("a fake-secret b tok c", &["fake-secret", "tok", ""]),
            "a [redacted] b [redacted] c"
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let client = Client::new(ClientConfig::new(
            "wx0000000000000000",
            SecretString::from("fake-secret-for-tests"),
        ))
        .unwrap();
        let text = format!("{client:?}");
        assert!(text.contains("[redacted]"));
        assert!(!text.contains("fake-secret-for-tests"));
    }
}
