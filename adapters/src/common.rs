//! What every adapter needs besides parsing: validation that collects every
//! failing field, the loss report, and category mapping.

use schemas::{Category, Scheme, SourceCode, Tables, Urgency};

use crate::error::{Error, FieldError};
use crate::{geo, ident, swar, time};

/// A field's name as an error gives it, made only when one is recorded.
pub trait Field: Copy {
    /// The name.
    fn name(self) -> String;
}

impl Field for &str {
    fn name(self) -> String {
        self.to_owned()
    }
}

impl Field for &String {
    fn name(self) -> String {
        self.clone()
    }
}

/// A field of a list's item, `list[index].field` (`attachments[1].url`).
#[derive(Clone, Copy, Debug)]
pub struct ItemField<'a>(pub &'a str, pub usize, pub &'a str);

impl Field for ItemField<'_> {
    fn name(self) -> String {
        format!("{}[{}].{}", self.0, self.1, self.2)
    }
}

/// Collects field errors so one reply lists every problem of a message.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    /// A new, empty collector.
    pub fn new() -> Check {
        Check::default()
    }

    /// Records an error.
    pub fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    /// Records `result`'s error, if any, and passes its value on.
    pub fn take<T>(&mut self, field: impl Field, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(reason) => {
                self.fail(field.name(), reason);
                None
            }
        }
    }

    /// A required value: present and not blank.
    pub fn required<'a>(&mut self, field: impl Field, value: Option<&'a str>) -> Option<&'a str> {
        match value {
            Some(v) if !v.trim().is_empty() => Some(v),
            Some(_) => {
                self.fail(field.name(), "must not be empty");
                None
            }
            None => {
                self.fail(field.name(), "is required");
                None
            }
        }
    }

    /// Free text: at most `max` code points and only characters every
    /// format can carry (no control characters but tab, LF and CR).
    pub fn text(&mut self, field: impl Field, value: &str, max: usize) {
        // A value has no more code points than bytes: only a long one
        // needs counting.
        if value.len() > max {
            let count = value.chars().count();
            if count > max {
                self.fail(
                    field.name(),
                    format!("is {count} characters long; at most {max} are allowed"),
                );
            }
        }
        if may_hold_non_xml_char(value)
            && let Some(c) = value.chars().find(|&c| !crate::xml::is_xml_char(c))
        {
            self.fail(
                field.name(),
                format!("contains the control character U+{:04X}", u32::from(c)),
            );
        }
    }

    /// Optional free text.
    pub fn opt_text(&mut self, field: impl Field, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, max);
        }
    }

    /// A required text: present, non-blank, bounded.
    pub fn required_text(&mut self, field: impl Field, value: Option<&str>, max: usize) -> String {
        match self.required(field, value) {
            Some(v) => {
                self.text(field, v, max);
                v.to_owned()
            }
            None => String::new(),
        }
    }

    /// An identifier: 1–`max` characters of `[A-Za-z0-9-_.]`.
    pub fn id(&mut self, field: impl Field, value: Option<&str>, max: usize) -> String {
        let Some(v) = self.required(field, value) else {
            return String::new();
        };
        let ok_chars = v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok_chars || v.len() > max {
            self.fail(
                field.name(),
                format!("'{v}' must be 1 to {max} characters of A-Z, a-z, 0-9, '-', '_' or '.'"),
            );
        }
        v.to_owned()
    }

    /// An optional phone number.
    pub fn phone(&mut self, field: impl Field, value: Option<&str>) {
        if let Some(v) = value {
            self.take(field, ident::check_phone(v));
        }
    }

    /// An optional division code.
    pub fn division(&mut self, field: impl Field, value: Option<&str>) {
        if let Some(v) = value {
            self.take(field, ident::check_division(v));
        }
    }

    /// An optional USCC.
    pub fn uscc(&mut self, field: impl Field, value: Option<&str>) {
        if let Some(v) = value {
            self.take(field, ident::check_uscc(v));
        }
    }

    /// An optional SHA-256 digest.
    pub fn sha256(&mut self, field: impl Field, value: Option<&str>) {
        if let Some(v) = value {
            self.take(field, ident::check_sha256(v));
        }
    }

    /// An optional URL: absolute http(s), no spaces.
    pub fn url(&mut self, field: impl Field, value: &str) {
        // In ASCII, white space and control characters are the bytes up
        // to the space, and DEL.
        let spaced = if value.is_ascii() {
            value.bytes().any(|b| b <= b' ' || b == 0x7f)
        } else {
            value.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        let ok = (value.starts_with("https://") || value.starts_with("http://"))
            && value.len() > "https://".len()
            && !spaced;
        if !ok {
            self.fail(
                field.name(),
                format!("'{value}' is not an absolute http(s) URL"),
            );
        }
    }

    /// A point's range.
    pub fn point(&mut self, field: impl Field, p: schemas::Point) {
        self.take(field, geo::check_range(p));
    }

    /// An RFC 3339 time.
    pub fn rfc3339(
        &mut self,
        field: impl Field,
        value: Option<&str>,
    ) -> Option<schemas::Timestamp> {
        let v = self.required(field, value)?;
        self.take(field, time::parse_rfc3339(v))
    }

    /// The caller rule: anonymous means no name and no phone.
    pub fn anonymous(
        &mut self,
        field: impl Field,
        anonymous: bool,
        name: Option<&str>,
        phone: Option<&str>,
    ) {
        if anonymous && (name.is_some() || phone.is_some()) {
            self.fail(
                field.name(),
                "an anonymous caller must not carry a name or a phone number",
            );
        }
    }

    /// Ends validation: every recorded error, or `Ok`.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.errors))
        }
    }
}

