//! The Spine around the mounted providers, as a consumer meets it on the
//! way to a live provider (DOMAIN-STU3 §4): the directory of providers
//! ([`Spine`], generated from the snapshot's mounted GP Connect APIs — ODS
//! code, ASID, endpoint URL, the interaction ids of their operations —
//! and the mount file's directory-only `providers`), the consumers the
//! proxy lets through (the mount file's `consumers`), and the request
//! path's step 0, [`intercept`]: a request for the Spine Directory
//! Service's FHIR API is answered by [`sds`]; one in the Spine Secure
//! Proxy's form (`/{endpoint URL}/{FHIR request}`) is checked by [`proxy`]
//! and either refused with the proxy's own OperationOutcome or handed on,
//! without its endpoint prefix, to the API that serves the endpoint.
//!
//! Everything here is built once per snapshot and read per request.

pub mod proxy;
pub mod sds;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::answer::Answer;
use crate::request::MockRequest;
use crate::snapshot::Api;

/// The consumer ASID allowed everything when the mount file names none
/// (the ASID GP Connect's test packs send as `Ssp-From`).
pub const DEFAULT_CONSUMER_ASID: &str = "200000000359";
/// Where the directory's FHIR API is served.
pub const DIRECTORY_BASE: &str = "/spine-directory/FHIR/R4";
/// The origin of a mounted API's endpoint URL when its mount entry gives
/// no `endpoint`: the URL is this and the API's base path.
pub const DEFAULT_ENDPOINT_ORIGIN: &str = "https://provider.example";

/// The mount file's say on the Spine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpineConfig {
    /// The consumer systems the proxy knows (`consumers`).
    pub consumers: Vec<Consumer>,
    /// Providers listed in the directory that no mounted API serves
    /// (`providers`): the proxy answers calls to them with its 502.
    pub providers: Vec<Provider>,
}

impl Default for SpineConfig {
    fn default() -> Self {
        Self {
            consumers: vec![Consumer {
                asid: DEFAULT_CONSUMER_ASID.to_string(),
                interactions: Allowed::Any,
            }],
            providers: Vec::new(),
        }
    }
}

/// A consumer system: its ASID and the interactions it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub asid: String,
    pub interactions: Allowed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// `*`: every interaction.
    Any,
    Only(Vec<String>),
}

impl Consumer {
    pub fn allows(&self, interaction: &str) -> bool {
        match &self.interactions {
            Allowed::Any => true,
            Allowed::Only(list) => list.iter().any(|id| id == interaction),
        }
    }
}

/// A directory-only provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub asid: String,
    pub ods_code: String,
    pub endpoint: String,
    pub interactions: Vec<String>,
}

/// One message handling system of the directory: a provider system's
/// endpoint and the interactions it answers there.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The provider system's ASID (`Ssp-To`).
    pub asid: String,
    pub ods_code: Option<String>,
    /// `nhsMhsPartyKey`: `{ODS}-{the ASID's last 7 digits}`.
    pub party_key: String,
    /// The endpoint URL (`nhsMhsEndPoint`), no trailing `/`.
    pub endpoint: String,
    pub interactions: Vec<String>,
    /// The mounted API that serves it (none: a directory-only provider).
    pub api: Option<String>,
    /// That API's base path: a forwarded request's path is this and the
    /// rest of the target URL after the endpoint.
    pub base_path: String,
}

impl Entry {
    /// The CPA id of one of its interactions (`nhsMhsCPAId`): `S` and 8 hex
    /// digits of a hash of party key and interaction, stable across runs.
    pub fn cpa_id(&self, interaction: &str) -> String {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.party_key.bytes().chain(interaction.bytes()) {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        format!("S{hash:08X}")
    }

    /// The endpoint's host (`nhsMhsFQDN`).
    pub fn fqdn(&self) -> &str {
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, rest)| rest);
        let host = rest.split('/').next().unwrap_or(rest);
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    }
}

/// The directory and the proxy's consumers, for one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Spine {
    pub entries: Vec<Entry>,
    pub consumers: Vec<Consumer>,
    /// `--sds-apikey`: the `apikey` the directory requires (none: any
    /// non-empty one).
    pub apikey: Option<String>,
}

