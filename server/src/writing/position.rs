//! Where a browser is in an article's newest version: the version, its
//! revision (raised by each saved edit) and how many bytes of the text and
//! of the reasoning it has. Written as `<version>.<revision>.<text>.<reasoning>`
//! in each event's SSE `id`, and in `ArticleDetail::stream_from`; opaque to
//! the browser, which only hands it back (`Last-Event-ID` or `?from=`).

use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub version: u32,
    pub revision: u32,
    pub text: usize,
    pub reasoning: usize,
}

/// The longest position text read (four numbers and dots).
const MAX_LEN: usize = 64;

impl Position {
    /// A position as the browser sent it; `None` for anything else (the
    /// browser then gets the whole version).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_LEN {
            return None;
        }
        let mut parts = text.trim().split('.');
        let mut next = || -> Option<u64> {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let position = Position {
            version: u32::try_from(next()?).ok()?,
            revision: u32::try_from(next()?).ok()?,
            text: usize::try_from(next()?).ok()?,
            reasoning: usize::try_from(next()?).ok()?,
        };
        parts.next().is_none().then_some(position)
    }

    /// Whether this position lies within `text` and `reasoning` of version
    /// `version`, revision `revision`, at character boundaries: only then
    /// can what follows it be sent as a continuation.
    pub fn fits(&self, version: u32, revision: u32, text: &str, reasoning: &str) -> bool {
        self.version == version
            && self.revision == revision
            && text.is_char_boundary(self.text)
            && reasoning.is_char_boundary(self.reasoning)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.version, self.revision, self.text, self.reasoning
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let p = Position {
            version: 3,
            revision: 1,
            text: 1520,
            reasoning: 40,
        };
        assert_eq!(p.to_string(), "3.1.1520.40");
        assert_eq!(Position::parse("3.1.1520.40"), Some(p));
    }

    #[test]
    fn anything_else_is_no_position() {
        for text in [
            "",
            "3",
            "3.1.2",
            "3.1.2.4.5",
            "a.b.c.d",
            "-1.0.0.0",
            "1.0.+2.0",
            "1..2.3",
            "99999999999.0.0.0",
            &"1".repeat(100),
            "１.0.0.0",
        ] {
            assert_eq!(Position::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn fits_only_its_own_version_within_the_text_at_char_boundaries() {
        let p = Position {
            version: 2,
            revision: 0,
            text: 3,
            reasoning: 0,
        };
        assert!(p.fits(2, 0, "春天好", ""));
        assert!(!p.fits(3, 0, "春天好", ""), "another version");
        assert!(!p.fits(2, 1, "春天好", ""), "edited since");
        assert!(p.fits(2, 0, "春", ""), "at the end");
        assert!(!p.fits(2, 0, "ab", ""), "beyond the text");
        let inside = Position { text: 1, ..p };
        assert!(!inside.fits(2, 0, "春天", ""), "inside a character");
    }
}
