//! The phone API's JSON, as the page reads it (the server's own types live
//! in the server crate, which the browser never sees).

use serde::Deserialize;

/// A QR code the site created (`GET /phone/api/codes`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Code {
    pub ticket: String,
    pub scene: String,
    pub url: String,
    pub expired: bool,
    /// Milliseconds left when the list was fetched.
    #[serde(default)]
    pub remaining_ms: i64,
}

/// A sandbox WeChat user (`GET /phone/api/users`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SandboxUser {
    pub openid: String,
    pub following: bool,
}

/// The answer to a scan, a message or an unfollow.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PushAnswer {
    pub openid: String,
    pub event: Option<String>,
    pub http_status: Option<u16>,
    pub reply: Option<Reply>,
    pub encrypted: bool,
    pub elapsed_ms: u64,
    pub error: Option<String>,
    #[serde(default)]
    pub code_expired: Option<bool>,
}

/// What the service account answered.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Reply {
    Text { content: String },
    Success,
    Other { body: String },
}

/// The phone API's error body.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}

/// How a scan is pushed: left to the follow state, or forced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScanMode {
    #[default]
    Auto,
    Subscribe,
    Scan,
}

impl ScanMode {
    pub const ALL: [ScanMode; 3] = [ScanMode::Auto, ScanMode::Subscribe, ScanMode::Scan];

    /// The phone API's name, also the `<option>` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Subscribe => "subscribe",
            Self::Scan => "scan",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "自动（未关注则关注，已关注则扫码）",
            Self::Subscribe => "新关注（subscribe）",
            Self::Scan => "已关注（SCAN）",
        }
    }

    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|mode| mode.name() == name)
            .unwrap_or_default()
    }
}

/// A long scene (a login attempt id) shortened for a narrow screen.
pub fn short_scene(scene: &str) -> String {
    let chars: Vec<char> = scene.chars().collect();
    if chars.len() <= 16 {
        return scene.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// An openid shortened the same way.
pub fn short_openid(openid: &str) -> String {
    short_scene(openid)
}

/// `m:ss` for a countdown.
pub fn countdown(remaining_ms: i64) -> String {
    let seconds = remaining_ms.max(0).div_euclid(1000);
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(short_scene("login_1"), "login_1");
        assert_eq!(short_scene("0123456789abcdefXYZ"), "01234567…fXYZ");
        assert_eq!(
            short_scene("场景场景场景场景场景场景场景场景场"),
            "场景场景场景场景…景场景场"
        );
    }

    #[test]
    fn countdowns_read_naturally() {
        assert_eq!(countdown(299_999), "4:59");
        assert_eq!(countdown(5_000), "0:05");
        assert_eq!(countdown(-3), "0:00");
    }

    #[test]
    fn modes_round_trip() {
        for mode in ScanMode::ALL {
            assert_eq!(ScanMode::from_name(mode.name()), mode);
        }
        assert_eq!(ScanMode::from_name("?"), ScanMode::Auto);
    }

    #[test]
    fn answers_are_read() {
        let answer: PushAnswer = serde_json::from_str(
            r#"{"openid":"o1","msg_type":"event","event":"subscribe","delivered":true,"http_status":200,
                "reply":{"kind":"text","content":"欢迎"},"encrypted":true,"reply_encrypted":true,
                "elapsed_ms":3,"error":null,"ticket":"gQ","scene":"s","code_expired":false}"#,
        )
        .unwrap();
        assert_eq!(
            answer.reply,
            Some(Reply::Text {
                content: "欢迎".into()
            })
        );
        let failed: PushAnswer = serde_json::from_str(
            r#"{"openid":"o1","msg_type":"text","event":null,"delivered":false,"http_status":null,
                "reply":null,"encrypted":false,"reply_encrypted":false,"elapsed_ms":1,"error":"无法连接"}"#,
        )
        .unwrap();
        assert_eq!(failed.error.as_deref(), Some("无法连接"));
    }
}
