//! Every setting of the server, read once at start-up from the environment
//! (and an optional untracked `.env`). A wrong value stops the start with the
//! setting's name and what is wrong; secret values are never repeated.

use std::{path::PathBuf, time::Duration};

use leptos::config::LeptosOptions;
use rand::{distr::Alphanumeric, Rng};
use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        reason: reason.into(),
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Leptos's own settings (`LEPTOS_SITE_ADDR`, `LEPTOS_SITE_ROOT`, …).
    pub leptos: LeptosOptions,
    /// `DATABASE_URL`: `sqlite://…` (default) or `postgres://…`.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: PostgreSQL connections this process may
    /// hold (SQLite's pool is fixed: one file, one writer).
    pub database_max_connections: u32,
    /// `THEME_DIR`: the page and group files.
    pub theme_dir: PathBuf,
    /// `TRUST_PROXY_HEADERS`: take the client address and scheme from
    /// `X-Forwarded-For` / `X-Forwarded-Proto` (only behind a proxy you run).
    pub trust_proxy_headers: bool,
    pub http: HttpConfig,
    pub wechat: WechatConfig,
    pub login: LoginConfig,
    pub deepseek: DeepseekConfig,
    pub writing: WritingConfig,
    /// `PUBLIC_URL`, `ADMIN_OPENIDS`.
    pub ops: OpsConfig,
}

/// How long the server waits for a client.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `HTTP_HEADER_TIMEOUT_SECONDS`: a connection that has not sent a whole
    /// request head by then (or sits idle between requests that long) is
    /// closed, so slow or silent clients cannot hold connections.
    pub header_read_timeout: Duration,
    /// `HTTP_REQUEST_TIMEOUT_SECONDS`: every route but the event streams
    /// answers within this, or with 408.
    pub request_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct WechatConfig {
    /// `WECHAT_SANDBOX=1`: the built-in WeChat stand-in answers instead of
    /// WeChat. Never on by itself: a server that lost its credentials
    /// refuses to start rather than open the sandbox's doors.
    pub sandbox: bool,
    /// `WECHAT_APPID`; generated in sandbox mode.
    pub appid: String,
    /// `WECHAT_APPSECRET`; generated in sandbox mode.
    pub secret: SecretString,
    /// `WECHAT_TOKEN`: the Token entered in the WeChat console; generated in
    /// sandbox mode.
    pub token: SecretString,
    /// `WECHAT_ENCODING_AES_KEY`: set → safe and compatible mode accepted.
    pub encoding_aes_key: Option<SecretString>,
    /// `WECHAT_ALLOW_PLAIN_MODE=1`: a real 服务号 may run without an AES key
    /// (plain mode, whose signature does not cover the body). Off, a real
    /// 服务号 without a key refuses to start.
    pub allow_plain_mode: bool,
    /// `WECHAT_API_BASE`; `None` in sandbox mode, where the site's own
    /// `/sandbox/wechat` is used once the server knows its address.
    pub api_base: Option<String>,
}

#[derive(Clone, Debug)]
pub struct LoginConfig {
    /// `LOGIN_EXPIRY_SECONDS`: how long a QR code can be scanned.
    pub expiry: Duration,
    /// `SESSION_DAYS`: how long a login lasts.
    pub session_ttl: Duration,
    /// `SESSION_CACHE_SECONDS`: how long a session seen is kept in memory
    /// (0: never). Logout and a new login end it at once in the process
    /// that made them; in another process it bounds the delay.
    pub session_cache: Duration,
    /// `LOGIN_CONFIRM_MODE`: a scan must be confirmed by replying 确认.
    pub confirm_mode: bool,
    /// `LOGIN_WECHAT_OAUTH`: inside WeChat, 微信一键登录 through 网页授权
    /// (`snsapi_base`) on the same 服务号; needs the 网页授权域名 set in the
    /// console. Off by default.
    pub wechat_oauth: bool,
    /// `LOGIN_OAUTH_FOLLOWERS_ONLY` (on by default): a one-tap login of a
    /// visitor who does not follow the 服务号 shows him its QR code to
    /// follow instead of logging him in.
    pub oauth_followers_only: bool,
    /// `LOGIN_START_PER_MINUTE`: QR codes one client address (an IPv6 /64)
    /// may request per minute; 0 lifts the limit.
    pub start_per_minute: u32,
    /// `LOGIN_START_SITE_PER_MINUTE`: QR codes the whole site may request per
    /// minute, whoever asks: it keeps WeChat's daily quota for
    /// `qrcode/create` from running out; 0 lifts the limit.
    pub start_site_per_minute: u32,
    /// `LOGIN_STREAMS_PER_ATTEMPT`: event streams open at once for one login
    /// attempt.
    pub streams_per_attempt: u32,
    /// `LOGIN_STREAMS_PER_ADDRESS`: event streams open at once from one
    /// client address (an IPv6 /64); 0 lifts the limit.
    pub streams_per_address: u32,
    /// `LOGIN_STREAMS_MAX`: event streams open at once on the whole server,
    /// so that waiting browsers cannot take every file descriptor the
    /// WeChat callback needs; lowered at start to what the open-files limit
    /// allows; 0: just that.
    pub streams_max: u32,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/site.db";
/// WeChat allows a verified 服务号 100 000 `qrcode/create` calls a day; 60
/// a minute all day long is 86 400.
pub const DEFAULT_START_SITE_PER_MINUTE: u64 = 60;
pub const DEFAULT_WECHAT_API_BASE: &str = "https://api.weixin.qq.com";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let leptos = leptos_options(&get)?;
        let database_url = database_url(&get)?;

