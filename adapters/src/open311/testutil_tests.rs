//! Helpers of the Open311 unit tests.

use std::path::Path;

use schemas::Tables;

pub fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

pub fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../conformance-tests/samples/open311/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

pub fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}
