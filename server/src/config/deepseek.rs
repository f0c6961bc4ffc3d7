//! The DeepSeek settings: a real key, the built-in sandbox, or neither
//! (writing is off, the rest of the site runs).

use std::time::Duration;

use secrecy::SecretString;

use super::{flag, invalid, number, ConfigError};

/// DeepSeek's own address (OpenAI format).
pub const DEFAULT_DEEPSEEK_BASE_URL: &str = ::deepseek::DEFAULT_BASE_URL;
/// The sandbox is DeepSeek-paced by default: about 50 tokens a second,
/// which is what DeepSeek's flash model streams.
pub const DEFAULT_SANDBOX_TOKENS_PER_SECOND: u32 = 50;
/// What the site sends the sandbox as its key: the sandbox only checks that
/// there is one, as DeepSeek rejects a request without.
pub const SANDBOX_API_KEY: &str = "sk-sandbox-not-a-real-key";

/// How the site writes with DeepSeek.
#[derive(Clone, Debug)]
pub enum DeepseekMode {
    /// `DEEPSEEK_API_KEY` is set: the real API.
    Real {
        api_key: SecretString,
        /// `DEEPSEEK_BASE_URL`, without trailing slash.
        base_url: String,
    },
    /// `DEEPSEEK_SANDBOX=1`: the site's own look-alike at `/sandbox/deepseek`.
    Sandbox {
        /// `DEEPSEEK_SANDBOX_TOKENS_PER_SECOND`; 0 writes without pausing.
        tokens_per_second: u32,
    },
    /// Neither: the writing module says writing is not configured, start-up
    /// logs a warning, the rest of the site runs.
    NotConfigured,
}

#[derive(Clone, Debug)]
pub struct DeepseekConfig {
    pub mode: DeepseekMode,
    /// `DEEPSEEK_MODEL`.
    pub model: String,
    /// `DEEPSEEK_CONNECT_TIMEOUT_SECONDS`.
    pub connect_timeout: Duration,
    /// `DEEPSEEK_FIRST_TOKEN_TIMEOUT_SECONDS`.
    pub first_token_timeout: Duration,
    /// `DEEPSEEK_IDLE_TIMEOUT_SECONDS`.
    pub idle_timeout: Duration,
}

/// Writing was asked for but DeepSeek is not set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("writing is not configured: set DEEPSEEK_API_KEY, or DEEPSEEK_SANDBOX=1 to try the site without one")]
pub struct WritingNotConfigured;

impl WritingNotConfigured {
    /// What a visitor reads.
    pub fn user_message_zh(&self) -> &'static str {
        "本站还没有配置文章生成服务（DeepSeek），暂时不能写作。请联系网站管理员。"
    }
}

impl DeepseekConfig {
    pub fn is_sandbox(&self) -> bool {
        matches!(self.mode, DeepseekMode::Sandbox { .. })
    }

    pub fn is_configured(&self) -> bool {
        !matches!(self.mode, DeepseekMode::NotConfigured)
    }

    /// The client settings. `site_url` is this server's own base URL (e.g.
    /// `http://127.0.0.1:3000`), where the sandbox answers.
    pub fn client_config(
        &self,
        site_url: &str,
    ) -> Result<::deepseek::ClientConfig, WritingNotConfigured> {
        let (api_key, base_url) = match &self.mode {
            DeepseekMode::Real { api_key, base_url } => (api_key.clone(), base_url.clone()),
            DeepseekMode::Sandbox { .. } => (
                SecretString::from(SANDBOX_API_KEY),
                format!(
                    "{}{}",
                    site_url.trim_end_matches('/'),
                    crate::deepseek_sandbox::MOUNT_PATH
                ),
            ),
            DeepseekMode::NotConfigured => return Err(WritingNotConfigured),
        };
        let mut config = ::deepseek::ClientConfig::new(api_key).with_base_url(base_url);
        config.model = self.model.clone();
        config.connect_timeout = self.connect_timeout;
        config.first_token_timeout = self.first_token_timeout;
        config.idle_timeout = self.idle_timeout;
        Ok(config)
    }
}

