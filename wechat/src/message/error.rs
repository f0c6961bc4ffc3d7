use thiserror::Error;

/// Why a pushed XML body was refused. Texts name fields, never values: a
/// value may be a user's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("XML body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("XML body has more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("XML body nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("XML body is not valid UTF-8")]
    NotUtf8,
    #[error("XML body declares a DOCTYPE, which is refused")]
    Doctype,
    #[error("XML body uses an entity other than the five predefined ones")]
    UnknownEntity,
    #[error("XML body is malformed: {0}")]
    Malformed(String),
    #[error("XML root element must be <xml>")]
    WrongRoot,
    #[error("XML element <{0}> appears twice")]
    DuplicateField(String),
    #[error("XML field <{0}> is missing")]
    MissingField(&'static str),
    #[error("XML field <CreateTime> is not an integer")]
    BadCreateTime,
}
