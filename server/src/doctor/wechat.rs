//! The WeChat side: the credentials (an access token through
//! `stable_token`, which leaves the token other holders use valid), the
//! permission to make parametric QR codes (one short-lived code), safe mode,
//! and the callback URL as WeChat will call it.

use std::{net::IpAddr, time::Duration};

use rand::{distr::Alphanumeric, Rng};
use secrecy::ExposeSecret;
use wechat::{api::ClientConfig, ApiError, Client};

use super::report::{ConsoleValues, Finding};
use crate::config::{Config, WechatConfig};

const CREDENTIALS: &str = "微信凭据";
const QR: &str = "带参数二维码";
const SAFE_MODE: &str = "消息加密";
const CALLBACK: &str = "回调地址";

/// WeChat answers in well under a second; a doctor can wait longer than the
/// login (5 s) before calling it unreachable.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the operator finds the settings in the WeChat console.
const CONSOLE: &str = "微信公众平台（mp.weixin.qq.com）→ 设置与开发 → 基本配置";

pub struct Wechat {
    pub findings: Vec<Finding>,
    pub console: Option<ConsoleValues>,
}

pub async fn check(config: &Config, http: &reqwest::Client) -> Wechat {
    let wechat = &config.wechat;
    if wechat.sandbox {
        let why = "沙箱模式下不连接真实微信";
        return Wechat {
            findings: vec![
                Finding::warn(
                    CREDENTIALS,
                    "沙箱模式（WECHAT_SANDBOX=1）：微信由本机模拟，谁都能以任何身份登录",
                    "只用于试用和测试。上线前去掉 WECHAT_SANDBOX，设置真实服务号的 WECHAT_APPID、WECHAT_APPSECRET、WECHAT_TOKEN、WECHAT_ENCODING_AES_KEY",
                ),
                Finding::skipped(QR, why),
                Finding::skipped(SAFE_MODE, why),
                Finding::skipped(CALLBACK, why),
            ],
            console: None,
        };
    }
    let mut findings = Vec::new();
    let (credentials, client_and_token) = credentials(wechat).await;
    findings.push(credentials);
    findings.push(match client_and_token {
        Some((client, token)) => qr_permission(&client, &token).await,
        None => Finding::skipped(QR, "先解决微信凭据的问题"),
    });
    findings.push(safe_mode(wechat));
    findings.push(callback(config, http).await);
    Wechat {
        findings,
        console: Some(ConsoleValues {
            url: config
                .ops
                .public_url
                .as_ref()
                .map(|url| format!("{url}/wechat/callback")),
            token: wechat.token.clone(),
            encoding_aes_key: wechat.encoding_aes_key.clone(),
        }),
    }
}

async fn credentials(wechat: &WechatConfig) -> (Finding, Option<(Client, String)>) {
    let base = wechat
        .api_base
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_WECHAT_API_BASE.to_owned());
    let client = match Client::new(ClientConfig {
        base_url: base.clone(),
        timeout: TIMEOUT,
        ..ClientConfig::new(wechat.appid.clone(), wechat.secret.clone())
    }) {
        Ok(client) => client,
        Err(err) => {
            return (
                Finding::fail(
                    CREDENTIALS,
                    format!("无法建立 HTTP 客户端：{err}"),
                    "这是程序或系统的问题（TLS 证书库？），请把这行发给开发者",
                ),
                None,
            )
        }
    };
    match client.fetch_stable_token(false).await {
        Ok(token) => (
            Finding::ok(
                CREDENTIALS,
                format!(
                    "AppID {} 和 AppSecret 正确，本服务器的 IP 在白名单里（拿到了 access_token）",
                    wechat.appid
                ),
            ),
            Some((client, token.token.expose_secret().to_owned())),
        ),
        Err(err) => (credentials_failure(&err, wechat, &base), None),
    }
}

