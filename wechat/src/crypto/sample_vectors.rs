//! Published WXBizMsgCrypt test vectors, copied verbatim.
//!
//! Provenance:
//! - Tencent's Java sample test `WXBizMsgCryptTest` as carried by
//!   chanjarster/weixin-java-tools (now WxJava),
//!   `weixin-java-common/src/test/java/me/chanjar/weixin/common/util/crypto/WxCryptUtilTest.java`:
//!   fixed random "aaaabbbbccccdddd" → exact ciphertexts.
//! - Tencent's Python sample `Sample.py` (author jonyqin, 2014), copy at
//!   charlesXu86/Chatbot_CN `Chatbot_Web/impl/weixin/Sample.py` (the same
//!   strings are in fotock/WXbizMsgCrypt-Node `README.md`): token "spamtest",
//!   appid "wx2c2769f8efd9abc2", timestamp "1409735669", nonce "1320562132",
//!   msg_signature and Encrypt.
//! - wechatpy/wechatpy `tests/test_crypto.py` (test_encrypt_message,
//!   test_decrypt_message): a complete encrypted reply (fixed random
//!   "1234567890123456") and a pushed message with its signature.

use super::MessageCrypto;
use crate::message::{parse_message, MessageKind};
use crate::signature;

const SAMPLE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

mod java_sample {
    pub const APPID: &str = "wxb11529c136998cb6";
    pub const RANDOM: &[u8; 16] = b"aaaabbbbccccdddd";
    pub const REPLY_MSG: &str = "我是中文abcd123";
    pub const AFTER_AES_ENCRYPT: &str =
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==";
    pub const REPLY_MSG2: &str = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>";
    pub const AFTER_AES_ENCRYPT2: &str = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb";
}

mod python_sample {
    pub const TOKEN: &str = "spamtest";
    pub const APPID: &str = "wx2c2769f8efd9abc2";
    pub const TIMESTAMP: &str = "1409735669";
    pub const NONCE: &str = "1320562132";
    pub const MSG_SIGNATURE: &str = "5d197aaffba7e9b25a30732f161a50dee96bd5fa";
    pub const ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
    /// The whole pushed body of the sample (compatible mode: plain fields
    /// plus Encrypt).
    pub const FROM_XML: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>";
}

mod wechatpy {
    pub const TOKEN: &str = "123456";
    pub const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    pub const APPID: &str = "wx49f0ab532d5d035a";
    pub const RANDOM: &[u8; 16] = b"1234567890123456";
    pub const TIMESTAMP: &str = "1411525903";
    pub const NONCE: &str = "461056294";
    pub const REPLY: &str = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
    pub const REPLY_ENCRYPT: &str = "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3";
    pub const REPLY_SIGNATURE: &str = "407518b7649e86ef23978113f92d27afa9296533";
    pub const PUSH_ENCRYPT: &str = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
    pub const PUSH_SIGNATURE: &str = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d";
}

#[test]
fn java_sample_ciphertexts_are_reproduced() {
    let c = MessageCrypto::new(SAMPLE_KEY, java_sample::APPID).unwrap();
    assert_eq!(
        c.encrypt_with_random(java_sample::REPLY_MSG, *java_sample::RANDOM),
        java_sample::AFTER_AES_ENCRYPT
    );
    assert_eq!(
        c.encrypt_with_random(java_sample::REPLY_MSG2, *java_sample::RANDOM),
        java_sample::AFTER_AES_ENCRYPT2
    );
    assert_eq!(
        c.decrypt(java_sample::AFTER_AES_ENCRYPT).unwrap(),
        java_sample::REPLY_MSG
    );
    assert_eq!(
        c.decrypt(java_sample::AFTER_AES_ENCRYPT2).unwrap(),
        java_sample::REPLY_MSG2
    );
}

#[test]
fn python_sample_signature_matches() {
    let parts = [
        python_sample::TOKEN,
        python_sample::TIMESTAMP,
        python_sample::NONCE,
        python_sample::ENCRYPT,
    ];
    assert_eq!(signature::sign(&parts), python_sample::MSG_SIGNATURE);
    assert!(signature::verify(&parts, python_sample::MSG_SIGNATURE));
    assert!(python_sample::FROM_XML.contains(python_sample::ENCRYPT));
}

#[test]
fn python_sample_decrypts_to_the_sample_message() {
    let c = MessageCrypto::new(SAMPLE_KEY, python_sample::APPID).unwrap();
    let xml = c.decrypt(python_sample::ENCRYPT).unwrap();
    let message = parse_message(xml.as_bytes()).unwrap();
    assert_eq!(message.to_user, "gh_10f6c3c3ac5a");
    assert_eq!(message.from_user, "oyORnuP8q7ou2gfYjqLzSIWZf0rs");
    assert_eq!(message.create_time, 1409735668);
    assert_eq!(
        message.kind,
        MessageKind::Text {
            content: "abcdteT".to_owned(),
            msg_id: Some("6054768590064713728".to_owned()),
        }
    );
    // The sample pushes in compatible mode: the plain fields say the same.
    assert_eq!(
        parse_message(python_sample::FROM_XML.as_bytes()).unwrap(),
        message
    );
}

#[test]
fn python_sample_refuses_another_appid() {
    let c = MessageCrypto::new(SAMPLE_KEY, "wx0000000000000000").unwrap();
    assert_eq!(
        c.decrypt(python_sample::ENCRYPT),
        Err(super::CryptoError::AppIdMismatch)
    );
}

#[test]
fn wechatpy_reply_is_reproduced_with_its_signature() {
    let c = MessageCrypto::new(wechatpy::KEY, wechatpy::APPID).unwrap();
    let encrypt = c.encrypt_with_random(wechatpy::REPLY, *wechatpy::RANDOM);
    assert_eq!(encrypt, wechatpy::REPLY_ENCRYPT);
    assert_eq!(
        signature::sign(&[
            wechatpy::TOKEN,
            wechatpy::TIMESTAMP,
            wechatpy::NONCE,
            &encrypt
        ]),
        wechatpy::REPLY_SIGNATURE
    );
}

#[test]
fn wechatpy_push_decrypts_and_verifies() {
    let c = MessageCrypto::new(wechatpy::KEY, wechatpy::APPID).unwrap();
    assert!(signature::verify(
        &[
            wechatpy::TOKEN,
            wechatpy::TIMESTAMP,
            wechatpy::NONCE,
            wechatpy::PUSH_ENCRYPT
        ],
        wechatpy::PUSH_SIGNATURE
    ));
    let xml = c.decrypt(wechatpy::PUSH_ENCRYPT).unwrap();
    let message = parse_message(xml.as_bytes()).unwrap();
    assert_eq!(message.from_user, "messense");
    assert_eq!(
        message.kind,
        MessageKind::Text {
            content: "test".to_owned(),
            msg_id: Some("4363689963896700987".to_owned()),
        }
    );
}
