//! The mount file (`downloads/apis.yaml`): the APIs `serve` mounts, each
//! with its definition, pack, base path, era and provider ASID; and how the
//! command line's paths become [`Sources`] — a mount file, or `--spec` as a
//! one-API list — narrowed by `--api`.
//!
//! Paths in a mount file are relative to the file. The default mount file
//! is read from the checkout (`downloads/apis.yaml`) or, anywhere else, from
//! the copy built into the binary, whose paths name the embedded definition
//! and pack. The file is read once, at start: editing it takes a restart
//! (the files it names are watched as usual).

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{line_of, LoadError, LoadErrors};
use crate::fhir::Era;
use crate::pack::PackDir;
use crate::scenario::format;
use crate::snapshot::{ApiSource, Definition, Origin, Sources};
use crate::spine::SpineConfig;
use spine::{endpoint_url, is_ods, spine_config, ConsumerEntry, ProviderEntry};

/// The default mount file, as built into the binary.
pub const EMBEDDED_MOUNT: &str = include_str!("../downloads/apis.yaml");
/// Where the default mount file lives in a checkout (and what `init` writes).
pub const DEFAULT_MOUNT: &str = "downloads/apis.yaml";
const EMBEDDED_MOUNT_LABEL: &str = "downloads/apis.yaml (embedded)";

/// The mount file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MountFile {
    apis: Vec<Entry>,
    /// The consumer systems the Spine proxy knows (none given: the test
    /// consumer 200000000359, allowed every interaction).
    consumers: Option<Vec<ConsumerEntry>>,
    /// Providers the directory lists that no mounted API serves.
    providers: Option<Vec<ProviderEntry>>,
}

/// A mount file read: its APIs and its say on the Spine.
#[derive(Debug)]
pub struct Mount {
    pub apis: Vec<ApiSource>,
    pub spine: SpineConfig,
}

/// One API of a mount file (documented field by field in
/// `downloads/apis.yaml` and the README).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Names the API everywhere (`--api`, `?api=`, the journal, Postman):
    /// letters, digits, `-`, `_` and `.`, unique in the file.
    name: String,
    /// The definition.
    spec: String,
    /// The scenario directory (none: answers from the definition).
    scenarios: Option<String>,
    /// The template directory.
    templates: Option<String>,
    /// Served under this path instead of the definition's.
    base_path: Option<String>,
    /// Over `--fhir` and detection.
    era: Option<EraName>,
    /// The provider ASID `Ssp-To` must name, over `--asid`.
    asid: Option<String>,
    /// The practice's ODS code (the directory lists the API under it).
    ods_code: Option<String>,
    /// The endpoint URL the Spine directory holds for the API.
    endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EraName {
    Dstu2,
    Stu3,
}

impl From<EraName> for Era {
    fn from(era: EraName) -> Era {
        match era {
            EraName::Dstu2 => Era::Dstu2,
            EraName::Stu3 => Era::Stu3,
        }
    }
}

/// Where a mount file's relative paths lead.
#[derive(Debug, Clone)]
pub enum Root {
    /// The directory the mount file is in.
    Disk(PathBuf),
    /// The binary's own files: the default mount file names the embedded
    /// definition and pack by their checkout paths.
    Embedded,
}

/// The command line's say on what is mounted.
#[derive(Debug, Clone, Default)]
pub struct SourceFlags {
    /// `--spec`: one API, this definition.
    pub spec: Option<PathBuf>,
    /// `--mount`: the mount file instead of the default one.
    pub mount: Option<PathBuf>,
    /// `--scenarios`, `--templates`: replace the one API's pack parts.
    pub scenarios: Option<PathBuf>,
    /// `--templates`.
    pub templates: Option<PathBuf>,
    /// `--api`: serve only these (empty: all).
    pub apis: Vec<String>,
}

