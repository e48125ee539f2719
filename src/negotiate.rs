//! Format negotiation for FHIR APIs: which of JSON and XML a request is
//! answered in, decided once per request, early in the request path.
//!
//! Order (GP Connect, DOMAIN.md §6): the `_format` query parameter, then
//! `Accept` (q-values and wildcards), then the request's `Content-Type`,
//! then JSON. Media types are compared without parameters (`charset`).
//! Either era's FHIR media types are accepted (as a real provider does);
//! answers carry the era's own ([`Format::media_type`]).

use http::header::{ACCEPT, CONTENT_TYPE};

use crate::fhir::{Era, ErrorStyle};
use crate::request::MockRequest;

/// The body format of an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Xml,
}

impl Format {
    /// The era's media type for this format, with its charset.
    pub fn content_type(self, era: Era) -> &'static str {
        match (era, self) {
            (Era::Dstu2, Format::Json) => "application/json+fhir; charset=utf-8",
            (Era::Dstu2, Format::Xml) => "application/xml+fhir; charset=utf-8",
            (Era::Stu3, Format::Json) => "application/fhir+json; charset=utf-8",
            (Era::Stu3, Format::Xml) => "application/fhir+xml; charset=utf-8",
        }
    }
}

/// The era of an API whose answers are FHIR (its errors GP Connect
/// OperationOutcomes): XML is negotiated for it. `None` (problem+json
/// errors, a definition that is not FHIR) keeps an API JSON-only.
pub fn fhir_era(style: ErrorStyle) -> Option<Era> {
    match style {
        ErrorStyle::Fhir(era) => Some(era),
        ErrorStyle::Problem => None,
    }
}

/// Where the deciding media type came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatSource {
    Query,
    Accept,
    ContentType,
}

impl FormatSource {
    /// How request checks name it.
    pub fn label(self) -> &'static str {
        match self {
            FormatSource::Query => "query parameter _format",
            FormatSource::Accept => "header Accept",
            FormatSource::ContentType => "header Content-Type",
        }
    }
}

/// A media type asked for that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub source: FormatSource,
    /// What was asked for, as sent.
    pub asked: String,
}

/// The outcome of negotiation: the format to answer in and, when the
/// deciding source asked for something unservable, the refusal (a 415 in
/// strict mode; the answer, an error or not, is still written in `format`:
/// the best the other sources allow, else JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    pub format: Format,
    pub refusal: Option<Refusal>,
}

const JSON_TYPES: &[&str] = &[
    "json",
    "application/json",
    "text/json",
    "application/fhir+json",
    "application/json+fhir",
];
const XML_TYPES: &[&str] = &[
    "xml",
    "application/xml",
    "text/xml",
    "application/fhir+xml",
    "application/xml+fhir",
];

/// The format one media type (or `_format` short form) stands for,
/// compared without parameters and case. Allocates nothing: it runs on
/// every request of a FHIR API.
pub fn format_of(media: &str) -> Option<Format> {
    let essence = media.split(';').next().unwrap_or("").trim();
    let is = |names: &[&str]| names.iter().any(|name| essence.eq_ignore_ascii_case(name));
    if is(JSON_TYPES) {
        Some(Format::Json)
    } else if is(XML_TYPES) {
        Some(Format::Xml)
    } else {
        None
    }
}

/// The best servable format of an `Accept` value: highest q first, the
/// earlier range on ties; `*/*` and `application/*` mean JSON; `q=0`
/// refuses. `None` when no range can be served.
pub fn from_accept(accept: &str) -> Option<Format> {
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for parameter in parts {
            let parameter = parameter.trim();
            if let Some(value) = parameter
                .strip_prefix("q=")
                .or_else(|| parameter.strip_prefix("Q="))
            {
                q = value.trim().parse().unwrap_or(0.0);
            }
        }
        if q <= 0.0 {
            continue;
        }
        let format = if media == "*/*" || media.eq_ignore_ascii_case("application/*") {
            Some(Format::Json)
        } else {
            format_of(media)
        };
        if let Some(format) = format {
            if best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, format));
            }
        }
    }
    best.map(|(_, format)| format)
}

