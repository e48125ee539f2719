//! Seed files: the documents a state collection starts with.
//!
//! They live among the scenario files and are told apart by naming a
//! `collection` instead of an `operation`. A seed file is a Handlebars
//! template (so dates can be relative to now), rendered once per load, then
//! read as YAML.

use super::format::{self, SeedFile};
use crate::error::LoadError;
use crate::state::Seed;
use crate::template::Templates;

/// A seed file names a `collection` instead of an `operation`.
pub(super) fn is_seed_file(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("collection:"))
        && !text.lines().any(|line| line.starts_with("operation:"))
}

/// The lines of a seed whose templating can be rendered line by line: it
/// has `{{`, but no block, partial, comment or `else` (whose scope may span
/// lines), and every line closes each `{{` it opens. `None`: render the
/// whole text as one template (or none, without `{{`).
fn by_line(text: &str) -> Option<Vec<&str>> {
    if !text.contains("{{") {
        return None;
    }
    const SPANNING: [&str; 6] = ["{{#", "{{/", "{{>", "{{!", "{{^", "{{else"];
    if SPANNING.iter().any(|token| text.contains(token)) {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .all(|line| line.matches("{{").count() == line.matches("}}").count())
        .then_some(lines)
}

/// Renders and reads one seed file; documents are keyed by their `id`.
pub(super) fn load_seed(
    text: &str,
    file: &str,
    templates: &mut Templates,
) -> Result<Seed, LoadError> {
    // A seed with no `{{` renders as itself: it is read as it is, not
    // parsed as a template. Handlebars' parser works out the line and column
    // of each token from the start of the text, in time that grows with the
    // square of its size: the 1.x pack's 32 KB patient seed alone took most
    // of a 177 ms startup.
    let rendered: std::borrow::Cow<'_, str> = if let Some(lines) = by_line(text) {
        // Only plain expressions, each on one line: each line that has one
        // is rendered on its own (a big seed with a few relative dates is
        // not parsed as one template).
        let mut out = String::with_capacity(text.len());
        for (index, line) in lines.iter().enumerate() {
            if line.contains("{{") {
                let rendered = templates.render_text(line).map_err(|message| {
                    LoadError::new(file, Some(index + 1), format!("seed template: {message}"))
                })?;
                out.push_str(&rendered);
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        out.into()
    } else if text.contains("{{") {
        let name = format!("{file}#seed");
        templates.register(&name, text, file, 1)?;
        let rendered = templates
            .render(&name, &handlebars::Context::null(), &Default::default())
            .map_err(|failure| {
                LoadError::new(file, failure.line, format!("seed template: {failure}"))
            })?;
        rendered.into()
    } else {
        text.into()
    };
    let parsed: SeedFile = format::parse(&rendered).map_err(|error| {
        LoadError::new(
            file,
            error.line,
            format!(
                "seed file (after rendering): {} (a seed file has `collection`, `documents` and optionally `occupancy`)",
                error.message
            ),
        )
    })?;
    let mut documents = crate::state::Documents::default();
    for (index, document) in parsed.documents.into_iter().enumerate() {
        let id = match document.get("id") {
            Some(serde_json::Value::String(id)) => id.clone(),
            Some(serde_json::Value::Number(id)) => id.to_string(),
            _ => {
                return Err(LoadError::new(
                    file,
                    None,
                    format!(
                        "documents[{index}] of collection `{}` has no text or number `id`",
                        parsed.collection
                    ),
                ));
            }
        };
        if documents.insert(id.clone(), document).is_some() {
            return Err(LoadError::new(
                file,
                None,
                format!(
                    "collection `{}` has two documents with id `{id}`",
                    parsed.collection
                ),
            ));
        }
    }
    if let Some(occupancy) = &parsed.occupancy {
        if let Err(error) = serde_json_path::JsonPath::parse(&occupancy.reference) {
            return Err(LoadError::new(
                file,
                None,
                format!(
                    "occupancy.reference {:?} is not a valid JSONPath: {error}",
                    occupancy.reference
                ),
            ));
        }
    }
    Ok(Seed {
        collection: parsed.collection,
        documents,
        file: file.to_string(),
        occupancy: parsed.occupancy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_expressions_render_line_by_line() {
        assert!(by_line("collection: a\n").is_none());
        assert!(by_line("a: {{#if x}}1{{/if}}\n").is_none());
        assert!(by_line("a: {{now\n offset=\"+1d\"}}\n").is_none());
        assert_eq!(
            by_line("a: 1\nb: \"{{now}}\"\n").map(|lines| lines.len()),
            Some(2)
        );
        let mut templates = Templates::new();
        let seed = load_seed(
            "collection: c\ndocuments:\n  - { id: \"1\", when: \"{{now format=\"%Y\"}}\", n: \"{{add 1 2}}\" }\n",
            "c.yaml",
            &mut templates,
        )
        .unwrap();
        let document = &seed.documents["1"];
        assert_eq!(document["n"], "3");
        assert_eq!(document["when"].as_str().map(str::len), Some(4));
        let broken = load_seed(
            "collection: c\ndocuments:\n  - { id: \"1\", n: \"{{nope 1}}\" }\n",
            "c.yaml",
            &mut templates,
        );
        assert!(broken.is_err_and(|e| e.to_string().contains("c.yaml:3")));
    }
}