/// Flags that cannot be what was meant; nothing is loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("--spec {0}: no such file")]
    NoSpec(PathBuf),
    #[error("--mount {0}: no such file")]
    NoMount(PathBuf),
    #[error("--{flag} {path}: no such directory")]
    NoDirectory { flag: &'static str, path: PathBuf },
    #[error("cannot load the mount file: {0}")]
    Mount(LoadErrors),
    #[error("--api {name}: no such API; the mount file names {known}")]
    UnknownApi { name: String, known: String },
    #[error("--{flag} replaces one API's files, but {count} APIs are mounted ({names}): choose one with --api NAME")]
    SeveralApis {
        flag: &'static str,
        count: usize,
        names: String,
    },
}

impl Sources {
    /// Resolves the command line's paths; a path given that does not exist
    /// is an error naming it.
    ///
    /// With `--spec`, one API named `api`, with only the directories given,
    /// since the default pack speaks to the default definition. Without it,
    /// the APIs of `--mount`'s file, else of the default mount file: the
    /// checkout's when the working directory is one (it holds
    /// `downloads/apis.yaml`, or the definition with `scenarios/` and
    /// `templates/`), so edits are served; anywhere else, the one built into
    /// the binary. `--api` keeps the APIs named; `--scenarios` and
    /// `--templates` then replace their part of the one API left.
    pub fn resolve(flags: &SourceFlags) -> Result<Sources, SourceError> {
        let dir = |flag: &'static str, path: &Option<PathBuf>| match path {
            Some(path) if !path.is_dir() => Err(SourceError::NoDirectory {
                flag,
                path: path.clone(),
            }),
            Some(path) => Ok(Some(PackDir::Disk(path.clone()))),
            None => Ok(None),
        };
        let scenarios = dir("scenarios", &flags.scenarios)?;
        let templates = dir("templates", &flags.templates)?;
        let mut sources = if let Some(spec) = &flags.spec {
            if !spec.is_file() {
                return Err(SourceError::NoSpec(spec.clone()));
            }
            Sources {
                apis: vec![ApiSource {
                    name: "api".to_string(),
                    spec: Definition::Disk(spec.clone()),
                    ..ApiSource::default()
                }],
                spine: SpineConfig::default(),
                origin: Origin::Given,
            }
        } else if let Some(mount) = &flags.mount {
            let text =
                std::fs::read_to_string(mount).map_err(|_| SourceError::NoMount(mount.clone()))?;
            let root = Root::Disk(parent_dir(mount));
            let parsed = parse_mount(&text, &mount.display().to_string(), &root)
                .map_err(SourceError::Mount)?;
            Sources {
                apis: parsed.apis,
                spine: parsed.spine,
                origin: Origin::Mount(mount.clone()),
            }
        } else {
            Sources::defaults().map_err(SourceError::Mount)?
        };
        select(&mut sources.apis, &flags.apis)?;
        let several = |flag: &'static str, apis: &[ApiSource]| SourceError::SeveralApis {
            flag,
            count: apis.len(),
            names: names(apis),
        };
        if let Some(scenarios) = scenarios {
            match sources.apis.as_mut_slice() {
                [api] => api.scenarios = Some(scenarios),
                apis => return Err(several("scenarios", apis)),
            }
        }
        if let Some(templates) = templates {
            match sources.apis.as_mut_slice() {
                [api] => api.templates = Some(templates),
                apis => return Err(several("templates", apis)),
            }
        }
        Ok(sources)
    }

    /// The APIs of the default mount file: the checkout's, else the
    /// embedded one.
    fn defaults() -> Result<Sources, LoadErrors> {
        let mount = PathBuf::from(DEFAULT_MOUNT);
        // A directory written by an older `init` has the definition and the
        // pack but no mount file: the embedded file describes it.
        let older_checkout = Path::new("downloads/swagger/swagger.json").is_file()
            && Path::new("scenarios").is_dir()
            && Path::new("templates").is_dir();
        let origin = Origin::Checkout(std::env::current_dir().unwrap_or_default());
        if mount.is_file() {
            let text = std::fs::read_to_string(&mount).map_err(|error| {
                LoadError::new(DEFAULT_MOUNT, None, format!("cannot read: {error}"))
            })?;
            let Mount { apis, spine } = parse_mount(
                &text,
                DEFAULT_MOUNT,
                &Root::Disk(PathBuf::from("downloads")),
            )?;
            Ok(Sources {
                apis,
                spine,
                origin,
            })
        } else if older_checkout {
            // Its one pack is the DSTU2 one, flat under scenarios/ and
            // templates/.
            let apis = vec![ApiSource {
                name: "gpconnect-dstu2".to_string(),
                spec: Definition::Disk(PathBuf::from("downloads/swagger/swagger.json")),
                scenarios: Some(PackDir::Disk(PathBuf::from("scenarios"))),
                templates: Some(PackDir::Disk(PathBuf::from("templates"))),
                ..ApiSource::default()
            }];
            Ok(Sources {
                apis,
                spine: SpineConfig::default(),
                origin,
            })
        } else {
            let Mount { apis, spine } =
                parse_mount(EMBEDDED_MOUNT, EMBEDDED_MOUNT_LABEL, &Root::Embedded)?;
            Ok(Sources {
                apis,
                spine,
                origin: Origin::Embedded,
            })
        }
    }

    /// The project's default APIs and pack: the checkout's files in a
    /// checkout, else the embedded ones (tests, benchmarks, tools).
    ///
    /// # Panics
    /// When the checkout's mount file does not load; the embedded one is
    /// proved by `the_embedded_mount_file_mounts_the_embedded_pack`.
    pub fn default_pack() -> Sources {
        match Sources::defaults() {
            Ok(sources) => sources,
            Err(errors) => panic!("the default mount file does not load: {errors}"),
        }
    }
}

