//! An outline as the visitor edited it, read into the sections the article
//! is written from, one DeepSeek request each. DeepSeek (and the sandbox)
//! give `# title` and `## section` headings with list items under them;
//! visitors also write plain lists, so without `##` headings each top-level
//! list item is a section and what is indented under it its points.

/// More sections would be more DeepSeek requests than one article needs.
pub const MAX_SECTIONS: usize = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outline {
    /// The `# ` heading, if the outline has one.
    pub title: Option<String>,
    pub sections: Vec<Section>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Without its numbering ("一、", "2.").
    pub heading: String,
    /// The lines under it, as written (list items, notes).
    pub points: Vec<String>,
}

impl Outline {
    pub fn parse(text: &str) -> Self {
        let lines: Vec<&str> = text.lines().collect();
        let title = lines
            .iter()
            .find_map(|line| line.trim().strip_prefix("# "))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let has_headings = lines.iter().any(|line| heading(line).is_some());
        let mut sections: Vec<Section> = Vec::new();
        for line in lines {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with("# ") {
                continue;
            }
            let starts_section = if has_headings {
                heading(line)
            } else {
                top_level_item(line)
            };
            match starts_section {
                Some(text) => {
                    let heading = strip_numbering(text).trim().to_owned();
                    if !heading.is_empty() {
                        sections.push(Section {
                            heading,
                            points: Vec::new(),
                        });
                    }
                }
                None => {
                    if let Some(section) = sections.last_mut() {
                        section.points.push(trimmed.to_owned());
                    }
                }
            }
        }
        Outline { title, sections }
    }
}

/// The text of a `## ` heading line.
fn heading(line: &str) -> Option<&str> {
    line.trim().strip_prefix("## ")
}

/// The text of a list item that is not indented (`- x`, `* x`, `1. x`,
/// `一、x`).
fn top_level_item(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t']) {
        return None;
    }
    if let Some(rest) = line
        .strip_prefix("- ")
        .or_else(|| line.strip_prefix("* "))
        .or_else(|| line.strip_prefix("+ "))
    {
        return Some(rest);
    }
    let numbered = strip_numbering(line);
    (numbered.len() < line.len()).then_some(numbered)
}

/// "一、背景" → "背景", "1. 背景" → "背景", "第二节：工具" → "工具";
/// anything else as it is.
pub fn strip_numbering(text: &str) -> &str {
    let text = text.trim();
    let (body, ordinal) = match text.strip_prefix('第') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let end = body
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || "一二三四五六七八九十百零〇".contains(*c))
        .last()
        .map(|(i, c)| i + c.len_utf8());
    let Some(end) = end else {
        return text;
    };
    let mut rest = &body[end..];
    if ordinal {
        match rest.strip_prefix(['节', '部', '章', '点']) {
            Some(r) => rest = r.strip_prefix('分').unwrap_or(r),
            None => return text,
        }
    }
    match rest.strip_prefix(['、', '.', '．', ')', '）', '：', ':']) {
        Some(rest) => rest.trim_start(),
        None if ordinal => rest.trim_start(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_with_points() {
        let outline = Outline::parse(
            "# 春天喝什么茶\n\n## 一、为什么是春茶\n\n- 新鲜\n- 香气\n\n## 二、怎么冲泡\n- 水温 80 度\n### 小技巧\n## 3. 结语\n",
        );
        assert_eq!(outline.title.as_deref(), Some("春天喝什么茶"));
        let headings: Vec<_> = outline
            .sections
            .iter()
            .map(|s| s.heading.as_str())
            .collect();
        assert_eq!(headings, ["为什么是春茶", "怎么冲泡", "结语"]);
        assert_eq!(outline.sections[0].points, ["- 新鲜", "- 香气"]);
        assert_eq!(outline.sections[1].points, ["- 水温 80 度", "### 小技巧"]);
    }

    #[test]
    fn a_plain_list_is_read_too() {
        let outline = Outline::parse("1. 开头\n   - 点题\n2. 正文\n- 结尾\n  说明");
        let headings: Vec<_> = outline
            .sections
            .iter()
            .map(|s| s.heading.as_str())
            .collect();
        assert_eq!(headings, ["开头", "正文", "结尾"]);
        assert_eq!(outline.sections[0].points, ["- 点题"]);
        assert_eq!(outline.sections[2].points, ["说明"]);
        assert_eq!(outline.title, None);
    }

    #[test]
    fn numbering_is_stripped() {
        for (text, plain) in [
            ("一、背景", "背景"),
            ("十二. 工具", "工具"),
            ("3）沟通", "沟通"),
            ("第二节：工具", "工具"),
            ("第三部分 展望", "展望"),
            ("第一", "第一"),
            ("2026 年的计划", "2026 年的计划"),
            ("三月", "三月"),
            ("", ""),
        ] {
            assert_eq!(strip_numbering(text), plain, "{text}");
        }
    }

    #[test]
    fn nothing_to_write_from_and_hostile_text() {
        assert!(Outline::parse("随便写写\n没有结构").sections.is_empty());
        assert!(Outline::parse("## \n## 一、").sections.is_empty());
        for text in ["#", "# ", "##", "- ", "第", "第一节", "一、", "\u{0}## x"] {
            let _ = Outline::parse(text);
        }
    }
}
