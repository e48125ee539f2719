//! Where a pack's files come from: a directory on disk, or the default pack
//! embedded in the binary (so `serve` run from anywhere answers from one
//! consistent pack, not from a checkout path baked in at build time).
//!
//! Both loaders (scenarios, templates) read a [`PackDir`] as a sorted list
//! of [`PackFile`]s, so they cannot tell the two apart. Walking a directory
//! follows symbolic links (a linked directory is read like any other, with a
//! guard against loops) and skips what editors leave beside the real files
//! ([`is_editor_temp`]).

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

/// The default scenario pack, as built into the binary.
pub static EMBEDDED_SCENARIOS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");
/// The default templates, as built into the binary.
pub static EMBEDDED_TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
/// The default definitions and mount file, as built into the binary.
pub static EMBEDDED_DOWNLOADS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/downloads");

/// A directory of pack files.
#[derive(Debug, Clone)]
pub enum PackDir {
    /// A directory on disk (watched for changes by `serve`).
    Disk(PathBuf),
    /// A directory built into the binary; `label` names it in messages.
    /// Its files' paths are relative to the embedded tree's root, so
    /// `prefix` (`dstu2/` for `scenarios/dstu2`) is taken off them.
    Embedded {
        dir: &'static Dir<'static>,
        label: String,
    },
}

/// One file of a pack: its path relative to the pack's directory, with `/`
/// separators, and its text (or why it could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackFile {
    pub relative: String,
    pub text: Result<String, String>,
}

impl PartialEq for PackDir {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PackDir::Disk(a), PackDir::Disk(b)) => a == b,
            (PackDir::Embedded { label: a, .. }, PackDir::Embedded { label: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Eq for PackDir {}

impl PackDir {
    /// The embedded default scenarios (every API's).
    pub fn embedded_scenarios() -> PackDir {
        PackDir::Embedded {
            dir: &EMBEDDED_SCENARIOS,
            label: "scenarios (embedded)".to_string(),
        }
    }

    /// The embedded default templates (every API's).
    pub fn embedded_templates() -> PackDir {
        PackDir::Embedded {
            dir: &EMBEDDED_TEMPLATES,
            label: "templates (embedded)".to_string(),
        }
    }

    /// The embedded directory at `path` (`scenarios/dstu2`), if there is one.
    pub fn embedded(path: &str) -> Option<PackDir> {
        let (top, sub) = path.split_once('/').unwrap_or((path, ""));
        let root: &'static Dir<'static> = match top {
            "scenarios" => &EMBEDDED_SCENARIOS,
            "templates" => &EMBEDDED_TEMPLATES,
            "downloads" => &EMBEDDED_DOWNLOADS,
            _ => return None,
        };
        let dir = if sub.is_empty() {
            root
        } else {
            root.get_dir(sub)?
        };
        Some(PackDir::Embedded {
            dir,
            label: format!("{path} (embedded)"),
        })
    }

    /// How the directory is named in messages: its path, or `… (embedded)`.
    pub fn label(&self) -> String {
        match self {
            PackDir::Disk(path) => path.display().to_string(),
            PackDir::Embedded { label, .. } => label.to_string(),
        }
    }

    /// The directory on disk, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            PackDir::Disk(path) => Some(path),
            PackDir::Embedded { .. } => None,
        }
    }

    /// Every file (skipping editor temp files), sorted by relative path.
    /// A directory that does not exist has no files.
    pub fn files(&self) -> std::io::Result<Vec<PackFile>> {
        let mut files = Vec::new();
        match self {
            PackDir::Disk(path) => {
                if path.exists() {
                    let mut visited = Vec::new();
                    walk_disk(path, path, &mut visited, &mut files)?;
                }
            }
            PackDir::Embedded { dir, .. } => {
                let prefix = dir.path().to_string_lossy().replace('\\', "/");
                walk_embedded(dir, &prefix, &mut files)
            }
        }
        files.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(files)
    }

    /// Writes every file of the pack under `target`, creating directories;
    /// refuses to overwrite a file that exists (nothing a user wrote is lost).
    pub fn write_to(&self, target: &Path) -> std::io::Result<usize> {
        let files = self.files()?;
        for file in &files {
            let path = target.join(&file.relative);
            if path.exists() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} exists; nothing was overwritten", path.display()),
                ));
            }
        }
        for file in &files {
            let path = target.join(&file.relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let text = file
                .text
                .as_deref()
                .map_err(|message| std::io::Error::other(message.clone()))?;
            std::fs::write(&path, text)?;
        }
        Ok(files.len())
    }
}

