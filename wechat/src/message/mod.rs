//! Pushed XML messages: bounded parsing into typed values, passive replies,
//! and builders for the WeChat side (used by the site's sandbox).

mod build;
mod envelope;
mod error;
mod fields;
mod parse;

pub use build::{cdata, event_xml, text_reply, text_xml};
pub use envelope::{parse_envelope, Envelope};
pub use error::ParseError;
pub use fields::{parse_fields, XmlFields, MAX_BODY_BYTES, MAX_DEPTH, MAX_ELEMENTS};
pub use parse::{parse_message, Message, MessageKind};
