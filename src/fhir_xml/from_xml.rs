//! FHIR XML → FHIR JSON, the reverse of [`super::to_xml`]: `value`
//! attributes become primitives (typed by [`super::shape`]), an element's
//! `id` and extensions become its `_name` sibling, repeated elements (and
//! those FHIR defines as repeating) become arrays, wrapped resources are
//! unwrapped, and the narrative `div` is kept as markup text.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::json::Json;
use super::shape::{self, Kind};
use super::{line_column, XmlError, FHIR_NS};
use crate::fhir::Era;

/// Nesting deeper than this is refused (the conversion recurses).
const MAX_DEPTH: usize = 256;

/// One XML element, read.
#[derive(Debug, Default, Clone)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
    /// A narrative `div`: its markup.
    markup: Option<String>,
}

/// Converts FHIR XML text to the FHIR JSON resource it stands for.
pub fn xml_to_json(xml: &str, era: Era) -> Result<Json, XmlError> {
    let root = read(xml)?;
    let namespace = root
        .attributes
        .iter()
        .find(|(name, _)| name == "xmlns")
        .map(|(_, value)| value.as_str());
    if namespace != Some(FHIR_NS) {
        return Err(XmlError::NotResource(format!(
            "the root element <{}> must be in the {FHIR_NS} namespace",
            root.name
        )));
    }
    Ok(resource(&root, era))
}

fn syntax(text: &str, offset: u64, message: String) -> XmlError {
    let (line, column) = line_column(text, usize::try_from(offset).unwrap_or(usize::MAX));
    XmlError::Xml {
        line,
        column,
        message,
    }
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    match name.split_once(':') {
        Some((_, local)) => local.to_string(),
        None => name.into_owned(),
    }
}

