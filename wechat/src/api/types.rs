use secrecy::SecretString;
use serde::Deserialize;

/// An access token as WeChat hands it out.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: SecretString,
    /// Lifetime in seconds (at most 7200).
    pub expires_in: u64,
}

/// A temporary parametric QR code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QrTicket {
    pub ticket: String,
    /// Absent for permanent codes; 0 then.
    #[serde(default)]
    pub expire_seconds: u64,
    /// The content to encode in the QR image.
    pub url: String,
}

#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub access_token: String,
    pub expires_in: u64,
}

/// Who authorised a 网页授权 (`snsapi_base`) code: the code's answer from
/// `sns/oauth2/access_token`, of which only the openid is kept (the
/// web access token of `snsapi_base` can read nothing more).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OauthIdentity {
    pub openid: String,
}

/// `cgi-bin/user/info`: whether the user follows the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Follower {
    pub openid: String,
    /// 1: follows; 0: does not (WeChat then sends nothing else).
    pub subscribe: u8,
}

impl Follower {
    pub fn follows(&self) -> bool {
        self.subscribe == 1
    }
}