        Ok(Config {
            leptos,
            database_url,
            database_max_connections: number(&get, "DATABASE_MAX_CONNECTIONS", 16, 2..=1_000)?
                as u32,
            theme_dir: get("THEME_DIR").unwrap_or_else(|| "theme".into()).into(),
            trust_proxy_headers: flag(&get, "TRUST_PROXY_HEADERS", false)?,
            http: HttpConfig {
                header_read_timeout: Duration::from_secs(number(
                    &get,
                    "HTTP_HEADER_TIMEOUT_SECONDS",
                    10,
                    1..=300,
                )?),
                request_timeout: Duration::from_secs(number(
                    &get,
                    "HTTP_REQUEST_TIMEOUT_SECONDS",
                    30,
                    1..=3_600,
                )?),
            },
            wechat: wechat_config(&get)?,
            deepseek: deepseek_config(&get)?,
            writing: writing_config(&get)?,
            ops: ops_config(&get)?,
            login: LoginConfig {
                expiry: Duration::from_secs(number(&get, "LOGIN_EXPIRY_SECONDS", 300, 5..=86_400)?),
                session_ttl: Duration::from_secs(
                    86_400 * number(&get, "SESSION_DAYS", 30, 1..=365)?,
                ),
                session_cache: Duration::from_secs(number(
                    &get,
                    "SESSION_CACHE_SECONDS",
                    60,
                    0..=3_600,
                )?),
                confirm_mode: flag(&get, "LOGIN_CONFIRM_MODE", false)?,
                wechat_oauth: flag(&get, "LOGIN_WECHAT_OAUTH", false)?,
                oauth_followers_only: flag(&get, "LOGIN_OAUTH_FOLLOWERS_ONLY", true)?,
                start_per_minute: number(&get, "LOGIN_START_PER_MINUTE", 10, 0..=1_000_000)? as u32,
                start_site_per_minute: number(
                    &get,
                    "LOGIN_START_SITE_PER_MINUTE",
                    DEFAULT_START_SITE_PER_MINUTE,
                    0..=1_000_000,
                )? as u32,
                streams_per_attempt: number(&get, "LOGIN_STREAMS_PER_ATTEMPT", 4, 1..=100)? as u32,
                streams_per_address: number(&get, "LOGIN_STREAMS_PER_ADDRESS", 32, 0..=1_000_000)?
                    as u32,
                streams_max: number(&get, "LOGIN_STREAMS_MAX", 10_000, 0..=1_000_000)? as u32,
            },
        })
    }
}

/// `DATABASE_URL` alone: `server backup` and `server restore` need only the
/// database, and must work while other settings are still being fixed.
pub fn database_url_from_env() -> Result<String, ConfigError> {
    database_url_from_lookup(|name| std::env::var(name).ok())
}

/// `DATABASE_URL` alone, read through `var` (`server doctor` checks the
/// database even when another setting is wrong).
pub fn database_url_from_lookup(
    var: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    database_url(&|name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

fn database_url(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
    if crate::db::Engine::of_url(&database_url).is_none() {
        // Not the value itself: a mistyped PostgreSQL URL may hold a password.
        return Err(invalid(
            "DATABASE_URL",
            "must be sqlite://path/to/file.db or postgres://user:password@host:5432/database",
        ));
    }
    Ok(database_url)
}

/// How log lines are written (`LOG_FORMAT`). Read on its own, before the
/// other settings, so that a start-up error is already logged in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `text` (default): one readable line per event, for a person.
    Text,
    /// `json`: one JSON object per line, for a log collector.
    Json,
}

impl LogFormat {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match var("LOG_FORMAT")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(invalid(
                "LOG_FORMAT",
                format!("\"{other}\" is not one of text, json"),
            )),
        }
    }
}

