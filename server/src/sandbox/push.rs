//! Delivering a push to the site's callback over real HTTP, as WeChat does
//! (signed, encrypted in safe and compatible mode, 5 s to answer), and
//! reading the answer as WeChat would.

use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use wechat::{
    callback::{open_reply, push_request},
    message::parse_fields,
    MessageCrypto, PushMode,
};

use super::{event::Push, now_ms, random, ACCOUNT_ID};

/// WeChat waits this long for the callback.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);
/// A passive reply is small; anything bigger is not one.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The encryption mode chosen in the WeChat console, as the phone API names
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushModeName {
    Plain,
    Compatible,
    Safe,
}

impl From<PushModeName> for PushMode {
    fn from(name: PushModeName) -> Self {
        match name {
            PushModeName::Plain => PushMode::Plain,
            PushModeName::Compatible => PushMode::Compatible,
            PushModeName::Safe => PushMode::Safe,
        }
    }
}

/// What the service account answered, as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Reply {
    /// A passive text reply.
    Text { content: String },
    /// `success` or an empty body: nothing is shown to the user.
    Success,
    /// Any other passive reply (image, news…), decrypted.
    Other { body: String },
}

/// How one push went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The callback answered at all.
    pub delivered: bool,
    pub http_status: Option<u16>,
    pub reply: Option<Reply>,
    /// The push was encrypted (safe or compatible mode).
    pub encrypted: bool,
    /// The reply was encrypted.
    pub reply_encrypted: bool,
    pub elapsed_ms: u64,
    /// Why WeChat would show the user "该公众号暂时无法提供服务".
    pub error: Option<String>,
}

impl Delivery {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Sends pushes to one callback URL with the account's Token and key.
pub struct Pusher {
    http: reqwest::Client,
    callback_url: String,
    token: SecretString,
    crypto: Option<MessageCrypto>,
}

impl Pusher {
    pub fn new(callback_url: String, token: SecretString, crypto: Option<MessageCrypto>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(CALLBACK_TIMEOUT)
            // The callback is this very server: an HTTP(S)_PROXY setting must
            // not send it elsewhere. WeChat never follows redirects either.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|err| {
                tracing::warn!("sandbox: default HTTP client used ({err})");
                reqwest::Client::new()
            });
        Self {
            http,
            callback_url,
            token,
            crypto,
        }
    }

    pub fn can_encrypt(&self) -> bool {
        self.crypto.is_some()
    }

    /// Safe mode when a key is configured (what an operator would pick),
    /// plain otherwise.
    pub fn default_mode(&self) -> PushMode {
        if self.can_encrypt() {
            PushMode::Safe
        } else {
            PushMode::Plain
        }
    }

    pub fn callback_url(&self) -> &str {
        &self.callback_url
    }

    /// POSTs `push` from `openid` and reads the reply. Never fails: every
    /// problem ends up in [`Delivery::error`].
    pub async fn deliver(&self, openid: &str, push: &Push, mode: PushMode) -> Delivery {
        let now = now_ms();
        let timestamp = (now / 1000).to_string();
        let nonce = random::nonce();
        let xml = push.to_xml(openid, now / 1000);
        let token = self.token.expose_secret();
        let request = push_request(
            token,
            self.crypto.as_ref(),
            mode,
            &xml,
            &timestamp,
            &nonce,
            openid,
        );
        let encrypted = request.query.iter().any(|(name, _)| name == "encrypt_type");

        let started = Instant::now();
        let answer = self.post(request.query, request.body).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut delivery = Delivery {
            delivered: false,
            http_status: None,
            reply: None,
            encrypted,
            reply_encrypted: false,
            elapsed_ms,
            error: None,
        };
        match answer {
            Err(error) => delivery.error = Some(error),
            Ok((status, body)) => {
                delivery.delivered = true;
                delivery.http_status = Some(status);
                delivery.reply_encrypted = is_encrypted_reply(&body);
                let opened = if status == 200 {
                    self.read_reply(&body, openid, mode == PushMode::Safe && encrypted)
                } else {
                    Err(format!("回调地址返回 HTTP {status}（微信只接受 200）"))
                };
                match opened {
                    Ok(reply) => delivery.reply = Some(reply),
                    Err(error) => delivery.error = Some(error),
                }
            }
        }
        tracing::info!(
            event = push.event().unwrap_or(push.msg_type()),
            openid,
            status = delivery.http_status,
            elapsed_ms,
            error = delivery.error.as_deref(),
            "sandbox push"
        );
        delivery
    }

    /// The HTTP exchange: (status, body) or why there was none.
    async fn post(
        &self,
        query: Vec<(String, String)>,
        body: String,
    ) -> Result<(u16, String), String> {
        let mut response = self
            .http
            .post(&self.callback_url)
            .query(&query)
            .header(CONTENT_TYPE, "text/xml")
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err("回复超过 64 KiB，不是被动回复".to_owned());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Opens and checks a 200 answer as WeChat would.
    fn read_reply(
        &self,
        body: &str,
        openid: &str,
        must_be_encrypted: bool,
    ) -> Result<Reply, String> {
        let token = self.token.expose_secret();
        let xml = open_reply(token, self.crypto.as_ref(), body)
            .map_err(|err| format!("回复无法解开：{err}"))?;
        let reply = classify(&xml, openid)?;
        if must_be_encrypted && reply != Reply::Success && !is_encrypted_reply(body) {
            return Err("安全模式下的回复必须加密".to_owned());
        }
        Ok(reply)
    }
}

