//! PKCS#7 padding to 32-byte blocks, as WXBizMsgCrypt does it.
//!
//! WeChat pads to 32 bytes although AES blocks are 16, so the padding cannot
//! be left to the cipher crate: a valid WeChat message may carry 17..=32
//! bytes of padding, which a 16-byte PKCS#7 unpadder would refuse.

use super::CryptoError;

/// WXBizMsgCrypt's padding block size.
pub const BLOCK: usize = 32;

/// Appends 1..=32 bytes, each equal to the number of bytes added.
pub fn pad(buf: &mut Vec<u8>) {
    let amount = BLOCK - buf.len() % BLOCK;
    // `amount` is in 1..=32, so the cast cannot truncate.
    buf.resize(buf.len() + amount, amount as u8);
}

/// Returns the message without its padding, refusing anything that is not
/// exactly what [`pad`] produces.
pub fn unpad(buf: &[u8]) -> Result<&[u8], CryptoError> {
    let (&last, _) = buf.split_last().ok_or(CryptoError::Padding)?;
    let amount = usize::from(last);
    if amount == 0 || amount > BLOCK || amount > buf.len() {
        return Err(CryptoError::Padding);
    }
    let (message, padding) = buf.split_at(buf.len() - amount);
    if padding.iter().any(|&b| b != last) {
        return Err(CryptoError::Padding);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_multiple_of_32_with_full_block_when_aligned() {
        for len in 0..100 {
            let mut buf = vec![7u8; len];
            pad(&mut buf);
            assert_eq!(buf.len() % BLOCK, 0);
            assert!(buf.len() > len && buf.len() <= len + BLOCK);
            assert_eq!(unpad(&buf).unwrap(), &vec![7u8; len][..]);
        }
    }

    #[test]
    fn refuses_bad_padding() {
        assert_eq!(unpad(&[]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[0u8; 32]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[33u8; 64]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[1, 2, 3, 3]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[5u8; 3]), Err(CryptoError::Padding));
    }
}
