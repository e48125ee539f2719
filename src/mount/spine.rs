//! The mount file's Spine sections (`consumers`, `providers`) and the
//! per-API `endpoint`, read and checked into [`SpineConfig`].

use serde::Deserialize;

use crate::error::{line_of, LoadError};
use crate::spine::{Allowed, Consumer, Provider, SpineConfig};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsumerEntry {
    asid: String,
    /// `*` or a list of interaction ids.
    interactions: InteractionsField,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum InteractionsField {
    All(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProviderEntry {
    asid: String,
    ods_code: String,
    endpoint: String,
    interactions: Vec<String>,
}

/// The file's `consumers` and `providers`, checked.
pub(super) fn spine_config(
    text: &str,
    label: &str,
    consumers: Option<Vec<ConsumerEntry>>,
    providers: Option<Vec<ProviderEntry>>,
    errors: &mut Vec<LoadError>,
) -> SpineConfig {
    let mut fail = |section: &str, field: &str, message: String| {
        let line = line_of(text, &format!("{section}:"), 1)
            .and_then(|from| line_of(text, &format!("{field}:"), from))
            .or_else(|| line_of(text, &format!("{section}:"), 1));
        errors.push(LoadError::new(label, line, format!("{section}: {message}")));
    };
    let is_asid = |asid: &str| !asid.is_empty() && asid.bytes().all(|b| b.is_ascii_digit());
    let mut config = SpineConfig::default();
    if let Some(consumers) = consumers {
        config.consumers = Vec::new();
        for (index, consumer) in consumers.into_iter().enumerate() {
            if !is_asid(&consumer.asid) {
                let asid = &consumer.asid;
                fail("consumers", "asid", format!("[{index}].asid `{asid}` is not an ASID: give its digits, e.g. 200000000359"));
            }
            let interactions = match consumer.interactions {
                InteractionsField::All(all) if all == "*" => Allowed::Any,
                InteractionsField::All(one) => {
                    fail(
                        "consumers",
                        "interactions",
                        format!(
                            "[{index}].interactions `{one}`: give `*` or a list of interaction ids"
                        ),
                    );
                    Allowed::Only(Vec::new())
                }
                InteractionsField::List(list) => Allowed::Only(list),
            };
            config.consumers.push(Consumer {
                asid: consumer.asid,
                interactions,
            });
        }
    }
    for (index, provider) in providers.into_iter().flatten().enumerate() {
        if !is_asid(&provider.asid) {
            fail(
                "providers",
                "asid",
                format!("[{index}].asid `{}` is not an ASID", provider.asid),
            );
        }
        if !is_ods(&provider.ods_code) {
            fail(
                "providers",
                "ods_code",
                format!(
                    "[{index}].ods_code `{}` is not an ODS code",
                    provider.ods_code
                ),
            );
        }
        if let Err(message) = endpoint_url(&provider.endpoint) {
            fail(
                "providers",
                "endpoint",
                format!("[{index}].endpoint: {message}"),
            );
        }
        config.providers.push(Provider {
            asid: provider.asid,
            ods_code: provider.ods_code,
            endpoint: provider.endpoint.trim_end_matches('/').to_string(),
            interactions: provider.interactions,
        });
    }
    config
}

pub(super) fn is_ods(ods: &str) -> bool {
    !ods.is_empty() && ods.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An endpoint URL: `http(s)://host[:port][/path]`, no query.
pub(super) fn endpoint_url(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let valid = rest.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains("//")
            && rest.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~' | b':')
            })
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not an endpoint URL: give https://host[:port]/path, e.g. https://provider.example/B82617/STU3/1/gpconnect/fhir"
        ))
    }
}
