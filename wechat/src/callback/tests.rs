use proptest::prelude::*;
use secrecy::SecretString;

use super::*;
use crate::crypto::{CryptoError, MessageCrypto};
use crate::message::{event_xml, text_reply, Message, MessageKind, ParseError};
use crate::signature;

const TOKEN: &str = "fake-token-for-tests";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx0000000000000000";
const TS: &str = "1700000000";
/// Our clock in most tests: the moment of `TS`.
const NOW: i64 = 1_700_000_000;
const NONCE: &str = "123456789";
const OPENID: &str = "o0000000000000000000000000000";

fn crypto() -> MessageCrypto {
    MessageCrypto::new(KEY, APPID).unwrap()
}

fn verifier(with_crypto: bool) -> CallbackVerifier {
    CallbackVerifier::new(SecretString::from(TOKEN), with_crypto.then(crypto))
}

fn query_of(request: &PushRequest) -> CallbackQuery {
    let get = |name: &str| {
        request
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    CallbackQuery {
        signature: get("signature"),
        timestamp: get("timestamp"),
        nonce: get("nonce"),
        echostr: get("echostr"),
        encrypt_type: get("encrypt_type"),
        msg_signature: get("msg_signature"),
        openid: get("openid"),
    }
}

fn scan_xml() -> String {
    event_xml(
        "gh_0000000000000",
        OPENID,
        1700000000,
        "subscribe",
        Some("qrscene_login_1"),
        Some("t"),
    )
}

fn expected_message() -> Message {
    Message {
        to_user: "gh_0000000000000".into(),
        from_user: OPENID.into(),
        create_time: 1700000000,
        kind: MessageKind::Subscribe {
            scene: Some("login_1".into()),
            ticket: Some("t".into()),
        },
    }
}

#[test]
fn push_then_open_gives_the_same_message_in_every_mode() {
    let c = crypto();
    for (mode, with_key, encrypted) in [
        (PushMode::Plain, false, false),
        (PushMode::Compatible, true, true),
        (PushMode::Safe, true, true),
    ] {
        let request = push_request(TOKEN, Some(&c), mode, &scan_xml(), TS, NONCE, OPENID);
        let inbound = verifier(with_key)
            .open(&query_of(&request), request.body.as_bytes(), NOW)
            .unwrap();
        assert_eq!(inbound.message, expected_message(), "{mode:?}");
        assert_eq!(inbound.encrypted, encrypted, "{mode:?}");
        assert_eq!(
            inbound.stamp,
            Stamp {
                timestamp: NOW,
                nonce: NONCE.into()
            }
        );
    }
}

#[test]
fn safe_mode_body_has_only_envelope_fields() {
    let request = push_request(
        TOKEN,
        Some(&crypto()),
        PushMode::Safe,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    );
    assert!(request
        .body
        .starts_with("<xml><ToUserName><![CDATA[gh_0000000000000]]></ToUserName><Encrypt>"));
    assert!(!request.body.contains(OPENID));
    let q = query_of(&request);
    assert_eq!(q.encrypt_type.as_deref(), Some("aes"));
    assert!(q.msg_signature.is_some());
    assert_eq!(q.openid.as_deref(), Some(OPENID));
}

#[test]
fn compatible_mode_works_without_a_key_and_safe_mode_does_not() {
    let c = crypto();
    let compat = push_request(
        TOKEN,
        Some(&c),
        PushMode::Compatible,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    );
    let inbound = verifier(false)
        .open(&query_of(&compat), compat.body.as_bytes(), NOW)
        .unwrap();
    assert_eq!(inbound.message, expected_message());
    assert!(!inbound.encrypted);

    let safe = push_request(
        TOKEN,
        Some(&c),
        PushMode::Safe,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    );
    assert_eq!(
        verifier(false).open(&query_of(&safe), safe.body.as_bytes(), NOW),
        Err(CallbackError::NotConfiguredForEncryption)
    );
}

#[test]
fn with_a_key_only_encrypted_pushes_are_accepted() {
    // No downgrade: leaving out encrypt_type=aes does not get a plain body
    // read, however valid its (body-blind) signature.
    let plain = push_request(TOKEN, None, PushMode::Plain, &scan_xml(), TS, NONCE, OPENID);
    assert_eq!(
        verifier(true).open(&query_of(&plain), plain.body.as_bytes(), NOW),
        Err(CallbackError::EncryptionRequired)
    );
    let mut compat = query_of(&push_request(
        TOKEN,
        Some(&crypto()),
        PushMode::Compatible,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    ));
    compat.encrypt_type = None;
    assert_eq!(
        verifier(true).open(&compat, scan_xml().as_bytes(), NOW),
        Err(CallbackError::EncryptionRequired)
    );
}

#[test]
fn compatible_mode_reads_only_the_encrypted_part() {
    let request = push_request(
        TOKEN,
        Some(&crypto()),
        PushMode::Compatible,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    );
    // Someone rewrites the plain fields beside Encrypt.
    let tampered = request
        .body
        .replace(OPENID, "oSomeoneElse0000000000000000")
        .replace("qrscene_login_1", "qrscene_theirs");
    assert_ne!(tampered, request.body);
    let inbound = verifier(true)
        .open(&query_of(&request), tampered.as_bytes(), NOW)
        .unwrap();
    assert_eq!(inbound.message, expected_message());
}

#[test]
fn stale_or_future_stamps_are_refused_in_every_mode() {
    let c = crypto();
    for mode in [PushMode::Plain, PushMode::Safe] {
        let request = push_request(TOKEN, Some(&c), mode, &scan_xml(), TS, NONCE, OPENID);
        let v = verifier(mode == PushMode::Safe);
        for now in [NOW + 301, NOW - 301, NOW + 100_000] {
            assert_eq!(
                v.open(&query_of(&request), request.body.as_bytes(), now),
                Err(CallbackError::Stale),
                "{mode:?} at {now}"
            );
        }
        for now in [NOW + 300, NOW - 300] {
            assert!(v
                .open(&query_of(&request), request.body.as_bytes(), now)
                .is_ok());
        }
    }
}

#[test]
fn odd_timestamps_and_nonces_are_refused_even_when_signed() {
    for (timestamp, nonce, bad) in [
        (" 1700000000", NONCE, "timestamp"),
        ("-1700000000", NONCE, "timestamp"),
        ("1700000000.5", NONCE, "timestamp"),
        ("9999999999999", NONCE, "timestamp"),
        (TS, "", "nonce"),
        (TS, "has space", "nonce"),
    ] {
        let request = push_request(
            TOKEN,
            None,
            PushMode::Plain,
            &scan_xml(),
            timestamp,
            nonce,
            OPENID,
        );
        assert_eq!(
            verifier(false).open(&query_of(&request), request.body.as_bytes(), NOW),
            Err(CallbackError::MalformedParameter(bad)),
            "{timestamp:?} {nonce:?}"
        );
    }
    let long = "1".repeat(65);
    let request = push_request(TOKEN, None, PushMode::Plain, &scan_xml(), TS, &long, OPENID);
    assert_eq!(
        verifier(false).open(&query_of(&request), request.body.as_bytes(), NOW),
        Err(CallbackError::MalformedParameter("nonce"))
    );
}

#[test]
fn forged_signatures_are_rejected() {
    let c = crypto();
    for mode in [PushMode::Plain, PushMode::Compatible, PushMode::Safe] {
        let request = push_request(
            "not-the-token",
            Some(&c),
            mode,
            &scan_xml(),
            TS,
            NONCE,
            OPENID,
        );
        assert_eq!(
            verifier(true).open(&query_of(&request), request.body.as_bytes(), NOW),
            Err(CallbackError::BadSignature),
            "{mode:?}"
        );
    }
    // A valid plain signature does not make a tampered Encrypt acceptable.
    let request = push_request(
        TOKEN,
        Some(&c),
        PushMode::Safe,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    );
    let other = push_request(
        TOKEN,
        Some(&c),
        PushMode::Safe,
        &text_reply("a", "b", 1, "x"),
        TS,
        NONCE,
        OPENID,
    );
    assert_eq!(
        verifier(true).open(&query_of(&request), other.body.as_bytes(), NOW),
        Err(CallbackError::BadMsgSignature)
    );
}

#[test]
fn wrong_appid_is_rejected() {
    let theirs = MessageCrypto::new(KEY, "wx1111111111111111").unwrap();
    let request = push_request(
        TOKEN,
        Some(&theirs),
        PushMode::Safe,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    );
    assert_eq!(
        verifier(true).open(&query_of(&request), request.body.as_bytes(), NOW),
        Err(CallbackError::Decrypt(CryptoError::AppIdMismatch))
    );
}

#[test]
fn missing_parameters_are_named() {
    let q = CallbackQuery::default();
    assert_eq!(
        verifier(false).open(&q, b"<xml/>", NOW),
        Err(CallbackError::MissingParameter("signature"))
    );
    let mut request = query_of(&push_request(
        TOKEN,
        Some(&crypto()),
        PushMode::Safe,
        &scan_xml(),
        TS,
        NONCE,
        OPENID,
    ));
    request.msg_signature = None;
    assert_eq!(
        verifier(true).open(&request, b"<xml/>", NOW),
        Err(CallbackError::MissingParameter("msg_signature"))
    );
}

#[test]
fn echo_handshake() {
    let q = CallbackQuery {
        signature: Some(signature::sign(&[TOKEN, TS, NONCE])),
        timestamp: Some(TS.into()),
        nonce: Some(NONCE.into()),
        echostr: Some("echo-123".into()),
        ..CallbackQuery::default()
    };
    let echo = verifier(false).verify_echo(&q, NOW).unwrap();
    assert_eq!(echo.echostr, "echo-123");
    assert_eq!(echo.stamp.nonce, NONCE);
    assert_eq!(
        verifier(false).verify_echo(&q, NOW + 1000),
        Err(CallbackError::Stale)
    );
    let forged = CallbackQuery {
        signature: Some("0".repeat(40)),
        ..q.clone()
    };
    assert_eq!(
        verifier(false).verify_echo(&forged, NOW),
        Err(CallbackError::BadSignature)
    );
    let no_echo = CallbackQuery { echostr: None, ..q };
    assert_eq!(
        verifier(false).verify_echo(&no_echo, NOW),
        Err(CallbackError::MissingParameter("echostr"))
    );
}

#[test]
fn replies_are_sealed_only_when_inbound_was_encrypted() {
    let reply = text_reply(OPENID, "gh_0000000000000", 1700000001, "已登录 ]]> ok");
    let v = verifier(true);
    assert_eq!(v.seal_reply(false, reply.clone(), TS, NONCE), reply);
    assert_eq!(v.seal_reply(true, "success".into(), TS, NONCE), "success");
    let sealed = v.seal_reply(true, reply.clone(), TS, NONCE);
    assert!(sealed.starts_with("<xml><Encrypt><![CDATA["));
    assert!(sealed.contains(&format!(
        "<TimeStamp>{TS}</TimeStamp><Nonce><![CDATA[{NONCE}]]></Nonce></xml>"
    )));
    assert_eq!(
        open_reply(TOKEN, Some(&crypto()), &sealed),
        Ok(reply.clone())
    );
    assert_eq!(open_reply(TOKEN, None, &reply), Ok(reply.clone()));
    assert_eq!(open_reply(TOKEN, None, "success"), Ok("success".into()));
    assert_eq!(
        open_reply("not-the-token", Some(&crypto()), &sealed),
        Err(CallbackError::BadMsgSignature)
    );
    assert_eq!(
        open_reply(TOKEN, None, &sealed),
        Err(CallbackError::NotConfiguredForEncryption)
    );
    // Without a key the verifier leaves replies alone.
    assert_eq!(
        verifier(false).seal_reply(true, reply.clone(), TS, NONCE),
        reply
    );
}

#[test]
fn errors_and_debug_never_show_secrets() {
    let v = verifier(true);
    let debug = format!("{v:?}");
    assert!(!debug.contains(TOKEN) && !debug.contains(KEY));
    let errors = [
        CallbackError::MissingParameter("signature"),
        CallbackError::BadSignature,
        CallbackError::BadMsgSignature,
        CallbackError::NotConfiguredForEncryption,
        CallbackError::EncryptionRequired,
        CallbackError::Stale,
        CallbackError::MalformedParameter("nonce"),
        CallbackError::Decrypt(CryptoError::Padding),
        CallbackError::Parse(ParseError::BadCreateTime),
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.contains(TOKEN) && !text.contains(KEY), "{text}");
    }
}

proptest! {
    #[test]
    fn open_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512),
                         encrypted in any::<bool>()) {
        let q = CallbackQuery {
            signature: Some(signature::sign(&[TOKEN, TS, NONCE])),
            timestamp: Some(TS.into()),
            nonce: Some(NONCE.into()),
            encrypt_type: encrypted.then(|| "aes".to_owned()),
            msg_signature: Some("0".repeat(40)),
            ..CallbackQuery::default()
        };
        let _ = verifier(true).open(&q, &body, NOW);
        let _ = verifier(false).open(&q, &body, NOW);
    }

    #[test]
    fn open_reply_never_panics(body in any::<String>()) {
        let _ = open_reply(TOKEN, Some(&crypto()), &body);
    }
}
