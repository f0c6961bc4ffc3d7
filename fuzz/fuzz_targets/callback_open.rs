#![no_main]
//! A correctly signed query with an arbitrary body, in plain and encrypted
//! mode, with and without a key configured. The msg_signature is computed
//! over whatever Encrypt the body holds so the fuzzer reaches decryption.

use libfuzzer_sys::fuzz_target;
use wechat::callback::{open_reply, CallbackQuery, CallbackVerifier};
use wechat::crypto::MessageCrypto;
use wechat::message::parse_envelope;
use wechat::signature;

const TOKEN: &str = "fake-token-for-tests";
const FAKE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const FAKE_APPID: &str = "wx0000000000000000";
const TS: &str = "1700000000";
const NONCE: &str = "42";
/// Our clock: the moment of `TS`, so the fuzzer reaches past the freshness check.
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(crypto) = MessageCrypto::new(FAKE_KEY, FAKE_APPID) else {
        return;
    };
    let msg_signature = parse_envelope(data)
        .ok()
        .map(|e| signature::sign(&[TOKEN, TS, NONCE, &e.encrypt]));
    for key in [Some(crypto.clone()), None] {
        let verifier = CallbackVerifier::new(TOKEN.into(), key);
        for encrypted in [false, true] {
            let query = CallbackQuery {
                signature: Some(signature::sign(&[TOKEN, TS, NONCE])),
                timestamp: Some(TS.into()),
                nonce: Some(NONCE.into()),
                encrypt_type: encrypted.then(|| "aes".into()),
                msg_signature: msg_signature.clone(),
                ..CallbackQuery::default()
            };
            let _ = verifier.open(&query, data, NOW);
        }
    }
    let _ = open_reply(TOKEN, Some(&crypto), &String::from_utf8_lossy(data));
});
