//! The conformance suite's shared helpers.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod arbitrary;
pub mod compare;

use std::path::PathBuf;
use std::sync::OnceLock;

use schemas::Tables;

/// The data tables of the project (`schemas/data`).
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/data");
        Tables::load(&dir).expect("the project's data tables load")
    })
}
