//! Tests of the parent module.

use super::parse_reply;

#[test]
fn replies_are_read_whole_or_chunked() {
    let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
    assert_eq!(parse_reply(plain).unwrap(), (200, "{}".to_owned()));
    let chunked =
            b"HTTP/1.1 422 Unprocessable\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n";
    assert_eq!(parse_reply(chunked).unwrap(), (422, "{\"a\"}".to_owned()));
    assert!(parse_reply(b"garbage").is_err());
}
