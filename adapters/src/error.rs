//! The adapters' one error type.

use std::fmt;

/// One field of a message that failed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Where, in the wire format's own names (`caller.mobile`, `Citizen.Phone`,
    /// `MBCS`); `body` for a problem with the whole message.
    pub field: String,
    /// What is wrong, precisely enough to fix it.
    pub reason: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Why a message could not be decoded or encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is larger than the limit (1 MiB).
    #[error("body: {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the body.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not valid in the encoding the message declares (or the
    /// format requires).
    #[error("body: bytes are not valid {encoding} at offset {offset}")]
    Encoding {
        /// The encoding expected.
        encoding: &'static str,
        /// Offset of the first bad byte.
        offset: usize,
    },
    /// The message declares an encoding the format does not use.
    #[error("body: declared encoding '{declared}', but this format is {expected}")]
    WrongEncoding {
        /// What the XML declaration or the Content-Type said.
        declared: String,
        /// What the format requires.
        expected: &'static str,
    },
    /// Not well-formed JSON, XML or form data.
    #[error("{field}: not well-formed {syntax}: {detail}")]
    Syntax {
        /// `JSON`, `XML` or `form data`.
        syntax: &'static str,
        /// Where, as far as known (`body` otherwise).
        field: String,
        /// The parser's message.
        detail: String,
    },
    /// A construct refused for safety: a DOCTYPE, an entity declaration or
    /// reference, a processing instruction.
    #[error("body: {construct} is not allowed")]
    Forbidden {
        /// What was found.
        construct: &'static str,
    },
    /// Nesting deeper than the limit.
    #[error("body: nesting is deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// An XML element with more attributes (namespace declarations
    /// included) than the limit: checking them for repeats takes time
    /// growing with the square of their number.
    #[error("{element}: more than {limit} attributes")]
    TooManyAttributes {
        /// The element's local name.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// A JSON object has the same key twice, or an XML element an element
    /// that may appear once.
    #[error("{field}: appears more than once")]
    Duplicate {
        /// The repeated field.
        field: String,
    },
    /// The message is well-formed but breaks the format's rules; every
    /// failing field is listed.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldError>),
    /// The canonical ticket cannot be written in the target format: a field
    /// the target requires is missing and has no documented default.
    #[error("{field}: {reason}")]
    Unrepresentable {
        /// The target format's field.
        field: String,
        /// Why.
        reason: String,
    },
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The error as a list of field errors, for the partners' error formats.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Invalid(errors) => errors.clone(),
            Error::Syntax { field, .. }
            | Error::Duplicate { field }
            | Error::TooManyAttributes { element: field, .. } => {
                vec![FieldError::new(field.clone(), self.reason())]
            }
            Error::Unrepresentable { field, reason } => {
                vec![FieldError::new(field.clone(), reason.clone())]
            }
            _ => vec![FieldError::new("body", self.reason())],
        }
    }

    /// The message without the leading field name.
    fn reason(&self) -> String {
        let full = self.to_string();
        match full.split_once(": ") {
            Some((_, reason)) => reason.to_owned(),
            None => full,
        }
    }

    /// A single invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldError::new(field, reason)])
    }
}
