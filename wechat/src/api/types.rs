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