/// False when `s` certainly holds only characters XML 1.0 can carry: in a
/// `str` the others are the C0 controls but tab, LF and CR, and U+FFFE and
/// U+FFFF.
fn may_hold_non_xml_char(s: &str) -> bool {
    let bytes = s.as_bytes();
    // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
    let nonchar = |i: usize| {
        bytes.get(i) == Some(&0xEF)
            && bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
    };
    // Tested a block at a time, without branches, so that it compiles to
    // vector compares.
    let control = |block: &[u8; swar::BLOCK]| {
        block.iter().fold(false, |acc, &b| {
            acc | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r'))
        })
    };
    // A block is searched for U+FFFE and U+FFFF only when it holds 0xEF and
    // 0xBF (0xEF alone leads the fullwidth punctuation of Chinese text),
    // or 0xEF in its last two bytes (a character running into the next
    // block; `nonchar` looks past the block's end).
    let may_hold_nonchar = |block: &[u8; swar::BLOCK]| {
        swar::has(block, 0xEF) && swar::has(block, 0xBF) || block[swar::BLOCK - 2..].contains(&0xEF)
    };
    swar::any_block(bytes, |from, block| {
        control(block)
            || may_hold_nonchar(block) && (from..(from + swar::BLOCK).min(bytes.len())).any(nonchar)
    })
}

/// One source field the target format could not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostField<'a> {
    /// The canonical field (`urgency`, `enterprise.industry`...).
    pub field: &'a str,
    /// Its value, as written into the target's notes.
    pub value: &'a str,
}

/// The fields a translation could not carry in the target's own fields.
/// Each is also written into the target's notes field as `label: value`.
///
/// The names and values live in one string, with their spans beside it: a
/// ticket crossing to Open311 loses some twenty-five fields, and two
/// strings for each were most of the encoder's allocations.
#[derive(Clone, Default)]
pub struct LossReport {
    /// Holds every field name and value (and, between them, whatever the
    /// collector wrote: the notes lines).
    text: String,
    /// Per field, in the order met: where its name starts and ends in
    /// `text`, and where its value starts and ends.
    spans: Vec<[usize; 4]>,
}

impl LossReport {
    /// True when nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// How many fields were lost.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The fields, in the order met.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = LostField<'_>> + ExactSizeIterator {
        self.spans
            .iter()
            .map(|&[field, field_end, value, value_end]| LostField {
                field: self.text.get(field..field_end).unwrap_or_default(),
                value: self.text.get(value..value_end).unwrap_or_default(),
            })
    }

    /// Records a field whose name is the concatenation of `field`.
    pub(crate) fn push(&mut self, field: &[&str], value: &str) {
        let start = self.text.len();
        for part in field {
            self.text.push_str(part);
        }
        let value_at = self.text.len();
        self.text.push_str(value);
        self.spans
            .push([start, value_at, value_at, self.text.len()]);
    }
}

impl PartialEq for LossReport {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for LossReport {}

impl std::fmt::Debug for LossReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// An encoded message and what it could not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The wire bytes.
    pub bytes: Vec<u8>,
    /// What the target could not carry (also written into its notes).
    pub loss: LossReport,
}

/// Builds the loss report and the lines appended to the target's notes.
#[derive(Debug, Default)]
pub struct Loss {
    /// Its text is the lines for the notes, joined by `\n` as they are
    /// written; the fields and values are spans of them.
    report: LossReport,
}

impl Loss {
    /// A new, empty loss collector.
    pub fn new() -> Loss {
        Loss::default()
    }

    /// Records a field with no place in the target. `label` is the Chinese
    /// label the receiving agent reads.
    pub fn lose(&mut self, field: &str, label: &str, value: &str) {
        self.lose_parts(&[field], label, value);
    }

    /// Records an extension the target has no place for.
    pub fn lose_extension(&mut self, key: &str, value: &str) {
        self.lose_parts(&["extensions.", key], "扩展字段", value);
    }

