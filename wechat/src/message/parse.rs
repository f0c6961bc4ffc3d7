//! Typed view of a pushed message: the events the login flow needs, text
//! messages (for confirmations), and everything else kept as `Other`.

use super::fields::{parse_fields, XmlFields};
use super::ParseError;

/// WeChat prefixes the scene of a QR code scanned by a new follower.
const QR_SCENE_PREFIX: &str = "qrscene_";

/// One message or event pushed to the callback URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The official account's id (`gh_…`).
    pub to_user: String,
    /// The user's openid.
    pub from_user: String,
    pub create_time: i64,
    pub kind: MessageKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A new follower. `scene` is set when they followed through a
    /// parametric QR code.
    Subscribe {
        scene: Option<String>,
        ticket: Option<String>,
    },
    /// An existing follower scanned a parametric QR code.
    Scan {
        scene: String,
        ticket: Option<String>,
    },
    Unsubscribe,
    Text {
        content: String,
        msg_id: Option<String>,
    },
    /// Anything else, kept so the caller can log it and answer `success`.
    Other {
        msg_type: String,
        event: Option<String>,
    },
}

impl Message {
    /// Identifies a push across WeChat's retries (same FromUserName,
    /// CreateTime, Event and EventKey; MsgId for text). JSON-encoded so no
    /// choice of field contents can make two different pushes collide.
    pub fn dedup_key(&self) -> String {
        let from = self.from_user.as_str();
        let time = self.create_time;
        let key = match &self.kind {
            MessageKind::Text {
                msg_id: Some(id), ..
            } => serde_json::json!(["msg", from, id]),
            MessageKind::Text {
                content,
                msg_id: None,
            } => serde_json::json!(["text", from, time, content]),
            MessageKind::Subscribe { scene, .. } => {
                serde_json::json!([
                    "event",
                    from,
                    time,
                    "subscribe",
                    scene.as_deref().unwrap_or("")
                ])
            }
            MessageKind::Scan { scene, .. } => {
                serde_json::json!(["event", from, time, "scan", scene])
            }
            MessageKind::Unsubscribe => {
                serde_json::json!(["event", from, time, "unsubscribe", ""])
            }
            MessageKind::Other { msg_type, event } => serde_json::json!([
                "other",
                from,
                time,
                msg_type.to_ascii_lowercase(),
                event.as_deref().unwrap_or("").to_ascii_lowercase()
            ]),
        };
        key.to_string()
    }
}

/// Parses a decrypted (or plain-mode) push.
pub fn parse_message(xml: &[u8]) -> Result<Message, ParseError> {
    let fields = parse_fields(xml)?;
    let to_user = required(&fields, "ToUserName")?.to_owned();
    let from_user = required(&fields, "FromUserName")?.to_owned();
    let create_time = required(&fields, "CreateTime")?
        .trim()
        .parse::<i64>()
        .map_err(|_| ParseError::BadCreateTime)?;
    let msg_type = required(&fields, "MsgType")?;
    let kind = classify(&fields, msg_type)?;
    Ok(Message {
        to_user,
        from_user,
        create_time,
        kind,
    })
}

fn required<'a>(fields: &'a XmlFields, name: &'static str) -> Result<&'a str, ParseError> {
    fields.get(name).ok_or(ParseError::MissingField(name))
}

