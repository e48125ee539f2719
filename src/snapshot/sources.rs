//! Where a snapshot is loaded from: the APIs to mount, each with its
//! definition (a file, or one built into the binary), packs, base path,
//! era and ASID, and how they were found (for the startup line).

use std::path::PathBuf;

use crate::error::LoadErrors;
use crate::fhir::Era;
use crate::pack::PackDir;
use crate::spec::{self, ApiModel};

use super::mount_path;

/// The project's own GP Connect (DSTU2) definition, served when no spec is given.
pub const EMBEDDED_SPEC: &str = include_str!("../../downloads/swagger/swagger.json");
pub const EMBEDDED_SPEC_LABEL: &str = "downloads/swagger/swagger.json (embedded)";

/// Where a definition is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    /// A file on disk (watched by `serve`).
    Disk(PathBuf),
    /// A file of the `downloads/` tree built into the binary, by its
    /// checkout path (`downloads/swagger/swagger.json`).
    Embedded(String),
}

impl Default for Definition {
    /// The embedded DSTU2 definition.
    fn default() -> Self {
        Definition::Embedded("downloads/swagger/swagger.json".to_string())
    }
}

impl Definition {
    /// The embedded definition at `path` (`downloads/…`), if there is one.
    pub fn embedded(path: &str) -> Option<Definition> {
        embedded_text(path).map(|_| Definition::Embedded(path.to_string()))
    }

    pub fn load(&self) -> Result<ApiModel, LoadErrors> {
        match self {
            Definition::Disk(path) => spec::load_file(path),
            Definition::Embedded(path) => {
                let text = embedded_text(path).unwrap_or_default();
                spec::load_str(text, &self.label())
            }
        }
    }

    pub fn label(&self) -> String {
        match self {
            Definition::Disk(path) => path.display().to_string(),
            Definition::Embedded(path) => format!("{path} (embedded)"),
        }
    }

    /// The file on disk, if it is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Definition::Disk(path) => Some(path),
            Definition::Embedded(_) => None,
        }
    }
}

fn embedded_text(path: &str) -> Option<&'static str> {
    let inside = path.strip_prefix("downloads/")?;
    crate::pack::EMBEDDED_DOWNLOADS
        .get_file(inside)?
        .contents_utf8()
}

/// Where one API is loaded from, and its settings (a mount file entry,
/// see `mount`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiSource {
    /// How the API is named in logs, health, `routes`, `check`, the journal
    /// and the Postman export.
    pub name: String,
    /// The definition.
    pub spec: Definition,
    /// `None`: no scenarios (every operation answers from the spec).
    pub scenarios: Option<PackDir>,
    pub templates: Option<PackDir>,
    /// Served under this path instead of the definition's.
    pub base_path: Option<String>,
    /// The FHIR era, over `--fhir` and detection.
    pub era: Option<Era>,
    /// The provider ASID `Ssp-To` must name, over `--asid`.
    pub asid: Option<String>,
    /// The practice's ODS code (informational).
    pub ods_code: Option<String>,
    /// The endpoint URL the Spine directory holds for it (none:
    /// [`crate::spine::DEFAULT_ENDPOINT_ORIGIN`] and its base path).
    pub endpoint: Option<String>,
}

impl ApiSource {
    /// Its definition, with the paths as served, and its base path.
    pub fn load_model(&self) -> Result<(ApiModel, String), LoadErrors> {
        let mut model = self.spec.load()?;
        // Everything after (routes, samples, checks) reads the paths as
        // served, so an overridden base path is written into the model.
        let base_path = match &self.base_path {
            Some(base_path) => {
                model.rebase(&mount_path(&model), base_path);
                base_path.clone()
            }
            None => mount_path(&model),
        };
        Ok((model, base_path))
    }

    pub fn spec_label(&self) -> String {
        self.spec.label()
    }
}

/// Where a snapshot is loaded from: the APIs to mount, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub apis: Vec<ApiSource>,
    /// The mount file's consumers and directory-only providers.
    pub spine: crate::spine::SpineConfig,
    /// Where the default files came from, for the startup line.
    pub origin: Origin,
}

/// Where `serve` found its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origin {
    /// `--spec` named the definition.
    #[default]
    Given,
    /// `--mount` named the mount file.
    Mount(PathBuf),
    /// The working directory is a checkout: its `downloads/`, `scenarios/`
    /// and `templates/` are used (and watched).
    Checkout(PathBuf),
    /// Everything built into the binary.
    Embedded,
}

impl Sources {
    /// The definitions, as labelled in messages, joined.
    pub fn spec_label(&self) -> String {
        self.apis
            .iter()
            .map(ApiSource::spec_label)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Where the files come from, in words, for the startup line.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .apis
            .iter()
            .flat_map(|api| {
                [
                    Some(api.spec_label()),
                    api.scenarios.as_ref().map(PackDir::label),
                    api.templates.as_ref().map(PackDir::label),
                ]
            })
            .flatten()
            .collect();
        let files = parts.join(", ");
        match &self.origin {
            Origin::Given => files,
            Origin::Mount(path) => format!("the mount file {}: {files}", path.display()),
            Origin::Checkout(dir) => format!("the checkout in {}: {files}", dir.display()),
            Origin::Embedded => format!(
                "the default pack built into the binary ({files}; `gpconnect-mock init DIR` writes it out for editing)"
            ),
        }
    }
}
