//! FHIR XML: the XML form of the JSON answers the mock renders, and the
//! JSON form of XML request bodies. Templates and scenarios stay JSON; XML
//! exists only at the HTTP edge.
//!
//! - [`json`]: a JSON tree that keeps each number's written text (so a
//!   decimal `1.50` is written `value="1.50"`) and the key order; owned
//!   ([`Json`]) or, for the XML writer, borrowing the answer's text
//!   ([`json::JsonRef`]);
//! - [`to_xml`]: FHIR JSON → FHIR XML, written with quick-xml's `Writer`;
//! - [`memo`]: a scenario's last XML answer, patched for the next one
//!   when only plain string values changed;
//! - [`from_xml`]: FHIR XML → FHIR JSON, read with quick-xml's `Reader`;
//! - [`shape`]: what XML does not say and JSON needs — which elements
//!   repeat (arrays) and which primitives are booleans or numbers.

pub mod from_xml;
pub mod json;
pub mod memo;
pub mod order;
pub mod shape;
pub mod to_xml;

pub use from_xml::xml_to_json;
pub use json::Json;
pub use to_xml::json_to_xml;

/// The FHIR namespace, of every resource element.
pub const FHIR_NS: &str = "http://hl7.org/fhir";
/// The XHTML namespace, of narrative `div`s.
pub const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// Why a conversion failed. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("malformed XML at line {line} column {column}: {message}")]
    Xml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("not a FHIR resource: {0}")]
    NotResource(String),
    #[error("cannot be written as FHIR XML: {0}")]
    Unwritable(String),
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().count()
        - before
            .rfind('\n')
            .map_or(0, |i| before[..=i].chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
