//! Cuts text into pieces about the size of DeepSeek's tokens, so the
//! sandbox streams the way DeepSeek does: one to three Chinese characters,
//! a Latin word or number, a punctuation mark or a run of spaces and line
//! breaks at a time. Pieces are byte ranges into the text (no copies: the
//! sandbox may stream a thousand articles at once).

use std::ops::Range;

/// Byte ranges of `text`, in order, covering all of it.
pub fn split(text: &str, seed: u64) -> Vec<Range<usize>> {
    let mut pieces = Vec::with_capacity(text.len() / 3);
    let mut state = seed | 1;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let mut end = start + c.len_utf8();
        let same_class = |d: char| class(d) == class(c);
        let max_more = match class(c) {
            Class::Han => {
                // 1–3 characters, varying like a real tokenizer's.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 3) as usize
            }
            Class::Word => 11,
            Class::Space => 7,
            Class::Mark => 0,
        };
        for _ in 0..max_more {
            match chars.peek() {
                Some(&(at, d)) if same_class(d) => {
                    end = at + d.len_utf8();
                    chars.next();
                }
                _ => break,
            }
        }
        pieces.push(start..end);
    }
    pieces
}

/// About how many tokens DeepSeek would count in `text`.
pub fn count(text: &str) -> u64 {
    split(text, 0).len() as u64
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Han,
    Word,
    Space,
    Mark,
}

fn class(c: char) -> Class {
    if c.is_ascii_alphanumeric() {
        Class::Word
    } else if c.is_whitespace() {
        Class::Space
    } else if c.is_alphanumeric() {
        Class::Han
    } else {
        Class::Mark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_in_order() {
        let text = "# 春天喝什么茶🍵\n\n- **绿茶**：DeepSeek v4 很快，约 1500 字。";
        let pieces = split(text, 9);
        let joined: String = pieces.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(joined, text);
        assert!(pieces.iter().all(|r| !r.is_empty()));
        assert!(pieces.iter().any(|r| &text[r.clone()] == "DeepSeek"));
        assert!(pieces.iter().all(|r| text[r.clone()].chars().count() <= 12));
        assert_eq!(split(text, 9), pieces, "deterministic");
    }

    #[test]
    fn chinese_comes_one_to_three_characters_at_a_time() {
        let text = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏";
        let sizes: Vec<usize> = split(text, 3)
            .iter()
            .map(|r| text[r.clone()].chars().count())
            .collect();
        assert!(sizes.iter().all(|n| (1..=3).contains(n)));
        assert!(sizes.contains(&1) && sizes.contains(&3), "{sizes:?}");
        assert!((8..=24).contains(&(count(text) as usize)));
        assert_eq!(count(""), 0);
    }
}
