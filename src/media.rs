//! Media types: their essence, which are JSON, and the `Content-Type` an
//! operation's answer carries. Read by the scenario compiler, the request
//! checks, response checks and the spec fallback alike, so it sits below
//! all of them.

use crate::spec::Operation;

/// A media type without its parameters, lower-cased: `Application/JSON; charset=x` → `application/json`.
pub fn media_essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Media types whose bodies must be valid JSON.
pub fn is_json_media(media: &str) -> bool {
    let essence = media_essence(media);
    essence.ends_with("json") || essence.contains("+json") || essence.contains("json+")
}

/// `Content-Type` for `status` of `operation`: the declared media type, with
/// `charset=utf-8` added to JSON types that lack a charset.
pub fn content_type_for(operation: &Operation, status: u16) -> String {
    let media = operation.produces_for(status).unwrap_or("application/json");
    if is_json_media(media) && !media.contains("charset") {
        format!("{media}; charset=utf-8")
    } else {
        media.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_and_json() {
        assert_eq!(
            media_essence("Application/JSON+FHIR; charset=utf-8"),
            "application/json+fhir"
        );
        for json in [
            "application/json",
            "application/fhir+json",
            "application/json+fhir; charset=utf-8",
        ] {
            assert!(is_json_media(json), "{json}");
        }
        for other in ["application/xml+fhir", "text/plain", "application/pdf"] {
            assert!(!is_json_media(other), "{other}");
        }
    }
}