fn credentials_failure(err: &ApiError, wechat: &WechatConfig, base: &str) -> Finding {
    let fail = |summary: String, advice: String| Finding::fail(CREDENTIALS, summary, advice);
    match err {
        ApiError::WeChat { code: 40164, message } => {
            let (who, whitelist) = match outgoing_ip(message) {
                Some(ip) => (format!("本服务器的出口 IP {ip} "), ip.to_string()),
                None => (
                    "本服务器的出口 IP（微信没有说是哪个）".to_owned(),
                    "本服务器的出口 IP（可在服务器上运行 curl -4 ifconfig.me 查看，或问云服务商）"
                        .to_owned(),
                ),
            };
            fail(
                format!("{who}不在公众号的 IP 白名单里（微信错误 40164）"),
                format!("到 {CONSOLE} → IP 白名单，添加 {whitelist}；保存几分钟后生效，再运行 server doctor"),
            )
        }
        ApiError::WeChat { code: 40013, .. } => fail(
            format!("AppID 不对：微信不认识 WECHAT_APPID={}（微信错误 40013）", wechat.appid),
            format!("到 {CONSOLE}，把“开发者ID(AppID)”原样填进 WECHAT_APPID（注意是服务号的，不是小程序或别的公众号的）"),
        ),
        ApiError::WeChat { code: 40125, .. } => fail(
            "AppSecret 不对：WECHAT_APPSECRET 和这个 AppID 对不上（微信错误 40125）".to_owned(),
            format!("到 {CONSOLE} 核对“开发者密码(AppSecret)”，填进 WECHAT_APPSECRET；找不到原来的值可以重置（重置后旧的立即失效），改完重启网站"),
        ),
        ApiError::WeChat { code: 45009, .. } => fail(
            "今天获取 access_token 的次数已用完（微信错误 45009）".to_owned(),
            "明天零点后恢复（急用时可以在公众平台清零接口调用次数，每月只能清零几次）。网站用 stable_token 并把它存在数据库里共用，正常情况下不会用完，请检查是否还有别的程序在用同一个 AppID 取 token".to_owned(),
        ),
        ApiError::WeChat { code: -1, .. } => fail(
            "微信系统繁忙（微信错误 -1）".to_owned(),
            "过几分钟再运行 server doctor".to_owned(),
        ),
        ApiError::WeChat { code, message } => fail(
            format!(
                "微信拒绝了获取 access_token 的请求（错误 {code}：{}）",
                wechat::api::describe_errcode(*code).map_or(message.as_str(), |(zh, _)| zh)
            ),
            "按微信的说明处理后，再运行 server doctor".to_owned(),
        ),
        ApiError::Timeout | ApiError::Http(_) => fail(
            format!("连不上微信服务器 {base}（{err}）"),
            "检查这台服务器能否访问外网：DNS、出站防火墙（要能连 443 端口）、代理设置".to_owned(),
        ),
        ApiError::Status(_) | ApiError::Decode(_) | ApiError::InvalidScene => fail(
            format!("{base} 的回答不像微信（{err}）"),
            "检查 WECHAT_API_BASE：不设置时就是微信官方地址 https://api.weixin.qq.com".to_owned(),
        ),
    }
}

/// The calling address WeChat names in a 40164 answer: "invalid ip
/// 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: …".
pub fn outgoing_ip(errmsg: &str) -> Option<IpAddr> {
    let rest = &errmsg[errmsg.find("invalid ip ")? + "invalid ip ".len()..];
    let word = rest.split(|c: char| c.is_whitespace() || c == ',').next()?;
    word.parse().ok()
}

