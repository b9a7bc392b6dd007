//! The canonical model of the Jing-Jin-Ji 12345 gateway: the canonical ticket
//! and status update, the data tables (categories, hotlines, compounds) and
//! the schema documents of every wire format (files under `formats/`).
//!
//! This crate knows no wire format and does no I/O except reading the data
//! tables when asked to ([`Tables::load`]).
#![forbid(unsafe_code)]

mod tables;
mod ticket;

use std::path::PathBuf;

pub use tables::{
    Categories, CategoryEntry, Compound, Compounds, Hotline, Hotlines, MappedCategory, OTHER,
    Scheme, TABLE_FILES, Tables, is_division,
};
pub use ticket::{
    Attachment, Caller, Category, Channel, Datum, Enterprise, HistoryEntry, Location, OwnerKind,
    Point, Property, Satisfaction, SourceCode, SourcePoint, Status, StatusUpdate, Target, Ticket,
    Timestamp, Urgency,
};

/// Errors of this crate: loading the data tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A table file is not well-formed CSV, or a row lacks a column.
    #[error("{file} line {line}: {detail}")]
    Csv {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// The CSV reader's message.
        detail: String,
    },
    /// A row holds a value that breaks the table's rules.
    #[error("{file} line {line}, field {field}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// The column.
        field: String,
        /// What is wrong.
        reason: String,
    },
}
