//! Display names for new users: WeChat no longer tells sites a user's
//! nickname, so each gets a friendly generated one they can change later.

use rand::{seq::IndexedRandom, Rng};

const ADJECTIVES: &[&str] = &[
    "安静的",
    "勤奋的",
    "好奇的",
    "认真的",
    "从容的",
    "明快的",
    "温和的",
    "敏捷的",
    "爱读书的",
    "早起的",
];
const NOUNS: &[&str] = &["写手", "读者", "笔者", "书生", "作者", "记录者", "思考者"];

pub fn generate() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("新的");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("用户");
    format!("{adjective}{noun}{:04}", rng.random_range(0..10_000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_chinese_and_numbered() {
        let name = super::generate();
        assert!(name.chars().count() >= 6, "{name}");
        assert!(
            name.chars().rev().take(4).all(|c| c.is_ascii_digit()),
            "{name}"
        );
    }
}
