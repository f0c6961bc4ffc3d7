//! Articles' Markdown as HTML, the same on the server and in the browser.
//!
//! pulldown-cmark parses; the HTML is written here, from a fixed list of
//! tags, because pulldown-cmark's own writer passes raw HTML through and
//! cannot add the inline styles the 公众号 editor needs. Whatever the model
//! writes:
//! - raw HTML (`<script>`, `<img onerror>`, comments) is shown as text;
//! - a link keeps its destination only when it is http(s), mailto or
//!   relative (`javascript:`, `data:`, `//host` … lose the link, keep the
//!   text);
//! - an image becomes a link to it (its alt text, marked 图片), never an
//!   `<img>` (no tracking pixels, nothing loads by itself);
//! - the only attributes are `href`, `title`, `rel` and `start` (and
//!   `style` in the 公众号 copy).
//!
//! So the browser's render is clean by construction; the server also runs
//! it through ammonia ([`to_safe_html`]), and a property test checks that
//! ammonia changes nothing in what this writer makes from hostile input.

use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The `rel` of every link: ammonia adds the same.
pub const LINK_REL: &str = "noopener noreferrer";

/// The article as HTML for the page (no styles: the site's stylesheet
/// styles `.m-writer__article`).
pub fn to_html(markdown: &str) -> String {
    write(markdown, Look::Page)
}

/// The article as HTML with inline styles, for pasting into the 公众号
/// editor, which drops classes and style sheets but keeps `style`.
pub fn to_wechat_html(markdown: &str) -> String {
    let body = write(markdown, Look::Wechat);
    format!(r#"<section style="{}">{body}</section>"#, wechat::SECTION)
}

/// [`to_html`], then ammonia: what the server puts in a page.
#[cfg(feature = "ssr")]
pub fn to_safe_html(markdown: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some(LINK_REL))
        .clean(&to_html(markdown))
        .to_string()
}

/// How long the article is, the way Chinese editors count 字: each CJK
/// character (and each other letter or punctuation mark that is not part
/// of a word) is one, a run of Latin letters or digits is one. Markdown
/// syntax is not counted.
pub fn word_count(markdown: &str) -> usize {
    let mut count = 0;
    for event in Parser::new_ext(&normalise(markdown), options()) {
        if let Event::Text(text) | Event::Code(text) = event {
            count += count_text(&text);
        }
    }
    count
}

fn count_text(text: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if !in_word {
                count += 1;
                in_word = true;
            }
        } else {
            in_word = false;
            if !c.is_whitespace() && !c.is_ascii_punctuation() {
                count += 1;
            }
        }
    }
    count
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    Page,
    Wechat,
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// HTML parsers turn `\r` into `\n` and drop NUL; doing it first keeps
/// the text as the browser will hold it (NUL becomes U+FFFD, as CommonMark
/// asks).
fn normalise(markdown: &str) -> String {
    markdown
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\0', "\u{fffd}")
}

fn write(markdown: &str, look: Look) -> String {
    let markdown = normalise(markdown);
    let mut out = Writer {
        html: String::with_capacity(markdown.len() * 3 / 2),
        look,
        links: Vec::new(),
        image_depth: 0,
        table: Vec::new(),
        cell: 0,
        in_head: false,
    };
    for event in Parser::new_ext(&markdown, options()) {
        out.event(event);
    }
    out.html
}

struct Writer {
    html: String,
    look: Look,
    /// For each open link: whether it was written as `<a>` (a link whose
    /// destination was refused is only its text).
    links: Vec<bool>,
    /// Inside an image's alt text (written as text, no tags).
    image_depth: usize,
    /// The open table's column alignments.
    table: Vec<Alignment>,
    cell: usize,
    in_head: bool,
}

