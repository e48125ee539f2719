//! The API definition: loading Swagger 2.0 or OpenAPI 3.0 (JSON or YAML)
//! into one [`ApiModel`] that the rest of the server reads.
//!
//! `openapiv3` types stay inside this module: Swagger 2.0 is converted to
//! OpenAPI 3.0 JSON first (`swagger2`), then everything is read through
//! `openapiv3` and flattened into owned operations with their schemas as
//! JSON Schema (`schema`).

mod build;
mod load;
pub mod schema;
pub mod swagger2;

pub use load::{load_file, load_str};

use std::sync::Arc;

use http::Method;
use serde_json::Value;

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    Cookie,
}

impl ParamLocation {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        }
    }
}

/// One declared parameter, its schema already in JSON Schema form.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    /// Sample requests send it although the definition does not require
    /// it (`x-mock-sample: true`): a parameter the request rules require
    /// with an answer of their own (Access Document's `_include`s: 422, not
    /// the 400 of a missing required parameter).
    pub sample: bool,
    pub schema: Value,
    pub example: Option<Value>,
    /// For arrays in the query: repeated `name=a&name=b` (true) or `name=a,b`.
    pub explode: bool,
}

/// A media type of a request or response body.
#[derive(Debug, Clone)]
pub struct Media {
    pub media_type: String,
    pub schema: Option<Value>,
    pub example: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct RequestBody {
    pub required: bool,
    pub content: Vec<Media>,
}

/// The status a declared response covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStatus {
    Code(u16),
    /// `2XX` is `Range(2)`.
    Range(u16),
    Default,
}

impl ResponseStatus {
    pub fn covers(self, status: u16) -> bool {
        match self {
            ResponseStatus::Code(code) => code == status,
            ResponseStatus::Range(class) => status / 100 == class,
            ResponseStatus::Default => true,
        }
    }

    pub fn is_success(self) -> bool {
        match self {
            ResponseStatus::Code(code) => (200..300).contains(&code),
            ResponseStatus::Range(class) => class == 2,
            ResponseStatus::Default => false,
        }
    }

    pub fn label(self) -> String {
        match self {
            ResponseStatus::Code(code) => code.to_string(),
            ResponseStatus::Range(class) => format!("{class}XX"),
            ResponseStatus::Default => "default".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub status: ResponseStatus,
    pub description: String,
    pub content: Vec<Media>,
    pub headers: Vec<String>,
}

/// One (path, method) of the definition.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The operationId, or `METHOD /path` (the path as the spec writes it).
    pub key: String,
    pub operation_id: Option<String>,
    pub method: Method,
    /// The path as the spec writes it.
    pub path: String,
    /// The path as served: the server/basePath prefix plus `path`.
    pub full_path: String,
    pub summary: Option<String>,
    pub tags: Vec<String>,
    pub params: Vec<Param>,
    pub request_body: Option<RequestBody>,
    pub responses: Vec<ResponseSpec>,
}

impl Operation {
    /// The declared response covering `status`: an exact code first, then
    /// its class, then `default`.
    pub fn response_for(&self, status: u16) -> Option<&ResponseSpec> {
        let exact = |r: &&ResponseSpec| r.status == ResponseStatus::Code(status);
        let range = |r: &&ResponseSpec| r.status == ResponseStatus::Range(status / 100);
        let default = |r: &&ResponseSpec| r.status == ResponseStatus::Default;
        self.responses
            .iter()
            .find(exact)
            .or_else(|| self.responses.iter().find(range))
            .or_else(|| self.responses.iter().find(default))
    }

    /// The media type answered for `status`: the declared response's first,
    /// else the first the operation produces at all.
    pub fn produces_for(&self, status: u16) -> Option<&str> {
        self.response_for(status)
            .and_then(|r| r.content.first())
            .or_else(|| self.responses.iter().flat_map(|r| r.content.first()).next())
            .map(|m| m.media_type.as_str())
    }

    /// Every media type the operation's responses declare, deduplicated.
    pub fn produces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for media in self.responses.iter().flat_map(|r| &r.content) {
            if !out.contains(&media.media_type.as_str()) {
                out.push(&media.media_type);
            }
        }
        out
    }

    pub fn is_write(&self) -> bool {
        matches!(
            self.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        )
    }
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub name: String,
    pub description: Option<String>,
}

/// A loaded definition, ready for routing, checking and answering.
#[derive(Debug, Clone)]
pub struct ApiModel {
    /// The file the definition came from, as given.
    pub source: String,
    pub title: String,
    pub version: String,
    /// `swagger: 2.0` or `openapi: 3.0.x`, as found.
    pub spec_version: String,
    /// The path prefix every route is served under ("" for none).
    pub prefix: String,
    pub tags: Vec<Tag>,
    pub operations: Vec<Operation>,
    /// `{"components": {"schemas": …}}` in JSON Schema form: the document
    /// that every schema's `$ref` resolves against.
    pub schema_root: Arc<Value>,
}

impl ApiModel {
    /// The index of the operation whose key (operationId) is `key`.
    pub fn operation_index(&self, key: &str) -> Option<usize> {
        self.operations.iter().position(|op| op.key == key)
    }

    /// Serves every operation under `new` instead of `old` (a mount file's
    /// `base_path`): the paths that start with `old` are moved.
    pub fn rebase(&mut self, old: &str, new: &str) {
        let old = old.trim_end_matches('/');
        for op in &mut self.operations {
            if let Some(rest) = op.full_path.strip_prefix(old) {
                op.full_path = format!("{new}{rest}");
            }
        }
        self.prefix = new.to_string();
    }

    pub fn operation(&self, key: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.key == key)
    }

    /// Every media type of every response and request body.
    pub fn media_types(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().flat_map(|op| {
            op.responses
                .iter()
                .flat_map(|r| &r.content)
                .chain(op.request_body.iter().flat_map(|b| &b.content))
                .map(|m| m.media_type.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_version_found() {
        let error = load_str(r#"{"openapi": "3.1.0", "info": {}}"#, "x.json").unwrap_err();
        assert!(error.to_string().contains("`3.1.0`"), "{error}");
    }

    #[test]
    fn yaml_integer_keys_become_strings() {
        let model = load_str(
            "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n",
            "y.yaml",
        )
        .unwrap();
        assert_eq!(model.operations[0].key, "GET /a");
        assert!(model.operations[0].responses[0].status.is_success());
    }
}
