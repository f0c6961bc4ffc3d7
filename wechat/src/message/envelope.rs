//! The outer body of an encrypted push: `<xml><ToUserName/><Encrypt/></xml>`
//! (compatible mode adds the plain fields beside them).

use super::fields::parse_fields;
use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The account id; absent in encrypted replies.
    pub to_user: Option<String>,
    /// Base64 ciphertext, covered by `msg_signature`.
    pub encrypt: String,
}

pub fn parse_envelope(xml: &[u8]) -> Result<Envelope, ParseError> {
    let fields = parse_fields(xml)?;
    let encrypt = fields
        .get("Encrypt")
        .filter(|e| !e.is_empty())
        .ok_or(ParseError::MissingField("Encrypt"))?
        .to_owned();
    Ok(Envelope {
        to_user: fields.get("ToUserName").map(str::to_owned),
        encrypt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_safe_mode_body() {
        let e = parse_envelope(b"<xml><ToUserName><![CDATA[gh_0]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>").unwrap();
        assert_eq!(e.to_user.as_deref(), Some("gh_0"));
        assert_eq!(e.encrypt, "abc=");
    }

    #[test]
    fn missing_or_empty_encrypt_is_an_error() {
        assert_eq!(
            parse_envelope(b"<xml><ToUserName>x</ToUserName></xml>"),
            Err(ParseError::MissingField("Encrypt"))
        );
        assert_eq!(
            parse_envelope(b"<xml><Encrypt></Encrypt></xml>"),
            Err(ParseError::MissingField("Encrypt"))
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_envelope(&bytes);
        }
    }
}