async fn qr_permission(client: &Client, token: &str) -> Finding {
    // Not a login attempt's id: a scan of it is not a login.
    let scene: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    match client.create_qr(token, &format!("doctor-{scene}"), 60).await {
        Ok(_) => Finding::ok(
            QR,
            "可以生成带参数的二维码（已认证服务号的权限）；检查时生成了一个 60 秒后失效的二维码",
        ),
        Err(ApiError::WeChat { code: 48001, .. }) => Finding::fail(
            QR,
            "这个公众号没有生成带参数二维码的权限（微信错误 48001）",
            "扫码登录需要“已认证的服务号”：订阅号、未认证的服务号都不行。在公众平台完成微信认证（设置与开发 → 微信认证），或换用已认证的服务号",
        ),
        Err(ApiError::WeChat { code: 45009, .. }) => Finding::fail(
            QR,
            "今天生成二维码的次数已用完（微信错误 45009）",
            "明天零点后恢复。网站按 LOGIN_START_SITE_PER_MINUTE 限制全站生成速度，可以调低它",
        ),
        Err(err) => Finding::fail(
            QR,
            format!("生成二维码失败：{}（{err}）", err.user_message_zh()),
            "按说明处理后再运行 server doctor",
        ),
    }
}

fn safe_mode(wechat: &WechatConfig) -> Finding {
    if wechat.encoding_aes_key.is_some() {
        Finding::ok(
            SAFE_MODE,
            "安全模式：只接受加密的推送（公众平台里选“安全模式”或“兼容模式”都可以）",
        )
    } else {
        Finding::warn(
            SAFE_MODE,
            "明文模式（WECHAT_ALLOW_PLAIN_MODE=1）：推送不加密，签名也不覆盖推送内容",
            format!("到 {CONSOLE} → 服务器配置，消息加解密方式选“安全模式”，把 EncodingAESKey 设为 WECHAT_ENCODING_AES_KEY，去掉 WECHAT_ALLOW_PLAIN_MODE，重启网站"),
        )
    }
}

/// Calls `{PUBLIC_URL}/wechat/callback` as WeChat does when the operator
/// presses 提交 in the console: a signed echo the site answers only when it
/// holds the same Token.
async fn callback(config: &Config, http: &reqwest::Client) -> Finding {
    let Some(public_url) = &config.ops.public_url else {
        return Finding::warn(
            CALLBACK,
            "没有设置 PUBLIC_URL，不知道微信从哪里访问本网站",
            "设为网站的公网地址，如 PUBLIC_URL=https://example.com；doctor 会写出要填进公众平台的 URL，并像微信一样访问它检查一遍",
        );
    };
    let url = format!("{public_url}/wechat/callback");
    let timestamp = crate::clock::now_ms() / 1000;
    let nonce: String = random_text(16);
    let echostr: String = format!("doctor{}", random_text(16));
    let timestamp = timestamp.to_string();
    let signature =
        wechat::signature::sign(&[config.wechat.token.expose_secret(), &timestamp, &nonce]);
    let answer = http
        .get(&url)
        .query(&[
            ("signature", signature.as_str()),
            ("timestamp", timestamp.as_str()),
            ("nonce", nonce.as_str()),
            ("echostr", echostr.as_str()),
        ])
        .timeout(TIMEOUT)
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(err) => {
            return Finding::fail(
                CALLBACK,
                format!("访问不到 {url}（{}）", describe(&err)),
                "依次检查：网站在运行吗（systemctl status wensi）？域名解析到这台服务器了吗？反向代理（nginx/Caddy）或 Cloudflare Tunnel 在运行、并把请求转给网站了吗？HTTPS 证书有效吗？",
            )
        }
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() && body == echostr {
        return match reachable_by_wechat(public_url) {
            None => Finding::ok(
                CALLBACK,
                format!("{url} 能访问，Token 一致：在公众平台点“提交”会通过"),
            ),
            Some(problem) => Finding::warn(
                CALLBACK,
                format!("{url} 能访问、Token 一致，但{problem}"),
                "上线时把 PUBLIC_URL 设为微信能访问的 https 域名（443 端口），前面放反向代理或 Cloudflare Tunnel",
            ),
        };
    }
    let (summary, advice) = match (status.as_u16(), body.trim()) {
        (403, "refused: bad_signature") => (
            format!("{url} 上的网站不认这个 Token（签名不对）"),
            "正在运行的网站用的 WECHAT_TOKEN 和这里的不一样：改了 .env 之后要重启网站（systemctl restart wensi）；或者 PUBLIC_URL 指向了另一个网站",
        ),
        (403, "refused: stale") => (
            format!("{url} 上的网站认为请求的时间不对（时钟相差超过 5 分钟）"),
            "校准服务器时间（timedatectl set-ntp true），微信推送也会因此被拒",
        ),
        (404, _) => (
            format!("{url} 答 404：那里不是本网站，或者代理没有把 /wechat/callback 转给网站"),
            "检查 PUBLIC_URL 和反向代理的配置：整个网站（所有路径）都要转给本程序",
        ),
        (502..=504, _) => (
            format!("{url} 答 {status}：代理连不上网站"),
            "网站没有运行，或者代理转发的地址和 LEPTOS_SITE_ADDR 不一致",
        ),
        _ => (
            format!("{url} 答 {status}，不是微信期望的回答"),
            "检查 PUBLIC_URL 是否指向本网站，以及代理有没有改写请求",
        ),
    };
    Finding::fail(CALLBACK, summary, advice)
}