    /// Records a field whose name is the concatenation of `field`.
    fn lose_parts(&mut self, field: &[&str], label: &str, value: &str) {
        let r = &mut self.report;
        if r.text.is_empty() {
            // Room for what a ticket usually loses, so that they seldom grow.
            r.text.reserve(2048);
            r.spans.reserve(32);
        } else {
            r.text.push('\n');
        }
        r.text.push_str(label);
        r.text.push('(');
        let start = r.text.len();
        for part in field {
            r.text.push_str(part);
        }
        let field_end = r.text.len();
        r.text.push_str("): ");
        let value_at = r.text.len();
        r.text.push_str(value);
        r.spans.push([start, field_end, value_at, r.text.len()]);
    }

    /// Records an optional field.
    pub fn lose_opt(&mut self, field: &str, label: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.lose(field, label, v);
        }
    }

    /// The lines for the lost fields, if any were lost.
    pub fn lines(&self) -> Option<&str> {
        Some(self.report.text.as_str()).filter(|l| !l.is_empty())
    }

    /// The notes to write: the ticket's notes, then one line per lost field.
    pub fn notes(&self, notes: Option<&str>) -> Option<String> {
        let Some(lines) = self.lines() else {
            return notes.map(str::to_owned);
        };
        let notes = notes.unwrap_or_default();
        let mut out = String::with_capacity(notes.len() + 1 + lines.len());
        out.push_str(notes);
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(lines);
        Some(out)
    }

    /// The finished report.
    pub fn into_report(self) -> LossReport {
        self.report
    }
}

/// The canonical category for a partner's code and label.
pub fn category_from_partner(
    tables: &Tables,
    scheme: Scheme,
    code: &str,
    label: Option<&str>,
) -> Category {
    let entry = tables.categories.from_partner(scheme, code);
    Category {
        code: entry.map_or_else(|| schemas::OTHER.to_owned(), |e| e.code.clone()),
        label: label.map(str::to_owned),
        source: Some(SourceCode {
            scheme: scheme.as_str().to_owned(),
            code: code.to_owned(),
            unmapped: entry.is_none(),
        }),
    }
}

/// The partner code and label for a canonical category. A category that
/// came from this scheme goes back exactly; otherwise the catalogue code is
/// mapped (nearest ancestor, then `other`) and whatever the mapping loses is
/// recorded.
pub fn category_to_partner(
    tables: &Tables,
    scheme: Scheme,
    category: &Category,
    loss: &mut Loss,
) -> (String, String) {
    if let Some(src) = &category.source
        && src.scheme == scheme.as_str()
    {
        let label = category.label.clone().unwrap_or_else(|| {
            tables
                .categories
                .from_partner(scheme, &src.code)
                .map(|e| e.label_zh.clone())
                .unwrap_or_default()
        });
        return (src.code.clone(), label);
    }
    let mapped = tables.categories.to_partner(scheme, &category.code);
    if let Some(src) = category.source.as_ref().filter(|s| s.unmapped) {
        let label = category.label.as_deref().unwrap_or("");
        loss.lose(
            "category.source",
            "原分类代码",
            format!("{} {} {}", src.scheme, src.code, label).trim_end(),
        );
    } else if !mapped.exact {
        let wanted = tables
            .categories
            .get(&category.code)
            .map_or(category.code.as_str(), |e| e.label_zh.as_str());
        loss.lose(
            "category",
            "原分类",
            &format!("{wanted} ({})", category.code),
        );
    }
    (mapped.code.to_owned(), mapped.entry.label_zh.clone())
}

/// Writes an urgency into a format that knows only urgent and normal.
pub fn urgency_two_levels(urgency: Urgency, loss: &mut Loss) -> bool {
    match urgency {
        Urgency::Urgent => true,
        Urgency::High => {
            loss.lose("urgency", "原紧急程度", "high");
            false
        }
        Urgency::Normal => false,
    }
}

#[cfg(test)]
mod tests {
    use super::may_hold_non_xml_char;

    #[test]
    fn non_xml_characters_are_found_wherever_they_fall() {
        let plain = |s: &str| {
            s.chars()
                .any(|c| !crate::xml::is_xml_char(c) || c == '\u{FFFE}' || c == '\u{FFFF}')
        };
        for bad in ['\u{FFFE}', '\u{FFFF}', '\u{1}', '\u{1F}', '\0'] {
            for len in 0..70 {
                for at in 0..=len {
                    // Fullwidth punctuation (EF BC 8C) and 0xBF bytes around.
                    let mut s: String = "，a中\u{FFEF}\n".chars().cycle().take(len).collect();
                    let at = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
                    s.insert(at, bad);
                    assert!(may_hold_non_xml_char(&s), "{s:?}");
                }
            }
        }
        for len in 0..70 {
            let s: String = "，a中\u{FFEF}\n\t\r".chars().cycle().take(len).collect();
            assert_eq!(may_hold_non_xml_char(&s), plain(&s), "{s:?}");
        }
    }
}
