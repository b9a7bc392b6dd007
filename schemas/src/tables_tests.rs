//! Tests of the parent module.

use super::*;

fn tables() -> Tables {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    Tables::load(&dir).unwrap()
}

#[test]
fn division_resolution_prefers_exact_then_prefecture_then_province() {
    let t = tables();
    assert_eq!(
        t.hotlines.resolve("130682").unwrap().partner_id,
        "hb-130682"
    );
    assert_eq!(
        t.hotlines.resolve("130102").unwrap().partner_id,
        "hb-130100"
    );
    assert_eq!(t.hotlines.resolve("120101").unwrap().partner_id, "tj12345");
    assert_eq!(
        t.hotlines.resolve("131082").unwrap().partner_id,
        "hb-131000"
    );
    assert_eq!(t.hotlines.resolve("110105").unwrap().partner_id, "bj12345");
    assert!(t.hotlines.resolve("140100").is_none());
    assert!(t.hotlines.resolve("1401").is_none());
}

#[test]
fn category_falls_back_to_nearest_ancestor_then_other() {
    let t = tables();
    let m = t.categories.to_partner(Scheme::Hb, "housing.repair.wall");
    assert_eq!((m.code, m.exact), ("030100", false));
    assert_eq!(m.entry.code, "housing.repair");
    let m = t.categories.to_partner(Scheme::Ent, "housing.repair.wall");
    assert_eq!((m.code, m.entry.code.as_str()), ("E-99", "other"));
    let m = t
        .categories
        .to_partner(Scheme::Bj, "utilities.water_supply");
    assert_eq!((m.code, m.exact), ("0602", true));
    assert_eq!(
        t.categories
            .from_partner(Scheme::Tj, "TJ-13-01")
            .unwrap()
            .code,
        "consumer.prepaid_refund"
    );
}

#[test]
fn compounds_match_by_name_or_keyword_within_division() {
    let t = tables();
    let c = t
        .compounds
        .find(Some("百万庄小区"), None, Some("110102"))
        .unwrap();
    assert_eq!(c.unit_id, "pu-central-001");
    let c = t
        .compounds
        .find(None, Some("北京市海淀区增光路甘家口小区12号楼"), None)
        .unwrap();
    assert_eq!(c.unit_id, "pu-central-003");
    assert!(
        t.compounds
            .find(Some("百万庄小区"), None, Some("110108"))
            .is_none()
    );
    assert!(
        t.compounds
            .find(Some("幸福小区"), Some("天津市和平区"), None)
            .is_none()
    );
}

#[test]
fn a_broken_table_names_file_line_and_field() {
    let err = Hotlines::from_csv(
        "h.csv",
        "division_code,partner_id,name_zh,name_en,format\n11000,bj,北京,Beijing,bj-json\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "h.csv line 2, field division_code: '11000' is not a 6-digit code"
    );
}
