//! The request as the mock sees it: built once from the HTTP request, owned,
//! with the query decoded and the body parsed at most once, so that every
//! later stage (checks, scenario matching, templates) reads the same values.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

use crate::fhir::Era;
use crate::fhir_xml::{self, XmlError};

/// Hands out request ids (`request.id` in templates): unique per process.
#[derive(Debug, Default)]
pub struct RequestIds(AtomicU64);

impl RequestIds {
    pub fn next(&self) -> u64 {
        // Ids start at 1000 so they never collide with the small ids of seed data.
        1000 + self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// What a render takes from the moment rather than from the request's
/// content: the request id (`request.id` in templates) and the trace id the
/// consumer sent (`request.trace_id`, its `Ssp-TraceID`, or empty). A kept
/// answer ([`crate::repeat`]) is rendered with sentinels in their place.
#[derive(Debug, Clone, Copy)]
pub struct Fresh<'a> {
    pub id: u64,
    pub trace_id: &'a str,
}

/// An incoming request, normalised.
#[derive(Debug)]
pub struct MockRequest {
    pub method: Method,
    /// The path as received, percent-encoded; a request in the Spine
    /// Secure Proxy's form (`/https://host/…`) is checked and rewritten
    /// by [`crate::spine`] before routing.
    pub path: String,
    /// The raw query string, without `?`.
    pub raw_query: String,
    /// Decoded query pairs, in order; a repeated name appears repeatedly.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    body_json: OnceLock<Option<Value>>,
    /// Set when the body was read as FHIR XML ([`MockRequest::read_xml_body`]):
    /// the conversion's error, if it failed.
    xml_body: OnceLock<Option<XmlError>>,
}

impl MockRequest {
    pub fn new(method: Method, path_and_query: &str, headers: HeaderMap, body: Bytes) -> Self {
        let (path, raw_query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        let query = form_urlencoded::parse(raw_query.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self {
            method,
            path: path.to_string(),
            raw_query: raw_query.to_string(),
            query,
            headers,
            body,
            body_json: OnceLock::new(),
            xml_body: OnceLock::new(),
        }
    }

    /// The same request asked of another path (a version read is served
    /// as the read of its resource, see `versions`).
    pub fn with_path(&self, path: &str) -> MockRequest {
        MockRequest {
            method: self.method.clone(),
            path: path.to_string(),
            raw_query: self.raw_query.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            body_json: OnceLock::new(),
            xml_body: OnceLock::new(),
        }
    }

    /// Reads the body as FHIR XML: from now on [`MockRequest::body_json`]
    /// is the JSON resource it stands for (`None` when it is malformed,
    /// see [`MockRequest::xml_body_error`]), so scenario matching, state
    /// actions and checks see the same value as for a JSON body. The
    /// request path calls it once, for FHIR APIs, when `Content-Type` is
    /// XML; it does nothing if the body was already read.
    pub fn read_xml_body(&self, era: Era) {
        if self.body.is_empty() || self.body_json.get().is_some() {
            return;
        }
        let converted = std::str::from_utf8(&self.body)
            .map_err(|e| XmlError::Xml {
                line: 1,
                column: 1,
                message: format!("not UTF-8: {e}"),
            })
            .and_then(|text| fhir_xml::xml_to_json(text, era))
            .and_then(|json| {
                serde_json::from_str::<Value>(&json.to_text()).map_err(|e| {
                    XmlError::NotResource(format!("its JSON form does not parse: {e}"))
                })
            });
        let (value, error) = match converted {
            Ok(value) => (Some(value), None),
            Err(error) => (None, Some(error)),
        };
        let _ = self.body_json.set(value);
        let _ = self.xml_body.set(error);
    }

    /// Whether the body was read as FHIR XML.
    pub fn is_xml_body(&self) -> bool {
        self.xml_body.get().is_some()
    }

    /// Why the XML body could not be read, if it was read as XML and failed.
    pub fn xml_body_error(&self) -> Option<&XmlError> {
        self.xml_body.get().and_then(Option::as_ref)
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter.
    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request's [`Fresh`] values, with the request id `id`.
    pub fn fresh(&self, id: u64) -> Fresh<'_> {
        Fresh {
            id,
            trace_id: self.header("ssp-traceid").unwrap_or(""),
        }
    }

    /// The body parsed as JSON, once; `None` when empty or not JSON.
    pub fn body_json(&self) -> Option<&Value> {
        self.body_json
            .get_or_init(|| {
                if self.body.is_empty() {
                    None
                } else {
                    serde_json::from_slice(&self.body).ok()
                }
            })
            .as_ref()
    }

    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// The rest of a path in the Spine Secure Proxy's form
/// (`/https://provider/root/...` → `/root/...`): how such a path is served
/// when no GP Connect API is mounted, so there is no directory to check
/// it against (see [`crate::spine::intercept`]).
pub fn strip_proxy_prefix(path: &str) -> &str {
    for scheme in ["/https://", "/http://", "/https:/", "/http:/"] {
        if let Some(rest) = path.strip_prefix(scheme) {
            return match rest.find('/') {
                Some(index) => &rest[index..],
                None => "/",
            };
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_decoded_and_repeats_kept() {
        let request = MockRequest::new(
            Method::GET,
            "/fhir/Patient?identifier=http%3A%2F%2Ffhir.nhs.net%2FId%2Fnhs-number%7C9658218873&a=1&a=2",
            HeaderMap::new(),
            Bytes::new(),
        );
        assert_eq!(
            request.query_value("identifier"),
            Some("http://fhir.nhs.net/Id/nhs-number|9658218873")
        );
        assert_eq!(
            request.query_values("a").collect::<Vec<_>>(),
            vec!["1", "2"]
        );
    }

    #[test]
    fn proxy_prefix_is_removed() {
        assert_eq!(
            strip_proxy_prefix("/https://prov.example:443/fhir/metadata"),
            "/fhir/metadata"
        );
        assert_eq!(strip_proxy_prefix("/http://h/x"), "/x");
        assert_eq!(strip_proxy_prefix("/fhir/metadata"), "/fhir/metadata");
    }
}
