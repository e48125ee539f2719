//! The last XML answer of a scenario, patched for the next one.
//!
//! A rendered answer that is not the same for every request (a care
//! record: its request id, its date) is mostly the same text as the one
//! before. When the new JSON has the same length as the remembered one
//! and differs from it only inside string values that were copied byte
//! for byte into the XML ([`Span`]), and the new bytes there need no
//! escaping in either language, the new XML is the remembered XML with
//! the same bytes replaced: the conversion is a function of the JSON in
//! which those bytes are copied and nothing else depends on them (element
//! names, `resourceType`, keys, narrative `div`s and `id`/`url`
//! attributes are never spans). Anything else is converted in full,
//! and remembered in turn.
//!
//! An XML care-record request took 321 k user-space instructions with
//! the full conversion, 99 k patching the last one (callgrind, 10
//! connections: its id and date change, nothing else).

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::to_xml::{json_to_xml_spans, Span};
use super::XmlError;

/// One scenario's remembered conversion.
#[derive(Debug, Default)]
pub struct Memo {
    last: Mutex<Option<Arc<Converted>>>,
}

#[derive(Debug)]
struct Converted {
    json: Bytes,
    xml: Bytes,
    spans: Vec<Span>,
}

impl Memo {
    /// `json` (UTF-8 text) as FHIR XML: patched from the last conversion
    /// when it can be, else converted and remembered.
    pub fn convert(&self, json: &Bytes, text: &str) -> Result<Bytes, XmlError> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some(xml) = last.and_then(|last| last.patch(json)) {
            // Every patched answer of the debug builds (all the tests') is
            // checked against the full conversion.
            #[cfg(debug_assertions)]
            {
                let full = super::to_xml::json_to_xml(text);
                debug_assert_eq!(
                    full.as_deref().ok().map(str::as_bytes),
                    Some(xml.as_ref()),
                    "a patched XML answer differs from its full conversion"
                );
            }
            return Ok(xml);
        }
        let (xml, spans) = json_to_xml_spans(text)?;
        let xml = Bytes::from(xml);
        let converted = Arc::new(Converted {
            json: json.clone(),
            xml: xml.clone(),
            spans,
        });
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(converted);
        Ok(xml)
    }
}

/// Bytes copied unchanged into a `value` attribute, and that leave a JSON
/// string's content as it is: no quote, backslash, control character or
/// XML markup character.
fn is_plain(byte: u8) -> bool {
    byte >= 0x20 && !matches!(byte, b'"' | b'\\' | b'<' | b'>' | b'&' | b'\'')
}

impl Converted {
    /// The XML of `json`, if it differs from the remembered JSON only in
    /// plain bytes inside spans.
    fn patch(&self, json: &[u8]) -> Option<Bytes> {
        let old = self.json.as_ref();
        if json.len() != old.len() {
            return None;
        }
        let mut xml: Option<Vec<u8>> = None;
        let mut at = 0;
        while let Some(offset) = first_difference(&old[at..], &json[at..]) {
            let diff = at + offset;
            // The span holding the difference: the last starting at or before it.
            let index = self.spans.partition_point(|span| span.json <= diff);
            let span = self.spans.get(index.checked_sub(1)?)?;
            let end = span.json + span.len;
            if diff >= end {
                return None;
            }
            let new = json.get(span.json..end)?;
            if !new.iter().all(|&byte| is_plain(byte)) {
                return None;
            }
            let out = xml.get_or_insert_with(|| self.xml.to_vec());
            out.get_mut(span.xml..span.xml + span.len)?
                .copy_from_slice(new);
            at = end;
        }
        Some(xml.map_or_else(|| self.xml.clone(), Bytes::from))
    }
}

/// The offset of the first byte where `a` and `b` (of one length) differ.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    const CHUNK: usize = 64;
    let mut start = 0;
    for (x, y) in a.chunks(CHUNK).zip(b.chunks(CHUNK)) {
        if x != y {
            return x
                .iter()
                .zip(y)
                .position(|(p, q)| p != q)
                .map(|offset| start + offset);
        }
        start += CHUNK;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir_xml::json_to_xml;

    const ANSWER: &str = r#"{"resourceType":"Bundle","id":"b-1000","type":"searchset","entry":[{"fullUrl":"Composition/1000","resource":{"resourceType":"Composition","id":"1000","date":"2026-11-30T12:43:16+00:00","title":"A & B","text":{"status":"generated","div":"<div><p>x</p></div>"},"section":[{"title":"Summary","code":{"coding":[{"system":"http://snomed.info/sct","code":"425173008"}]}}],"extension":[{"url":"http://example.org/x","valueString":"y"}],"_date":{"id":"d1"},"count":12}}]}"#;

    /// Whatever the next answer, the memo's XML is the full conversion's.
    #[test]
    fn patched_answers_are_the_full_conversions() {
        let memo = Memo::default();
        let first = Bytes::from_static(ANSWER.as_bytes());
        assert_eq!(
            memo.convert(&first, ANSWER).unwrap(),
            json_to_xml(ANSWER).unwrap().as_bytes()
        );
        let changes = [
            ("1000", "1001"),
            ("12:43:16", "23:59:59"),
            ("b-1000", "b-1007"),
            ("Summary", "Summury"),
            ("Summary", "Sum<ary"),
            ("Summary", "Sum\\\"ary"),
            ("A & B", "A & C"),
            ("A & B", "A < B"),
            ("searchset", "collection"),
            ("Composition", "Compositiox"),
            ("425173008", "425173009"),
            ("http://example.org/x", "http://example.org/y"),
            ("\"d1\"", "\"d2\""),
            ("\"y\"", "\"z\""),
            ("12}", "13}"),
            ("<p>x</p>", "<p>y</p>"),
            ("status", "statux"),
        ];
        for (from, to) in changes {
            let text = ANSWER.replace(from, to);
            let json = Bytes::from(text.clone());
            let expected = json_to_xml(&text);
            let got = memo.convert(&json, &text);
            match expected {
                Ok(expected) => assert_eq!(
                    String::from_utf8_lossy(&got.unwrap()),
                    expected,
                    "{from} -> {to}"
                ),
                Err(error) => assert_eq!(got.unwrap_err(), error, "{from} -> {to}"),
            }
            // Back to the first, whatever was remembered in between.
            assert_eq!(
                memo.convert(&first, ANSWER).unwrap(),
                json_to_xml(ANSWER).unwrap().as_bytes()
            );
        }
    }

    /// Ids and dates of the same length are patched, not converted again.
    #[test]
    fn same_length_values_are_patched() {
        let memo = Memo::default();
        let first = Bytes::from_static(ANSWER.as_bytes());
        memo.convert(&first, ANSWER).unwrap();
        let text = ANSWER.replace("1000", "1234").replace("Summary", "Summery");
        let xml = memo.convert(&Bytes::from(text.clone()), &text).unwrap();
        assert_eq!(xml, json_to_xml(&text).unwrap().as_bytes());
        let last = memo.last.lock().unwrap().clone().unwrap();
        assert_eq!(last.json, first, "patched from the first, not replaced");
    }

    #[test]
    fn differences_are_found_across_chunks() {
        let a = vec![7u8; 300];
        let mut b = a.clone();
        assert_eq!(first_difference(&a, &b), None);
        b[130] = 8;
        assert_eq!(first_difference(&a, &b), Some(130));
        b[63] = 8;
        assert_eq!(first_difference(&a, &b), Some(63));
    }
}