fn leptos_options(get: &impl Fn(&str) -> Option<String>) -> Result<LeptosOptions, ConfigError> {
    let mut options = leptos::config::get_configuration(None)
        .map_err(|err| invalid("LEPTOS_*", err.to_string()))?
        .leptos_options;
    // Run outside cargo-leptos, the release binary still finds its
    // fingerprinted files: cargo-leptos writes hash.txt beside it.
    // Leptos reads the process environment; a lookup's own address wins
    // (tests and `server doctor` read settings through one).
    if let Some(addr) = get("LEPTOS_SITE_ADDR") {
        options.site_addr = addr.parse().map_err(|_| {
            invalid(
                "LEPTOS_SITE_ADDR",
                format!("\"{addr}\" is not an address and port like 127.0.0.1:3000"),
            )
        })?;
    }
    if get("LEPTOS_HASH_FILES").is_none() {
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())));
        options.hash_files = beside_binary.is_some_and(|file| file.exists());
    }
    Ok(options)
}

fn wechat_config(get: &impl Fn(&str) -> Option<String>) -> Result<WechatConfig, ConfigError> {
    let appid = get("WECHAT_APPID");
    let secret = get("WECHAT_APPSECRET");

    let sandbox = flag(get, "WECHAT_SANDBOX", false)?;

    let secret = match (&appid, secret, sandbox) {
        (_, Some(_), true) => return Err(invalid(
            "WECHAT_SANDBOX",
            "the sandbox cannot run while a real WECHAT_APPSECRET is set; unset one or the other",
        )),
        (Some(_), Some(secret), false) => secret,
        (None, Some(_), false) => {
            return Err(invalid(
                "WECHAT_APPID",
                "required when WECHAT_APPSECRET is set",
            ))
        }
        (Some(_), None, false) => {
            return Err(invalid(
                "WECHAT_APPSECRET",
                "required when WECHAT_APPID is set",
            ))
        }
        (None, None, false) => {
            return Err(invalid(
                "WECHAT_APPID or WECHAT_SANDBOX",
                "neither is set. Either run with a real 服务号: set WECHAT_APPID, \
                 WECHAT_APPSECRET, WECHAT_TOKEN and WECHAT_ENCODING_AES_KEY; or, to try the site \
                 without WeChat, set WECHAT_SANDBOX=1 (a simulated WeChat that logs anyone in: \
                 never in production)",
            ))
        }
        (_, None, true) => random_text(32),
    };

    if let Some(appid) = &appid {
        if !(appid.starts_with("wx")
            && appid.len() == 18
            && appid.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(invalid(
                "WECHAT_APPID",
                "an AppID is \"wx\" followed by 16 letters or digits",
            ));
        }
    }

    let token = match get("WECHAT_TOKEN") {
        Some(token) => {
            let ok =
                (3..=32).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                return Err(invalid(
                    "WECHAT_TOKEN",
                    "the WeChat console accepts 3 to 32 letters or digits",
                ));
            }
            token
        }
        None if sandbox => random_text(32),
        None => {
            return Err(invalid(
                "WECHAT_TOKEN",
                "required with a real 服务号: the Token you entered in the WeChat console",
            ))
        }
    };

    let encoding_aes_key = match get("WECHAT_ENCODING_AES_KEY") {
        Some(key) => {
            let ok = key.len() == 43 && key.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                return Err(invalid(
                    "WECHAT_ENCODING_AES_KEY",
                    "an EncodingAESKey is 43 letters or digits",
                ));
            }
            Some(SecretString::from(key))
        }
        None => None,
    };

    let allow_plain_mode = flag(get, "WECHAT_ALLOW_PLAIN_MODE", false)?;
    match (&encoding_aes_key, allow_plain_mode, sandbox) {
        (Some(_), true, _) => {
            return Err(invalid(
                "WECHAT_ALLOW_PLAIN_MODE",
                "cannot be on while WECHAT_ENCODING_AES_KEY is set: with a key only encrypted \
                 pushes are accepted; unset one or the other",
            ))
        }
        (None, false, false) => {
            return Err(invalid(
                "WECHAT_ENCODING_AES_KEY",
                "required with a real 服务号: set the EncodingAESKey of the WeChat console \
                 (safe or compatible mode). Plain mode, whose signature does not cover what \
                 WeChat pushes, runs only when asked for with WECHAT_ALLOW_PLAIN_MODE=1",
            ))
        }
        _ => {}
    }

    let api_base = match get("WECHAT_API_BASE") {
        Some(base) if sandbox => {
            return Err(invalid(
                "WECHAT_API_BASE",
                format!("cannot be set in sandbox mode, which answers at /sandbox/wechat itself (it is \"{base}\")"),
            ))
        }
        Some(base) => {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(invalid("WECHAT_API_BASE", format!("\"{base}\" is not an http(s) URL")));
            }
            Some(base.trim_end_matches('/').to_owned())
        }
        None if sandbox => None,
        None => Some(DEFAULT_WECHAT_API_BASE.to_owned()),
    };

    Ok(WechatConfig {
        sandbox,
        secret: SecretString::from(secret),
        appid: appid.unwrap_or_else(|| format!("wx{}", random_text(16).to_lowercase())),
        token: SecretString::from(token),
        encoding_aes_key,
        allow_plain_mode,
        api_base,
    })
}

