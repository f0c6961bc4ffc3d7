//! What a chat request asks the sandbox to write, read from its messages
//! the way a model would: labelled lines (`标题：…`, `类型：…`, `字数：…`,
//! `关键词：…`, `语气：…`), the kinds of article named anywhere, `## `
//! headings of an outline to follow, and the word 大纲 for "give me an
//! outline". Anything missing gets a sensible default, so any prompt
//! yields an article.

/// The kinds of article the sandbox writes differently. Others are written
/// as a general article under the name the prompt gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WechatPost,
    Blog,
    Product,
    PressRelease,
    ReadingNotes,
    General,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Self::WechatPost => "公众号推文",
            Self::Blog => "博客",
            Self::Product => "产品介绍",
            Self::PressRelease => "新闻稿",
            Self::ReadingNotes => "读书笔记",
            Self::General => "文章",
        }
    }

    fn find(text: &str) -> Self {
        [
            ("公众号", Self::WechatPost),
            ("推文", Self::WechatPost),
            ("博客", Self::Blog),
            ("产品介绍", Self::Product),
            ("新闻稿", Self::PressRelease),
            ("读书笔记", Self::ReadingNotes),
        ]
        .into_iter()
        .filter_map(|(word, kind)| text.find(word).map(|at| (at, kind)))
        .min_by_key(|(at, _)| *at)
        .map_or(Self::General, |(_, kind)| kind)
    }
}

/// Lengths the writing module offers, in 字.
pub const SHORT_CHARS: usize = 600;
pub const MEDIUM_CHARS: usize = 1500;
pub const LONG_CHARS: usize = 3000;
const DEFAULT_CHARS: usize = 1200;
const MIN_CHARS: usize = 100;
const MAX_CHARS: usize = 20_000;
const MAX_KEYWORDS: usize = 8;
const MAX_HEADINGS: usize = 12;
const MAX_TITLE_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brief {
    pub title: String,
    pub kind: Kind,
    /// The kind as the prompt named it (`类型：…`), else the kind's label.
    pub kind_label: String,
    pub tone: Option<String>,
    pub target_chars: usize,
    pub keywords: Vec<String>,
    /// Section headings of a given outline, to follow in order.
    pub headings: Vec<String>,
    /// Asked for an outline rather than the article.
    pub wants_outline: bool,
    /// Asked for the given sections only (section-by-section writing).
    pub sections_only: bool,
}

impl Brief {
    /// `system` and `user` are the messages' texts by role.
    pub fn read(system: &str, user: &str) -> Self {
        let all = format!("{system}\n{user}");
        let title = field(user, &["标题", "题目", "主题", "话题"])
            .or_else(|| field(&all, &["标题", "题目", "主题"]))
            .or_else(|| first_line(user))
            .map(|t| clip(&t, MAX_TITLE_CHARS))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "无题".to_owned());
        let kind_field = field(&all, &["类型", "文章类型", "体裁"]);
        let kind = Kind::find(kind_field.as_deref().unwrap_or(&all));
        let kind_label = kind_field
            .map(|k| clip(&k, 12))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| kind.label().to_owned());
        let mut keywords: Vec<String> = field(&all, &["关键词", "关键字"])
            .map(|list| {
                list.split(['、', '，', ',', ';', '；', '/', ' ', '|'])
                    .map(|k| clip(k.trim(), 16))
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        keywords.dedup();
        keywords.truncate(MAX_KEYWORDS);
        let headings: Vec<String> = user
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                line.strip_prefix("## ")
                    .or_else(|| line.strip_prefix("### "))
                    .map(|h| clip(strip_numbering(h.trim()), 30))
            })
            .filter(|h| !h.is_empty())
            .take(MAX_HEADINGS)
            .collect();
        let wants_outline = headings.is_empty() && user.contains("大纲");
        let sections_only = !headings.is_empty()
            && ["只写", "本节", "这一节", "这几节"]
                .iter()
                .any(|w| user.contains(w));
        Self {
            title,
            kind,
            kind_label,
            tone: field(&all, &["语气", "风格", "口吻"]).map(|t| clip(&t, 12)),
            target_chars: target_chars(&all),
            keywords,
            headings,
            wants_outline,
            sections_only,
        }
    }
}

/// The value of the first `label：value` line (also `label: value`, in a
/// list item or in bold), quotes and book marks removed.
fn field(text: &str, labels: &[&str]) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line
            .trim()
            .trim_start_matches(['-', '*', '•', ' '])
            .trim_start_matches("**");
        labels.iter().find_map(|label| {
            let rest = line.strip_prefix(label)?.trim_start_matches("**");
            let value = rest.strip_prefix('：').or_else(|| rest.strip_prefix(':'))?;
            let value = value
                .trim()
                .trim_matches(['“', '”', '"', '《', '》', '「', '」', '*'])
                .trim();
            (!value.is_empty()).then(|| value.to_owned())
        })
    })
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| {
            line.trim_end_matches(['。', '！', '？', '.', '!', '?', '：', ':'])
                .to_owned()
        })
}

