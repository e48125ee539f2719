//! The route table generated from the definition: request path → operation.
//!
//! Routing is [`matchit`]'s radix tree. Each path template is split into
//! segments: a literal (`$gpc.getcarerecord`), a whole-segment parameter
//! (`{id}`), or a parameter with a literal prefix/suffix (`{name}.json`).
//! When several templates match, matchit's priority decides, segment by
//! segment: literal > affixed parameter > parameter. So
//! `/Patient/$gpc.getcarerecord` beats `/Patient/{id}`, whatever the order
//! in the spec. The template that wins owns the path: a method it lacks is
//! a 405 with its `Allow`, even if a less specific template has the method.
//!
//! Spec paths are read from a file, so building must never panic and must
//! report conflicts as load errors: matchit's insertion errors become
//! [`LoadError`]s naming both templates (`/a/{x}` and `/a/{y}` are
//! ambiguous).
//!
//! What matchit does not do itself, this module adapts:
//! - **Percent-decoding** (`%24gpc.getcarerecord` routes to the literal;
//!   `literal_beats_parameter_at_same_depth`, `suffix_parameter_and_deep_parameters`):
//!   matchit compares raw text. Request segments are decoded, then both they
//!   and the templates' literal parts are written in one canonical form
//!   ([`canonical`]: `%`, `/`, braces, controls and non-ASCII
//!   percent-encoded) before matchit sees them. So a decoded `/` stays
//!   inside its segment, braces never read as parameters, and matchit's
//!   tree holds ASCII only. Parameter values are taken from the decoded
//!   segments, by position, with the template's own names.
//! - **Parameter names**: templates go to matchit with positional names
//!   (`{p1}`), so any name the spec uses is accepted and two templates of
//!   the same shape collide as the same route (`ambiguous_templates_are_reported`).
//! - **Trailing slash**: one is dropped before matching.
//! - **Nearest template** of a 404: by edit distance over the templates.
//!
//! One rule is matchit's, stricter than the table this replaced: at one
//! position, parameters with a prefix and parameters with a suffix
//! (`/x/v{id}` and `/x/{id}.json`) cannot be ordered and are reported as a
//! load error naming both (`prefix_and_suffix_parameters_at_one_place_are_a_load_error`).

use http::{Method, StatusCode};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::error::LoadError;
use crate::fhir::{Outcome, SpineCode};
use crate::spec::ApiModel;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param {
        name: String,
        prefix: String,
        suffix: String,
    },
}

impl Segment {
    fn parse(text: &str) -> Segment {
        if let (Some(open), Some(close)) = (text.find('{'), text.rfind('}')) {
            if open < close {
                return Segment::Param {
                    name: text[open + 1..close].to_string(),
                    prefix: text[..open].to_string(),
                    suffix: text[close + 1..].to_string(),
                };
            }
        }
        Segment::Literal(text.to_string())
    }

    /// The segment as matchit reads it; `position` names its parameter.
    fn route(&self, position: usize) -> String {
        match self {
            Segment::Literal(literal) => canonical(literal),
            Segment::Param { prefix, suffix, .. } => {
                format!("{}{{p{position}}}{}", canonical(prefix), canonical(suffix))
            }
        }
    }

    /// The parameter's value in a decoded request segment.
    fn capture(&self, input: &str) -> Option<(String, String)> {
        let Segment::Param {
            name,
            prefix,
            suffix,
        } = self
        else {
            return None;
        };
        let value = input
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_suffix(suffix.as_str()))
            .unwrap_or(input);
        Some((name.clone(), value.to_string()))
    }
}

/// What [`canonical`] percent-encodes (beyond non-ASCII, always encoded).
const ENCODED: &AsciiSet = &CONTROLS.add(b'%').add(b'/').add(b'{').add(b'}');

/// One text form for a segment, literal or decoded from a request: a
/// prefix code (each character on its own), so equal and prefix/suffix
/// relations are those of the decoded text.
fn canonical(text: &str) -> String {
    utf8_percent_encode(text, ENCODED).to_string()
}

#[derive(Debug, Clone)]
struct Route {
    template: String,
    segments: Vec<Segment>,
    /// (method, index into `ApiModel::operations`)
    methods: Vec<(Method, usize)>,
}

/// The outcome of looking a request up.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Found {
        operation: usize,
        /// Path parameters, decoded, in template order.
        params: Vec<(String, String)>,
    },
    MethodNotAllowed {
        allow: Vec<Method>,
        /// Any operation on that path, so the answer can still name it.
        template: String,
    },
    NotFound {
        /// The served path template closest to what was asked.
        nearest: Option<String>,
    },
}

