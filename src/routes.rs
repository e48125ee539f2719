//! The route table generated from the definition: request path → operation.
//!
//! Spec paths are read from a file, so routing must never panic and must
//! report conflicts as load errors; hence a small table of our own rather
//! than `axum::Router::route`. Each path template is split into segments:
//! a literal (`$gpc.getcarerecord`), a whole-segment parameter (`{id}`), or a
//! parameter with a literal prefix/suffix (`{name}.json`). When several
//! templates match, the most specific wins, segment by segment: literal >
//! affixed parameter > parameter. So `/Patient/$gpc.getcarerecord` beats
//! `/Patient/{id}`, whatever the order in the spec.

use http::Method;

use crate::error::LoadError;
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

    /// Higher is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param { prefix, suffix, .. } if !prefix.is_empty() || !suffix.is_empty() => 1,
            Segment::Param { .. } => 0,
        }
    }

    fn capture<'a>(&self, input: &'a str) -> Option<Option<&'a str>> {
        match self {
            Segment::Literal(literal) => (literal == input).then_some(None),
            Segment::Param { prefix, suffix, .. } => {
                let value = input.strip_prefix(prefix.as_str())?;
                let value = value.strip_suffix(suffix.as_str())?;
                (!value.is_empty()).then_some(Some(value))
            }
        }
    }

    /// The segment with parameter names erased, for spotting ambiguity.
    fn shape(&self) -> String {
        match self {
            Segment::Literal(literal) => literal.clone(),
            Segment::Param { prefix, suffix, .. } => format!("{prefix}{{}}{suffix}"),
        }
    }
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

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Sorted most specific first, so the first match wins.
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds the table; ambiguous templates (same shape, different
    /// parameter names) are load errors.
    pub fn build(model: &ApiModel) -> Result<RouteTable, Vec<LoadError>> {
        let mut routes: Vec<Route> = Vec::new();
        let mut errors = Vec::new();
        for (index, operation) in model.operations.iter().enumerate() {
            let template = operation.full_path.clone();
            if let Some(route) = routes.iter_mut().find(|r| r.template == template) {
                route.methods.push((operation.method.clone(), index));
                continue;
            }
            let segments: Vec<Segment> = split(&template).map(Segment::parse).collect();
            let shape: Vec<String> = segments.iter().map(Segment::shape).collect();
            if let Some(other) = routes
                .iter()
                .find(|r| r.segments.iter().map(Segment::shape).collect::<Vec<_>>() == shape)
            {
                errors.push(LoadError::new(
                    &model.source,
                    None,
                    format!(
                        "paths `{}` and `{}` are ambiguous: they match the same requests",
                        other.template, template
                    ),
                ));
                continue;
            }
            routes.push(Route {
                template,
                segments,
                methods: vec![(operation.method.clone(), index)],
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        routes.sort_by(|a, b| {
            let rank = |r: &Route| r.segments.iter().map(Segment::rank).collect::<Vec<_>>();
            rank(b).cmp(&rank(a))
        });
        Ok(RouteTable { routes })
    }

    /// Looks up a request path (raw, still percent-encoded; no query).
    /// Segments are decoded before matching, and one trailing slash is ignored.
    pub fn lookup(&self, method: &Method, raw_path: &str) -> Lookup {
        let trimmed = if raw_path.len() > 1 {
            raw_path.strip_suffix('/').unwrap_or(raw_path)
        } else {
            raw_path
        };
        let decoded: Vec<String> = split(trimmed)
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        // The most specific template matching the path owns it: a method it
        // lacks is a 405, even if a less specific template has that method.
        if let Some((route, params)) = self
            .routes
            .iter()
            .find_map(|route| match_route(route, &decoded).map(|params| (route, params)))
        {
            return match route.methods.iter().find(|(m, _)| m == method) {
                Some((_, index)) => Lookup::Found {
                    operation: *index,
                    params,
                },
                None => Lookup::MethodNotAllowed {
                    allow: route.methods.iter().map(|(m, _)| m.clone()).collect(),
                    template: route.template.clone(),
                },
            };
        }
        Lookup::NotFound {
            nearest: self.nearest(trimmed),
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

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('/').split('/')
}

fn match_route(route: &Route, segments: &[String]) -> Option<Vec<(String, String)>> {
    if route.segments.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (pattern, input) in route.segments.iter().zip(segments) {
        if let Some(value) = pattern.capture(input)? {
            if let Segment::Param { name, .. } = pattern {
                params.push((name.clone(), value.to_string()));
            }
        }
    }
    Some(params)
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
    }
}