/// An optional field where empty means absent.
fn non_empty(fields: &XmlFields, name: &str) -> Option<String> {
    fields
        .get(name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn classify(fields: &XmlFields, msg_type: &str) -> Result<MessageKind, ParseError> {
    let msg_type = msg_type.trim();
    if msg_type.eq_ignore_ascii_case("text") {
        return Ok(MessageKind::Text {
            content: required(fields, "Content")?.to_owned(),
            msg_id: non_empty(fields, "MsgId").map(|id| id.trim().to_owned()),
        });
    }
    let event = fields.get("Event").map(str::trim);
    let other = || MessageKind::Other {
        msg_type: msg_type.to_owned(),
        event: event.filter(|e| !e.is_empty()).map(str::to_owned),
    };
    if !msg_type.eq_ignore_ascii_case("event") {
        return Ok(other());
    }
    let Some(event) = event else {
        return Ok(other());
    };
    let ticket = non_empty(fields, "Ticket");
    let event_key = fields.get("EventKey").unwrap_or("");
    let kind = if event.eq_ignore_ascii_case("subscribe") {
        // Strip the prefix exactly once: the scene itself may contain `_` or
        // even start with "qrscene_".
        let scene = event_key
            .strip_prefix(QR_SCENE_PREFIX)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        MessageKind::Subscribe { scene, ticket }
    } else if event.eq_ignore_ascii_case("scan") {
        if event_key.is_empty() {
            // A SCAN without a scene tells us nothing to act on.
            return Ok(other());
        }
        MessageKind::Scan {
            scene: event_key.to_owned(),
            ticket,
        }
    } else if event.eq_ignore_ascii_case("unsubscribe") {
        MessageKind::Unsubscribe
    } else {
        other()
    };
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{event_xml, text_reply, text_xml};
    use proptest::prelude::*;

    const TO: &str = "gh_0000000000000";
    const FROM: &str = "o0000000000000000000000000000";

    fn event(event: &str, key: Option<&str>) -> Message {
        parse_message(event_xml(TO, FROM, 1700000000, event, key, Some("fake-ticket")).as_bytes())
            .unwrap()
    }

    #[test]
    fn subscribe_strips_the_prefix_exactly_once() {
        let cases = [
            (Some("qrscene_abc"), Some("abc")),
            (Some("qrscene_a_b_c"), Some("a_b_c")),
            (Some("qrscene_qrscene_x"), Some("qrscene_x")),
            (Some("qrscene_"), None),
            (Some(""), None),
            (None, None),
            (Some("no-prefix"), None),
        ];
        for (key, scene) in cases {
            assert_eq!(
                event("subscribe", key).kind,
                MessageKind::Subscribe {
                    scene: scene.map(str::to_owned),
                    ticket: Some("fake-ticket".into())
                },
                "{key:?}"
            );
        }
    }

    #[test]
    fn event_names_ignore_case() {
        for name in ["subscribe", "SUBSCRIBE", "Subscribe"] {
            assert!(matches!(
                event(name, None).kind,
                MessageKind::Subscribe { .. }
            ));
        }
        for name in ["SCAN", "scan", "Scan"] {
            assert_eq!(
                event(name, Some("s_1")).kind,
                MessageKind::Scan {
                    scene: "s_1".into(),
                    ticket: Some("fake-ticket".into())
                }
            );
        }
        assert_eq!(event("UNSUBSCRIBE", None).kind, MessageKind::Unsubscribe);
        let shouting = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
                        <CreateTime>1</CreateTime><MsgType>EVENT</MsgType><Event>Scan</Event>\
                        <EventKey>k</EventKey></xml>";
        assert_eq!(
            parse_message(shouting.as_bytes()).unwrap().kind,
            MessageKind::Scan {
                scene: "k".into(),
                ticket: None
            }
        );
    }

    #[test]
    fn unknown_events_and_types_are_other() {
        assert_eq!(
            event("CLICK", Some("menu")).kind,
            MessageKind::Other {
                msg_type: "event".into(),
                event: Some("CLICK".into())
            }
        );
        assert_eq!(
            event("SCAN", Some("")).kind,
            MessageKind::Other {
                msg_type: "event".into(),
                event: Some("SCAN".into())
            }
        );
        let image = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
                     <CreateTime>1</CreateTime><MsgType>image</MsgType><PicUrl>u</PicUrl></xml>";
        assert_eq!(
            parse_message(image.as_bytes()).unwrap().kind,
            MessageKind::Other {
                msg_type: "image".into(),
                event: None
            }
        );
    }

    #[test]
    fn missing_fields_and_bad_time_are_errors() {
        let no_from = "<xml><ToUserName>a</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>";
        assert_eq!(
            parse_message(no_from.as_bytes()),
            Err(ParseError::MissingField("FromUserName"))
        );
        let bad_time = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
                        <CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>";
        assert_eq!(
            parse_message(bad_time.as_bytes()),
            Err(ParseError::BadCreateTime)
        );
        let no_content = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
                          <CreateTime>1</CreateTime><MsgType>text</MsgType></xml>";
        assert_eq!(
            parse_message(no_content.as_bytes()),
            Err(ParseError::MissingField("Content"))
        );
    }

    #[test]
    fn dedup_key_is_stable_across_retries_and_distinguishes_events() {
        let a = event("subscribe", Some("qrscene_x"));
        let b = event("SUBSCRIBE", Some("qrscene_x"));
        assert_eq!(a.dedup_key(), b.dedup_key());
        assert_ne!(
            a.dedup_key(),
            event("subscribe", Some("qrscene_y")).dedup_key()
        );
        assert_ne!(a.dedup_key(), event("SCAN", Some("x")).dedup_key());
        let t1 = parse_message(text_xml(TO, FROM, 1, "hi", Some("42")).as_bytes()).unwrap();
        let t2 = parse_message(text_xml(TO, FROM, 2, "hi", Some("42")).as_bytes()).unwrap();
        assert_eq!(t1.dedup_key(), t2.dedup_key());
        assert!(t1.dedup_key().contains("42"));
    }

    #[test]
    fn reply_with_terminator_in_content_stays_valid() {
        let xml = text_reply(FROM, TO, 5, "a ]]> b <c> & d");
        let parsed = parse_message(xml.as_bytes()).unwrap();
        assert_eq!(
            parsed.kind,
            MessageKind::Text {
                content: "a ]]> b <c> & d".into(),
                msg_id: None
            }
        );
    }

    fn tricky_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z<>&\\]\\[ ]{0,12}(\\]\\]>)?[\u{4e00}-\u{4e10}_]{0,6}".prop_map(String::from),
            Just("]]>".to_owned()),
            Just("]]]]>>".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn text_round_trips(to in tricky_text(), from in tricky_text(), time in any::<i64>(),
                            content in tricky_text(), msg_id in proptest::option::of("[0-9]{1,20}")) {
            let xml = text_xml(&to, &from, time, &content, msg_id.as_deref());
            let m = parse_message(xml.as_bytes()).unwrap();
            prop_assert_eq!(m, Message {
                to_user: to, from_user: from, create_time: time,
                kind: MessageKind::Text { content, msg_id },
            });
        }

        #[test]
        fn subscribe_round_trips(scene in tricky_text(), ticket in proptest::option::of(tricky_text()),
                                 time in any::<i64>()) {
            let key = format!("qrscene_{scene}");
            let xml = event_xml(TO, FROM, time, "subscribe", Some(&key), ticket.as_deref());
            let m = parse_message(xml.as_bytes()).unwrap();
            prop_assert_eq!(m.create_time, time);
            prop_assert_eq!(m.kind, MessageKind::Subscribe {
                scene: Some(scene).filter(|s| !s.is_empty()),
                ticket: ticket.filter(|t| !t.is_empty()),
            });
        }

        #[test]
        fn scan_round_trips(scene in tricky_text().prop_filter("non-empty", |s| !s.is_empty()),
                            ticket in proptest::option::of(tricky_text())) {
            let xml = event_xml(TO, FROM, 7, "SCAN", Some(&scene), ticket.as_deref());
            let m = parse_message(xml.as_bytes()).unwrap();
            prop_assert_eq!(m.kind, MessageKind::Scan {
                scene,
                ticket: ticket.filter(|t| !t.is_empty()),
            });
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_message(&bytes);
        }

        #[test]
        fn never_panics_on_xmlish_text(text in "[<>/!\\[\\]a-zA-Z&;#x0-9 \"'?=-]{0,200}") {
            let _ = parse_message(text.as_bytes());
            let _ = parse_message(format!("<xml>{text}</xml>").as_bytes());
        }
    }
}