impl Writer {
    fn event(&mut self, event: Event) {
        if self.image_depth > 0 {
            // An image's alt text: only its words.
            match event {
                Event::Start(Tag::Image { .. }) => self.image_depth += 1,
                Event::End(TagEnd::Image) => {
                    self.image_depth -= 1;
                    if self.image_depth == 0 {
                        self.end_image();
                    }
                }
                Event::Text(text) | Event::Code(text) => self.text(&text),
                Event::InlineHtml(text) | Event::Html(text) => self.text(&text),
                Event::SoftBreak | Event::HardBreak => self.html.push(' '),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(text) => {
                self.open("code", wechat::CODE);
                self.text(&text);
                self.html.push_str("</code>");
            }
            // Raw HTML is shown as what it is: text.
            Event::Html(text) | Event::InlineHtml(text) => self.text(&text),
            Event::SoftBreak => self.html.push('\n'),
            Event::HardBreak => self.html.push_str("<br>\n"),
            Event::Rule => {
                self.open("hr", wechat::HR);
                self.html.push('\n');
            }
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
            // Not enabled (math, footnotes): their source as text.
            Event::InlineMath(text) | Event::DisplayMath(text) | Event::FootnoteReference(text) => {
                self.text(&text)
            }
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => self.open("p", wechat::P),
            Tag::Heading { level, .. } => {
                let (name, style) = heading(level);
                self.open(name, style);
            }
            Tag::BlockQuote(_) => {
                self.open("blockquote", wechat::BLOCKQUOTE);
                self.html.push('\n');
            }
            Tag::CodeBlock(_) => {
                self.open("pre", wechat::PRE);
                self.open("code", wechat::PRE_CODE);
            }
            // Raw HTML blocks are shown as text, in a paragraph.
            Tag::HtmlBlock => self.open("p", wechat::P),
            Tag::List(Some(start)) => {
                self.open_with("ol", wechat::OL, |html| {
                    if start != 1 {
                        html.push_str(&format!(r#" start="{start}""#));
                    }
                });
                self.html.push('\n');
            }
            Tag::List(None) => {
                self.open("ul", wechat::UL);
                self.html.push('\n');
            }
            Tag::Item => self.open("li", wechat::LI),
            Tag::Table(alignments) => {
                self.table = alignments;
                self.open("table", wechat::TABLE);
            }
            Tag::TableHead => {
                self.in_head = true;
                self.cell = 0;
                self.open("thead", "");
                self.open("tr", "");
            }
            Tag::TableRow => {
                self.cell = 0;
                self.open("tr", "");
            }
            Tag::TableCell => {
                let (name, style) = if self.in_head {
                    ("th", wechat::TH)
                } else {
                    ("td", wechat::TD)
                };
                let align = match self.table.get(self.cell) {
                    Some(Alignment::Left) => "text-align:left;",
                    Some(Alignment::Center) => "text-align:center;",
                    Some(Alignment::Right) => "text-align:right;",
                    _ => "",
                };
                if self.look == Look::Wechat {
                    self.html
                        .push_str(&format!(r#"<{name} style="{style}{align}">"#));
                } else {
                    self.html.push_str(&format!("<{name}>"));
                }
            }
            Tag::Emphasis => self.open("em", wechat::EM),
            Tag::Strong => self.open("strong", wechat::STRONG),
            Tag::Strikethrough => self.open("del", wechat::DEL),
            Tag::Link {
                dest_url, title, ..
            } => {
                // CommonMark never nests links; should one appear inside a
                // written one, it is only its text (HTML parsers would
                // tear a nested `<a>` apart).
                let href = if self.links.iter().any(|written| *written) {
                    None
                } else {
                    safe_href(&dest_url)
                };
                match href {
                    Some(href) => {
                        self.open_link(&href, &title);
                        self.links.push(true);
                    }
                    None => self.links.push(false),
                }
            }
            Tag::Image {
                dest_url, title, ..
            } => {
                self.image_depth = 1;
                // An image inside a link is only its alt text.
                let inside_link = self.links.iter().any(|written| *written);
                match safe_href(&dest_url).filter(|_| !inside_link) {
                    Some(href) => {
                        self.open_link(&href, &title);
                        self.links.push(true);
                    }
                    None => self.links.push(false),
                }
                self.html.push_str("【图片：");
            }
            // Not enabled: footnotes, definition lists, metadata,
            // super/subscript. Their text still shows.
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_)
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.html.push_str("</p>\n"),
            TagEnd::Heading(level) => {
                let (name, _) = heading(level);
                self.html.push_str(&format!("</{name}>\n"));
            }
            TagEnd::BlockQuote(_) => self.html.push_str("</blockquote>\n"),
            TagEnd::CodeBlock => self.html.push_str("</code></pre>\n"),
            TagEnd::List(true) => self.html.push_str("</ol>\n"),
            TagEnd::List(false) => self.html.push_str("</ul>\n"),
            TagEnd::Item => self.html.push_str("</li>\n"),
            TagEnd::Table => {
                // The head ends the table when it has no body.
                self.html.push_str("</tbody></table>\n");
                self.table.clear();
            }
            TagEnd::TableHead => {
                self.in_head = false;
                self.html.push_str("</tr></thead><tbody>");
            }
            TagEnd::TableRow => self.html.push_str("</tr>"),
            TagEnd::TableCell => {
                self.html
                    .push_str(if self.in_head { "</th>" } else { "</td>" });
                self.cell += 1;
            }
            TagEnd::Emphasis => self.html.push_str("</em>"),
            TagEnd::Strong => self.html.push_str("</strong>"),
            TagEnd::Strikethrough => self.html.push_str("</del>"),
            TagEnd::Link => {
                if self.links.pop() == Some(true) {
                    self.html.push_str("</a>");
                }
            }
            // Written by `end_image` (images are handled in `event`).
            TagEnd::Image => {}
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_)
            | TagEnd::Superscript
            | TagEnd::Subscript => {}
        }
    }

    fn end_image(&mut self) {
        self.html.push('】');
        if self.links.pop() == Some(true) {
            self.html.push_str("</a>");
        }
    }

    /// `<name>`, with its inline style in the 公众号 copy.
    fn open(&mut self, name: &str, style: &str) {
        self.open_with(name, style, |_| {});
    }

    fn open_with(&mut self, name: &str, style: &str, attributes: impl FnOnce(&mut String)) {
        self.html.push('<');
        self.html.push_str(name);
        attributes(&mut self.html);
        if self.look == Look::Wechat && !style.is_empty() {
            self.html.push_str(r#" style=""#);
            self.html.push_str(style);
            self.html.push('"');
        }
        self.html.push('>');
    }

    /// `<a href title style rel>`: ammonia appends `rel` after the other
    /// attributes, so this order is the one it gives back.
    fn open_link(&mut self, href: &str, title: &str) {
        let html = &mut self.html;
        html.push_str(r#"<a href=""#);
        escape_attribute(html, href);
        html.push('"');
        if !title.is_empty() {
            html.push_str(r#" title=""#);
            escape_attribute(html, title);
            html.push('"');
        }
        if self.look == Look::Wechat {
            html.push_str(&format!(r#" style="{}""#, wechat::A));
        }
        html.push_str(&format!(r#" rel="{LINK_REL}">"#));
    }

    fn text(&mut self, text: &str) {
        escape_text(&mut self.html, text);
    }
}

fn heading(level: HeadingLevel) -> (&'static str, &'static str) {
    match level {
        HeadingLevel::H1 => ("h1", wechat::H1),
        HeadingLevel::H2 => ("h2", wechat::H2),
        HeadingLevel::H3 => ("h3", wechat::H3),
        HeadingLevel::H4 => ("h4", wechat::H4),
        HeadingLevel::H5 => ("h5", wechat::H4),
        HeadingLevel::H6 => ("h6", wechat::H4),
    }
}

/// The destination of a link, if it is one this site shows: `http(s)://`
/// to a plain host name, `mailto:`, or relative to this site (`/path`,
/// `#part`, `?q`, `page`). Browsers ignore tabs and newlines inside a URL
/// and spaces around it, so `java\tscript:` is `javascript:` to them: the
/// scheme is judged with those removed.
pub fn safe_href(dest: &str) -> Option<String> {
    let dest = dest.trim();
    if dest.is_empty()
        || dest
            .chars()
            .any(|c| c.is_control() || c == '\\' || c.is_whitespace())
    {
        return None;
    }
    let lower = dest.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        let port_ok = port.is_none_or(|p| {
            !p.is_empty()
                && p.len() <= 5
                && p.chars().all(|c| c.is_ascii_digit())
                && p.parse::<u16>().is_ok()
        });
        // Only printable ASCII after the host: URL parsers agree on it.
        let rest_ok = dest.chars().all(|c| c.is_ascii_graphic());
        return (host_ok && port_ok && rest_ok).then(|| dest.to_owned());
    }
    if let Some(address) = lower.strip_prefix("mailto:") {
        let ok = !address.is_empty() && dest.chars().all(|c| c.is_ascii_graphic());
        return ok.then(|| dest.to_owned());
    }
    // Relative: no scheme before the first `/`, `?` or `#`, and not `//host`.
    let head = dest.split(['/', '?', '#']).next().unwrap_or_default();
    if head.contains(':') || dest.starts_with("//") {
        return None;
    }
    Some(dest.to_owned())
}

/// Text as HTML parsers give it back (`&`, `<`, `>`, no-break space).
fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}

/// An attribute value in double quotes, escaped as HTML serialisers do.
fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            c => escape_text(out, c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// The 公众号 copy's inline styles: plain CSS the editor keeps (no
/// classes, no variables, no web fonts). Colours as the site's.
mod wechat {
    pub const SECTION: &str =
        "font-size:16px;line-height:1.75;color:#1d2129;letter-spacing:0.5px;word-break:break-word;";
    pub const P: &str = "margin:0 0 1em;line-height:1.75;";
    pub const H1: &str =
        "margin:1.2em 0 0.8em;font-size:22px;font-weight:bold;line-height:1.4;color:#1d2129;";
    pub const H2: &str = "margin:1.4em 0 0.8em;padding-left:10px;border-left:4px solid #1f6f5c;font-size:19px;font-weight:bold;line-height:1.4;color:#1d2129;";
    pub const H3: &str =
        "margin:1.2em 0 0.6em;font-size:17px;font-weight:bold;line-height:1.4;color:#1f6f5c;";
    pub const H4: &str =
        "margin:1em 0 0.5em;font-size:16px;font-weight:bold;line-height:1.4;color:#1d2129;";
    pub const BLOCKQUOTE: &str = "margin:1em 0;padding:0.6em 1em;border-left:4px solid #c9cdd4;background:#f7f8fa;color:#4e5969;";
    pub const UL: &str = "margin:0 0 1em;padding-left:1.5em;list-style-type:disc;";
    pub const OL: &str = "margin:0 0 1em;padding-left:1.5em;list-style-type:decimal;";
    pub const LI: &str = "margin:0.25em 0;line-height:1.75;";
    pub const STRONG: &str = "font-weight:bold;color:#1d2129;";
    pub const EM: &str = "font-style:italic;";
    pub const DEL: &str = "text-decoration:line-through;";
    pub const CODE: &str = "padding:2px 4px;border-radius:3px;background:#f2f3f5;color:#c7254e;font-family:Menlo,Consolas,monospace;font-size:90%;";
    pub const PRE: &str = "margin:1em 0;padding:1em;border-radius:6px;background:#f7f8fa;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:14px;line-height:1.6;";
    pub const PRE_CODE: &str = "font-family:Menlo,Consolas,monospace;color:#1d2129;";
    pub const A: &str = "color:#1f6f5c;text-decoration:underline;";
    pub const HR: &str = "margin:1.5em 0;border:0;border-top:1px solid #e5e6eb;";
    pub const TABLE: &str = "width:100%;margin:1em 0;border-collapse:collapse;font-size:14px;";
    pub const TH: &str =
        "padding:6px 10px;border:1px solid #c9cdd4;background:#f7f8fa;font-weight:bold;";
    pub const TD: &str = "padding:6px 10px;border:1px solid #c9cdd4;";
}

/// For tests: every tag in `html`, checked to be one this renderer writes,
/// with only its attributes and only safe links.
#[cfg(test)]
pub fn assert_only_safe_tags(html: &str) {
    const TAGS: &[&str] = &[
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "code",
        "ol",
        "ul",
        "li",
        "em",
        "strong",
        "del",
        "a",
        "hr",
        "br",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ];
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("a tag that ends") + start;
        let tag = &rest[start + 1..end];
        let tag = tag.strip_prefix('/').unwrap_or(tag);
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        assert!(TAGS.contains(&name), "<{name}> in {html}");
        let mut attributes = attributes;
        while let Some(eq) = attributes.find("=\"") {
            let attribute = attributes[..eq].trim();
            let value_end = attributes[eq + 2..].find('"').expect("a quoted value") + eq + 2;
            let value = &attributes[eq + 2..value_end];
            match attribute {
                "href" => assert!(
                    safe_href(&value.replace("&amp;", "&")).is_some(),
                    "href={value} in {html}"
                ),
                "rel" => assert_eq!(value, LINK_REL),
                "title" | "start" => {}
                other => panic!("attribute {other} in {html}"),
            }
            attributes = &attributes[value_end + 1..];
        }
        assert!(attributes.trim().is_empty(), "{attributes} in {html}");
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_plain_tags() {
        let html = to_html("# 标题\n\n一段**重点**和*强调*，`代码`。\n\n- 甲\n- 乙\n\n3. 三\n4. 四\n\n> 引用\n\n---\n");
        assert_eq!(
            html,
            "<h1>标题</h1>\n<p>一段<strong>重点</strong>和<em>强调</em>，<code>代码</code>。</p>\n\
             <ul>\n<li>甲</li>\n<li>乙</li>\n</ul>\n<ol start=\"3\">\n<li>三</li>\n<li>四</li>\n</ol>\n\
             <blockquote>\n<p>引用</p>\n</blockquote>\n<hr>\n"
        );
    }

    #[test]
    fn raw_html_is_text() {
        let html =
            to_html("<script>alert(1)</script>\n\n段落 <img src=x onerror=alert(1)> 和 <b>粗</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
    }

    #[test]
    fn only_safe_links_are_links() {
        for (markdown, href) in [
            (
                "[a](https://example.com/x?y=1&z=2)",
                Some("https://example.com/x?y=1&amp;z=2"),
            ),
            (
                "[a](http://example.com:8080)",
                Some("http://example.com:8080"),
            ),
            (
                "[a](mailto:someone@example.com)",
                Some("mailto:someone@example.com"),
            ),
            ("[a](/articles)", Some("/articles")),
            ("[a](#part)", Some("#part")),
            ("<https://example.com>", Some("https://example.com")),
            ("[a](javascript:alert(1))", None),
            ("[a](JavaScript:alert(1))", None),
            ("[a](java&#x09;script:alert(1))", None),
            ("[a](<java\tscript:alert(1)>)", None),
            ("[a](&#106;avascript:alert(1))", None),
            ("[a](data:text/html,<script>alert(1)</script>)", None),
            ("[a](vbscript:x)", None),
            ("[a](//evil.example)", None),
            ("[a](https://evil.example\\@good)", None),
            ("[a](https://)", None),
            ("<javascript:alert(1)>", None),
        ] {
            let html = to_html(markdown);
            match href {
                Some(href) => assert!(
                    html.contains(&format!(r#"<a href="{href}" rel="noopener noreferrer">"#)),
                    "{markdown}: {html}"
                ),
                None => assert!(!html.contains("<a"), "{markdown}: {html}"),
            }
        }
    }

    #[test]
    fn images_become_links_to_them() {
        let html = to_html("![一张图](https://example.com/a.png)");
        assert_eq!(
            html,
            "<p><a href=\"https://example.com/a.png\" rel=\"noopener noreferrer\">【图片：一张图】</a></p>\n"
        );
        let html = to_html("![x](javascript:alert(1)) [![y](https://e.com/i.png)](https://e.com)");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
        assert_eq!(html.matches("<a ").count(), 1, "{html}");
    }

    #[test]
    fn the_wechat_copy_has_inline_styles_on_every_tag() {
        let html = to_wechat_html("## 小节\n\n正文**重点**\n\n> 引用\n\n1. 一\n2. 二\n");
        assert!(html.starts_with("<section style=\""), "{html}");
        for tag in ["h2", "p", "strong", "blockquote", "ol", "li"] {
            assert!(html.contains(&format!("<{tag} style=\"")), "{tag}: {html}");
        }
        assert!(!html.contains("class="), "{html}");
        // The page's render has none (the CSP forbids inline styles).
        assert!(!to_html("## 小节\n\n正文**重点**").contains("style="));
    }

    #[test]
    fn tables_keep_their_alignment_only_in_the_wechat_copy() {
        let markdown = "| a | b |\n|:--|--:|\n| 1 | 2 |\n";
        assert_eq!(
            to_html(markdown),
            "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>\n"
        );
        assert!(to_wechat_html(markdown).contains("text-align:right;"));
    }

    #[test]
    fn words_are_counted_as_chinese_editors_do() {
        // 你好 世界 ， hello world 2024 ！
        assert_eq!(word_count("# 你好\n\n世界，hello world 2024！"), 9);
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("**加粗**"), 2);
    }

    #[cfg(feature = "ssr")]
    mod against_ammonia {
        use proptest::prelude::*;

        use super::super::*;

        /// Pieces of hostile Markdown, mixed at random.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("<script>alert(1)</script>".to_owned()),
                Just("<img src=x onerror=alert(1)>".to_owned()),
                Just("<a href=\"javascript:alert(1)\">x</a>".to_owned()),
                Just("<div style=\"position:fixed\" onclick=\"x()\">".to_owned()),
                Just("<!-- c -->".to_owned()),
                Just("<iframe src=//e>".to_owned()),
                Just("[l](javascript:alert(1))".to_owned()),
                Just("[l](java\tscript:x)".to_owned()),
                Just("[l](data:text/html;base64,PHNjcmlwdD4=)".to_owned()),
                Just("[l](https://e.com/a?b=1&c=\"2\" \"title & <t>\")".to_owned()),
                Just("[l](<https://e.com/a b>)".to_owned()),
                Just("[l](/x 'it''s')".to_owned()),
                Just("<https://e.com/?q=<x>>".to_owned()),
                Just("<mailto:a@e.com>".to_owned()),
                Just("![i](https://e.com/i.png \"t\")".to_owned()),
                Just("[![i](x.png)](https://e.com)".to_owned()),
                Just("**b** *i* ~~s~~ `c<d>`".to_owned()),
                Just("\n\n# h\n\n".to_owned()),
                Just("\n\n```html\n<script>x</script>\n```\n\n".to_owned()),
                Just("\n\n> q\n> - a\n\n".to_owned()),
                Just("\n\n1. a\n2. b\n\n".to_owned()),
                Just("\n\n5. a\n\n".to_owned()),
                Just("\n\n- [ ] t\n- [x] d\n\n".to_owned()),
                Just("\n\n| a | b |\n|:-:|--|\n| <b> | [l](javascript:x) |\n\n".to_owned()),
                Just("\n\n| a |\n|---|\n\n".to_owned()),
                Just("\n\n    indented <code>\n\n".to_owned()),
                Just("a  \nb\\\nc".to_owned()),
                Just("&amp; &lt; &#0; &nbsp; \u{a0} \r\n \u{0} \u{7f}".to_owned()),
                Just("\n\n---\n\n".to_owned()),
                Just("\"quotes\" 'single' > < &".to_owned()),
                "[ -~\u{4e00}-\u{4e10}\n]{0,20}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            /// What the browser shows is already what ammonia would let
            /// through: ammonia changes nothing.
            #[test]
            fn ammonia_leaves_the_render_unchanged(pieces in proptest::collection::vec(piece(), 1..8)) {
                let markdown = pieces.concat();
                let html = to_html(&markdown);
                assert_only_safe_tags(&html);
                prop_assert_eq!(to_safe_html(&markdown), html);
            }

            /// The 公众号 copy too (with `style` allowed, which is its point).
            #[test]
            fn ammonia_leaves_the_wechat_copy_unchanged(pieces in proptest::collection::vec(piece(), 1..8)) {
                let html = to_wechat_html(&pieces.concat());
                let cleaned = ammonia::Builder::default()
                    .link_rel(Some(LINK_REL))
                    .add_generic_attributes(["style"])
                    .add_tags(["section"])
                    .clean(&html)
                    .to_string();
                prop_assert_eq!(cleaned, html);
            }
        }

        #[test]
        fn the_server_render_has_no_script() {
            let html = to_safe_html("<script>alert(1)</script>\n\n[x](javascript:alert(1)) <a href=\"javascript:y\">z</a>");
            assert!(!html.contains("<script"), "{html}");
            assert_only_safe_tags(&html);
        }
    }
}
