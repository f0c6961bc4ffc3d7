//! The brief as the visitor sent it, checked against the limits the form
//! shows (`protocol::limits`) and tidied: surrounding spaces trimmed, empty
//! and repeated keywords dropped, a blank outline taken as none. A field
//! that breaks a rule is refused with its name and plain words saying what
//! to change; nothing is stored or sent to DeepSeek.

use app::modules::writing::protocol::{limits, Brief, WritingError};

use super::outline::{Outline, MAX_SECTIONS};

/// The brief, tidied, or the first rule it breaks.
pub fn check(brief: Brief) -> Result<Brief, WritingError> {
    let topic = one_line("topic", "主题或标题", &brief.topic, limits::TOPIC)?;
    if topic.is_empty() {
        return Err(invalid("topic", "请填写主题或标题。"));
    }
    let kind = one_line("kind", "文章类型", &brief.kind, limits::CHOICE)?;
    let tone = one_line("tone", "语气", &brief.tone, limits::CHOICE)?;

    let mut keywords: Vec<String> = Vec::new();
    for keyword in &brief.keywords {
        let keyword = one_line("keywords", "关键词", keyword, limits::KEYWORD)?;
        if !keyword.is_empty() && !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
    }
    if keywords.len() > limits::KEYWORDS {
        return Err(invalid(
            "keywords",
            format!(
                "关键词最多 {} 个，现在有 {} 个，请删掉一些。",
                limits::KEYWORDS,
                keywords.len()
            ),
        ));
    }

    let notes = text("notes", "补充说明", &brief.notes, limits::NOTES)?;
    let outline = match &brief.outline {
        Some(outline) => {
            let outline = text("outline", "大纲", outline, limits::OUTLINE)?;
            if outline.is_empty() {
                None
            } else {
                let sections = Outline::parse(&outline).sections.len();
                if sections == 0 {
                    return Err(invalid(
                        "outline",
                        "大纲里没有找到小节：请用“## 小标题”或列表的每一项写出一节。",
                    ));
                }
                if sections > MAX_SECTIONS {
                    return Err(invalid(
                        "outline",
                        format!("大纲最多 {MAX_SECTIONS} 节，现在有 {sections} 节，请合并一些。"),
                    ));
                }
                Some(outline)
            }
        }
        None => None,
    };

    Ok(Brief {
        topic,
        kind,
        tone,
        length: brief.length,
        keywords,
        notes,
        outline,
        thinking: brief.thinking,
    })
}

/// A title the visitor saves.
pub fn check_title(title: &str) -> Result<String, WritingError> {
    let title = one_line("title", "标题", title, limits::TITLE)?;
    if title.is_empty() {
        return Err(invalid("title", "请填写标题。"));
    }
    Ok(title)
}

/// An article body the visitor saves (Markdown, any number of lines).
pub fn check_body(body: &str) -> Result<String, WritingError> {
    // Keep the visitor's spacing: only the length and the characters are
    // checked.
    let count = body.chars().count();
    if count > limits::BODY {
        return Err(invalid(
            "body",
            format!(
                "正文最多 {} 个字，现在有 {count} 个字，请删减后再保存。",
                limits::BODY
            ),
        ));
    }
    if body.chars().any(forbidden_in_text) {
        return Err(invalid(
            "body",
            "正文里有不能保存的控制字符，请删掉后再保存。",
        ));
    }
    Ok(body.to_owned())
}

fn invalid(field: &str, message: impl Into<String>) -> WritingError {
    WritingError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A one-line field: trimmed, at most `max` characters, no line breaks or
/// other control characters.
fn one_line(field: &str, name: &str, value: &str, max: usize) -> Result<String, WritingError> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{name}只能写一行，不能有换行或控制字符。"),
        ));
    }
    let count = value.chars().count();
    if count > max {
        return Err(invalid(
            field,
            format!("{name}最多 {max} 个字，现在有 {count} 个字。"),
        ));
    }
    Ok(value.to_owned())
}

/// A text of several lines: trimmed, at most `max` characters, no control
/// characters but line breaks and tabs.
fn text(field: &str, name: &str, value: &str, max: usize) -> Result<String, WritingError> {
    let value = value.trim();
    if value.chars().any(forbidden_in_text) {
        return Err(invalid(
            field,
            format!("{name}里有不能使用的控制字符，请删掉后再试。"),
        ));
    }
    let count = value.chars().count();
    if count > max {
        return Err(invalid(
            field,
            format!("{name}最多 {max} 个字，现在有 {count} 个字。"),
        ));
    }
    Ok(value.replace("\r\n", "\n"))
}