fn is_encrypted_reply(body: &str) -> bool {
    parse_fields(body.as_bytes()).is_ok_and(|fields| fields.get("Encrypt").is_some())
}

/// Names a decrypted reply, checking it is addressed as WeChat requires:
/// to the user who wrote, from the account.
fn classify(xml: &str, openid: &str) -> Result<Reply, String> {
    let trimmed = xml.trim();
    if trimmed.is_empty() || trimmed == "success" {
        return Ok(Reply::Success);
    }
    let fields =
        parse_fields(xml.as_bytes()).map_err(|err| format!("回复不是有效的 XML：{err}"))?;
    if fields.get("ToUserName") != Some(openid) {
        return Err("回复的 ToUserName 不是发消息的用户（openid）".to_owned());
    }
    if fields.get("FromUserName") != Some(ACCOUNT_ID) {
        return Err(format!("回复的 FromUserName 不是公众号（{ACCOUNT_ID}）"));
    }
    let is_text = fields
        .get("MsgType")
        .is_some_and(|t| t.eq_ignore_ascii_case("text"));
    Ok(match fields.get("Content") {
        Some(content) if is_text => Reply::Text {
            content: content.to_owned(),
        },
        _ => Reply::Other {
            body: trimmed.to_owned(),
        },
    })
}

/// A transport error in words, without the URL (its query carries the
/// signature).
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "回调地址 5 秒内没有回复（微信会重试，共 3 次）".to_owned();
    }
    let error = error.without_url();
    let mut text = format!("无法连接回调地址：{error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use wechat::message::text_reply;

    use super::*;

    const OPENID: &str = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M";

    #[test]
    fn replies_are_named() {
        let text = text_reply(OPENID, ACCOUNT_ID, 1, "登录成功");
        assert_eq!(
            classify(&text, OPENID),
            Ok(Reply::Text {
                content: "登录成功".into()
            })
        );
        assert_eq!(classify("success", OPENID), Ok(Reply::Success));
        assert_eq!(classify("  ", OPENID), Ok(Reply::Success));
        let image = format!(
            "<xml><ToUserName>{OPENID}</ToUserName><FromUserName>{ACCOUNT_ID}</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>image</MsgType></xml>"
        );
        assert!(matches!(classify(&image, OPENID), Ok(Reply::Other { .. })));
    }

    #[test]
    fn misaddressed_or_broken_replies_are_errors() {
        let swapped = text_reply(ACCOUNT_ID, OPENID, 1, "hi");
        assert!(classify(&swapped, OPENID).is_err());
        let other_user = text_reply("o_someone_else", ACCOUNT_ID, 1, "hi");
        assert!(classify(&other_user, OPENID).is_err());
        assert!(classify("{\"ok\":true}", OPENID).is_err());
        assert!(classify("<html>error</html", OPENID).is_err());
    }

    #[test]
    fn encrypted_replies_are_recognised() {
        assert!(is_encrypted_reply(
            "<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>"
        ));
        assert!(!is_encrypted_reply("<xml><Content>x</Content></xml>"));
        assert!(!is_encrypted_reply("success"));
    }
}
