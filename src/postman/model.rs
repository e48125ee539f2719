//! The Postman Collection v2.1 and environment formats, as far as the
//! export writes them: serde types only.

use serde::Serialize;

// ---- Postman Collection v2.1 --------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    pub info: Info,
    pub item: Vec<Folder>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<Event>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub name: String,
    pub description: String,
    pub schema: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub item: Vec<Node>,
    /// A folder's own scripts, run after the collection's and before each
    /// request's (an API's folder builds its era's JWT).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<Event>,
}

/// What a folder holds: requests, or folders (an API's folder holds its
/// tag folders).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Node {
    Item(Box<Item>),
    Folder(Folder),
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    pub event: Vec<Event>,
    pub request: Request,
}

#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub method: String,
    pub header: Vec<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    pub url: Url,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub key: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Body {
    pub mode: String,
    pub raw: String,
    pub options: BodyOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct BodyOptions {
    pub raw: RawOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct RawOptions {
    pub language: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Url {
    pub raw: String,
    pub host: Vec<String>,
    pub path: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryParam>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryParam {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub listen: String,
    pub script: Script,
}

#[derive(Debug, Clone, Serialize)]
pub struct Script {
    #[serde(rename = "type")]
    pub kind: String,
    pub exec: Vec<String>,
}

impl Event {
    pub(super) fn new(listen: &str, source: &str) -> Event {
        Event {
            listen: listen.to_string(),
            script: Script {
                kind: "text/javascript".to_string(),
                exec: source.lines().map(str::to_string).collect(),
            },
        }
    }
}

// ---- Postman environment -------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub values: Vec<EnvironmentValue>,
    #[serde(rename = "_postman_variable_scope")]
    pub scope: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentValue {
    pub key: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub enabled: bool,
}
