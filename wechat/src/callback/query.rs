use serde::Deserialize;

/// The query string WeChat puts on every callback request. Every field is
/// optional so that a malformed request becomes a [`CallbackError`]
/// (crate::callback::CallbackError) rather than an extractor rejection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CallbackQuery {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub echostr: Option<String>,
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
    pub openid: Option<String>,
}

impl CallbackQuery {
    /// Whether WeChat says the body is encrypted (safe or compatible mode).
    pub fn is_encrypted(&self) -> bool {
        self.encrypt_type
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("aes"))
    }
}
