//! Where the visitor is logging in from, read from the browser's user agent,
//! because each needs the QR code shown differently:
//!
//! - **WeChat's own browser on a phone** (`MicroMessenger`): the visitor
//!   cannot scan his own screen, but WeChat's long-press 识别图中二维码
//!   reads a picture (`<img>`, not inline SVG). Recognising a 服务号's
//!   parametric code opens the account and sends the same subscribe/SCAN
//!   event as a scan, so the rest of the login is unchanged.
//! - **Another phone browser**: the QR must travel to WeChat: save it, then
//!   扫一扫 → 相册 in WeChat (or scan it from another device).
//! - **A computer** (WeChat's desktop browser too: its owner has a phone):
//!   scan the screen, as before.
//!
//! The user agent is a hint the visitor controls; a wrong guess only
//! changes how the same code is shown, never what it does.

/// The kind of visitor, for the login dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// A computer: scan the screen with the phone.
    Desktop,
    /// A phone or tablet browser other than WeChat's.
    Phone,
    /// WeChat's browser on a phone: long-press the picture.
    WeChat,
}

impl Device {
    /// The kind of visitor a `User-Agent` string names.
    pub fn of(user_agent: &str) -> Self {
        let phone = ["Mobi", "Android", "iPhone", "iPad", "iPod", "HarmonyOS"]
            .iter()
            .any(|word| user_agent.contains(word));
        if !phone {
            // WeChat for Windows and macOS says MicroMessenger too, with
            // WindowsWechat / MacWechat: a computer.
            return Self::Desktop;
        }
        if user_agent.contains("MicroMessenger") {
            Self::WeChat
        } else {
            Self::Phone
        }
    }

    /// This browser's kind (the dialog runs in the browser only; elsewhere:
    /// a computer).
    pub fn current() -> Self {
        #[cfg(feature = "hydrate")]
        {
            let agent = web_sys::window().and_then(|window| window.navigator().user_agent().ok());
            Self::of(agent.as_deref().unwrap_or_default())
        }
        #[cfg(not(feature = "hydrate"))]
        Self::Desktop
    }

    /// For the style sheet and the tests: `desktop`, `phone`, `wechat`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Phone => "phone",
            Self::WeChat => "wechat",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Device;

    #[test]
    fn user_agents_name_their_kind() {
        for (agent, kind) in [
            // WeChat on iPhone and on Android.
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN", Device::WeChat),
            ("Mozilla/5.0 (Linux; Android 14; V2307A Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64", Device::WeChat),
            // Safari on iPhone, Chrome on Android, an Android tablet.
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", Device::Phone),
            ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", Device::Phone),
            ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", Device::Phone),
            // Computers, WeChat's desktop browser among them.
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", Device::Desktop),
            ("Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13) XWEB/9129 Flue", Device::Desktop),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", Device::Desktop),
            ("", Device::Desktop),
        ] {
            assert_eq!(Device::of(agent), kind, "{agent}");
        }
    }
}
