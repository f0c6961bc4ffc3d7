#![no_main]
//! Arbitrary text, and arbitrary bytes dressed as base64 ciphertext, must
//! decrypt to a value or an error: padding, length field, UTF-8 and AppID
//! checks all run on attacker-chosen plaintext here.

use libfuzzer_sys::fuzz_target;
use wechat::crypto::MessageCrypto;

const FAKE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const FAKE_APPID: &str = "wx0000000000000000";

fuzz_target!(|data: &[u8]| {
    let Ok(crypto) = MessageCrypto::new(FAKE_KEY, FAKE_APPID) else {
        return;
    };
    let _ = crypto.decrypt(&String::from_utf8_lossy(data));
    // Encrypting the input and decrypting it again must round-trip.
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(crypto.decrypt(&crypto.encrypt(text)).as_deref(), Ok(text));
    }
});