pub(super) fn deepseek_config(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<DeepseekConfig, ConfigError> {
    let api_key = get("DEEPSEEK_API_KEY");
    let sandbox = flag(get, "DEEPSEEK_SANDBOX", false)?;
    let base_url = get("DEEPSEEK_BASE_URL");

    if let Some(key) = &api_key {
        let ok = (8..=512).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(invalid(
                "DEEPSEEK_API_KEY",
                "must be the key exactly as DeepSeek shows it (8 to 512 printable characters, no spaces)",
            ));
        }
    }

    let mode = match (api_key, sandbox) {
        (Some(_), true) => {
            return Err(invalid(
                "DEEPSEEK_SANDBOX",
                "the DeepSeek sandbox cannot run while a real key (DEEPSEEK_API_KEY) is set; unset one or the other",
            ))
        }
        (Some(key), false) => DeepseekMode::Real {
            api_key: SecretString::from(key),
            base_url: match base_url {
                Some(url) => checked_base_url(&url)?,
                None => DEFAULT_DEEPSEEK_BASE_URL.to_owned(),
            },
        },
        (None, true) => {
            if let Some(url) = base_url {
                return Err(invalid(
                    "DEEPSEEK_BASE_URL",
                    format!("cannot be set in sandbox mode, which answers at /sandbox/deepseek itself (it is \"{url}\")"),
                ));
            }
            DeepseekMode::Sandbox {
                tokens_per_second: number(
                    get,
                    "DEEPSEEK_SANDBOX_TOKENS_PER_SECOND",
                    u64::from(DEFAULT_SANDBOX_TOKENS_PER_SECOND),
                    0..=10_000,
                )? as u32,
            }
        }
        (None, false) => {
            if base_url.is_some() {
                return Err(invalid(
                    "DEEPSEEK_API_KEY",
                    "required when DEEPSEEK_BASE_URL is set",
                ));
            }
            DeepseekMode::NotConfigured
        }
    };
    if !matches!(mode, DeepseekMode::Sandbox { .. })
        && get("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND").is_some()
    {
        return Err(invalid(
            "DEEPSEEK_SANDBOX_TOKENS_PER_SECOND",
            "only used with DEEPSEEK_SANDBOX=1",
        ));
    }

    let model = get("DEEPSEEK_MODEL").unwrap_or_else(|| ::deepseek::DEFAULT_MODEL.to_owned());
    let model_ok = model.len() <= 64
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !model_ok {
        return Err(invalid(
            "DEEPSEEK_MODEL",
            format!("\"{model}\" is not a model name (letters, digits, '-', '_', '.'; e.g. deepseek-flash)"),
        ));
    }

    let seconds = |name, default, range| number(get, name, default, range).map(Duration::from_secs);
    Ok(DeepseekConfig {
        mode,
        model,
        connect_timeout: seconds("DEEPSEEK_CONNECT_TIMEOUT_SECONDS", 10, 1..=120)?,
        first_token_timeout: seconds("DEEPSEEK_FIRST_TOKEN_TIMEOUT_SECONDS", 300, 5..=900)?,
        idle_timeout: seconds("DEEPSEEK_IDLE_TIMEOUT_SECONDS", 60, 5..=600)?,
    })
}