fn forbidden_in_text(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::modules::writing::protocol::Length;

    fn brief() -> Brief {
        Brief {
            topic: "  春天喝什么茶 ".into(),
            kind: "公众号推文".into(),
            tone: "轻松".into(),
            length: Length::Short,
            keywords: vec!["绿茶".into(), " ".into(), "绿茶".into(), " 冲泡".into()],
            notes: "写给上班族\r\n别太长".into(),
            outline: Some("  \n ".into()),
            thinking: true,
        }
    }

    fn field(result: Result<Brief, WritingError>) -> (String, String) {
        match result {
            Err(WritingError::Invalid { field, message }) => (field, message),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_good_brief_is_tidied() {
        let checked = check(brief()).unwrap();
        assert_eq!(checked.topic, "春天喝什么茶");
        assert_eq!(checked.keywords, ["绿茶", "冲泡"]);
        assert_eq!(checked.notes, "写给上班族\n别太长");
        assert_eq!(checked.outline, None, "a blank outline is none");
        assert!(checked.thinking);
    }

    #[test]
    fn each_rule_names_its_field_in_plain_words() {
        let cases: Vec<(Brief, &str, &str)> = vec![
            (
                Brief {
                    topic: " ".into(),
                    ..brief()
                },
                "topic",
                "请填写主题或标题",
            ),
            (
                Brief {
                    topic: "字".repeat(101),
                    ..brief()
                },
                "topic",
                "最多 100 个字，现在有 101 个字",
            ),
            (
                Brief {
                    topic: "两\n行".into(),
                    ..brief()
                },
                "topic",
                "只能写一行",
            ),
            (
                Brief {
                    kind: "类".repeat(21),
                    ..brief()
                },
                "kind",
                "文章类型最多 20 个字",
            ),
            (
                Brief {
                    tone: "\u{1b}[31m".into(),
                    ..brief()
                },
                "tone",
                "语气只能写一行",
            ),
            (
                Brief {
                    keywords: (0..9).map(|i| format!("词{i}")).collect(),
                    ..brief()
                },
                "keywords",
                "关键词最多 8 个，现在有 9 个",
            ),
            (
                Brief {
                    keywords: vec!["长".repeat(21)],
                    ..brief()
                },
                "keywords",
                "关键词最多 20 个字",
            ),
            (
                Brief {
                    notes: "注".repeat(1001),
                    ..brief()
                },
                "notes",
                "补充说明最多 1000 个字",
            ),
            (
                Brief {
                    notes: "a\u{0}b".into(),
                    ..brief()
                },
                "notes",
                "控制字符",
            ),
            (
                Brief {
                    outline: Some("纲".repeat(3001)),
                    ..brief()
                },
                "outline",
                "大纲最多 3000 个字",
            ),
            (
                Brief {
                    outline: Some("随便写写".into()),
                    ..brief()
                },
                "outline",
                "没有找到小节",
            ),
            (
                Brief {
                    outline: Some((0..21).map(|i| format!("## 小节{i}\n")).collect()),
                    ..brief()
                },
                "outline",
                "大纲最多 20 节",
            ),
        ];
        for (brief, name, words) in cases {
            let (field, message) = field(check(brief));
            assert_eq!(field, name);
            assert!(message.contains(words), "{name}: {message}");
        }
    }

    #[test]
    fn an_outline_with_sections_is_kept() {
        let outline = "# 春茶\n\n## 一、绿茶\n- 明前\n## 二、冲泡\n".to_owned();
        let checked = check(Brief {
            outline: Some(outline.clone()),
            ..brief()
        })
        .unwrap();
        assert_eq!(checked.outline.as_deref(), Some(outline.trim()));
    }

    #[test]
    fn titles_and_bodies() {
        assert_eq!(check_title(" 新标题 ").unwrap(), "新标题");
        assert!(check_title("").is_err());
        assert!(check_title(&"标".repeat(101)).is_err());
        assert_eq!(check_body("# 标题\n\n正文\n").unwrap(), "# 标题\n\n正文\n");
        assert!(check_body(&"字".repeat(50_001)).is_err());
        assert!(check_body("a\u{7}b").is_err());
        assert!(check_body(&"字".repeat(50_000)).is_ok());
    }
}
