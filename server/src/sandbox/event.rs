//! What the phone sends, as the XML WeChat would push for it.

use serde::Deserialize;
use wechat::message::{event_xml, text_xml};

use super::ACCOUNT_ID;

/// WeChat's prefix on the EventKey of a scan that made a new follower.
const QR_SCENE_PREFIX: &str = "qrscene_";

/// One thing that happened on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// A new follower, through a QR code.
    Subscribe {
        scene: String,
        ticket: String,
    },
    /// A follower scanned a QR code.
    Scan {
        scene: String,
        ticket: String,
    },
    Unsubscribe,
    Text {
        content: String,
        msg_id: String,
    },
}

/// Which event a scan makes, when a test wants to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// Whatever the follow state calls for.
    Auto,
    Subscribe,
    #[serde(alias = "SCAN")]
    Scan,
}

impl Push {
    /// The scan of a code with `scene`: `subscribe` for someone not following
    /// yet, `SCAN` otherwise, unless `mode` says which.
    pub fn scan(mode: Option<ScanMode>, following: bool, scene: &str, ticket: &str) -> Self {
        let (scene, ticket) = (scene.to_owned(), ticket.to_owned());
        match mode {
            Some(ScanMode::Subscribe) => Self::Subscribe { scene, ticket },
            Some(ScanMode::Scan) => Self::Scan { scene, ticket },
            None | Some(ScanMode::Auto) if following => Self::Scan { scene, ticket },
            None | Some(ScanMode::Auto) => Self::Subscribe { scene, ticket },
        }
    }

    /// The `Event` field, for events.
    pub fn event(&self) -> Option<&'static str> {
        match self {
            Self::Subscribe { .. } => Some("subscribe"),
            Self::Scan { .. } => Some("SCAN"),
            Self::Unsubscribe => Some("unsubscribe"),
            Self::Text { .. } => None,
        }
    }

    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            _ => "event",
        }
    }

    /// The plain XML WeChat pushes from `openid` at `create_time` (seconds).
    pub fn to_xml(&self, openid: &str, create_time: i64) -> String {
        let event = |name, key: Option<&str>, ticket: Option<&str>| {
            event_xml(ACCOUNT_ID, openid, create_time, name, key, ticket)
        };
        match self {
            Self::Subscribe { scene, ticket } => event(
                "subscribe",
                Some(&format!("{QR_SCENE_PREFIX}{scene}")),
                Some(ticket),
            ),
            Self::Scan { scene, ticket } => event("SCAN", Some(scene), Some(ticket)),
            // WeChat sends an empty EventKey with an unfollow.
            Self::Unsubscribe => event("unsubscribe", Some(""), None),
            Self::Text { content, msg_id } => {
                text_xml(ACCOUNT_ID, openid, create_time, content, Some(msg_id))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wechat::{message::parse_fields, message::parse_message, MessageKind};

    use super::*;

    const OPENID: &str = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M";

    fn field(xml: &str, name: &str) -> Option<String> {
        parse_fields(xml.as_bytes())
            .ok()?
            .get(name)
            .map(str::to_owned)
    }

    #[test]
    fn a_new_follower_subscribes_with_the_prefixed_scene() {
        let push = Push::scan(None, false, "login_a_b", "gQt");
        let xml = push.to_xml(OPENID, 1_700_000_000);
        assert_eq!(push.event(), Some("subscribe"));
        assert_eq!(field(&xml, "Event").as_deref(), Some("subscribe"));
        assert_eq!(
            field(&xml, "EventKey").as_deref(),
            Some("qrscene_login_a_b")
        );
        assert_eq!(field(&xml, "Ticket").as_deref(), Some("gQt"));
        assert_eq!(field(&xml, "ToUserName").as_deref(), Some(ACCOUNT_ID));
        assert_eq!(field(&xml, "FromUserName").as_deref(), Some(OPENID));
        assert_eq!(field(&xml, "CreateTime").as_deref(), Some("1700000000"));
        assert_eq!(field(&xml, "MsgType").as_deref(), Some("event"));
        let message = parse_message(xml.as_bytes()).unwrap();
        assert_eq!(
            message.kind,
            MessageKind::Subscribe {
                scene: Some("login_a_b".into()),
                ticket: Some("gQt".into())
            }
        );
    }

    #[test]
    fn a_follower_scans_with_the_raw_scene() {
        let push = Push::scan(None, true, "qrscene_x", "gQt");
        let xml = push.to_xml(OPENID, 1);
        assert_eq!(field(&xml, "Event").as_deref(), Some("SCAN"));
        assert_eq!(field(&xml, "EventKey").as_deref(), Some("qrscene_x"));
        let message = parse_message(xml.as_bytes()).unwrap();
        assert_eq!(
            message.kind,
            MessageKind::Scan {
                scene: "qrscene_x".into(),
                ticket: Some("gQt".into())
            }
        );
    }

    #[test]
    fn the_mode_overrides_the_follow_state() {
        assert_eq!(
            Push::scan(Some(ScanMode::Subscribe), true, "s", "t").event(),
            Some("subscribe")
        );
        assert_eq!(
            Push::scan(Some(ScanMode::Scan), false, "s", "t").event(),
            Some("SCAN")
        );
    }

    #[test]
    fn texts_and_unfollows_look_like_wechat() {
        let text = Push::Text {
            content: "确认".into(),
            msg_id: "6054768590064713728".into(),
        };
        let xml = text.to_xml(OPENID, 5);
        assert_eq!(text.msg_type(), "text");
        assert_eq!(field(&xml, "Content").as_deref(), Some("确认"));
        assert_eq!(field(&xml, "MsgId").as_deref(), Some("6054768590064713728"));

        let xml = Push::Unsubscribe.to_xml(OPENID, 5);
        assert_eq!(field(&xml, "Event").as_deref(), Some("unsubscribe"));
        assert_eq!(field(&xml, "EventKey").as_deref(), Some(""));
        assert_eq!(
            parse_message(xml.as_bytes()).unwrap().kind,
            MessageKind::Unsubscribe
        );
    }
}
