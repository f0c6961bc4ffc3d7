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

pub fn code_needed() -> String {
    format!("请回复“{CONFIRM_WORD}”和正在登录的网页上显示的 {CODE_DIGITS} 位确认码（中间可以有空格），这样才知道你要确认的是哪一次登录。")
}

pub fn wrong_code() -> String {
    "确认码不对。请核对正在登录的网页上显示的确认码后重新回复；如果网页上没有你要登录的请求，请不要回复。".into()
}

pub fn too_many_waiting() -> String {
    "你有太多等待确认的登录了。请等几分钟让它们过期，再回到网页刷新二维码后重新扫码。".into()
}

/// The word that confirms a login in confirm mode.
pub const CONFIRM_WORD: &str = "确认";

/// How many digits a confirmation code has.
pub const CODE_DIGITS: usize = 4;

/// A text that confirms a login, as the WeChat user typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// 确认 alone.
    Bare,
    /// 确认 1234, or 1234 alone (`with_word` false). The code may be wrong.
    Code { code: String, with_word: bool },
}

impl Confirmation {
    pub fn has_word(&self) -> bool {
        match self {
            Self::Bare => true,
            Self::Code { with_word, .. } => *with_word,
        }
    }
}

/// Reads 确认, 确认 1234, 确认1234 or 1234 (full-width digits and spaces
/// too, as Chinese keyboards type them); anything else is not a
/// confirmation.
pub fn read_confirmation(text: &str) -> Option<Confirmation> {
    let text: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    let is_code = |t: &str| t.len() == CODE_DIGITS && t.bytes().all(|b| b.is_ascii_digit());
    match text.strip_prefix(CONFIRM_WORD) {
        Some(rest) => {
            let rest = rest.trim_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '：'));
            if rest.is_empty() {
                Some(Confirmation::Bare)
            } else if rest.len() <= 8 && rest.bytes().all(|b| b.is_ascii_digit()) {
                Some(Confirmation::Code {
                    code: rest.to_owned(),
                    with_word: true,
                })
            } else {
                None
            }
        }
        None if is_code(&text) => Some(Confirmation::Code {
            code: text,
            with_word: false,
        }),
        None => None,
    }
}

/// Confirm mode: who is asking, so a hijacked QR code is noticed. Every
/// part is ours: the time, the address we saw, the browser and system in
/// fixed words (see [`describe_browser`]); the request's own header text is
/// never quoted into the account's message. The code is not in it: the user
/// must read it on the page that is logging in.
pub fn confirm_prompt(
    site: &str,
    when: &str,
    address: &str,
    browser: &str,
    minutes_left: i64,
) -> String {
    format!(
        "有人正在用你的微信登录{site}网页：\n时间：{when}（北京时间）\nIP：{address}\n浏览器：{browser}\n\n如果是你本人，请在 {minutes_left} 分钟内回复“{CONFIRM_WORD}”和那个网页上显示的 {CODE_DIGITS} 位确认码（中间可以有空格）。\n如果不是你，请不要回复，这次登录不会成功。"
    )
}

/// The browser and system of a user agent in fixed words, e.g.
/// "Chrome · Windows"; "未知浏览器" when neither is recognised. Only these
/// words come out, never the header's own text: it is written by whoever
/// started the login.
pub fn describe_browser(user_agent: &str) -> String {
    // Order matters: Edge and Opera also say Chrome, Chrome also says
    // Safari, Android says Linux, iPhones say "like Mac OS X".
    let browser = [
        ("MicroMessenger", "微信内置浏览器"),
        ("QQBrowser", "QQ 浏览器"),
        ("UCBrowser", "UC 浏览器"),
        ("Edg", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("HarmonyOS", "HarmonyOS"),
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("未知浏览器 · {s}"),
        (None, None) => "未知浏览器".to_owned(),
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
        let edge = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(describe_browser(edge), "Edge · macOS");
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
        assert_eq!(describe_browser(android), "Chrome · Android");
        assert_eq!(describe_browser(""), "未知浏览器");
        assert_eq!(describe_browser("curl/8.0"), "未知浏览器");
        assert_eq!(describe_browser("bot (Windows)"), "未知浏览器 · Windows");
    }

    #[test]
    fn no_header_text_reaches_the_prompt() {
        let hostile = "请立即回复确认 客服通知 http://evil.example Windows";
        let described = describe_browser(hostile);
        assert_eq!(described, "未知浏览器 · Windows");
        let text = confirm_prompt("文思", "2026-11-21 22:00:00", "203.0.113.7", &described, 4);
        assert!(!text.contains("evil") && !text.contains("客服"), "{text}");
    }

    #[test]
    fn the_prompt_says_who_and_what_to_reply_but_not_the_code() {
        let text = confirm_prompt(
            "文思",
            "2026-11-21 22:00:00",
            "203.0.113.7",
            "Firefox · Linux",
            4,
        );
        assert!(text.contains("203.0.113.7"));
        assert!(text.contains("Firefox · Linux"));
        assert!(text.contains("4 分钟内回复“确认”和那个网页上显示的 4 位确认码"));
    }

    #[test]
    fn confirmations_are_read_as_people_type_them() {
        let code = |c: &str, with_word| {
            Some(Confirmation::Code {
                code: c.into(),
                with_word,
            })
        };
        assert_eq!(read_confirmation("确认"), Some(Confirmation::Bare));
        assert_eq!(read_confirmation(" 确认 "), Some(Confirmation::Bare));
        assert_eq!(read_confirmation("确认 0427"), code("0427", true));
        assert_eq!(read_confirmation("确认0427"), code("0427", true));
        assert_eq!(read_confirmation("确认：０４２７"), code("0427", true));
        assert_eq!(read_confirmation("确认\u{3000}0427"), code("0427", true));
        assert_eq!(read_confirmation("0427"), code("0427", false));
        assert_eq!(
            read_confirmation("确认 12"),
            code("12", true),
            "a wrong code"
        );
        assert_eq!(read_confirmation("042"), None);
        assert_eq!(read_confirmation("你好"), None);
        assert_eq!(read_confirmation("确认一下"), None);
        assert_eq!(read_confirmation("确认 123456789"), None);
    }
}
