//! Writing WeChat XML: passive replies, and the pushes the sandbox sends in
//! WeChat's place.

use std::fmt::Write;

/// Wraps `text` in CDATA. A `]]>` inside would end the section early, so it
/// is split across two sections (`]]` ends one, `>` starts the next).
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// Appends `<name><![CDATA[value]]></name>`.
fn push_cdata_field(xml: &mut String, name: &str, value: &str) {
    let _ = write!(xml, "<{name}>{}</{name}>", cdata(value));
}

fn header(to_user: &str, from_user: &str, create_time: i64, msg_type: &str) -> String {
    let mut xml = String::from("<xml>");
    push_cdata_field(&mut xml, "ToUserName", to_user);
    push_cdata_field(&mut xml, "FromUserName", from_user);
    let _ = write!(xml, "<CreateTime>{create_time}</CreateTime>");
    push_cdata_field(&mut xml, "MsgType", msg_type);
    xml
}

/// A passive text reply, as the callback answers a user.
pub fn text_reply(to_user: &str, from_user: &str, create_time: i64, content: &str) -> String {
    text_xml(to_user, from_user, create_time, content, None)
}

/// An event push (`subscribe`, `SCAN`, `unsubscribe`…) as WeChat sends it.
/// `event_key` is sent verbatim: a subscribe through a QR code carries
/// `qrscene_<scene>`.
pub fn event_xml(
    to_user: &str,
    from_user: &str,
    create_time: i64,
    event: &str,
    event_key: Option<&str>,
    ticket: Option<&str>,
) -> String {
    let mut xml = header(to_user, from_user, create_time, "event");
    push_cdata_field(&mut xml, "Event", event);
    if let Some(key) = event_key {
        push_cdata_field(&mut xml, "EventKey", key);
    }
    if let Some(ticket) = ticket {
        push_cdata_field(&mut xml, "Ticket", ticket);
    }
    xml.push_str("</xml>");
    xml
}

/// A text message push as WeChat sends it (also the shape of a passive text
/// reply when `msg_id` is `None`).
pub fn text_xml(
    to_user: &str,
    from_user: &str,
    create_time: i64,
    content: &str,
    msg_id: Option<&str>,
) -> String {
    let mut xml = header(to_user, from_user, create_time, "text");
    push_cdata_field(&mut xml, "Content", content);
    if let Some(id) = msg_id {
        push_cdata_field(&mut xml, "MsgId", id);
    }
    xml.push_str("</xml>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_splits_the_terminator() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        assert_eq!(cdata(""), "<![CDATA[]]>");
    }

    #[test]
    fn text_reply_has_wechat_shape() {
        assert_eq!(
            text_reply("oUser", "gh_account", 1409735669, "你好"),
            "<xml><ToUserName><![CDATA[oUser]]></ToUserName>\
             <FromUserName><![CDATA[gh_account]]></FromUserName>\
             <CreateTime>1409735669</CreateTime>\
             <MsgType><![CDATA[text]]></MsgType>\
             <Content><![CDATA[你好]]></Content></xml>"
        );
    }
}
