//! FHIR JSON → FHIR XML (FHIR's "XML representation" rules):
//!
//! - the root element is named by `resourceType`, in the FHIR namespace;
//! - primitives are `value` attributes; their `_name` sibling (id,
//!   extensions) is merged into the same element;
//! - arrays are repeated elements, arrays of primitives paired item by item
//!   with their `_name` array;
//! - `url` of an extension and `id` of an element (not of a resource) are
//!   attributes;
//! - `div` is XHTML markup, written as markup in its own namespace;
//! - a resource inside a resource (`contained`, `Bundle.entry.resource`,
//!   `Parameters.parameter.resource`) is wrapped: `<resource><Patient>…`.
//!
//! Keys are written in the JSON's order (the template's).

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::Writer;

use super::json::{Json, JsonOf, JsonRef};
use super::{XmlError, FHIR_NS, XHTML_NS};

/// Converts a FHIR resource in JSON text to FHIR XML text.
pub fn json_to_xml(json: &str) -> Result<String, XmlError> {
    let tree = JsonRef::parse(json)?;
    let mut out = Out::new(json.len() + json.len() / 2, None);
    convert(&mut out, &tree)?;
    out.finish()
}

/// A string value copied byte for byte from the JSON text into the XML
/// (a `value` attribute that needed no escaping on either side): its
/// offsets in each, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub json: usize,
    pub xml: usize,
    pub len: usize,
}

/// [`json_to_xml`], and the string values it copied byte for byte (see
/// [`Span`]), in the order of the JSON text; `super::memo` patches them.
pub fn json_to_xml_spans(json: &str) -> Result<(String, Vec<Span>), XmlError> {
    let tree = JsonRef::parse(json)?;
    let mut out = Out::new(json.len() + json.len() / 2, Some(json));
    convert(&mut out, &tree)?;
    let mut spans = out.spans.take().unwrap_or_default();
    spans.sort_unstable_by_key(|span| span.json);
    Ok((out.finish()?, spans))
}

/// Converts a parsed FHIR resource to FHIR XML text.
pub fn tree_to_xml(tree: &Json) -> Result<String, XmlError> {
    let mut out = Out::new(1024, None);
    convert(&mut out, tree)?;
    out.finish()
}

fn convert<S: AsRef<str>>(out: &mut Out, tree: &JsonOf<S>) -> Result<(), XmlError> {
    write(out, Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    resource(out, tree, true)
}

/// The XML being written (FHIR XML is about half as long again as its
/// JSON: sized from it, the buffer is not grown as the answer is
/// written), and, when asked, the spans copied from the JSON text.
struct Out {
    writer: Writer<Vec<u8>>,
    spans: Option<Vec<Span>>,
    /// The JSON text's address range, for [`Span`]s.
    source: std::ops::Range<usize>,
}

impl Out {
    fn new(capacity: usize, source: Option<&str>) -> Self {
        Self {
            writer: Writer::new(Vec::with_capacity(capacity)),
            spans: source.map(|_| Vec::new()),
            source: source.map_or(0..0, |text| {
                let start = text.as_ptr() as usize;
                start..start + text.len()
            }),
        }
    }

    fn get_mut(&mut self) -> &mut Vec<u8> {
        self.writer.get_mut()
    }

    /// Notes that `text` (a string value) was just written unchanged at
    /// `xml`, if it lies in the JSON text (not unescaped into a copy).
    fn copied(&mut self, text: &str, xml: usize) {
        let Some(spans) = self.spans.as_mut() else {
            return;
        };
        let start = text.as_ptr() as usize;
        if start >= self.source.start && start + text.len() <= self.source.end && !text.is_empty() {
            spans.push(Span {
                json: start - self.source.start,
                xml,
                len: text.len(),
            });
        }
    }

    fn finish(self) -> Result<String, XmlError> {
        String::from_utf8(self.writer.into_inner())
            .map_err(|_| XmlError::Unwritable("the XML is not UTF-8".into()))
    }
}

fn write(writer: &mut Out, event: Event<'_>) -> Result<(), XmlError> {
    writer
        .writer
        .write_event(event)
        .map_err(|e| XmlError::Unwritable(e.to_string()))
}

fn resource<S: AsRef<str>>(
    writer: &mut Out,
    value: &JsonOf<S>,
    root: bool,
) -> Result<(), XmlError> {
    let JsonOf::Object(members) = value else {
        return Err(XmlError::NotResource(
            "a resource must be a JSON object".into(),
        ));
    };
    let name = value
        .get("resourceType")
        .and_then(JsonOf::as_str)
        .filter(|name| is_name(name))
        .ok_or_else(|| XmlError::NotResource("it has no resourceType".into()))?;
    let mut start = BytesStart::new(name);
    if root {
        start.push_attribute(("xmlns", FHIR_NS));
    }
    write(writer, Event::Start(start))?;
    children(writer, members, Object::Resource)?;
    write(writer, Event::End(BytesEnd::new(name)))
}

/// XML names FHIR uses: letters, digits, `-` and `_`, not starting with a digit.
fn is_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What kind of object's members are written: a resource's `id` is an
/// element; an element's `id`, and an extension's `url`, are attributes
/// (written by the caller with the start tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Resource,
    Element,
    Extension,
}