impl Lookup {
    /// The mock's answer to a request no operation serves: 405 naming
    /// what the path allows (and the `Allow` value), or 404 naming the
    /// nearest path. `None` for a found operation.
    pub fn refusal(&self, method: &Method, path: &str) -> Option<(Outcome, Option<String>)> {
        match self {
            Self::Found { .. } => None,
            Self::MethodNotAllowed { allow, template } => {
                let allowed: Vec<&str> = allow.iter().map(Method::as_str).collect();
                let outcome = Outcome::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    SpineCode::BAD_REQUEST,
                    format!(
                        "method {method} is not allowed on {path}: the definition allows {} on {template}",
                        allowed.join(", ")
                    ),
                );
                Some((outcome, Some(allowed.join(", "))))
            }
            Self::NotFound { nearest } => {
                let hint = match nearest {
                    Some(nearest) => format!("; the nearest path the definition has is {nearest}"),
                    None => String::new(),
                };
                let outcome = Outcome::new(
                    StatusCode::NOT_FOUND,
                    SpineCode::NO_RECORD_FOUND,
                    format!("no operation of the definition serves {method} {path}{hint}"),
                );
                Some((outcome, None))
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Canonical route → index into `routes`.
    router: matchit::Router<usize>,
    /// One per distinct template, in spec order.
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds the table; ambiguous templates (same shape, different
    /// parameter names) and templates matchit cannot order are load errors.
    pub fn build(model: &ApiModel) -> Result<RouteTable, Vec<LoadError>> {
        let mut table = RouteTable::default();
        // (canonical route, template), to name the other side of a conflict.
        let mut inserted: Vec<(String, String)> = Vec::new();
        let mut errors = Vec::new();
        for (index, operation) in model.operations.iter().enumerate() {
            let template = &operation.full_path;
            if let Some(route) = table.routes.iter_mut().find(|r| r.template == *template) {
                route.methods.push((operation.method.clone(), index));
                continue;
            }
            let segments: Vec<Segment> = split(template).map(Segment::parse).collect();
            let route = format!(
                "/{}",
                segments
                    .iter()
                    .enumerate()
                    .map(|(position, segment)| segment.route(position))
                    .collect::<Vec<_>>()
                    .join("/")
            );
            if let Err(error) = table.router.insert(route.clone(), table.routes.len()) {
                errors.push(LoadError::new(
                    &model.source,
                    None,
                    insert_message(&error, template, &inserted),
                ));
                continue;
            }
            inserted.push((route, template.clone()));
            table.routes.push(Route {
                template: template.clone(),
                segments,
                methods: vec![(operation.method.clone(), index)],
            });
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    /// Looks up a request path (raw, still percent-encoded; no query).
    /// Segments are decoded before matching, and one trailing slash is ignored.
    pub fn lookup(&self, method: &Method, raw_path: &str) -> Lookup {
        let trimmed = if raw_path.len() > 1 {
            raw_path.strip_suffix('/').unwrap_or(raw_path)
        } else {
            raw_path
        };
        if is_canonical(trimmed) {
            return self.lookup_canonical(method, trimmed, split(trimmed), trimmed);
        }
        let decoded: Vec<String> = split(trimmed)
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let path = format!(
            "/{}",
            decoded
                .iter()
                .map(|segment| canonical(segment))
                .collect::<Vec<_>>()
                .join("/")
        );
        self.lookup_canonical(method, &path, decoded.iter().map(String::as_str), trimmed)
    }

    /// The lookup of `path` in canonical form, whose decoded segments are
    /// `decoded`.
    fn lookup_canonical<'a>(
        &self,
        method: &Method,
        path: &str,
        decoded: impl Iterator<Item = &'a str>,
        trimmed: &str,
    ) -> Lookup {
        let Some(route) = self
            .router
            .at(path)
            .ok()
            .and_then(|matched| self.routes.get(*matched.value))
        else {
            return Lookup::NotFound {
                nearest: self.nearest(trimmed),
            };
        };
        match route.methods.iter().find(|(m, _)| m == method) {
            Some((_, index)) => Lookup::Found {
                operation: *index,
                params: route
                    .segments
                    .iter()
                    .zip(decoded)
                    .filter_map(|(segment, input)| segment.capture(input))
                    .collect(),
            },
            None => Lookup::MethodNotAllowed {
                allow: route.methods.iter().map(|(m, _)| m.clone()).collect(),
                template: route.template.clone(),
            },
        }
    }

    fn nearest(&self, path: &str) -> Option<String> {
        self.routes
            .iter()
            .map(|route| (strsim::levenshtein(path, &route.template), &route.template))
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, template)| template.clone())
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Whether a request path is already its own canonical form: one leading
/// slash, and nothing that decoding or [`canonical`] would change (no
/// `%`, braces, controls or non-ASCII). Then it is matched as it is: the
/// decoding and re-encoding, a few allocations per segment, were most of
/// a metadata request's route lookup (3 % of its CPU, perf; 3.1 k
/// instructions, 0.9 k without them, callgrind).
fn is_canonical(path: &str) -> bool {
    path.starts_with('/')
        && !path[1..].starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_control() && !matches!(b, b'%' | b'{' | b'}'))
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('/').split('/')
}

/// A matchit insertion error in the spec's terms, naming both templates.
fn insert_message(
    error: &matchit::InsertError,
    template: &str,
    inserted: &[(String, String)],
) -> String {
    match error {
        matchit::InsertError::Conflict { with } => {
            // matchit names the route it collided with, or for a partial
            // overlap one it rebuilt from its tree: the closest inserted.
            let common = |route: &str| {
                route
                    .bytes()
                    .zip(with.bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            };
            let other = inserted
                .iter()
                .max_by_key(|(route, _)| (route == with, common(route)))
                .map_or(with.as_str(), |(_, template)| template.as_str());
            if shape(other) == shape(template) {
                format!(
                    "paths `{other}` and `{template}` are ambiguous: they match the same requests"
                )
            } else {
                format!("paths `{other}` and `{template}` are ambiguous: the router cannot tell which is more specific (at one place, a parameter with a prefix and one with a suffix)")
            }
        }
        other => format!("path `{template}` cannot be routed: {other}"),
    }
}

/// A template with parameter names erased.
fn shape(template: &str) -> Vec<String> {
    split(template)
        .map(|segment| match Segment::parse(segment) {
            Segment::Literal(literal) => literal,
            Segment::Param { prefix, suffix, .. } => format!("{prefix}{{}}{suffix}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(paths: &[(&str, &str)]) -> RouteTable {
        let mut spec = serde_json::json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}});
        for (method, path) in paths {
            spec["paths"][*path][*method] =
                serde_json::json!({"responses": {"200": {"description": "ok"}}});
        }
        let model = crate::spec::load_str(&spec.to_string(), "t.json").expect("spec loads");
        RouteTable::build(&model).expect("routes build")
    }

    fn found(table: &RouteTable, method: Method, path: &str) -> Option<Vec<(String, String)>> {
        match table.lookup(&method, path) {
            Lookup::Found { params, .. } => Some(params),
            _ => None,
        }
    }

    #[test]
    fn literal_beats_parameter_at_same_depth() {
        let t = table(&[
            ("get", "/Patient/{id}"),
            ("post", "/Patient/$gpc.getcarerecord"),
        ]);
        assert_eq!(
            found(&t, Method::POST, "/Patient/$gpc.getcarerecord"),
            Some(vec![])
        );
        assert_eq!(
            found(&t, Method::GET, "/Patient/2"),
            Some(vec![("id".into(), "2".into())])
        );
        assert!(matches!(
            t.lookup(&Method::GET, "/Patient/$gpc.getcarerecord"),
            Lookup::MethodNotAllowed { .. }
        ));
    }

    #[test]
    fn suffix_parameter_and_deep_parameters() {
        let t = table(&[
            ("get", "/reports/{name}.json"),
            ("get", "/clinics/{clinicId}/rooms/{roomId}/bookings"),
        ]);
        assert_eq!(
            found(&t, Method::GET, "/reports/jan.json"),
            Some(vec![("name".into(), "jan".into())])
        );
        assert_eq!(found(&t, Method::GET, "/reports/jan.xml"), None);
        assert_eq!(
            found(&t, Method::GET, "/clinics/c%201/rooms/r2/bookings/"),
            Some(vec![
                ("clinicId".into(), "c 1".into()),
                ("roomId".into(), "r2".into())
            ])
        );
    }

    /// A path matched as it is (already canonical) and its encoded
    /// spellings are looked up alike.
    #[test]
    fn canonical_paths_match_as_their_encoded_spellings() {
        let t = table(&[
            ("get", "/metadata"),
            ("get", "/Patient/{id}"),
            ("post", "/Patient/$gpc.getcarerecord"),
            ("get", "/reports/{name}.json"),
        ]);
        for (plain, encoded) in [
            ("/metadata", "/%6Detadata"),
            ("/Patient/2", "/Patient/%32"),
            ("/Patient/2/", "/Patient/%32/"),
            (
                "/Patient/$gpc.getcarerecord",
                "/Patient/%24gpc.getcarerecord",
            ),
            ("/reports/jan.json", "/reports/ja%6E.json"),
            ("/", "//"),
            ("/a//b", "/a/%2F/b"),
        ] {
            assert!(is_canonical(plain.strip_suffix('/').unwrap_or(plain)) || plain == "/");
            assert!(!is_canonical(encoded), "{encoded}");
            for method in [Method::GET, Method::POST] {
                let (a, b) = (t.lookup(&method, plain), t.lookup(&method, encoded));
                if plain == "/a//b" {
                    // `%2F` is a slash inside a segment, not a separator.
                    assert!(matches!(a, Lookup::NotFound { .. }), "{a:?}");
                    continue;
                }
                assert_eq!(a, b, "{method} {plain} / {encoded}");
            }
        }
    }

    #[test]
    fn wrong_method_lists_allow_and_unknown_path_names_nearest() {
        let t = table(&[
            ("get", "/metadata"),
            ("put", "/Appointment/{id}"),
            ("get", "/Appointment/{id}"),
        ]);
        assert_eq!(
            t.lookup(&Method::DELETE, "/Appointment/1"),
            Lookup::MethodNotAllowed {
                allow: vec![Method::GET, Method::PUT],
                template: "/Appointment/{id}".into()
            }
        );
        assert_eq!(
            t.lookup(&Method::GET, "/Metadata"),
            Lookup::NotFound {
                nearest: Some("/metadata".into())
            }
        );
    }

    #[test]
    fn ambiguous_templates_are_reported() {
        let mut spec = serde_json::json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}});
        for path in ["/a/{x}", "/a/{y}"] {
            spec["paths"][path]["get"] =
                serde_json::json!({"responses": {"200": {"description": "ok"}}});
        }
        let model = crate::spec::load_str(&spec.to_string(), "t.json").expect("loads");
        let errors = RouteTable::build(&model).unwrap_err();
        assert!(errors[0].message.contains("ambiguous"), "{:?}", errors);
        assert!(
            errors[0].message.contains("`/a/{x}` and `/a/{y}`"),
            "{:?}",
            errors
        );
    }

