//! What the service account says back in WeChat. Plain Chinese; each tells
//! the person what to do next.

use app::auth::User;

pub fn logged_in(site: &str, user: &User) -> String {
    format!(
        "登录成功！欢迎来到{site}，{}。\n请回到网页继续。",
        user.display_name
    )
}

pub fn already_logged_in() -> String {
    "你已经登录成功了，请回到网页继续。".into()
}

pub fn expired() -> String {
    "这个二维码已经过期了。请回到网页，点击“刷新二维码”后重新扫码。".into()
}

pub fn unknown_code() -> String {
    "没有找到这个二维码对应的登录。请回到网页刷新二维码后重新扫码。".into()
}

pub fn taken_by_someone_else() -> String {
    "这个二维码已经被其他微信扫过了。请回到网页刷新二维码后重新扫码。".into()
}

pub fn welcome(site: &str) -> String {
    format!("感谢关注{site}！\n在网页上点击“微信登录”并用微信扫码，就能直接登录。")
}

pub fn nothing_to_confirm() -> String {
    "现在没有需要确认的登录。请在网页上点击“微信登录”重新扫码。".into()
}

/// The word that confirms a login in confirm mode.
pub const CONFIRM_WORD: &str = "确认";

/// Confirm mode: who is asking, so a hijacked QR code is noticed.
pub fn confirm_prompt(
    site: &str,
    when: &str,
    address: &str,
    user_agent: &str,
    minutes_left: i64,
) -> String {
    format!(
        "有人正在用你的微信登录{site}网页：\n时间：{when}（北京时间）\nIP：{address}\n浏览器：{}\n\n如果是你本人，请在 {minutes_left} 分钟内回复“{CONFIRM_WORD}”。\n如果不是你，请不要回复，这次登录不会成功。",
        describe_browser(user_agent)
    )
}

/// "Chrome · Windows" from a user agent string, or the raw text cut short.
pub fn describe_browser(user_agent: &str) -> String {
    let browser = [
        ("MicroMessenger", "微信内置浏览器"),
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Mac OS X", "macOS"),
        ("Android", "Android"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) if user_agent.is_empty() => "未知".to_owned(),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named_plainly() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(describe_browser(chrome), "Chrome · Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_browser(safari), "Safari · iPhone");
        assert_eq!(describe_browser(""), "未知");
        assert_eq!(describe_browser("curl/8.0"), "curl/8.0");
    }

    #[test]
    fn the_prompt_says_who_and_what_to_reply() {
        let text = confirm_prompt(
            "文思",
            "2026-11-21 22:00:00",
            "203.0.113.7",
            "Firefox/120 (Linux)",
            4,
        );
        assert!(text.contains("203.0.113.7"));
        assert!(text.contains("Firefox · Linux"));
        assert!(text.contains("4 分钟内回复“确认”"));
    }
}
