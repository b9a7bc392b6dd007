//! The SOAP 1.1 envelope of hb-soap: which operation a message carries, who
//! sends it (`AuthHeader/SenderCode`), and the frame the gateway writes.

use super::{NS, SOAP_NS};
use crate::common::Check;
use crate::error::Error;
use crate::xml::{self, Charset, Node, Writer};
use crate::xmlwire::{self, Children, Shape};

/// The two operations of hb-soap, named by the first element in
/// `soap:Body` and by the `SOAPAction` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A ticket (工单).
    PushWorkOrder,
    /// A status update (反馈).
    PushFeedback,
}

impl Operation {
    /// Both operations.
    pub const ALL: [Operation; 2] = [Operation::PushWorkOrder, Operation::PushFeedback];

    /// The operation element's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::PushWorkOrder => "PushWorkOrder",
            Operation::PushFeedback => "PushFeedback",
        }
    }

    /// The `SOAPAction` header value, quoted as SOAP 1.1 writes it.
    pub fn soap_action(self) -> &'static str {
        match self {
            Operation::PushWorkOrder => "\"PushWorkOrder\"",
            Operation::PushFeedback => "\"PushFeedback\"",
        }
    }

    /// The operation a `SOAPAction` header value names (quoted or not).
    pub fn from_soap_action(value: &str) -> Option<Operation> {
        let v = value.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        Operation::ALL.into_iter().find(|op| op.as_str() == v)
    }

    fn of(el: Node<'_>) -> Option<Operation> {
        if el.ns() != Some(NS) {
            return None;
        }
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str() == el.name())
    }
}

const AUTH_HEADER: Shape = Shape {
    names: &["SenderCode"],
    nested: &[],
    ordered: false,
};

fn describe(el: Node<'_>) -> String {
    match el.ns() {
        Some(ns) => format!("<{}> in namespace {ns}", el.name()),
        None => format!("<{}> in no namespace", el.name()),
    }
}

fn envelope_part<'a>(root: Node<'a>, name: &str) -> Option<Node<'a>> {
    root.children()
        .find(|c| c.name() == name && c.ns() == Some(SOAP_NS))
}

/// Checks the envelope and returns the one element in `soap:Body`.
pub(crate) fn body_element(root: Node<'_>) -> Result<Node<'_>, Error> {
    if root.name() != "Envelope" || root.ns() != Some(SOAP_NS) {
        return Err(Error::invalid(
            "soap:Envelope",
            format!(
                "the root element must be <Envelope> in namespace {SOAP_NS}; got {}",
                describe(root)
            ),
        ));
    }
    if !xml::is_blank(root.text()) {
        return Err(Error::invalid(
            "soap:Envelope",
            "holds child elements only, not text",
        ));
    }
    let mut names = root.children().map(Node::name);
    let well_formed = root.children().all(|c| c.ns() == Some(SOAP_NS))
        && matches!(
            (names.next(), names.next(), names.next()),
            (Some("Body"), None, _) | (Some("Header"), Some("Body"), None)
        );
    if !well_formed {
        return Err(Error::invalid(
            "soap:Envelope",
            format!(
                "must hold an optional soap:Header and then one soap:Body; found {}",
                root.children().map(describe).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let body =
        envelope_part(root, "Body").ok_or_else(|| Error::invalid("soap:Body", "is required"))?;
    let mut children = body.children();
    match (children.next(), children.next()) {
        (Some(one), None) if xml::is_blank(body.text()) => Ok(one),
        (None, _) => Err(Error::invalid("soap:Body", "is empty")),
        _ => Err(Error::invalid(
            "soap:Body",
            "must hold exactly one element, the operation",
        )),
    }
}

/// Reads `AuthHeader/SenderCode`, recording what is wrong in `c`. Header
/// blocks other than `AuthHeader` are ignored unless they are marked
/// `mustUnderstand`.
fn sender_code<'a>(c: &mut Check, root: Node<'a>) -> Option<&'a str> {
    let Some(header) = envelope_part(root, "Header") else {
        c.fail(
            "AuthHeader",
            "soap:Header/AuthHeader/SenderCode is required",
        );
        return None;
    };
    let mut auth: Option<Node<'a>> = None;
    for block in header.children() {
        if block.name() == "AuthHeader" && block.ns() == Some(NS) {
            if auth.is_some() {
                c.fail("AuthHeader", "appears more than once");
            }
            auth = Some(block);
        } else if matches!(block.attr("mustUnderstand"), Some("1" | "true")) {
            c.fail(
                format!("soap:Header.{}", block.name()),
                "is marked mustUnderstand, and the gateway does not understand it",
            );
        }
    }
    let Some(auth) = auth else {
        c.fail(
            "AuthHeader",
            format!("soap:Header must hold AuthHeader in namespace {NS}"),
        );
        return None;
    };
    xmlwire::attrs(c, auth, "AuthHeader", &["mustUnderstand", "actor"]);
    let f = Children::read(c, auth, "AuthHeader", NS, &AUTH_HEADER);
    let code = c.required("SenderCode", f.text("SenderCode"));
    c.division("SenderCode", code);
    code
}

/// Checks the envelope, the operation (and that it is `expected`, when
/// given) and reads the sender. Envelope errors are returned at once;
/// sender errors are recorded in `c` with the operation's own.
pub(crate) fn read_operation<'a>(
    c: &mut Check,
    root: Node<'a>,
    expected: Option<Operation>,
) -> Result<(Operation, Node<'a>, Option<&'a str>), Error> {
    let el = body_element(root)?;
    let Some(op) = Operation::of(el) else {
        return Err(Error::invalid(
            "soap:Body",
            format!(
                "the operation must be PushWorkOrder or PushFeedback in namespace {NS}; got {}",
                describe(el)
            ),
        ));
    };
    if let Some(want) = expected.filter(|w| *w != op) {
        return Err(Error::invalid(
            "soap:Body",
            format!("expected {}; got {}", want.as_str(), op.as_str()),
        ));
    }
    xmlwire::attrs(c, el, op.as_str(), &[]);
    let sender = sender_code(c, root);
    Ok((op, el, sender))
}

/// The operation a request carries and its `SenderCode`, so the server can
/// dispatch and check the sender against the client certificate before
/// decoding the rest.
pub fn decode_envelope_operation(bytes: &[u8]) -> Result<(Operation, String), Error> {
    let text = xml::decode_body(bytes, Charset::Gb18030)?;
    let doc = xml::parse_doc(&text)?;
    let mut c = Check::new();
    let (op, _, sender) = read_operation(&mut c, doc.root(), None)?;
    c.finish()?;
    let sender = sender.ok_or_else(|| Error::invalid("SenderCode", "is required"))?;
    Ok((op, sender.to_owned()))
}

/// Starts a GB18030 document: `soap:Envelope`, the header with
/// `AuthHeader/SenderCode` when a sender is given, and an open `soap:Body`.
pub(crate) fn open_envelope(sender: Option<&str>) -> Writer {
    let mut w = Writer::new(Charset::Gb18030);
    w.open("soap:Envelope", &[("xmlns:soap", SOAP_NS)]);
    if let Some(code) = sender {
        w.open("soap:Header", &[]);
        w.open("AuthHeader", &[("xmlns", NS)]);
        w.text("SenderCode", &[], code);
        w.close();
        w.close();
    }
    w.open("soap:Body", &[]);
    w
}
