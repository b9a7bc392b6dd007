//! Shared body of every decoder target.

use std::path::Path;
use std::sync::OnceLock;

use adapters::Family;
use schemas::Tables;

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data");
        Tables::load(&dir).expect("data tables load")
    })
}

/// Decodes `data` as a ticket and as a status update; anything that decodes
/// is encoded back into the same family and into every other one, and the
/// same-family output must decode again.
pub fn decode_and_reencode(family: &str, data: &[u8]) {
    let family: Family = family.parse().expect("a known family");
    let tables = tables();
    if let Ok(ticket) = adapters::decode_ticket(family, data, tables) {
        for target in Family::ALL {
            let encoded = adapters::encode_ticket(target, &ticket, tables);
            if target == family {
                let bytes = encoded.expect("a decoded ticket encodes in its own family").bytes;
                adapters::decode_ticket(family, &bytes, tables)
                    .expect("the re-encoded ticket decodes again");
            }
        }
    }
    if let Ok(status) = adapters::decode_status(family, data, tables) {
        for target in Family::ALL {
            let _ = adapters::encode_status(target, &status, tables);
        }
    }
}