/// Why WeChat's servers could not call this URL, if they could not: WeChat
/// calls public addresses on port 80 (http) or 443 (https) only.
fn reachable_by_wechat(public_url: &str) -> Option<&'static str> {
    let url = url::Url::parse(public_url).ok()?;
    let local = match url.host()? {
        url::Host::Domain(name) => name == "localhost" || name.ends_with(".localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        url::Host::Ipv6(ip) => ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00,
    };
    if local {
        return Some("这是本机或内网地址，微信的服务器访问不到");
    }
    if url.port().is_some() {
        return Some("微信只访问 80 端口（http）或 443 端口（https），不接受别的端口");
    }
    if url.scheme() == "http" {
        return Some("用的是 http：登录 Cookie 在 http 下不带 Secure，应当用 https");
    }
    None
}

/// The transport error and its causes, without the URL (which carries the
/// signature, harmless, but noisy).
fn describe(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if err.is_timeout() {
        "超时".to_owned()
    } else if err.is_connect() {
        "连接失败".to_owned()
    } else {
        "请求失败".to_owned()
    };
    let mut source = err.source();
    while let Some(cause) = source {
        text.push('：');
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calling_address_is_read_from_wechats_words() {
        for (errmsg, ip) in [
            (
                "invalid ip 101.45.43.1 ipv6 ::ffff:101.45.43.1, not in whitelist hint: [jotvMa01143580]",
                Some("101.45.43.1"),
            ),
            (
                "invalid ip 120.244.112.8 ipv6 ::ffff:120.244.112.8, not in whitelist rid: 5fa26c60-1a0ebdd5-32fd1cd0",
                Some("120.244.112.8"),
            ),
            ("invalid ip 2001:db8::7, not in whitelist", Some("2001:db8::7")),
            ("invalid ip, not in whitelist", None),
            ("invalid ip nonsense not in whitelist", None),
            ("", None),
        ] {
            assert_eq!(
                outgoing_ip(errmsg),
                ip.map(|ip| ip.parse::<IpAddr>().unwrap()),
                "{errmsg}"
            );
        }
    }

    #[test]
    fn wechat_reaches_public_https_on_the_standard_port() {
        assert_eq!(reachable_by_wechat("https://example.com"), None);
        assert_eq!(reachable_by_wechat("https://203.0.113.9"), None);
        for url in [
            "http://127.0.0.1:3000",
            "https://localhost",
            "https://192.168.1.10",
            "https://[::1]",
        ] {
            assert!(
                reachable_by_wechat(url).unwrap().contains("本机或内网"),
                "{url}"
            );
        }
        assert!(reachable_by_wechat("https://example.com:8443")
            .unwrap()
            .contains("443"));
        assert!(reachable_by_wechat("http://example.com")
            .unwrap()
            .contains("https"));
    }
}
