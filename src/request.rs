//! The request as the mock sees it: built once from the HTTP request, owned,
//! with the query decoded and the body parsed at most once, so that every
//! later stage (checks, scenario matching, templates) reads the same values.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

/// Hands out request ids (`request.id` in templates): unique per process.
#[derive(Debug, Default)]
pub struct RequestIds(AtomicU64);

impl RequestIds {
    pub fn next(&self) -> u64 {
        // Ids start at 1000 so they never collide with the small ids of seed data.
        1000 + self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// An incoming request, normalised.
#[derive(Debug)]
pub struct MockRequest {
    pub method: Method,
    /// The path as routed: percent-encoded as received, with any SSP proxy
    /// prefix (`/https://host:port`) removed.
    pub path: String,
    /// The raw query string, without `?`.
    pub raw_query: String,
    /// Decoded query pairs, in order; a repeated name appears repeatedly.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    body_json: OnceLock<Option<Value>>,
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
            path: strip_proxy_prefix(path).to_string(),
            raw_query: raw_query.to_string(),
            query,
            headers,
            body,
            body_json: OnceLock::new(),
        }
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

/// The Spine Secure Proxy forwards `https://ssp/https://provider/root/...`;
/// a provider behind it may see `/https://provider/root/...`. Serve the rest.
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