impl Spine {
    /// The directory of the mounted APIs (those checked as GP Connect
    /// providers) and the configured directory-only providers.
    /// `endpoint_of` gives a mounted API's configured endpoint URL.
    pub fn build<'a>(
        config: &SpineConfig,
        apis: impl IntoIterator<Item = &'a Api>,
        endpoint_of: impl Fn(&str) -> Option<String>,
        apikey: Option<String>,
    ) -> Spine {
        let mut entries = Vec::new();
        for api in apis {
            if api.era.is_none() || !api.contract.no_store() {
                continue;
            }
            let mut interactions: Vec<String> = Vec::new();
            for index in 0..api.model.operations.len() {
                for id in api.contract.interactions(index) {
                    if !interactions.contains(id) {
                        interactions.push(id.clone());
                    }
                }
            }
            let endpoint = endpoint_of(&api.name)
                .unwrap_or_else(|| format!("{DEFAULT_ENDPOINT_ORIGIN}{}", api.base_path));
            let asid = api.contract.asid().to_string();
            entries.push(Entry {
                party_key: party_key(api.ods_code.as_deref(), &asid),
                asid,
                ods_code: api.ods_code.clone(),
                endpoint: endpoint.trim_end_matches('/').to_string(),
                interactions,
                api: Some(api.name.clone()),
                base_path: api.base_path.clone(),
            });
        }
        for provider in &config.providers {
            entries.push(Entry {
                party_key: party_key(Some(&provider.ods_code), &provider.asid),
                asid: provider.asid.clone(),
                ods_code: Some(provider.ods_code.clone()),
                endpoint: provider.endpoint.trim_end_matches('/').to_string(),
                interactions: provider.interactions.clone(),
                api: None,
                base_path: String::new(),
            });
        }
        Spine {
            entries,
            consumers: config.consumers.clone(),
            apikey,
        }
    }

    pub fn consumer(&self, asid: &str) -> Option<&Consumer> {
        self.consumers.iter().find(|consumer| consumer.asid == asid)
    }

    /// The entries of provider `asid` for `interaction`.
    pub fn lookup<'s>(
        &'s self,
        asid: &'s str,
        interaction: &'s str,
    ) -> impl Iterator<Item = &'s Entry> + 's {
        self.entries.iter().filter(move |entry| {
            entry.asid == asid && entry.interactions.iter().any(|id| id == interaction)
        })
    }
}

fn party_key(ods: Option<&str>, asid: &str) -> String {
    // The last 7 characters (an ASID is digits; `--asid` is not checked).
    let start = asid
        .char_indices()
        .rev()
        .nth(6)
        .map_or(0, |(index, _)| index);
    let digits = &asid[start..];
    format!("{}-{digits}", ods.unwrap_or("UNKNOWN"))
}

/// What step 0 of the request path made of a request.
#[derive(Debug)]
pub enum Intercept {
    /// Not the Spine's: the request path serves it as it is.
    Pass,
    /// The Spine answered it itself.
    Answer(SpineAnswer),
    /// A proxied request that passed the proxy's checks, as the provider
    /// receives it (the endpoint prefix gone).
    Forward(MockRequest),
}

/// An answer the Spine made.
#[derive(Debug)]
pub struct SpineAnswer {
    pub answer: Answer,
    pub by: Part,
}

/// Which part of the Spine answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The Spine Secure Proxy refused the request.
    Proxy,
    /// The Spine Directory Service answered (a search, or its refusal).
    Directory,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Part::Proxy => "ssp",
            Part::Directory => "sds",
        }
    }
}

/// Step 0 of the request path: the directory's requests answered, a
/// proxied request checked (see the module documentation).
pub fn intercept(spine: &Spine, request: &MockRequest) -> Intercept {
    let path = request.path.as_str();
    if sds::serves(path) {
        return Intercept::Answer(SpineAnswer {
            answer: sds::answer(spine, request),
            by: Part::Directory,
        });
    }
    if !path.starts_with("/http") {
        return Intercept::Pass;
    }
    let Some(target) = proxy::target_url(path) else {
        return Intercept::Pass;
    };
    if spine.entries.is_empty() {
        // No GP Connect API, no directory to check against: the provider's
        // path is served as it is.
        let rest = crate::request::strip_proxy_prefix(path);
        return Intercept::Forward(request.with_path(rest));
    }
    match proxy::check(spine, request, &target) {
        Ok(forwarded) => Intercept::Forward(forwarded),
        Err(answer) => Intercept::Answer(SpineAnswer {
            answer: *answer,
            by: Part::Proxy,
        }),
    }
}

/// A JSON answer with the FHIR R4/STU3 media type.
fn fhir_json(status: StatusCode, body: &serde_json::Value) -> Answer {
    let mut answer = Answer::new(
        status,
        "application/fhir+json; charset=utf-8",
        Bytes::from(body.to_string()),
    );
    answer.headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Settings, Snapshot, Sources};

    #[test]
    fn the_default_directory_lists_every_mounted_gp_connect_api() {
        let snapshot =
            Snapshot::load(&Sources::default_pack(), &Settings::default(), 1).expect("loads");
        let spine = &snapshot.spine;
        let mounted = spine.entries.iter().filter(|entry| entry.api.is_some());
        assert_eq!(mounted.count(), snapshot.apis.len());
        let foundations = spine
            .entries
            .iter()
            .find(|entry| entry.api.as_deref() == Some("gpconnect-foundations"))
            .expect("foundations");
        assert_eq!(
            foundations.endpoint,
            "https://provider.example/B82617/STU3/1/gpconnect/fhir"
        );
        assert_eq!(foundations.asid, "918999198738");
        assert_eq!(foundations.party_key, "B82617-9198738");
        assert_eq!(foundations.fqdn(), "provider.example");
        assert!(foundations
            .interactions
            .iter()
            .any(|id| id == "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1"));
        assert!(spine
            .consumer(DEFAULT_CONSUMER_ASID)
            .is_some_and(|c| c.allows("anything")));
        assert_eq!(foundations.cpa_id("x"), foundations.cpa_id("x"));
        assert_ne!(foundations.cpa_id("x"), foundations.cpa_id("y"));
    }
}