/// Negotiates `request`'s answer format. Pure: reads `_format`, `Accept`
/// and `Content-Type` only.
pub fn negotiate(request: &MockRequest) -> Negotiated {
    let format_param = request
        .query_value("_format")
        .filter(|text| !text.trim().is_empty());
    // An empty Accept is no Accept.
    let accept = request
        .headers
        .get(ACCEPT)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"))
        .filter(|text| !text.trim().is_empty());
    let content_type = request
        .headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"))
        .filter(|text| !text.trim().is_empty());
    let sources = [
        (
            FormatSource::Query,
            format_param,
            format_param.and_then(format_of),
        ),
        (FormatSource::Accept, accept, accept.and_then(from_accept)),
        (
            FormatSource::ContentType,
            content_type,
            content_type.and_then(format_of),
        ),
    ];
    let mut refusal = None;
    for (source, given, format) in sources {
        let Some(given) = given else {
            continue;
        };
        match format {
            Some(format) => return Negotiated { format, refusal },
            None if refusal.is_none() => {
                refusal = Some(Refusal {
                    source,
                    asked: given.to_string(),
                })
            }
            None => {}
        }
    }
    Negotiated {
        format: Format::Json,
        refusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method};

    fn request(query: &str, accept: Option<&str>, content_type: Option<&str>) -> MockRequest {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        }
        MockRequest::new(
            Method::GET,
            &format!("/fhir/metadata{query}"),
            headers,
            Bytes::new(),
        )
    }

    fn format(query: &str, accept: Option<&str>, content_type: Option<&str>) -> Negotiated {
        negotiate(&request(query, accept, content_type))
    }

    #[test]
    fn short_and_full_forms() {
        for xml in [
            "xml",
            "text/xml",
            "application/xml",
            "application/xml+fhir",
            "application/fhir+xml; charset=utf-8",
            "Application/FHIR+XML",
        ] {
            assert_eq!(format_of(xml), Some(Format::Xml), "{xml}");
        }
        for json in [
            "json",
            "application/json",
            "application/json+fhir",
            "application/fhir+json;charset=UTF-8",
        ] {
            assert_eq!(format_of(json), Some(Format::Json), "{json}");
        }
        assert_eq!(format_of("text/html"), None);
        assert_eq!(format_of("ttl"), None);
    }

    #[test]
    fn precedence_format_accept_content_type_json() {
        let xml = Negotiated {
            format: Format::Xml,
            refusal: None,
        };
        let json = Negotiated::default();
        assert_eq!(
            format("?_format=xml", Some("application/fhir+json"), None),
            xml
        );
        assert_eq!(
            format(
                "?_format=application/fhir%2Bjson",
                Some("application/fhir+xml"),
                Some("application/fhir+xml")
            ),
            json
        );
        assert_eq!(
            format(
                "",
                Some("application/xml+fhir"),
                Some("application/json+fhir")
            ),
            xml
        );
        assert_eq!(format("", None, Some("application/fhir+xml")), xml);
        assert_eq!(format("", Some(""), Some("application/fhir+xml")), xml);
        assert_eq!(format("", None, None), json);
    }

    #[test]
    fn accept_q_values_and_wildcards() {
        assert_eq!(
            from_accept("application/fhir+xml;q=0.5, application/fhir+json"),
            Some(Format::Json)
        );
        assert_eq!(
            from_accept("application/fhir+json;q=0.4, application/fhir+xml;q=0.9"),
            Some(Format::Xml)
        );
        assert_eq!(
            from_accept("application/fhir+xml, application/fhir+json"),
            Some(Format::Xml)
        );
        assert_eq!(from_accept("*/*"), Some(Format::Json));
        assert_eq!(from_accept("application/*"), Some(Format::Json));
        assert_eq!(from_accept("text/html, */*;q=0.1"), Some(Format::Json));
        assert_eq!(from_accept("application/fhir+xml;q=0"), None);
        assert_eq!(from_accept("text/html"), None);
        assert_eq!(
            from_accept("text/html;q=0.9, application/xml+fhir;q=0.1"),
            Some(Format::Xml)
        );
    }

    #[test]
    fn refusals_name_the_deciding_source_and_keep_a_format() {
        let refused = format("?_format=text/html", Some("application/fhir+xml"), None);
        assert_eq!(
            refused.format,
            Format::Xml,
            "the error is written as Accept allows"
        );
        let refusal = refused.refusal.unwrap();
        assert_eq!(refusal.source, FormatSource::Query);
        assert_eq!(refusal.asked, "text/html");
        let refused = format("", Some("text/plain"), None);
        assert_eq!(refused.format, Format::Json);
        assert_eq!(refused.refusal.unwrap().source, FormatSource::Accept);
        let refused = format("", None, Some("text/plain"));
        assert_eq!(refused.refusal.unwrap().source, FormatSource::ContentType);
    }

    #[test]
    fn content_types_per_era() {
        assert_eq!(
            Format::Xml.content_type(Era::Dstu2),
            "application/xml+fhir; charset=utf-8"
        );
        assert_eq!(
            Format::Xml.content_type(Era::Stu3),
            "application/fhir+xml; charset=utf-8"
        );
        assert_eq!(
            Format::Json.content_type(Era::Stu3),
            "application/fhir+json; charset=utf-8"
        );
    }
}
