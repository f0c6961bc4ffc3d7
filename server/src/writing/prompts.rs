//! What the site asks DeepSeek: an outline, a whole article, one section of
//! an outline, or the rest of a text that was cut off.
//!
//! The brief goes in as labelled lines (`主题：`, `类型：`, `语气：`,
//! `字数：`, `关键词：`), which DeepSeek follows well and the DeepSeek
//! sandbox reads (`deepseek_sandbox::brief`). What the visitor typed freely
//! (notes, the outline as context) is quoted line by line (`> `), so a line
//! of it can never pass for one of ours: not for the sandbox, which reads
//! labels and `## ` headings at the start of a line, and not as an
//! instruction to the model. The few words the sandbox keys on are used
//! only where they mean what it takes them for: 大纲 only when asking for
//! an outline, 只写这一节 for one section, 接着写 for a continuation.

use app::modules::writing::protocol::Brief;
use deepseek::Message;

use super::outline::{Outline, Section};

/// Who DeepSeek is for this site, in every request.
pub const SYSTEM: &str =
    "你是一位经验丰富的中文写作者和编辑，为中文读者写结构清晰、语言自然的文章。\
写作时遵守这些规则：用 Markdown 排版；小标题用“## ”；适当使用列表、引用和加粗，但不要滥用；\
段落简短，适合在手机上阅读；不编造具体的数据、引文、人名和出处；\
不使用夸张的营销语言；只输出要求的内容本身，不加任何解释、寒暄或写作说明。";

/// What the sandbox and DeepSeek read as "go on from there".
pub const CONTINUE: &str = "上面的内容在中途被打断了。请从打断的地方直接接着写下去，写完为止：\
不要重复已经写出的任何内容，不要重新开头，不要加任何说明。";

/// The kind used when the visitor chose none.
const DEFAULT_KIND: &str = "文章";

/// Asks for an outline the visitor can edit.
pub fn outline(brief: &Brief) -> Vec<Message> {
    let mut user = format!("请为下面这篇{}列一份大纲。\n\n", kind(brief));
    user.push_str(&brief_lines(brief, brief.length.target_chars()));
    user.push_str(
        "\n要求：\n\
         - 第一行用一级标题（# ）写文章标题；主题本身就是好标题时直接用它；\n\
         - 每一节用二级标题（## ），按写作顺序排列，一般 3 到 6 节；\n\
         - 每一节下面用两三条列表写出这一节要讲的要点，每条一句话；\n\
         - 只输出大纲本身。",
    );
    vec![Message::system(SYSTEM), Message::user(user)]
}

/// Asks for the whole article.
pub fn article(brief: &Brief) -> Vec<Message> {
    let mut user = format!("请写一篇{}。\n\n", kind(brief));
    user.push_str(&brief_lines(brief, brief.length.target_chars()));
    user.push_str(
        "\n要求：\n\
         - 第一行用一级标题（# ）写文章标题；主题本身就是好标题时直接用它；\n\
         - 开头一两段直接点题，正文用二级标题（## ）分成几节，最后简短收尾；\n\
         - 关键词要自然地写进正文，不要堆砌；\n\
         - 篇幅接近要求的字数；\n\
         - 只输出文章本身。",
    );
    vec![Message::system(SYSTEM), Message::user(user)]
}

/// Asks for section `index` of `outline`, about `chars` 字 long.
pub fn section(brief: &Brief, outline: &Outline, index: usize, chars: u32) -> Vec<Message> {
    let sections = &outline.sections;
    let this: &Section = &sections[index];
    let mut user = format!(
        "请为一篇{}写其中的一节（全文共 {} 节，这是第 {} 节）。\n\n",
        kind(brief),
        sections.len(),
        index + 1
    );
    user.push_str(&brief_lines(brief, chars));
    user.push_str("\n全文的结构（只供参考）：\n");
    if let Some(title) = &outline.title {
        user.push_str(&format!("> 文章标题　{}\n", one_line(title)));
    }
    for (i, section) in sections.iter().enumerate() {
        user.push_str(&format!("> {}. {}\n", i + 1, one_line(&section.heading)));
    }
    user.push_str(&format!("\n只写这一节：\n## {}\n", one_line(&this.heading)));
    if !this.points.is_empty() {
        user.push_str("这一节的要点：\n");
        user.push_str(&quoted(&this.points.join("\n")));
    }
    let position = if index == 0 {
        "这是第一节：先用一两句话引入全文的主题，再写这一节。"
    } else if index + 1 == sections.len() {
        "这是最后一节：写完这一节的内容后，用一两句话收束全文。"
    } else {
        "这一节上承前文、下启后文，不要总结全文。"
    };
    user.push_str(&format!(
        "\n要求：\n\
         - 以“## {}”这一行开头，下面写这一节的正文，可以用列表、引用和加粗；\n\
         - 不写文章标题，不写其他小节；{position}\n\
         - 约 {chars} 字；\n\
         - 只输出这一节本身。",
        one_line(&this.heading)
    ));
    vec![Message::system(SYSTEM), Message::user(user)]
}

