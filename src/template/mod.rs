//! Handlebars templates: how the mock turns a scenario's template into an
//! answer body.
//!
//! The files, each owning one part:
//!
//! - `registry.rs`: [`Templates`], the compiled templates of one snapshot:
//!   loading a directory, registering templates and partials, readying them
//!   for requests (one prepared record per template) and rendering with
//!   error positions ([`RenderFailure`]) into a buffer sized from earlier
//!   renders.
//! - `helpers.rs`: the ONE table of helpers templates can call (the mock's
//!   and Handlebars' own): each helper's name, what it is, whether it is
//!   deterministic and how it writes its output. Registration, the JSON
//!   proof and request independence all read it.
//! - `records.rs`: the list helpers that assemble a record from data
//!   (filters by field and date span, newest n, unions, FHIR references
//!   followed between items, unknown Parameters).
//! - `time.rs`: the `now` and `date_add` helpers' offsets ([`parse_offset`]),
//!   dates and formats, and the per-second `{{now}}` cache.
//! - `analysis.rs`: what is worked out before any request: the JSON proof
//!   ([`ProvenJson`]), constant-partial inlining, and the word walks over
//!   raw text (mentions of request parts, request independence).
//! - `flat.rs`: flat templates, rendered part by part without Handlebars
//!   from values the caller knows ([`FlatValues`]).
//! - `escape.rs`: JSON-string escaping ([`escape_json_string`]), the
//!   registry's escape function: `{{x}}` is escaped for a JSON string,
//!   never with HTML entities, so echoing request input always gives valid
//!   JSON.
//!
//! The fast paths, each checked to give Handlebars' output: flat templates,
//! the JSON proof (no parse of a proven template's answers), constant-partial
//! inlining (no context clone per include), and the `{{now}}` cache.

mod analysis;
mod escape;
mod flat;
mod helpers;
mod records;
mod registry;
mod time;

pub use analysis::{ProvenJson, VersionId};
pub use escape::escape_json_string;
pub use flat::FlatValues;
pub use helpers::fhir_param_value;
pub use registry::{RenderFailure, Templates};
pub use time::parse_offset;

#[cfg(test)]
mod test_support {
    use handlebars::Context;
    use serde_json::Value;

    use super::{RenderFailure, Templates};

    /// Renders `template` on its own with `data`.
    pub(super) fn render(template: &str, data: Value) -> Result<String, RenderFailure> {
        let mut templates = Templates::empty();
        templates
            .register("t", template, "t.hbs", 1)
            .expect("template compiles");
        templates.render(
            "t",
            &Context::wraps(data).expect("context"),
            &Default::default(),
        )
    }
}
