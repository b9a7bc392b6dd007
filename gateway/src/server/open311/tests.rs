//! Tests of the parent module.

use super::*;

#[test]
fn the_suffix_chooses_the_format() {
    assert_eq!(
        split_format("requests/01JQ5.json"),
        Some(("requests/01JQ5", Syntax::Json))
    );
    assert_eq!(
        split_format("services.xml"),
        Some(("services", Syntax::Xml))
    );
    assert_eq!(split_format("services"), None);
    assert_eq!(split_format("services.html"), None);
    assert_eq!(split_format(".json"), None);
}

#[test]
fn parameters_are_read_like_a_form() {
    let p = Params::parse("status=open&service_code=ROOF-LEAK,%20PIPE&service_code=WALL&x=");
    assert_eq!(p.first("status"), Some("open"));
    assert_eq!(p.first("x"), None);
    assert_eq!(
        p.list("service_code").unwrap(),
        ["ROOF-LEAK", "PIPE", "WALL"]
    );
    assert_eq!(p.list("service_request_id"), None);
}