/// `字数：1500`, `约 800 字`, `篇幅：长`… clamped to 100–20 000.
fn target_chars(text: &str) -> usize {
    if let Some(value) = field(text, &["字数", "篇幅", "长度"]) {
        if let Some(n) = first_number(&value) {
            return n.clamp(MIN_CHARS, MAX_CHARS);
        }
        if value.contains('短') {
            return SHORT_CHARS;
        }
        if value.contains('长') {
            return LONG_CHARS;
        }
        if value.contains('中') {
            return MEDIUM_CHARS;
        }
    }
    // "约 800 字" anywhere.
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '字' {
            let digits: String = chars[..i]
                .iter()
                .rev()
                .skip_while(|c| c.is_whitespace())
                .take_while(|c| c.is_ascii_digit())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                return n.clamp(MIN_CHARS, MAX_CHARS);
            }
        }
    }
    DEFAULT_CHARS
}

fn first_number(text: &str) -> Option<usize> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .take(6)
        .collect();
    digits.parse().ok()
}

/// "一、背景" → "背景", "1. 背景" → "背景".
fn strip_numbering(heading: &str) -> &str {
    let numbered = heading
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || "一二三四五六七八九十".contains(*c))
        .last()
        .map(|(i, c)| i + c.len_utf8());
    match numbered {
        Some(end) => {
            let rest = &heading[end..];
            match rest.strip_prefix(['、', '.', '．', ')', '）']) {
                Some(rest) => rest.trim_start(),
                None => heading,
            }
        }
        None => heading,
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_lines_are_read() {
        let brief = Brief::read(
            "你是一位擅长写公众号文章的编辑。",
            "请写一篇文章。\n- 标题：《春天喝什么茶》\n- 类型：公众号推文\n- 语气：轻松\n- 字数：800\n- 关键词：绿茶、冲泡，健康",
        );
        assert_eq!(brief.title, "春天喝什么茶");
        assert_eq!(brief.kind, Kind::WechatPost);
        assert_eq!(brief.kind_label, "公众号推文");
        assert_eq!(brief.tone.as_deref(), Some("轻松"));
        assert_eq!(brief.target_chars, 800);
        assert_eq!(brief.keywords, ["绿茶", "冲泡", "健康"]);
        assert!(!brief.wants_outline && brief.headings.is_empty());
    }

    #[test]
    fn a_bare_prompt_still_has_a_title_and_defaults() {
        let brief = Brief::read("", "介绍一下我们的新款保温杯，约 2000 字的产品介绍。");
        assert_eq!(
            brief.title,
            "介绍一下我们的新款保温杯，约 2000 字的产品介绍"
        );
        assert_eq!(brief.kind, Kind::Product);
        assert_eq!(brief.target_chars, 2000);
        let empty = Brief::read("", "");
        assert_eq!(empty.title, "无题");
        assert_eq!(empty.kind, Kind::General);
        assert_eq!(empty.target_chars, 1200);
    }

    #[test]
    fn lengths_by_word_and_limits() {
        assert_eq!(Brief::read("", "篇幅：短").target_chars, SHORT_CHARS);
        assert_eq!(Brief::read("", "篇幅：中等").target_chars, MEDIUM_CHARS);
        assert_eq!(Brief::read("", "长度：长篇").target_chars, LONG_CHARS);
        assert_eq!(Brief::read("", "字数：99999999").target_chars, MAX_CHARS);
        assert_eq!(Brief::read("", "字数：5").target_chars, MIN_CHARS);
    }

    #[test]
    fn an_outline_is_asked_for_or_given() {
        let ask = Brief::read("", "主题：远程办公\n请先列一份大纲。");
        assert!(ask.wants_outline);
        let follow = Brief::read(
            "",
            "主题：远程办公\n按下面的大纲写：\n## 一、为什么远程\n## 二、工具\n### 3. 沟通节奏",
        );
        assert!(!follow.wants_outline && !follow.sections_only);
        assert_eq!(follow.headings, ["为什么远程", "工具", "沟通节奏"]);
        let one = Brief::read("", "标题：远程办公\n只写这一节：\n## 工具");
        assert!(one.sections_only);
    }

    #[test]
    fn other_kinds_keep_their_name() {
        let brief = Brief::read("", "类型：演讲稿\n标题：毕业致辞");
        assert_eq!(brief.kind, Kind::General);
        assert_eq!(brief.kind_label, "演讲稿");
        assert_eq!(
            Brief::read("", "写一篇读书笔记：活着").kind,
            Kind::ReadingNotes
        );
    }

    #[test]
    fn hostile_text_is_clipped_and_never_panics() {
        let long = "标".repeat(10_000);
        let brief = Brief::read(
            &long,
            &format!("标题：{long}\n关键词：{}", "词、".repeat(500)),
        );
        assert_eq!(brief.title.chars().count(), MAX_TITLE_CHARS);
        assert!(brief.keywords.len() <= MAX_KEYWORDS);
        let weird = Brief::read(
            "\u{0}\u{7}",
            "标题：\u{0}坏\u{1b}[31m\n字数：字字字\n## \n## 一、",
        );
        assert_eq!(weird.title, "坏[31m");
        assert!(weird.headings.iter().all(|h| !h.is_empty()));
        for text in ["：", "标题：", "1字", "字", "## ", "一、", "关键词：、、、"] {
            let _ = Brief::read(text, text);
        }
    }
}
