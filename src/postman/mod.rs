//! `gpconnect-mock postman`: the loaded definition and scenarios as a
//! Postman Collection v2.1 and an environment, ready to import and run.
//!
//! One folder per spec tag (an operation's first tag; untagged operations
//! go to a folder named after their path's first segment) — with several
//! APIs mounted, inside a folder per API whose requests start at its own
//! `{{baseUrl_<name>}}` and send its `{{sspTo_<name>}}` — one request per
//! scenario a request can select, carrying the path, query, headers and
//! body of its sample request ([`crate::sample::request_for`], as `check`
//! sends it). Scenarios no request selects are skipped and listed in
//! [`Export::skipped`].
//!
//! GP Connect requests take the SSP headers from environment variables and
//! `Authorization: Bearer {{gpcJwt}}`. The token is built at send time by
//! the collection's pre-request script ([`collection_script`], from
//! `collection.js`), so `iat` and `exp` are always fresh. Postman runs the collection's pre-request script
//! before the request's own, so the script defines a global `gpcMock`; each
//! request's pre-request script sets its scope (and, for patient-centred
//! DSTU2 calls, the NHS number) and calls `gpcMock.setJwt(pm)`.
//!
//! Each request's tests assert the scenario's status, `X-Mock-Scenario`
//! and, when the scenario answers JSON with one, the `resourceType` (read
//! from the answer rendered in-process).
//!
//! # Layout
//! - this module: the entry points, [`export`] and [`write`];
//! - `model`: the Postman collection and environment types (serde),
//!   re-exported here;
//! - `items`: folders, items and test scripts from sample requests;
//! - `script`: the collection's JWT script (`collection.js`) and the
//!   environment whose variables it reads;
//! - `http`: the `/__admin/postman/*` handlers.

use std::path::{Path, PathBuf};

use crate::snapshot::Snapshot;

mod http;
mod items;
mod model;
mod script;
#[cfg(test)]
mod tests;

pub use http::{base_url_from_host, collection_response, environment_response, ExportCache};
pub use model::{
    Body, BodyOptions, Collection, Environment, EnvironmentValue, Event, Folder, Header, Info,
    Item, Node, QueryParam, RawOptions, Request, Script, Url,
};
pub use script::{collection_script, environment, identity_values};

/// The schema every exported collection names.
pub const SCHEMA_URL: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
pub const COLLECTION_FILE: &str = "gpconnect-mock.postman_collection.json";
pub const ENVIRONMENT_FILE: &str = "gpconnect-mock.postman_environment.json";
/// `serve`'s default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
/// The consumer ASID the environment sends as `Ssp-From`.
pub const CONSUMER_ASID: &str = "200000000359";
/// Fixed, so that exporting twice gives the same files.
const ENVIRONMENT_ID: &str = "5f0c8f2e-3b7a-4d8e-9a51-6c1e2b9d4a70";

#[derive(Debug, thiserror::Error)]
pub enum PostmanError {
    #[error("{}: exists and is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot create the directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: is a directory, cannot write the export there", path.display())]
    TargetIsDirectory { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise the {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

/// A scenario left out: no request built from its `when` selects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub operation: String,
    pub scenario: String,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} / {}: {}",
            self.file, self.line, self.operation, self.scenario, self.reason
        )
    }
}

#[derive(Debug, Clone)]
pub struct Export {
    pub collection: Collection,
    pub environment: Environment,
    /// How many requests the collection holds.
    pub requests: usize,
    pub skipped: Vec<Skipped>,
}

/// Builds the collection and environment of `snapshot`, for a server at
/// `base_url`. Every scenario's request is answered once, in-process and in
/// the collection's order, to prove that it selects the scenario and to
/// learn the answer's `resourceType`: on a fresh state, as a run of the
/// collection against a fresh server sees it: the export has a booking
/// state of its own, so a running server's state is left alone.
pub fn export(snapshot: &Snapshot, base_url: &str) -> Export {
    // The first API names the collection and, alone, sets its era; with
    // several mounted, each has a folder of its own.
    let first = &snapshot.apis[0];
    let era = first.contract.profile().era();
    let stores = snapshot.fresh_stores();
    let mut folders = Vec::new();
    let mut requests = 0;
    let mut skipped = Vec::new();
    for api in &snapshot.apis {
        let era = api.contract.profile().era();
        let (api_folders, api_requests, mut api_skipped) =
            items::folders(snapshot, api, &stores, era);
        requests += api_requests;
        skipped.append(&mut api_skipped);
        if snapshot.apis.len() == 1 {
            folders.extend(api_folders);
        } else {
            // A folder per API, its tag folders inside; it builds its own
            // era's JWT, since the APIs' eras may differ.
            folders.push(Folder {
                name: api.name.clone(),
                description: Some(format!(
                    "{} ({}) at {{{{baseUrl_{}}}}} = {{{{baseUrl}}}}{}",
                    api.model.title, api.model.source, api.name, api.base_path
                )),
                item: api_folders.into_iter().map(Node::Folder).collect(),
                event: era
                    .map(|era| vec![Event::new("prerequest", &collection_script(era))])
                    .unwrap_or_default(),
            });
        }
    }
    let model = &first.model;
    let collection = Collection {
        info: Info {
            // Named after the definition, whatever it is: the collection
            // of a clinic API is not a GP Connect one.
            name: export_name(&model.title),
            description: format!(
                "Exported by gpconnect-mock {} from {} (version {}): one request per scenario, \
                 with tests for its status, X-Mock-Scenario and resourceType. Use it with the \
                 environment gpconnect-mock.postman_environment.json; {{{{baseUrl}}}} is the \
                 mock's address.{}",
                env!("CARGO_PKG_VERSION"),
                model.source,
                model.version,
                if era.is_some() {
                    " The collection's pre-request script builds the GP Connect JWT at send \
                     time; each request's own pre-request script sets its scope."
                } else {
                    ""
                }
            ),
            schema: SCHEMA_URL.to_string(),
        },
        item: folders,
        event: match era {
            Some(era) if snapshot.apis.len() == 1 => {
                vec![Event::new("prerequest", &collection_script(era))]
            }
            _ => Vec::new(),
        },
    };
    Export {
        collection,
        environment: environment(snapshot, base_url),
        requests,
        skipped,
    }
}

/// Writes the collection and the environment into `dir` (created if
/// missing) under their fixed names; returns the two paths. Only these two
/// files are ever written.
pub fn write(export: &Export, dir: &Path) -> Result<[PathBuf; 2], PostmanError> {
    if dir.exists() && !dir.is_dir() {
        return Err(PostmanError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| PostmanError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let collection =
        serde_json::to_string_pretty(&export.collection).map_err(|source| PostmanError::Json {
            what: "collection",
            source,
        })?;
    let environment =
        serde_json::to_string_pretty(&export.environment).map_err(|source| PostmanError::Json {
            what: "environment",
            source,
        })?;
    // Both names are checked before either file is written.
    for name in [COLLECTION_FILE, ENVIRONMENT_FILE] {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(PostmanError::TargetIsDirectory { path });
        }
    }
    let write_one = |name: &str, text: String| -> Result<PathBuf, PostmanError> {
        let path = dir.join(name);
        std::fs::write(&path, text + "\n").map_err(|source| PostmanError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    Ok([
        write_one(COLLECTION_FILE, collection)?,
        write_one(ENVIRONMENT_FILE, environment)?,
    ])
}

/// The name of a collection and its environment: the definition's title,
/// marked as the mock's.
pub fn export_name(title: &str) -> String {
    format!("{title} (mock)")
}