/// The key travels with every request: only over TLS, except to this
/// machine (a local proxy or mock).
fn checked_base_url(url: &str) -> Result<String, ConfigError> {
    let url = url.trim_end_matches('/');
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| {
            url.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let host_ok = url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !(host_ok || local) {
        return Err(invalid(
            "DEEPSEEK_BASE_URL",
            format!("\"{url}\" must be an https:// URL (http:// only for 127.0.0.1 or localhost)"),
        ));
    }
    Ok(url.to_owned())
}

impl DeepseekMode {
    /// For logs: which mode, nothing of the key.
    pub fn describe(&self) -> String {
        match self {
            Self::Real { base_url, .. } => format!("DeepSeek at {base_url}"),
            Self::Sandbox { tokens_per_second } => {
                format!("DeepSeek sandbox ({tokens_per_second} tokens/s)")
            }
            Self::NotConfigured => "not configured".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    const FAKE_KEY: &str = "sk-fake-key-for-tests";

    fn config(vars: &[(&str, &str)]) -> Result<DeepseekConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        deepseek_config(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn neither_key_nor_sandbox_means_writing_is_not_configured() {
        let config = config(&[]).unwrap();
        assert!(!config.is_configured());
        assert!(!config.is_sandbox());
        assert_eq!(
            config.client_config("http://127.0.0.1:3000").unwrap_err(),
            WritingNotConfigured
        );
        assert_eq!(config.model, "deepseek-flash");
        assert_eq!(config.first_token_timeout, Duration::from_secs(300));
        assert_eq!(config.idle_timeout, Duration::from_secs(60));
        assert_eq!(config.connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_key_means_the_real_api() {
        let config = config(&[("DEEPSEEK_API_KEY", FAKE_KEY)]).unwrap();
        let client = config.client_config("http://127.0.0.1:3000").unwrap();
        assert_eq!(client.base_url, "https://api.deepseek.com");
        assert_eq!(client.api_key.expose_secret(), FAKE_KEY);
        assert_eq!(client.model, "deepseek-flash");
        assert!(!config.is_sandbox());
    }

    #[test]
    fn the_sandbox_is_on_only_when_asked_and_points_at_the_site() {
        let config = config(&[("DEEPSEEK_SANDBOX", "1")]).unwrap();
        assert!(config.is_sandbox() && config.is_configured());
        let client = config.client_config("http://127.0.0.1:4321/").unwrap();
        assert_eq!(client.base_url, "http://127.0.0.1:4321/sandbox/deepseek");
        assert_eq!(client.api_key.expose_secret(), SANDBOX_API_KEY);
        assert!(matches!(
            config.mode,
            DeepseekMode::Sandbox {
                tokens_per_second: 50
            }
        ));
        let off = self::config(&[("DEEPSEEK_SANDBOX", "0")]).unwrap();
        assert!(!off.is_configured());
    }

    #[test]
    fn the_sandbox_refuses_to_run_beside_a_real_key() {
        let err = config(&[("DEEPSEEK_SANDBOX", "1"), ("DEEPSEEK_API_KEY", FAKE_KEY)]).unwrap_err();
        assert_eq!(err.name, "DEEPSEEK_SANDBOX");
        assert!(!err.to_string().contains(FAKE_KEY));
    }

    #[test]
    fn settings_are_read() {
        let config = config(&[
            ("DEEPSEEK_API_KEY", FAKE_KEY),
            ("DEEPSEEK_BASE_URL", "https://proxy.example.com/deepseek/"),
            ("DEEPSEEK_MODEL", "deepseek-v4-pro"),
            ("DEEPSEEK_CONNECT_TIMEOUT_SECONDS", "3"),
            ("DEEPSEEK_FIRST_TOKEN_TIMEOUT_SECONDS", "600"),
            ("DEEPSEEK_IDLE_TIMEOUT_SECONDS", "30"),
        ])
        .unwrap();
        let client = config.client_config("http://unused").unwrap();
        assert_eq!(client.base_url, "https://proxy.example.com/deepseek");
        assert_eq!(client.model, "deepseek-v4-pro");
        assert_eq!(client.connect_timeout, Duration::from_secs(3));
        assert_eq!(client.first_token_timeout, Duration::from_secs(600));
        assert_eq!(client.idle_timeout, Duration::from_secs(30));
        let sandbox = self::config(&[
            ("DEEPSEEK_SANDBOX", "on"),
            ("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND", "0"),
        ])
        .unwrap();
        assert!(matches!(
            sandbox.mode,
            DeepseekMode::Sandbox {
                tokens_per_second: 0
            }
        ));
        let local = self::config(&[
            ("DEEPSEEK_API_KEY", FAKE_KEY),
            ("DEEPSEEK_BASE_URL", "http://127.0.0.1:8080"),
        ]);
        assert!(local.is_ok());
    }

    #[test]
    fn wrong_values_name_the_setting() {
        for (vars, name) in [
            (vec![("DEEPSEEK_SANDBOX", "maybe")], "DEEPSEEK_SANDBOX"),
            (
                vec![("DEEPSEEK_API_KEY", "sk-has space")],
                "DEEPSEEK_API_KEY",
            ),
            (vec![("DEEPSEEK_API_KEY", "short")], "DEEPSEEK_API_KEY"),
            (
                vec![("DEEPSEEK_BASE_URL", "https://x.example")],
                "DEEPSEEK_API_KEY",
            ),
            (
                vec![
                    ("DEEPSEEK_API_KEY", FAKE_KEY),
                    ("DEEPSEEK_BASE_URL", "http://api.deepseek.com"),
                ],
                "DEEPSEEK_BASE_URL",
            ),
            (
                vec![
                    ("DEEPSEEK_API_KEY", FAKE_KEY),
                    ("DEEPSEEK_BASE_URL", "http://localhost.evil.com"),
                ],
                "DEEPSEEK_BASE_URL",
            ),
            (
                vec![
                    ("DEEPSEEK_API_KEY", FAKE_KEY),
                    ("DEEPSEEK_BASE_URL", "ftp://x"),
                ],
                "DEEPSEEK_BASE_URL",
            ),
            (
                vec![
                    ("DEEPSEEK_SANDBOX", "1"),
                    ("DEEPSEEK_BASE_URL", "https://api.deepseek.com"),
                ],
                "DEEPSEEK_BASE_URL",
            ),
            (vec![("DEEPSEEK_MODEL", "deepseek flash")], "DEEPSEEK_MODEL"),
            (
                vec![("DEEPSEEK_FIRST_TOKEN_TIMEOUT_SECONDS", "1")],
                "DEEPSEEK_FIRST_TOKEN_TIMEOUT_SECONDS",
            ),
            (
                vec![("DEEPSEEK_IDLE_TIMEOUT_SECONDS", "soon")],
                "DEEPSEEK_IDLE_TIMEOUT_SECONDS",
            ),
            (
                vec![("DEEPSEEK_CONNECT_TIMEOUT_SECONDS", "0")],
                "DEEPSEEK_CONNECT_TIMEOUT_SECONDS",
            ),
            (
                vec![("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND", "10")],
                "DEEPSEEK_SANDBOX_TOKENS_PER_SECOND",
            ),
            (
                vec![
                    ("DEEPSEEK_SANDBOX", "1"),
                    ("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND", "-1"),
                ],
                "DEEPSEEK_SANDBOX_TOKENS_PER_SECOND",
            ),
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.name, name, "{vars:?}: {err}");
        }
    }

    #[test]
    fn errors_and_logs_never_repeat_the_key() {
        let key = "sk-secret with space";
        let err = config(&[("DEEPSEEK_API_KEY", key)]).unwrap_err();
        assert!(!err.to_string().contains(key));
        let config = config(&[("DEEPSEEK_API_KEY", FAKE_KEY)]).unwrap();
        assert!(!format!("{config:?}").contains(FAKE_KEY));
        assert_eq!(
            config.mode.describe(),
            "DeepSeek at https://api.deepseek.com"
        );
    }
}
