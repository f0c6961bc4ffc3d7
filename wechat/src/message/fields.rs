//! A bounded reader for WeChat's flat `<xml>` documents.
//!
//! Every WeChat push is one `<xml>` root whose children hold text or CDATA.
//! This reader collects those children into a small ordered map and refuses
//! anything that could make parsing expensive or ambiguous: oversized
//! bodies, too many elements, deep nesting, DOCTYPE declarations (and with
//! them custom entities), unknown entity references and duplicate fields.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::ParseError;

/// Largest body accepted. WeChat's pushes are well under 4 KiB; 64 KiB
/// leaves room for long text messages while bounding the work.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most elements (root included) in one body.
pub const MAX_ELEMENTS: usize = 64;
/// Deepest nesting accepted (`<xml>` is level 1). Some events carry one
/// nested group such as `<ScanCodeInfo><ScanType>`; four levels is ample.
pub const MAX_DEPTH: usize = 4;

const ROOT: &str = "xml";

/// The direct children of `<xml>`, in document order, with their text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlFields {
    fields: Vec<(String, String)>,
}

impl XmlFields {
    /// The text of the child element `name` (case-sensitive, like WeChat's
    /// field names).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// All fields in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Text collected for the field currently open at depth 2.
struct FieldText {
    /// Everything, in document order.
    all: String,
    /// Only the CDATA sections.
    cdata: String,
    saw_cdata: bool,
    /// Whether every piece of loose text so far was whitespace.
    text_is_layout: bool,
}

impl FieldText {
    fn new() -> Self {
        Self {
            all: String::new(),
            cdata: String::new(),
            saw_cdata: false,
            text_is_layout: true,
        }
    }

    fn push_text(&mut self, text: &str) {
        self.text_is_layout &= text.trim().is_empty();
        self.all.push_str(text);
    }

    fn push_cdata(&mut self, text: &str) {
        self.saw_cdata = true;
        self.cdata.push_str(text);
        self.all.push_str(text);
    }

    /// Pretty-printed pushes put whitespace around CDATA sections
    /// (`<MsgType>  <![CDATA[video]]></MsgType>` in Tencent's own sample):
    /// when a field has CDATA and its loose text is only whitespace, that
    /// whitespace is layout, not value.
    fn finish(self) -> String {
        if self.saw_cdata && self.text_is_layout {
            self.cdata
        } else {
            self.all
        }
    }
}

/// Parses a WeChat `<xml>` body into its fields.
pub fn parse_fields(xml: &[u8]) -> Result<XmlFields, ParseError> {
    if xml.len() > MAX_BODY_BYTES {
        return Err(ParseError::TooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let text = std::str::from_utf8(xml).map_err(|_| ParseError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;

    let mut fields = XmlFields::default();
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut root_closed = false;
    let mut current: Option<(String, FieldText)> = None;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError::Malformed(e.to_string()))?;
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(_) | Event::Empty(_) if root_closed => {
                return Err(ParseError::Malformed(
                    "content after the root element".into(),
                ));
            }
            Event::Start(start) => {
                elements += 1;
                depth += 1;
                check_limits(elements, depth)?;
                let name = element_name(start.name().as_ref())?;
                open_element(&mut current, depth, name)?;
            }
            Event::Empty(start) => {
                elements += 1;
                check_limits(elements, depth + 1)?;
                let name = element_name(start.name().as_ref())?;
                match depth {
                    0 if name == ROOT => root_closed = true,
                    0 => return Err(ParseError::WrongRoot),
                    1 => insert(&mut fields, name, String::new())?,
                    _ => {}
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some((name, text)) = current.take() {
                        insert(&mut fields, name, text.finish())?;
                    }
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    root_closed = true;
                }
            }
            Event::Text(t) => {
                let decoded = t
                    .decode()
                    .map_err(|e| ParseError::Malformed(e.to_string()))?;
                text_outside_fields_is_layout(depth, &decoded)?;
                if let (2, Some((_, field))) = (depth, current.as_mut()) {
                    field.push_text(&decoded);
                }
            }
            Event::CData(c) => {
                let decoded = c
                    .decode()
                    .map_err(|e| ParseError::Malformed(e.to_string()))?;
                if depth == 0 {
                    return Err(ParseError::Malformed(
                        "CDATA outside the root element".into(),
                    ));
                }
                if let (2, Some((_, field))) = (depth, current.as_mut()) {
                    field.push_cdata(&decoded);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference)?;
                if depth == 0 {
                    return Err(ParseError::Malformed(
                        "text outside the root element".into(),
                    ));
                }
                if let (2, Some((_, field))) = (depth, current.as_mut()) {
                    field.push_text(&resolved);
                }
            }
        }
    }
    if !root_closed || depth != 0 {
        return Err(ParseError::Malformed(
            "document ends inside an element".into(),
        ));
    }
    Ok(fields)
}

fn check_limits(elements: usize, depth: usize) -> Result<(), ParseError> {
    if elements > MAX_ELEMENTS {
        return Err(ParseError::TooManyElements {
            limit: MAX_ELEMENTS,
        });
    }
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep { limit: MAX_DEPTH });
    }
    Ok(())
}

fn element_name(raw: &[u8]) -> Result<String, ParseError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| ParseError::NotUtf8)
}