/// Keeps the APIs named (all when none is), in the mount file's order.
fn select(apis: &mut Vec<ApiSource>, wanted: &[String]) -> Result<(), SourceError> {
    if wanted.is_empty() {
        return Ok(());
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|name| !apis.iter().any(|api| &api.name == *name))
    {
        return Err(SourceError::UnknownApi {
            name: unknown.clone(),
            known: names(apis),
        });
    }
    apis.retain(|api| wanted.contains(&api.name));
    Ok(())
}

fn names(apis: &[ApiSource]) -> String {
    apis.iter()
        .map(|api| format!("`{}`", api.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads a mount file's text into API sources; `label` names the file in
/// messages. Every problem is reported, each with its line and field.
pub fn parse(text: &str, label: &str, root: &Root) -> Result<Vec<ApiSource>, LoadErrors> {
    parse_mount(text, label, root).map(|mount| mount.apis)
}

/// [`parse`], with the Spine's part of the file.
pub fn parse_mount(text: &str, label: &str, root: &Root) -> Result<Mount, LoadErrors> {
    let file: MountFile =
        format::parse(text).map_err(|error| LoadError::new(label, error.line, error.message))?;
    let mut errors = Vec::new();
    let mut apis: Vec<ApiSource> = Vec::new();
    if file.apis.is_empty() {
        errors.push(LoadError::new(
            label,
            line_of(text, "apis", 1),
            "`apis` lists no API: give at least one (name, spec)",
        ));
    }
    let mut from = 1;
    for (index, entry) in file.apis.into_iter().enumerate() {
        // Each entry's problems point at its lines: from its `name:` on.
        let entry_line = line_of(text, &format!("name: {}", entry.name), from).unwrap_or(from);
        from = entry_line + 1;
        let mut fail = |field: &str, message: String| {
            let line = line_of(text, &format!("{field}:"), entry_line).or(Some(entry_line));
            errors.push(LoadError::new(
                label,
                line,
                format!("apis[{index}].{field}: {message}"),
            ));
        };
        let name_chars = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if entry.name.is_empty() || !entry.name.bytes().all(name_chars) {
            fail(
                "name",
                format!(
                    "`{}` is not a name: use letters, digits, `-`, `_` and `.`",
                    entry.name
                ),
            );
        } else if apis.iter().any(|api| api.name == entry.name) {
            fail(
                "name",
                format!("`{}` names an API already listed", entry.name),
            );
        }
        let spec = resolve_spec(root, &entry.spec).unwrap_or_else(|message| {
            fail("spec", message);
            Definition::default()
        });
        let mut dir = |field: &str, value: &Option<String>| match value {
            Some(relative) => resolve_dir(root, relative).unwrap_or_else(|message| {
                fail(field, message);
                None
            }),
            None => None,
        };
        let scenarios = dir("scenarios", &entry.scenarios);
        let templates = dir("templates", &entry.templates);
        let base_path = match entry.base_path.as_deref().map(base_path) {
            Some(Ok(path)) => Some(path),
            Some(Err(message)) => {
                fail("base_path", message);
                None
            }
            None => None,
        };
        if let Some(asid) = &entry.asid {
            if asid.is_empty() || !asid.bytes().all(|b| b.is_ascii_digit()) {
                fail(
                    "asid",
                    format!("`{asid}` is not an ASID: give its digits, e.g. 918999198738"),
                );
            }
        }
        if let Some(ods) = &entry.ods_code {
            if !is_ods(ods) {
                fail(
                    "ods_code",
                    format!("`{ods}` is not an ODS code: give letters and digits, e.g. B82617"),
                );
            }
        }
        if let Some(endpoint) = &entry.endpoint {
            if let Err(message) = endpoint_url(endpoint) {
                fail("endpoint", message);
            }
        }
        apis.push(ApiSource {
            name: entry.name,
            spec,
            scenarios,
            templates,
            base_path,
            era: entry.era.map(Era::from),
            asid: entry.asid,
            ods_code: entry.ods_code,
            endpoint: entry
                .endpoint
                .map(|endpoint| endpoint.trim_end_matches('/').to_string()),
        });
    }
    let spine = spine_config(text, label, file.consumers, file.providers, &mut errors);
    if errors.is_empty() {
        Ok(Mount { apis, spine })
    } else {
        Err(LoadErrors(errors))
    }
}

/// A base path as served: `/` and segments, no trailing `/` ("" for the root).
fn base_path(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let valid = text.starts_with('/')
        && !trimmed.contains("//")
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'));
    if valid {
        Ok(trimmed.to_string())
    } else {
        Err(format!(
            "`{text}` is not a base path: give `/` and path segments, e.g. /B82617/STU3/1/gpconnect/fhir"
        ))
    }
}

/// `relative` under `dir`, with `.` dropped and `..` taken back where it
/// can be, so messages say `scenarios/x.yaml`, not
/// `downloads/../scenarios/x.yaml` (lexically: a symbolic link is not
/// followed back).
fn joined(dir: &Path, relative: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for component in dir.join(relative).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `relative` under the embedded tree, as a checkout path (`downloads/…`).
fn embedded_path(relative: &str) -> String {
    let mut parts: Vec<String> = vec!["downloads".into()];
    for component in Path::new(relative).components() {
        match component {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// The definition a mount entry names.
fn resolve_spec(root: &Root, relative: &str) -> Result<Definition, String> {
    match root {
        Root::Disk(dir) => {
            let path = joined(dir, relative);
            if path.is_file() {
                Ok(Definition::Disk(path))
            } else {
                Err(format!("{}: no such file", path.display()))
            }
        }
        Root::Embedded => {
            let path = embedded_path(relative);
            Definition::embedded(&path)
                .ok_or_else(|| format!("{path} is not built into the binary"))
        }
    }
}

/// The pack directory a mount entry names.
fn resolve_dir(root: &Root, relative: &str) -> Result<Option<PackDir>, String> {
    match root {
        Root::Disk(dir) => {
            let path = joined(dir, relative);
            if path.is_dir() {
                Ok(Some(PackDir::Disk(path)))
            } else {
                Err(format!("{}: no such directory", path.display()))
            }
        }
        Root::Embedded => {
            let path = embedded_path(relative);
            PackDir::embedded(&path)
                .map(Some)
                .ok_or_else(|| format!("{path} is not built into the binary"))
        }
    }
}

mod spine;
#[cfg(test)]
mod tests;