/// Files editors write beside the real ones while saving: hidden files and
/// Emacs locks (`.name`, `.#name`), backups (`name~`), Vim swap files
/// (`.swp`, `.swo`, `.swx`) and Vim's write test (`4913`).
pub fn is_editor_temp(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name == "4913"
        || [".swp", ".swo", ".swx", ".tmp"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

fn walk_disk(
    root: &Path,
    dir: &Path,
    visited: &mut Vec<PathBuf>,
    out: &mut Vec<PackFile>,
) -> std::io::Result<()> {
    // A symbolic link back to a directory already being read would loop.
    let canonical = std::fs::canonicalize(dir)?;
    if visited.contains(&canonical) {
        return Ok(());
    }
    visited.push(canonical);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_editor_temp(&name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        // `metadata` follows symbolic links: a linked directory is walked.
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            // A dangling link: reported like an unreadable file.
            Err(error) => {
                out.push(PackFile {
                    relative: relative(root, &path),
                    text: Err(format!("cannot read: {error}")),
                });
                continue;
            }
        };
        if metadata.is_dir() {
            walk_disk(root, &path, visited, out)?;
        } else {
            out.push(PackFile {
                relative: relative(root, &path),
                text: std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read: {error}")),
            });
        }
    }
    visited.pop();
    Ok(())
}

fn walk_embedded(dir: &'static Dir<'static>, prefix: &str, out: &mut Vec<PackFile>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        let relative = match path.strip_prefix(prefix) {
            Some(rest) if !prefix.is_empty() => rest.trim_start_matches('/').to_string(),
            _ => path,
        };
        let name = relative.rsplit('/').next().unwrap_or(&relative);
        if is_editor_temp(name) {
            continue;
        }
        out.push(PackFile {
            text: file
                .contents_utf8()
                .map(str::to_string)
                .ok_or_else(|| "cannot read: not UTF-8 text".to_string()),
            relative,
        });
    }
    for sub in dir.dirs() {
        walk_embedded(sub, prefix, out);
    }
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pack_is_the_checkout_pack() {
        for (embedded, disk) in [
            (PackDir::embedded_scenarios(), "scenarios"),
            (PackDir::embedded_templates(), "templates"),
        ] {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(disk);
            let on_disk = PackDir::Disk(root).files().expect("reads");
            assert!(on_disk.len() > 10);
            assert_eq!(embedded.files().expect("reads"), on_disk, "{disk}");
        }
    }

    #[test]
    fn editor_files_are_skipped_and_links_followed_without_looping() {
        let dir = tempfile::tempdir().expect("temp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/inner")).expect("dir");
        std::fs::write(root.join("real/inner/a.yaml"), "a").expect("write");
        for temp in [".a.yaml.swp", "a.yaml~", "4913", ".#a.yaml", ".hidden"] {
            std::fs::write(root.join("real").join(temp), "x").expect("write");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("real"), root.join("linked")).expect("link");
            std::os::unix::fs::symlink(root, root.join("real/loop")).expect("link");
        }
        let files = PackDir::Disk(root.to_path_buf()).files().expect("reads");
        let names: Vec<&str> = files.iter().map(|f| f.relative.as_str()).collect();
        #[cfg(unix)]
        assert_eq!(names, ["linked/inner/a.yaml", "real/inner/a.yaml"]);
        #[cfg(not(unix))]
        assert_eq!(names, ["real/inner/a.yaml"]);
    }

    #[test]
    fn writing_out_never_overwrites() {
        let dir = tempfile::tempdir().expect("temp");
        let written = PackDir::embedded_templates()
            .write_to(dir.path())
            .expect("writes");
        assert!(written > 10);
        let again = PackDir::embedded_templates().write_to(dir.path());
        assert!(again.is_err());
    }
}