fn node(start: &BytesStart<'_>, text: &str, offset: u64) -> Result<Node, XmlError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute =
            attribute.map_err(|e| syntax(text, offset, format!("bad attribute: {e}")))?;
        let value = attribute
            .unescape_value()
            .map_err(|e| syntax(text, offset, format!("bad attribute value: {e}")))?;
        attributes.push((
            String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(Node {
        name: local(start.name().as_ref()),
        attributes,
        ..Node::default()
    })
}

/// Reads the document into a tree of elements; the error names line and column.
fn read(text: &str) -> Result<Node, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let before = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| syntax(text, reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(start) if local(start.name().as_ref()) == "div" && !stack.is_empty() => {
                let mut div = node(&start, text, before)?;
                reader
                    .read_to_end(start.name())
                    .map_err(|e| syntax(text, reader.error_position(), e.to_string()))?;
                let after = reader.buffer_position();
                let (from, to) = (
                    usize::try_from(before).unwrap_or(0),
                    usize::try_from(after).unwrap_or(0),
                );
                div.markup = Some(text.get(from..to).unwrap_or("").to_string());
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(div);
                }
            }
            Event::Start(start) => {
                if root.is_some() {
                    return Err(syntax(text, before, "more than one root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(
                        text,
                        before,
                        format!("nested deeper than {MAX_DEPTH} elements"),
                    ));
                }
                stack.push(node(&start, text, before)?);
            }
            Event::Empty(start) => {
                let element = node(&start, text, before)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(syntax(text, before, "more than one root element".into())),
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(syntax(text, before, "unexpected end tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(content) => {
                if !content.iter().all(u8::is_ascii_whitespace) {
                    return Err(syntax(
                        text,
                        before,
                        "text outside a narrative div (FHIR XML puts values in `value` attributes)"
                            .into(),
                    ));
                }
            }
            Event::CData(_) | Event::GeneralRef(_) => {
                return Err(syntax(
                    text,
                    before,
                    "text outside a narrative div (FHIR XML puts values in `value` attributes)"
                        .into(),
                ))
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(syntax(
            text,
            text.len() as u64,
            format!(
                "unexpected end of the document: <{}> is not closed",
                open.name
            ),
        ));
    }
    root.ok_or_else(|| syntax(text, 0, "no root element".into()))
}

fn attribute<'n>(node: &'n Node, name: &str) -> Option<&'n str> {
    node.attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A resource element: `resourceType` and its children.
fn resource(node: &Node, era: Era) -> Json {
    let mut members = vec![("resourceType".to_string(), Json::String(node.name.clone()))];
    members.extend(object_members(node, &node.name, era, true));
    Json::Object(members)
}

/// The first child element of a wrapper is a resource when its name is
/// capitalised (FHIR element names never are).
fn wrapped(node: &Node) -> Option<&Node> {
    node.children
        .first()
        .filter(|child| child.name.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// The members of the object `node` stands for; `path` is its element path.
fn object_members(node: &Node, path: &str, era: Era, is_resource: bool) -> Vec<(String, Json)> {
    let mut members: Vec<(String, Json)> = Vec::new();
    if !is_resource {
        for (name, value) in &node.attributes {
            if name == "id" || name == "url" {
                members.push((name.clone(), Json::String(value.clone())));
            }
        }
    }
    let quantity = node
        .children
        .iter()
        .any(|c| matches!(c.name.as_str(), "unit" | "code" | "comparator"))
        && node.children.iter().any(|c| c.name == "value");
    // Children grouped by name, in order of first appearance.
    let mut names: Vec<&str> = Vec::new();
    for child in &node.children {
        if !names.contains(&child.name.as_str()) {
            names.push(&child.name);
        }
    }
    for name in names {
        let group: Vec<&Node> = node.children.iter().filter(|c| c.name == name).collect();
        let child_path = format!("{path}.{name}");
        let array = group.len() > 1 || shape::is_array(era, path, name);
        let primitive = group.iter().any(|c| attribute(c, "value").is_some());
        if primitive {
            let kind = shape::kind(name, quantity);
            let values: Vec<Json> = group.iter().map(|c| primitive_value(c, kind)).collect();
            let extras: Vec<Option<Json>> = group
                .iter()
                .map(|c| primitive_extra(c, &child_path, era))
                .collect();
            let any_extra = extras.iter().any(Option::is_some);
            if array {
                members.push((name.to_string(), Json::Array(values)));
                if any_extra {
                    members.push((
                        format!("_{name}"),
                        Json::Array(
                            extras
                                .into_iter()
                                .map(|e| e.unwrap_or(Json::Null))
                                .collect(),
                        ),
                    ));
                }
            } else {
                if let Some(value) = values.into_iter().next().filter(|v| *v != Json::Null) {
                    members.push((name.to_string(), value));
                }
                if let Some(Some(extra)) = extras.into_iter().next() {
                    members.push((format!("_{name}"), extra));
                }
            }
            continue;
        }
        let values: Vec<Json> = group
            .iter()
            .map(|child| match (&child.markup, wrapped(child)) {
                (Some(markup), _) => Json::String(markup.clone()),
                (None, Some(inner)) => resource(inner, era),
                (None, None) => Json::Object(object_members(child, &child_path, era, false)),
            })
            .collect();
        if array {
            members.push((name.to_string(), Json::Array(values)));
        } else if let Some(value) = values.into_iter().next() {
            members.push((name.to_string(), value));
        }
    }
    members
}

fn primitive_value(node: &Node, kind: Kind) -> Json {
    let Some(text) = attribute(node, "value") else {
        return Json::Null;
    };
    match kind {
        Kind::Boolean if text == "true" => Json::Bool(true),
        Kind::Boolean if text == "false" => Json::Bool(false),
        Kind::Number if serde_json::from_str::<serde_json::Number>(text).is_ok() => {
            Json::Number(text.to_string())
        }
        _ => Json::String(text.to_string()),
    }
}

/// The `_name` object of a primitive: its id and extensions, if any.
fn primitive_extra(node: &Node, path: &str, era: Era) -> Option<Json> {
    let mut members = Vec::new();
    if let Some(id) = attribute(node, "id") {
        members.push(("id".to_string(), Json::String(id.to_string())));
    }
    // As a resource: its attributes are not members.
    members.extend(object_members(node, path, era, true));
    (!members.is_empty()).then_some(Json::Object(members))
}