    #[test]
    fn segments_are_decoded_and_stay_segments() {
        let t = table(&[
            ("get", "/Patient/{id}"),
            ("post", "/Patient/$gpc.getcarerecord"),
            ("get", "/Café/{x}"),
            ("get", "/braces/{{literal}}/{id}"),
        ]);
        assert_eq!(
            found(&t, Method::POST, "/Patient/%24gpc.getcarerecord"),
            Some(vec![])
        );
        assert_eq!(
            found(&t, Method::GET, "/Patient/a%2Fb"),
            Some(vec![("id".into(), "a/b".into())])
        );
        assert_eq!(
            found(&t, Method::GET, "/Patient/%7Bx%7D"),
            Some(vec![("id".into(), "{x}".into())])
        );
        assert_eq!(
            found(&t, Method::GET, "/Caf%C3%A9/1"),
            Some(vec![("x".into(), "1".into())])
        );
        assert_eq!(found(&t, Method::GET, "/Patient//"), None);
        assert_eq!(found(&t, Method::GET, "/Patient/1/2"), None);
    }

    #[test]
    fn prefix_and_suffix_parameters_at_one_place_are_a_load_error() {
        let mut spec = serde_json::json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}});
        for path in ["/x/v{id}", "/x/{name}.json"] {
            spec["paths"][path]["get"] =
                serde_json::json!({"responses": {"200": {"description": "ok"}}});
        }
        let model = crate::spec::load_str(&spec.to_string(), "t.json").expect("loads");
        let errors = RouteTable::build(&model).unwrap_err();
        assert!(
            errors[0].message.contains("`/x/v{id}`")
                && errors[0].message.contains("`/x/{name}.json`"),
            "{errors:?}"
        );
    }

    #[test]
    fn empty_suffix_parameter_does_not_match() {
        let t = table(&[("get", "/reports/{name}.json")]);
        assert_eq!(found(&t, Method::GET, "/reports/.json"), None);
    }
}