impl WechatConfig {
    /// What the start-up log says about the mode, and whether it is a
    /// warning: one line an operator can check.
    pub fn mode(&self) -> (bool, String) {
        if self.sandbox {
            return (
                true,
                "WeChat: SANDBOX mode (WECHAT_SANDBOX=1): a simulated WeChat logs anyone in as \
                 anyone; never run it in production"
                    .into(),
            );
        }
        match &self.encoding_aes_key {
            Some(_) => (
                false,
                format!(
                    "WeChat: real 服务号 {}, encrypted pushes only (safe or compatible mode)",
                    self.appid
                ),
            ),
            None => (
                true,
                format!(
                    "WeChat: real 服务号 {} in PLAIN mode (WECHAT_ALLOW_PLAIN_MODE=1): pushes are \
                     not encrypted and their signature does not cover the body; set \
                     WECHAT_ENCODING_AES_KEY to turn on safe mode",
                    self.appid
                ),
            ),
        }
    }
}

fn flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(other) => Err(invalid(
            name,
            format!("\"{other}\" is not one of 1/0, true/false, on/off"),
        )),
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(text) = get(name) else {
        return Ok(default);
    };
    let value: u64 = text
        .parse()
        .map_err(|_| invalid(name, format!("\"{text}\" is not a whole number")))?;
    if !range.contains(&value) {
        return Err(invalid(
            name,
            format!(
                "{value} is out of range ({} to {})",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(value)
}

fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

mod deepseek;
#[cfg(test)]
mod documented;
mod ops;
mod writing;
use self::deepseek::deepseek_config;
pub use self::deepseek::{
    DeepseekConfig, DeepseekMode, WritingNotConfigured, DEFAULT_DEEPSEEK_BASE_URL,
    DEFAULT_SANDBOX_TOKENS_PER_SECOND, SANDBOX_API_KEY,
};
use self::ops::ops_config;
pub use self::ops::OpsConfig;
use self::writing::writing_config;
pub use self::writing::WritingConfig;

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    const FAKE_APPID: &str = "wx0000000000000000";
    const FAKE_SECRET: &str = "fake-secret-for-tests";
    const FAKE_AES_KEY: &str = "FakeAesKeyForTestsOnly000000000000000000000";

    /// Exactly these settings.
    fn raw_config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    /// These settings in sandbox mode (unless they say otherwise).
    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("WECHAT_SANDBOX", "1")];
        all.extend_from_slice(vars);
        raw_config(&all)
    }

    /// A real 服务号's settings (fake values), plus `vars`.
    fn real(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![
            ("WECHAT_APPID", FAKE_APPID),
            ("WECHAT_APPSECRET", FAKE_SECRET),
            ("WECHAT_TOKEN", "faketoken123"),
        ];
        all.extend_from_slice(vars);
        raw_config(&all)
    }

    #[test]
    fn defaults_are_sqlite_five_minutes_and_bounded() {
        let config = config(&[]).unwrap();
        assert!(config.wechat.sandbox);
        assert_eq!(config.database_url, "sqlite://data/site.db");
        assert_eq!(config.theme_dir, PathBuf::from("theme"));
        assert_eq!(config.login.expiry, Duration::from_secs(300));
        assert_eq!(config.login.session_ttl, Duration::from_secs(30 * 86_400));
        assert!(!config.login.confirm_mode);
        assert!(!config.login.wechat_oauth);
        assert!(config.login.oauth_followers_only);
        assert_eq!(config.login.start_per_minute, 10);
        assert_eq!(config.login.start_site_per_minute, 60);
        assert_eq!(config.login.streams_per_attempt, 4);
        assert_eq!(config.login.streams_per_address, 32);
        assert_eq!(config.login.streams_max, 10_000);
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.http.request_timeout, Duration::from_secs(30));
        assert!(config.wechat.api_base.is_none());
        assert!(config.wechat.encoding_aes_key.is_none());
        assert_eq!(config.wechat.token.expose_secret().len(), 32);
        assert!(config.wechat.appid.starts_with("wx") && config.wechat.appid.len() == 18);
    }

    #[test]
    fn without_credentials_or_sandbox_the_start_is_refused_with_both_ways_out() {
        for vars in [
            vec![],
            vec![("WECHAT_SANDBOX", "0")],
            vec![("WECHAT_TOKEN", "faketoken123")],
        ] {
            let err = raw_config(&vars).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("WECHAT_SANDBOX=1") && text.contains("WECHAT_APPID"),
                "{text}"
            );
        }
    }

    #[test]
    fn real_credentials_run_the_real_account() {
        let config = real(&[("WECHAT_ENCODING_AES_KEY", FAKE_AES_KEY)]).unwrap();
        assert!(!config.wechat.sandbox);
        assert_eq!(
            config.wechat.api_base.as_deref(),
            Some(DEFAULT_WECHAT_API_BASE)
        );
        let (warn, line) = config.wechat.mode();
        assert!(!warn && line.contains("encrypted"), "{line}");
        assert!(line.contains(FAKE_APPID));
    }

    #[test]
    fn plain_mode_is_an_explicit_opt_in_and_warned_about() {
        assert_eq!(real(&[]).unwrap_err().name, "WECHAT_ENCODING_AES_KEY");
        let err = real(&[("WECHAT_ALLOW_PLAIN_MODE", "0")]).unwrap_err();
        assert!(
            err.to_string().contains("WECHAT_ALLOW_PLAIN_MODE=1"),
            "{err}"
        );
        let config = real(&[("WECHAT_ALLOW_PLAIN_MODE", "1")]).unwrap();
        assert!(config.wechat.encoding_aes_key.is_none());
        let (warn, line) = config.wechat.mode();
        assert!(warn && line.contains("PLAIN"), "{line}");
        // Both at once contradict each other.
        let err = real(&[
            ("WECHAT_ALLOW_PLAIN_MODE", "1"),
            ("WECHAT_ENCODING_AES_KEY", FAKE_AES_KEY),
        ])
        .unwrap_err();
        assert_eq!(err.name, "WECHAT_ALLOW_PLAIN_MODE");
    }

    #[test]
    fn the_sandbox_runs_only_when_asked_and_says_so() {
        let sandbox = config(&[]).unwrap();
        let (warn, line) = sandbox.wechat.mode();
        assert!(warn && line.contains("SANDBOX"), "{line}");
        // An AppID alone is not a credential: the sandbox may use it.
        let with_appid = config(&[("WECHAT_APPID", FAKE_APPID)]).unwrap();
        assert!(with_appid.wechat.sandbox);
        assert_eq!(with_appid.wechat.appid, FAKE_APPID);
    }

    #[test]
    fn the_sandbox_is_refused_with_real_credentials() {
        for vars in [
            vec![("WECHAT_APPSECRET", FAKE_SECRET)],
            vec![
                ("WECHAT_APPID", FAKE_APPID),
                ("WECHAT_APPSECRET", FAKE_SECRET),
            ],
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.name, "WECHAT_SANDBOX");
            assert!(!err.to_string().contains(FAKE_SECRET));
        }
    }

    #[test]
    fn an_appid_needs_its_secret_and_token() {
        assert_eq!(
            raw_config(&[("WECHAT_APPID", FAKE_APPID)])
                .unwrap_err()
                .name,
            "WECHAT_APPSECRET"
        );
        assert_eq!(
            raw_config(&[("WECHAT_APPSECRET", FAKE_SECRET)])
                .unwrap_err()
                .name,
            "WECHAT_APPID"
        );
        let err = raw_config(&[
            ("WECHAT_APPID", FAKE_APPID),
            ("WECHAT_APPSECRET", FAKE_SECRET),
        ])
        .unwrap_err();
        assert_eq!(err.name, "WECHAT_TOKEN");
    }

    #[test]
    fn wrong_values_name_the_setting() {
        for (name, value) in [
            ("LOGIN_EXPIRY_SECONDS", "soon"),
            ("LOGIN_EXPIRY_SECONDS", "1"),
            ("SESSION_DAYS", "0"),
            ("LOGIN_CONFIRM_MODE", "maybe"),
            ("LOGIN_STREAMS_PER_ATTEMPT", "0"),
            ("LOGIN_STREAMS_PER_ADDRESS", "many"),
            ("LOGIN_START_SITE_PER_MINUTE", "-1"),
            ("HTTP_HEADER_TIMEOUT_SECONDS", "0"),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "forever"),
            ("WECHAT_ENCODING_AES_KEY", "short"),
            ("WECHAT_TOKEN", "has space"),
            ("WECHAT_SANDBOX", "perhaps"),
            ("DATABASE_URL", "mysql://localhost/site"),
            ("DATABASE_MAX_CONNECTIONS", "1"),
            ("WECHAT_API_BASE", "https://example.com"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{name}={value}: {err}");
        }
    }

    #[test]
    fn errors_never_repeat_a_secret() {
        let key = "x".repeat(42);
        let err = config(&[("WECHAT_ENCODING_AES_KEY", &key)]).unwrap_err();
        assert!(!err.to_string().contains(&key));
        let err = config(&[("WECHAT_TOKEN", "a secret token!")]).unwrap_err();
        assert!(!err.to_string().contains("a secret token!"));
        let err = config(&[("DATABASE_URL", "mysql://admin:hunter2-fake@db/site")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2-fake"), "{err}");
    }

    #[test]
    fn both_engines_are_accepted() {
        for url in [
            "sqlite://data/site.db",
            "postgres://wensi:fake-password@127.0.0.1:5432/wensi",
            "postgresql://127.0.0.1/wensi",
        ] {
            assert_eq!(config(&[("DATABASE_URL", url)]).unwrap().database_url, url);
        }
    }

    #[test]
    fn log_format_is_text_or_json() {
        let format = |value: Option<&str>| {
            LogFormat::from_lookup(|name| {
                assert_eq!(name, "LOG_FORMAT");
                value.map(str::to_owned)
            })
        };
        assert_eq!(format(None).unwrap(), LogFormat::Text);
        assert_eq!(format(Some("text")).unwrap(), LogFormat::Text);
        assert_eq!(format(Some(" JSON ")).unwrap(), LogFormat::Json);
        assert_eq!(format(Some("xml")).unwrap_err().name, "LOG_FORMAT");
    }

    #[test]
    fn settings_are_read() {
        let config = config(&[
            ("LOGIN_EXPIRY_SECONDS", "60"),
            ("LOGIN_CONFIRM_MODE", "on"),
            ("LOGIN_WECHAT_OAUTH", "1"),
            ("LOGIN_OAUTH_FOLLOWERS_ONLY", "0"),
            ("LOGIN_START_PER_MINUTE", "0"),
            ("LOGIN_START_SITE_PER_MINUTE", "5"),
            ("LOGIN_STREAMS_PER_ATTEMPT", "2"),
            ("LOGIN_STREAMS_PER_ADDRESS", "0"),
            ("LOGIN_STREAMS_MAX", "7"),
            ("HTTP_HEADER_TIMEOUT_SECONDS", "3"),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "4"),
            ("WECHAT_ENCODING_AES_KEY", &"k".repeat(43)),
            ("WECHAT_TOKEN", "faketoken123"),
        ])
        .unwrap();
        assert_eq!(config.login.expiry, Duration::from_secs(60));
        assert!(config.login.confirm_mode);
        assert!(config.login.wechat_oauth);
        assert!(!config.login.oauth_followers_only);
        assert_eq!(config.login.start_per_minute, 0);
        assert_eq!(config.login.start_site_per_minute, 5);
        assert_eq!(config.login.streams_per_attempt, 2);
        assert_eq!(config.login.streams_per_address, 0);
        assert_eq!(config.login.streams_max, 7);
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(3));
        assert_eq!(config.http.request_timeout, Duration::from_secs(4));
        assert!(config.wechat.encoding_aes_key.is_some());
        assert_eq!(config.wechat.token.expose_secret(), "faketoken123");
    }
}