/// The same request, with what was written so far as DeepSeek's own
/// answer and the instruction to go on from where it stopped.
pub fn continuation(mut messages: Vec<Message>, written: &str) -> Vec<Message> {
    messages.push(Message::assistant(written));
    messages.push(Message::user(CONTINUE));
    messages
}

fn kind(brief: &Brief) -> &str {
    if brief.kind.is_empty() {
        DEFAULT_KIND
    } else {
        &brief.kind
    }
}

/// The brief as labelled lines, the visitor's notes quoted.
fn brief_lines(brief: &Brief, chars: u32) -> String {
    let mut lines = format!("主题：{}\n类型：{}\n", brief.topic, kind(brief));
    if !brief.tone.is_empty() {
        lines.push_str(&format!("语气：{}\n", brief.tone));
    }
    lines.push_str(&format!("字数：约 {chars} 字\n"));
    if !brief.keywords.is_empty() {
        lines.push_str(&format!("关键词：{}\n", brief.keywords.join("、")));
    }
    if !brief.notes.is_empty() {
        lines.push_str("作者的补充说明（请照顾到）：\n");
        lines.push_str(&quoted(&brief.notes));
    }
    lines
}

/// Each line behind `> `.
fn quoted(text: &str) -> String {
    text.lines().map(|line| format!("> {line}\n")).collect()
}

/// A heading or title kept on its line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::modules::writing::protocol::Length;

    fn brief() -> Brief {
        Brief {
            topic: "春天喝什么茶".into(),
            kind: "公众号推文".into(),
            tone: "轻松".into(),
            length: Length::Short,
            keywords: vec!["绿茶".into(), "冲泡".into()],
            notes: "写给上班族\n## 别当成小标题\n标题：不是标题".into(),
            outline: None,
            thinking: false,
        }
    }

    fn user(messages: &[Message]) -> &str {
        &messages.last().unwrap().content
    }

    #[test]
    fn the_article_prompt_has_the_labelled_lines_and_quotes_the_notes() {
        let messages = article(&brief());
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].content, SYSTEM);
        let text = user(&messages);
        for line in [
            "主题：春天喝什么茶",
            "类型：公众号推文",
            "语气：轻松",
            "字数：约 600 字",
            "关键词：绿茶、冲泡",
            "> ## 别当成小标题",
            "> 标题：不是标题",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        // No line of ours or of the visitor's reads as a heading.
        assert!(!text.lines().any(|l| l.trim().starts_with("## ")));
        assert!(!text.contains("大纲"), "the sandbox would write an outline");
    }

    #[test]
    fn empty_fields_are_left_out() {
        let text = user(&article(&Brief {
            kind: String::new(),
            tone: String::new(),
            keywords: vec![],
            notes: String::new(),
            ..brief()
        }))
        .to_owned();
        assert!(text.contains("类型：文章"));
        assert!(!text.contains("语气") && !text.contains("关键词：") && !text.contains("补充"));
    }

    #[test]
    fn the_outline_prompt_asks_for_an_outline() {
        let text = user(&outline(&brief())).to_owned();
        assert!(text.contains("大纲") && text.contains("主题：春天喝什么茶"));
        assert!(!text.lines().any(|l| l.trim().starts_with("## ")));
    }

    #[test]
    fn a_section_prompt_names_only_its_own_heading() {
        let outline = Outline::parse("# 春茶\n## 一、为什么\n- 新鲜\n## 二、怎么泡\n## 三、结语");
        let messages = section(&brief(), &outline, 1, 200);
        let text = user(&messages);
        let headings: Vec<_> = text
            .lines()
            .filter(|l| l.trim().starts_with("## "))
            .collect();
        assert_eq!(headings, ["## 怎么泡"]);
        assert!(text.contains("只写这一节") && text.contains("字数：约 200 字"));
        assert!(text.contains("> 1. 为什么") && text.contains("> 文章标题　春茶"));
        assert!(text.contains("全文共 3 节，这是第 2 节"));
        let first = section(&brief(), &outline, 0, 200);
        assert!(user(&first).contains("> - 新鲜"));
    }

    #[test]
    fn a_continuation_hands_back_the_text_as_the_answer() {
        let messages = continuation(article(&brief()), "# 春茶\n\n春天");
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[2].role, deepseek::Role::Assistant);
        assert_eq!(messages[2].content, "# 春茶\n\n春天");
        assert!(messages[3].content.contains("接着写"));
    }
}