fn children<S: AsRef<str>>(
    writer: &mut Out,
    members: &[(S, JsonOf<S>)],
    object: Object,
) -> Result<(), XmlError> {
    // Most objects have no `_name` member: then no member looks for one.
    let any_extra = members.iter().any(|(key, _)| key.as_ref().starts_with('_'));
    for (key, value) in members {
        let key = key.as_ref();
        if key == "resourceType" || is_attribute(object, key, value) {
            continue;
        }
        if !any_extra {
            element(writer, key, value, None)?;
            continue;
        }
        if let Some(base) = key.strip_prefix('_') {
            // Written with its primitive, unless there is none.
            if members.iter().any(|(k, _)| k.as_ref() == base) {
                continue;
            }
            match value {
                JsonOf::Array(items) => {
                    for item in items {
                        primitive(writer, base, None, Some(item))?;
                    }
                }
                _ => primitive(writer, base, None, Some(value))?,
            }
            continue;
        }
        let extra = members
            .iter()
            .find(|(k, _)| k.as_ref().strip_prefix('_') == Some(key))
            .map(|(_, v)| v);
        element(writer, key, value, extra)?;
    }
    Ok(())
}

/// `id` (a string) of an element and `url` of an extension are attributes.
fn is_attribute<S>(object: Object, key: &str, value: &JsonOf<S>) -> bool {
    matches!(value, JsonOf::String(_))
        && match object {
            Object::Resource => false,
            Object::Element => key == "id",
            Object::Extension => key == "id" || key == "url",
        }
}

fn element<S: AsRef<str>>(
    writer: &mut Out,
    key: &str,
    value: &JsonOf<S>,
    extra: Option<&JsonOf<S>>,
) -> Result<(), XmlError> {
    if !is_name(key) {
        return Err(XmlError::Unwritable(format!(
            "`{key}` is not a FHIR element name"
        )));
    }
    match value {
        JsonOf::Null => Ok(()),
        JsonOf::Array(items) => {
            let extras = match extra {
                Some(JsonOf::Array(extras)) => extras.as_slice(),
                _ => &[],
            };
            for (index, item) in items.iter().enumerate() {
                match item {
                    JsonOf::Array(_) => {
                        return Err(XmlError::Unwritable(format!(
                            "`{key}` is an array of arrays"
                        )))
                    }
                    JsonOf::Null => primitive(writer, key, None, extras.get(index))?,
                    _ => element(writer, key, item, extras.get(index))?,
                }
            }
            Ok(())
        }
        JsonOf::Object(members) => {
            if value.get("resourceType").is_some() {
                write(writer, Event::Start(BytesStart::new(key)))?;
                resource(writer, value, false)?;
                return write(writer, Event::End(BytesEnd::new(key)));
            }
            let object = if key == "extension" || key == "modifierExtension" {
                Object::Extension
            } else {
                Object::Element
            };
            let mut start = BytesStart::new(key);
            for (name, attribute) in members {
                if let (true, JsonOf::String(text)) =
                    (is_attribute(object, name.as_ref(), attribute), attribute)
                {
                    start.push_attribute((name.as_ref(), text.as_ref()));
                }
            }
            let has_children = members
                .iter()
                .any(|(k, v)| !is_attribute(object, k.as_ref(), v) && !matches!(v, JsonOf::Null));
            if !has_children {
                return write(writer, Event::Empty(start));
            }
            write(writer, Event::Start(start))?;
            children(writer, members, object)?;
            write(writer, Event::End(BytesEnd::new(key)))
        }
        JsonOf::String(markup) if key == "div" => div(writer, markup.as_ref()),
        _ => primitive(writer, key, Some(value), extra),
    }
}

