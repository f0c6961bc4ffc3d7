//! Deterministic fuzzing for CI: 20 000 inputs from a seeded RNG, mutated
//! from valid WeChat bodies, against the parser, the decryptor and the
//! callback. Nothing may panic; every failure must be an error value whose
//! text carries no secret. (The coverage-guided targets live in /fuzz.)

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use wechat::callback::{open_reply, push_request, CallbackQuery, CallbackVerifier, PushMode};
use wechat::crypto::MessageCrypto;
use wechat::message::{
    event_xml, parse_envelope, parse_fields, parse_message, text_reply, text_xml,
};
use wechat::signature;

const ITERATIONS: usize = 20_000;
const TOKEN: &str = "fake-token-for-tests";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx0000000000000000";
const TS: &str = "1700000000";
/// Our clock: the moment of `TS`, so the fuzzer reaches past the freshness check.
const NOW: i64 = 1_700_000_000;
const NONCE: &str = "42";

/// Fragments that steer mutations toward interesting parser states.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "<xml>",
    "</xml>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&lt;",
    "&#x0;",
    "&#1114112;",
    "&foo;",
    "&",
    "<!DOCTYPE xml [<!ENTITY a \"b\">]>",
    "<?xml version=\"1.0\"?>",
    "<!-- c -->",
    "<Encrypt>",
    "</Encrypt>",
    "<MsgType>event</MsgType>",
    "<Event>SCAN</Event>",
    "<EventKey>qrscene_</EventKey>",
    "<CreateTime>-9223372036854775808</CreateTime>",
    "\u{0}",
    "\u{feff}",
    "你好",
    "\r\n",
];

fn seeds(crypto: &MessageCrypto) -> Vec<Vec<u8>> {
    let event = event_xml(
        "gh_0",
        "o_user",
        1700000000,
        "subscribe",
        Some("qrscene_a_b"),
        Some("t"),
    );
    let mut seeds = vec![
        event.clone(),
        event_xml("gh_0", "o_user", 1, "SCAN", Some("scene"), None),
        text_xml("gh_0", "o_user", 2, "hi ]]> <b>", Some("123")),
        text_reply("o_user", "gh_0", 3, "reply"),
        "<xml><a><b><c>x</c></b></a></xml>".to_owned(),
    ];
    for mode in [PushMode::Compatible, PushMode::Safe] {
        seeds.push(push_request(TOKEN, Some(crypto), mode, &event, TS, NONCE, "o_user").body);
    }
    seeds.into_iter().map(String::into_bytes).collect()
}

fn mutate(rng: &mut StdRng, input: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=4) {
        let len = input.len();
        match rng.random_range(0..6) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=len);
                input.insert(i, rng.random());
            }
            2 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 16));
                input.drain(start..end);
            }
            3 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                let i = rng.random_range(0..=len);
                input.splice(i..i, token.bytes());
            }
            4 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 32));
                let copy = input[start..end].to_vec();
                let at = rng.random_range(0..=len);
                input.splice(at..at, copy);
            }
            _ => input.truncate(rng.random_range(0..=len)),
        }
    }
}

fn assert_error_is_clean(error: &dyn std::error::Error) {
    let text = error.to_string();
    assert!(!text.is_empty());
    assert!(!text.contains(TOKEN) && !text.contains(KEY), "{text}");
}

fn query(encrypted: bool, msg_signature: Option<String>) -> CallbackQuery {
    CallbackQuery {
        signature: Some(signature::sign(&[TOKEN, TS, NONCE])),
        timestamp: Some(TS.into()),
        nonce: Some(NONCE.into()),
        encrypt_type: encrypted.then(|| "aes".into()),
        msg_signature,
        ..CallbackQuery::default()
    }
}

#[test]
fn seeded_inputs_never_panic() {
    let crypto = MessageCrypto::new(KEY, APPID).unwrap();
    let with_key = CallbackVerifier::new(SecretString::from(TOKEN), Some(crypto.clone()));
    let without_key = CallbackVerifier::new(SecretString::from(TOKEN), None);
    let seeds = seeds(&crypto);
    let valid_cipher = base64::engine::general_purpose::STANDARD
        .decode(crypto.encrypt("<xml><A>1</A></xml>"))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed_c0de);
    let mut accepted = 0usize;

    for i in 0..ITERATIONS {
        let mut input = if rng.random_range(0..10) == 0 {
            let len = rng.random_range(0..256);
            (0..len).map(|_| rng.random()).collect()
        } else {
            seeds[rng.random_range(0..seeds.len())].clone()
        };
        mutate(&mut rng, &mut input);

        match parse_message(&input) {
            Ok(_) => accepted += 1,
            Err(e) => assert_error_is_clean(&e),
        }
        if let Err(e) = parse_fields(&input) {
            assert_error_is_clean(&e);
        }
        let envelope = parse_envelope(&input);

        // Reach past the signature check: sign whatever Encrypt parsed.
        let msg_signature = envelope
            .as_ref()
            .map(|e| signature::sign(&[TOKEN, TS, NONCE, &e.encrypt]))
            .ok();
        for verifier in [&with_key, &without_key] {
            for encrypted in [false, true] {
                if let Err(e) = verifier.open(&query(encrypted, msg_signature.clone()), &input, NOW)
                {
                    assert_error_is_clean(&e);
                }
            }
        }

        let text = String::from_utf8_lossy(&input);
        if let Err(e) = crypto.decrypt(&text) {
            assert_error_is_clean(&e);
        }
        if let Err(e) = open_reply(TOKEN, Some(&crypto), &text) {
            assert_error_is_clean(&e);
        }

        // Mutated real ciphertexts exercise padding, length and AppID checks.
        if i % 4 == 0 {
            let mut cipher = valid_cipher.clone();
            mutate(&mut rng, &mut cipher);
            let sealed = base64::engine::general_purpose::STANDARD.encode(&cipher);
            if let Err(e) = crypto.decrypt(&sealed) {
                assert_error_is_clean(&e);
            }
        }
    }
    // The mutator must not be so destructive that nothing parses.
    assert!(accepted > ITERATIONS / 50, "only {accepted} inputs parsed");
}