/// Tracks the field being read; `depth` already counts the new element.
fn open_element(
    current: &mut Option<(String, FieldText)>,
    depth: usize,
    name: String,
) -> Result<(), ParseError> {
    match depth {
        1 if name != ROOT => Err(ParseError::WrongRoot),
        2 => {
            *current = Some((name, FieldText::new()));
            Ok(())
        }
        _ => Ok(()),
    }
}

fn insert(fields: &mut XmlFields, name: String, value: String) -> Result<(), ParseError> {
    // A duplicate would let a forged plain field shadow a signed one in
    // compatible mode, or make two readers disagree: refuse it.
    if fields.get(&name).is_some() {
        return Err(ParseError::DuplicateField(name));
    }
    fields.fields.push((name, value));
    Ok(())
}

/// Outside the root only layout whitespace may appear.
fn text_outside_fields_is_layout(depth: usize, text: &str) -> Result<(), ParseError> {
    if depth == 0 && !text.trim().is_empty() {
        return Err(ParseError::Malformed(
            "text outside the root element".into(),
        ));
    }
    Ok(())
}

/// Only the five predefined entities and character references exist here:
/// without a DTD nothing else can be defined, so anything else is an error.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, ParseError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            _ => Err(ParseError::Malformed("invalid character reference".into())),
        };
    }
    let name = reference.decode().map_err(|_| ParseError::NotUtf8)?;
    resolve_predefined_entity(&name)
        .map(str::to_owned)
        .ok_or(ParseError::UnknownEntity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<XmlFields, ParseError> {
        parse_fields(xml.as_bytes())
    }

    #[test]
    fn reads_text_cdata_and_empty_fields() {
        let f = parse(
            "<?xml version=\"1.0\"?>\n<xml>\n  <A><![CDATA[x]]></A>\n  <B>12</B>\n  <C/>\n  <D></D>\n</xml>\n",
        )
        .unwrap();
        assert_eq!(f.get("A"), Some("x"));
        assert_eq!(f.get("B"), Some("12"));
        assert_eq!(f.get("C"), Some(""));
        assert_eq!(f.get("D"), Some(""));
        assert_eq!(f.get("E"), None);
        assert_eq!(f.iter().count(), 4);
    }

    #[test]
    fn whitespace_around_cdata_is_layout() {
        let f = parse("<xml><MsgType>  <![CDATA[video]]>\n</MsgType></xml>").unwrap();
        assert_eq!(f.get("MsgType"), Some("video"));
    }

    #[test]
    fn adjacent_cdata_sections_join() {
        let f = parse("<xml><C><![CDATA[a]]]]><![CDATA[>b]]></C></xml>").unwrap();
        assert_eq!(f.get("C"), Some("a]]>b"));
    }

    #[test]
    fn predefined_entities_and_char_refs_resolve() {
        let f = parse("<xml><C>&lt;a&gt; &amp; &quot;&apos; &#20320;&#x597d;</C></xml>").unwrap();
        assert_eq!(f.get("C"), Some("<a> & \"' 你好"));
    }

    #[test]
    fn other_entities_and_doctype_are_refused() {
        assert_eq!(
            parse("<xml><C>&foo;</C></xml>"),
            Err(ParseError::UnknownEntity)
        );
        let bomb =
            "<!DOCTYPE xml [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]><xml><C>&b;</C></xml>";
        assert_eq!(parse(bomb), Err(ParseError::Doctype));
        assert!(parse("<xml><C>&#0;</C></xml>").is_err());
    }

    #[test]
    fn nested_groups_are_skipped_but_bounded() {
        let f = parse("<xml><Event>e</Event><Info><Type>t</Type></Info></xml>").unwrap();
        assert_eq!(f.get("Event"), Some("e"));
        assert_eq!(f.get("Type"), None);
        let deep = "<xml><a><b><c><d>x</d></c></b></a></xml>";
        assert_eq!(parse(deep), Err(ParseError::TooDeep { limit: MAX_DEPTH }));
    }

    #[test]
    fn limits_are_enforced() {
        let many: String = (0..MAX_ELEMENTS).map(|i| format!("<F{i}/>")).collect();
        assert_eq!(
            parse(&format!("<xml>{many}</xml>")),
            Err(ParseError::TooManyElements {
                limit: MAX_ELEMENTS
            })
        );
        let big = format!("<xml><C>{}</C></xml>", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            parse(&big),
            Err(ParseError::TooLarge {
                limit: MAX_BODY_BYTES
            })
        );
    }

    #[test]
    fn structure_errors_are_values() {
        assert_eq!(parse("<root><A>1</A></root>"), Err(ParseError::WrongRoot));
        assert!(matches!(
            parse("<xml><A>1</A>"),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse("<xml><A>1</B></xml>"),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse("<xml/><xml/>"),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(parse("junk<xml/>"), Err(ParseError::Malformed(_))));
        assert!(matches!(parse(""), Err(ParseError::Malformed(_))));
        assert_eq!(
            parse("<xml><A>1</A><A>2</A></xml>"),
            Err(ParseError::DuplicateField("A".into()))
        );
        assert_eq!(parse_fields(b"<xml>\xff</xml>"), Err(ParseError::NotUtf8));
    }
}