/// A primitive: `value` attribute, plus the id and extensions of its `_name`.
fn primitive<S: AsRef<str>>(
    writer: &mut Out,
    key: &str,
    value: Option<&JsonOf<S>>,
    extra: Option<&JsonOf<S>>,
) -> Result<(), XmlError> {
    let string = matches!(value, Some(JsonOf::String(_)));
    let text = match value {
        Some(JsonOf::String(text)) => Some(text.as_ref()),
        Some(JsonOf::Number(text)) => Some(text.as_ref()),
        Some(JsonOf::Bool(true)) => Some("true"),
        Some(JsonOf::Bool(false)) => Some("false"),
        _ => None,
    };
    if extra.is_none() {
        if let Some(text) = text {
            // The common case, `<key value="…"/>`, written straight into
            // the output: through `BytesStart::push_attribute` it was a
            // quarter of an XML care-record answer's conversion (perf).
            let out = writer.get_mut();
            out.push(b'<');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b" value=\"");
            let at = out.len();
            escape_attribute(text, out);
            let unchanged = out.len() - at == text.len();
            out.extend_from_slice(b"\"/>");
            if string && unchanged {
                writer.copied(text, at);
            }
            return Ok(());
        }
    }
    let mut start = BytesStart::new(key);
    let extra_members = match extra {
        Some(JsonOf::Object(members)) => members.as_slice(),
        _ => &[],
    };
    if let Some(JsonOf::String(id)) = extra.and_then(|e| e.get("id")) {
        start.push_attribute(("id", id.as_ref()));
    }
    if let Some(text) = text {
        start.push_attribute(("value", text));
    }
    let has_children = extra_members
        .iter()
        .any(|(k, v)| k.as_ref() != "id" && !matches!(v, JsonOf::Null));
    if !has_children {
        return write(writer, Event::Empty(start));
    }
    write(writer, Event::Start(start))?;
    children(writer, extra_members, Object::Element)?;
    write(writer, Event::End(BytesEnd::new(key)))
}

/// An attribute value, escaped: markup characters as entities, and the
/// whitespace an XML parser would otherwise normalise to spaces as
/// character references, so the value reads back exactly as written.
fn escape_attribute(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    for (at, byte) in bytes.iter().enumerate() {
        let entity: &[u8] = match byte {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'"' => b"&quot;",
            b'\'' => b"&apos;",
            b'\n' => b"&#xA;",
            b'\r' => b"&#xD;",
            b'\t' => b"&#x9;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..at]);
        out.extend_from_slice(entity);
        from = at + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

/// Narrative XHTML: written as markup. It must be well-formed XML; the
/// XHTML namespace is added when the JSON's `div` leaves it out. Written
/// straight into the output, and read for well-formedness once per
/// distinct markup ([`WellFormed`]).
fn div(writer: &mut Out, markup: &str) -> Result<(), XmlError> {
    let trimmed = markup.trim();
    let add_namespace = trimmed.starts_with("<div") && !trimmed.contains("xmlns");
    if !WELL_FORMED.contains(trimmed) {
        if add_namespace {
            well_formed(&format!("<div xmlns=\"{XHTML_NS}\"{}", &trimmed[4..]))?;
        } else {
            well_formed(trimmed)?;
        }
        WELL_FORMED.insert(trimmed);
    }
    let out = writer.get_mut();
    if add_namespace {
        out.extend_from_slice(b"<div xmlns=\"");
        out.extend_from_slice(XHTML_NS.as_bytes());
        out.push(b'"');
        out.extend_from_slice(&trimmed.as_bytes()[4..]);
    } else {
        out.extend_from_slice(trimmed.as_bytes());
    }
    Ok(())
}

/// The narrative markups already found well-formed: an answer's `div`
/// comes from its template, the same text answer after answer, and
/// reading it again with quick-xml was about 8 % of an XML care-record
/// answer's CPU (perf): 110 k of its 446 k instructions, 3 k once
/// remembered (callgrind). Bounded: past [`WellFormed::MAX_BYTES`] of
/// markup it starts again empty. A markup that is not well-formed is
/// never kept, so its error is reported every time.
static WELL_FORMED: WellFormed = WellFormed {
    set: std::sync::Mutex::new(None),
};

struct WellFormed {
    set: std::sync::Mutex<Option<(foldhash::HashSet<Box<str>>, usize)>>,
}

impl WellFormed {
    const MAX_BYTES: usize = 4 * 1024 * 1024;

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(foldhash::HashSet<Box<str>>, usize)>> {
        self.set
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn contains(&self, markup: &str) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|(set, _)| set.contains(markup))
    }

    fn insert(&self, markup: &str) {
        if markup.len() > Self::MAX_BYTES {
            return;
        }
        let mut guard = self.lock();
        let (set, bytes) = guard.get_or_insert_with(Default::default);
        if *bytes + markup.len() > Self::MAX_BYTES {
            set.clear();
            *bytes = 0;
        }
        if set.insert(markup.into()) {
            *bytes += markup.len();
        }
    }
}

fn well_formed(markup: &str) -> Result<(), XmlError> {
    let mut reader = quick_xml::Reader::from_str(markup);
    let mut depth = 0usize;
    let mut elements = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    elements += 1;
                }
                depth += 1;
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Empty(_)) if depth == 0 => elements += 1,
            Ok(Event::Text(text)) if depth == 0 && !text.iter().all(u8::is_ascii_whitespace) => {
                elements += 2
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => {
                return Err(XmlError::Unwritable(format!(
                    "the narrative div is not well-formed XHTML: {error}"
                )))
            }
        }
    }
    if elements != 1 {
        return Err(XmlError::Unwritable(
            "the narrative div must be one XHTML element".into(),
        ));
    }
    Ok(())
}
