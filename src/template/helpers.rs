//! The helpers templates can call, described by ONE table, [`HELPERS`]:
//! the mock's own (`uuid`, `now`, `upper`, `json`, the `state_*` reads …)
//! and Handlebars' built-ins (`if`, `each`, `lookup` …). Everything that
//! needs to know about helpers reads that table:
//!
//! - [`register`] registers the mock's helpers from it;
//! - the JSON proof (`analysis.rs`) asks [`HelperSpec::writes`] whether
//!   `{{name …}}` writes JSON-escaped text;
//! - request independence (`analysis.rs`) treats every helper that is not
//!   [`HelperSpec::deterministic`] like the request itself, so a template
//!   that calls one is never rendered once and cached for a whole snapshot.
//!
//! A new helper is one new row; the tests below fail if a helper is
//! registered that the table does not describe.
//!
//! The value helpers' functions are here too; the time ones are in
//! `time.rs`.

use crate::state::index::{loose_text, loosely_equal};
use std::sync::Arc;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::{json, Value};

use super::records;
use super::time::{helper_date_add, helper_date_format, helper_now};
use crate::state::{reference_id, StateData};

/// One helper a template can call.
#[derive(Debug)]
pub(super) struct HelperSpec {
    /// The name templates call it by: `{{name …}}`, `(name …)`.
    pub(super) name: &'static str,
    /// What it is, and so how it is registered.
    pub(super) kind: Kind,
    /// Whether it gives the same output for the same context. A template
    /// that names a helper that does not (or a partial that does) is
    /// rendered per request, never once per snapshot.
    pub(super) deterministic: bool,
}

/// What a helper is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// Computes a value from its parameters: written JSON-escaped by
    /// `{{name …}}`, usable as a subexpression `(name …)`.
    Value(HelperFn),
    /// `{{json x}}`: any value as a JSON literal, never escaped.
    Json,
    /// A read of the snapshot's state (`state_get`, `state_list`,
    /// `state_count`): a value, written JSON-escaped.
    State(StateRead),
    /// One of Handlebars' own, registered by `Handlebars::new` and left
    /// as it is.
    BuiltIn,
}

/// How `{{name …}}` writes a helper's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Writes {
    /// Text through the registry's escape function: safe inside a JSON
    /// string literal.
    EscapedText,
    /// Raw JSON (`json`): never safe inside a string literal.
    RawJson,
    /// Handlebars' built-ins: blocks, or output nothing here vouches for.
    Unchecked,
}

impl HelperSpec {
    /// How `{{name …}}` writes this helper's output (follows from its kind).
    pub(super) fn writes(&self) -> Writes {
        match self.kind {
            Kind::Value(_) | Kind::State(_) => Writes::EscapedText,
            Kind::Json => Writes::RawJson,
            Kind::BuiltIn => Writes::Unchecked,
        }
    }
}

/// A helper that gives the same output for the same context.
const fn pure(name: &'static str, kind: Kind) -> HelperSpec {
    HelperSpec {
        name,
        kind,
        deterministic: true,
    }
}

/// A helper that reads time, randomness or state.
const fn varies(name: &'static str, kind: Kind) -> HelperSpec {
    HelperSpec {
        name,
        kind,
        deterministic: false,
    }
}

/// Every helper a template can call; names are unique.
pub(super) static HELPERS: &[HelperSpec] = &[
    // Time, randomness and state: rendered per request.
    varies(
        "uuid",
        Kind::Value(|_| Ok(json!(uuid::Uuid::new_v4().to_string()))),
    ),
    varies("now", Kind::Value(helper_now)),
    // Its output follows from its parameters, but it has always counted as
    // time (its input is usually `(now)` or a value derived from it).
    varies("date_add", Kind::Value(helper_date_add)),
    varies("state_get", Kind::State(StateRead::Get)),
    varies("state_list", Kind::State(StateRead::List)),
    varies("state_count", Kind::State(StateRead::Count)),
    // The mock's value helpers, each a function of its parameters.
    pure("jsonpath", Kind::Value(helper_jsonpath)),
    pure("fhir_param", Kind::Value(helper_fhir_param)),
    pure("jwt_claims", Kind::Value(helper_jwt_claims)),
    pure("default", Kind::Value(helper_default)),
    pure(
        "upper",
        Kind::Value(|h| Ok(json!(text(param(h, 0)).to_uppercase()))),
    ),
    pure(
        "lower",
        Kind::Value(|h| Ok(json!(text(param(h, 0)).to_lowercase()))),
    ),
    pure(
        "concat",
        Kind::Value(|h| {
            Ok(json!(h
                .params()
                .iter()
                .map(|p| text(p.value()))
                .collect::<String>()))
        }),
    ),
    pure(
        "add",
        Kind::Value(|h| Ok(number(number_of(param(h, 0)) + number_of(param(h, 1))))),
    ),
    pure(
        "mul",
        Kind::Value(|h| Ok(number(number_of(param(h, 0)) * number_of(param(h, 1))))),
    ),
    pure("range", Kind::Value(helper_range)),
    pure(
        "ref_id",
        Kind::Value(|h| Ok(json!(reference_id(&text(param(h, 0)))))),
    ),
    // These replace Handlebars' helpers of the same name: loose equality
    // (`eq "2" 2`), and values rather than Handlebars' own output.
    pure(
        "eq",
        Kind::Value(|h| Ok(json!(loosely_equal(param(h, 0), param(h, 1))))),
    ),
    pure(
        "ne",
        Kind::Value(|h| Ok(json!(!loosely_equal(param(h, 0), param(h, 1))))),
    ),
    pure(
        "and",
        Kind::Value(|h| Ok(json!(h.params().iter().all(|p| truthy(p.value()))))),
    ),
    pure(
        "or",
        Kind::Value(|h| Ok(json!(h.params().iter().any(|p| truthy(p.value()))))),
    ),
    pure("not", Kind::Value(|h| Ok(json!(!truthy(param(h, 0)))))),
    pure("len", Kind::Value(helper_len)),
    pure("slice", Kind::Value(helper_slice)),
    pure("date_format", Kind::Value(helper_date_format)),
    pure("where", Kind::Value(helper_where)),
    pure("between", Kind::Value(helper_between)),
    pure("take", Kind::Value(helper_take)),
    pure("prefixed", Kind::Value(helper_prefixed)),
    pure(
        "contains",
        Kind::Value(|h| {
            let needle = text(param(h, 1)).to_lowercase();
            Ok(json!(text(param(h, 0)).to_lowercase().contains(&needle)))
        }),
    ),
    // Record assembly (records.rs).
    pure("when", Kind::Value(records::helper_when)),
    pure("append", Kind::Value(records::helper_append)),
    pure("union", Kind::Value(records::helper_union)),
    pure("tag", Kind::Value(records::helper_tag)),
    pure("where_not", Kind::Value(records::helper_where_not)),
    pure("where_given", Kind::Value(records::helper_where_given)),
    pure("where_in", Kind::Value(records::helper_where_in)),
    pure("has", Kind::Value(records::helper_has)),
    pure("pluck", Kind::Value(records::helper_pluck)),
    pure("sharing", Kind::Value(records::helper_sharing)),
    pure("in_period", Kind::Value(records::helper_in_period)),
    pure("newest", Kind::Value(records::helper_newest)),
    pure("references", Kind::Value(records::helper_references)),
    pure("ref_ids", Kind::Value(records::helper_ref_ids)),
    pure("reachable", Kind::Value(records::helper_reachable)),
    pure(
        "unknown_params",
        Kind::Value(records::helper_unknown_params),
    ),
    pure("json", Kind::Json),
    // Handlebars' own.
    pure("if", Kind::BuiltIn),
    pure("unless", Kind::BuiltIn),
    pure("each", Kind::BuiltIn),
    pure("with", Kind::BuiltIn),
    pure("lookup", Kind::BuiltIn),
    pure("raw", Kind::BuiltIn),
    pure("log", Kind::BuiltIn),
    pure("gt", Kind::BuiltIn),
    pure("gte", Kind::BuiltIn),
    pure("lt", Kind::BuiltIn),
    pure("lte", Kind::BuiltIn),
];

/// The table's row for `name`, if a helper has that name.
pub(super) fn find(name: &str) -> Option<&'static HelperSpec> {
    HELPERS.iter().find(|helper| helper.name == name)
}

/// Whether a helper that is not deterministic gives the same output for
/// the same state within one second (time, state reads; not `uuid`).
pub(super) fn repeats_within_a_second(name: &str) -> bool {
    matches!(
        name,
        "now" | "date_add" | "state_get" | "state_list" | "state_count"
    )
}

/// The names of the helpers that are not deterministic.
pub(super) fn nondeterministic() -> impl Iterator<Item = &'static str> {
    HELPERS
        .iter()
        .filter(|helper| !helper.deterministic)
        .map(|helper| helper.name)
}

/// Registers the mock's helpers of [`HELPERS`] on `registry` (built-ins are
/// already there).
pub(super) fn register(registry: &mut Handlebars<'static>) {
    for helper in HELPERS {
        let def: Box<dyn HelperDef + Send + Sync> = match helper.kind {
            Kind::Value(function) => Box::new(ValueHelper(function)),
            Kind::Json => Box::new(JsonHelper),
            Kind::State(kind) => Box::new(StateHelper {
                name: helper.name,
                kind,
            }),
            Kind::BuiltIn => continue,
        };
        registry.register_helper(helper.name, def);
    }
}

/// A value helper's function: its parameters to its value.
pub(super) type HelperFn = fn(&Helper<'_>) -> Result<Value, RenderErrorReason>;

/// A helper computing a value: escaped when written by `{{name …}}`, usable
/// as a subexpression `(name …)`.
struct ValueHelper(HelperFn);

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        (self.0)(h)
            .map(ScopedJson::Derived)
            .map_err(RenderError::from)
    }
}

/// `{{json x}}`: any value as a JSON literal, never escaped.
struct JsonHelper;

impl HelperDef for JsonHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let value = strict_param(h, r, 0, "json")?;
        Ok(ScopedJson::Derived(Value::String(value.to_string())))
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = strict_param(h, r, 0, "json")?;
        out.write(&value.to_string())?;
        Ok(())
    }
}

fn strict_param<'a>(
    h: &'a Helper<'_>,
    r: &Handlebars<'_>,
    index: usize,
    helper: &'static str,
) -> Result<&'a Value, RenderError> {
    let param = h
        .param(index)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex(helper, index))?;
    if r.strict_mode() && param.is_value_missing() {
        let path = param
            .relative_path()
            .cloned()
            .unwrap_or_else(|| format!("parameter {index}"));
        return Err(RenderErrorReason::MissingVariable(Some(path)).into());
    }
    Ok(param.value())
}

/// Which state read a `state_*` helper does.
#[derive(Debug, Clone, Copy)]
pub(super) enum StateRead {
    /// `(state_get "appointments" id)`: the document, or null.
    Get,
    /// `(state_list "slots" ["$.path" value])`: the documents, optionally
    /// those where the JSONPath selects `value`.
    List,
    /// `(state_count "slots" ["$.path" value])`: how many `state_list` gives.
    Count,
}

/// A `state_*` helper: reads the state of the render under way.
struct StateHelper {
    /// Its name in [`HELPERS`], for its error messages.
    name: &'static str,
    kind: StateRead,
}

thread_local! {
    /// The booking state of the render under way on this thread. Handlebars
    /// gives helpers no slot for data of the caller's, so
    /// `Templates::render`, which is handed the state explicitly, puts it
    /// here for the render's duration (renders are synchronous).
    static RENDER_STATE: std::cell::RefCell<Option<Arc<StateData>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes `state` the one the `state_*` helpers read until dropped, then
/// restores the previous one, so nested renders are fine.
pub(super) struct StateScope(Option<Arc<StateData>>);

impl StateScope {
    pub(super) fn enter(state: &Arc<StateData>) -> StateScope {
        StateScope(RENDER_STATE.with(|slot| slot.replace(Some(state.clone()))))
    }
}

impl Drop for StateScope {
    fn drop(&mut self) {
        let previous = self.0.take();
        RENDER_STATE.with(|slot| *slot.borrow_mut() = previous);
    }
}

impl HelperDef for StateHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let data = RENDER_STATE
            .with(|slot| slot.borrow().clone())
            .ok_or_else(|| {
                RenderErrorReason::Other(format!(
                    "{}: no booking state is given to this render",
                    self.name
                ))
            })?;
        let collection = text(param(h, 0));
        let documents = data.collections.get(&collection);
        let value = match self.kind {
            StateRead::Get => {
                let id = text(param(h, 1));
                documents
                    .and_then(|docs| docs.get(&id))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            StateRead::List | StateRead::Count => {
                let selected: Vec<&Value> = match h.param(1) {
                    Some(path) => data
                        .find(&collection, &text(path.value()), param(h, 2))
                        .map_err(|error| {
                            RenderErrorReason::Other(format!("{}: {error}", self.name))
                        })?,
                    None => documents
                        .into_iter()
                        .flat_map(|docs| docs.values())
                        .collect(),
                };
                match self.kind {
                    StateRead::Count => json!(selected.len()),
                    _ => Value::Array(selected.into_iter().cloned().collect()),
                }
            }
        };
        Ok(ScopedJson::Derived(value))
    }
}

static NULL: Value = Value::Null;

pub(super) fn param<'a>(h: &'a Helper<'_>, index: usize) -> &'a Value {
    h.param(index).map(|p| p.value()).unwrap_or(&NULL)
}

pub(super) fn hash_str<'a>(h: &'a Helper<'_>, key: &str) -> Option<&'a str> {
    h.hash_get(key).and_then(|v| v.value().as_str())
}

/// A value as text: see [`loose_text`].
pub(super) fn text(value: &Value) -> String {
    loose_text(value)
}

/// Whether a value counts as true (as `#if` reads it).
pub(super) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

fn number_of(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

fn helper_default(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let chosen = h
        .params()
        .iter()
        .find(|p| !p.is_value_missing() && !p.value().is_null() && p.value() != &json!(""));
    Ok(chosen.map(|p| p.value().clone()).unwrap_or(Value::Null))
}

fn helper_len(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    Ok(json!(match param(h, 0) {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        Value::Null => 0,
        _ => 1,
    }))
}

/// `(where list "field" value)`: the items of `list` whose top-level
/// `field` is loosely equal to `value` (as `eq`); not a list gives `[]`.
fn helper_where(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let field = text(param(h, 1));
    let wanted = param(h, 2);
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| item.get(&field).is_some_and(|v| loosely_equal(v, wanted)))
            .cloned()
            .collect(),
    ))
}

/// `(between list "field" low high)`: the items of `list` whose top-level
/// `field`, as text, sorts at or after `low` and at or before `high`
/// (ISO dates `2014-05-03` sort as they fall). A null or empty bound is
/// open; an item without the field is left out.
fn helper_between(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let field = text(param(h, 1));
    let low = text(param(h, 2));
    let high = text(param(h, 3));
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| {
                item.get(&field).is_some_and(|value| {
                    let value = text(value);
                    (low.is_empty() || value >= low) && (high.is_empty() || value <= high)
                })
            })
            .cloned()
            .collect(),
    ))
}

/// `(slice text start [end])`: the characters of `text` from `start` up
/// to `end` (default: its end), counted from 0; past the end is empty. A
/// search value without its prefix: `(slice "ge2030-01-07" 2)`.
fn helper_slice(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let whole = text(param(h, 0));
    let count = whole.chars().count();
    let bound = |value: &Value, default: usize| match value {
        Value::Null => default,
        other => (number_of(other).max(0.0) as usize).min(count),
    };
    let start = bound(param(h, 1), 0);
    let end = bound(param(h, 2), count).max(start);
    Ok(json!(whole
        .chars()
        .skip(start)
        .take(end - start)
        .collect::<String>()))
}

/// `(prefixed values prefix)`: the rest of the first of `values` (a text
/// or a list of them, e.g. a repeated query parameter) that starts with
/// `prefix`, else null: `(prefixed request.query_all.created "ge")` is the
/// `ge` bound of a date search, whichever order the bounds come in.
fn helper_prefixed(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let prefix = text(param(h, 1));
    let values = param(h, 0);
    let found = match values {
        Value::Array(list) => list
            .iter()
            .find_map(|v| text(v).strip_prefix(&prefix).map(str::to_string)),
        Value::Null => None,
        one => text(one).strip_prefix(&prefix).map(str::to_string),
    };
    Ok(found.map_or(Value::Null, Value::String))
}

/// `(take list n)`: the first `n` items of `list`; all of them when `n` is
/// 0 or not a number.
fn helper_take(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let n = number_of(param(h, 1));
    let all = items(param(h, 0));
    Ok(Value::Array(if n >= 1.0 {
        all.take(n as usize).cloned().collect()
    } else {
        all.cloned().collect()
    }))
}

/// The items of a list; nothing for any other value.
pub(super) fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn helper_range(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    // `as` saturates (NaN is 0); the difference is taken in i128, so
    // values near the i64 limits cannot overflow it.
    let start = number_of(param(h, 0)) as i64;
    let end = number_of(param(h, 1)) as i64;
    if i128::from(end) - i128::from(start) > 10_000 {
        return Err(RenderErrorReason::Other(
            "range: at most 10000 items".into(),
        ));
    }
    Ok(Value::Array((start..end).map(|i| json!(i)).collect()))
}

fn helper_jsonpath(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let expression = text(param(h, 1));
    let path = serde_json_path::JsonPath::parse(&expression)
        .map_err(|error| RenderErrorReason::Other(format!("jsonpath {expression:?}: {error}")))?;
    Ok(path
        .query(param(h, 0))
        .first()
        .cloned()
        .unwrap_or(Value::Null))
}

/// The `value[x]` (or `resource`, or `part`) of the first parameter named
/// `name` in a FHIR Parameters resource, or in a list of parameters (a
/// parameter's `part`s: `(fhir_param (fhir_param body "a") "b")` is the
/// value of part `b` of parameter `a`).
pub fn fhir_param_value<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    let list = match parameters {
        Value::Array(list) => list,
        other => other.get("parameter")?.as_array()?,
    };
    list.iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .as_object()?
        .iter()
        .find(|(key, _)| key.starts_with("value") || *key == "resource" || *key == "part")
        .map(|(_, value)| value)
}

/// `(jwt_claims request.headers.authorization)`: the claims of the unsigned
/// JWT of a `Bearer` header, or null when it is none.
fn helper_jwt_claims(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let header = text(param(h, 0));
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map_or(header.as_str(), |(_, token)| token.trim());
    Ok(crate::contract::jwt::decode(token)
        .map(|jwt| Value::Object(jwt.claims))
        .unwrap_or(Value::Null))
}

fn helper_fhir_param(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let name = text(param(h, 1));
    Ok(fhir_param_value(param(h, 0), &name)
        .cloned()
        .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::template::analysis::prove_template_json;
    use crate::template::test_support::render;
    use crate::template::Templates;

    /// The names of the helpers registered on `registry`. Handlebars has no
    /// accessor for them, only its `Debug` output (`helpers: ["if", …]`).
    fn registered_helpers(registry: &Handlebars<'_>) -> BTreeSet<String> {
        let debug = format!("{registry:?}");
        let start = debug.find("helpers: [").expect("Debug lists the helpers") + "helpers: [".len();
        let list = &debug[start..start + debug[start..].find(']').expect("list ends")];
        let names: BTreeSet<String> = list
            .split(", ")
            .map(|name| name.trim_matches('"').to_string())
            .filter(|name| !name.is_empty())
            .collect();
        // Not read vacuously: a change of that output fails here.
        assert!(names.contains("if") && names.contains("each"), "{debug}");
        names
    }

    #[test]
    fn the_table_describes_every_registered_helper_and_no_other() {
        let templates = Templates::empty();
        let registered = registered_helpers(&templates.registry);
        let table: BTreeSet<String> = HELPERS.iter().map(|h| h.name.to_string()).collect();
        assert_eq!(table.len(), HELPERS.len(), "a name is in the table twice");
        assert_eq!(
            registered, table,
            "every helper a template can call needs its row in HELPERS"
        );
        let built_in = registered_helpers(&Handlebars::new());
        for helper in HELPERS {
            if matches!(helper.kind, Kind::BuiltIn) {
                assert!(
                    built_in.contains(helper.name),
                    "{} is not Handlebars' own",
                    helper.name
                );
            }
        }
    }

    #[test]
    fn every_nondeterministic_helper_makes_a_template_request_dependent() {
        // Today's set: changing it changes which answers are cached.
        assert_eq!(
            nondeterministic().collect::<BTreeSet<_>>(),
            BTreeSet::from([
                "uuid",
                "now",
                "date_add",
                "state_get",
                "state_list",
                "state_count"
            ])
        );
        let mut templates = Templates::empty();
        for helper in HELPERS {
            let name = helper.name;
            let uses = [
                format!("{{\"a\": \"{{{{{name}}}}}\"}}"),
                format!("{{{{#each ({name} \"x\")}}}}{{{{this}}}}{{{{/each}}}}"),
                format!("{{{{#if (eq 1 ({name} \"x\" 1))}}}}y{{{{/if}}}}"),
            ];
            for (index, text) in uses.iter().enumerate() {
                let template = format!("{name}-{index}");
                templates
                    .register(&template, text, "t", 1)
                    .expect("compiles");
                assert_eq!(
                    templates.is_request_independent(&template),
                    helper.deterministic,
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn the_json_proof_trusts_exactly_the_helpers_that_write_escaped_text() {
        for helper in HELPERS {
            let expected = match helper.name {
                "json" => Writes::RawJson,
                "if" | "unless" | "each" | "with" | "lookup" | "raw" | "log" | "gt" | "gte"
                | "lt" | "lte" => Writes::Unchecked,
                _ => Writes::EscapedText,
            };
            assert_eq!(helper.writes(), expected, "{}", helper.name);
            let text = format!("{{\"a\": \"{{{{{}}}}}\"}}", helper.name);
            let template = handlebars::Template::compile(&text).expect("compiles");
            assert_eq!(
                prove_template_json(&template).is_some(),
                expected == Writes::EscapedText,
                "{text}"
            );
        }
    }

    #[test]
    fn json_helper_writes_literals_unescaped() {
        let out = render(
            r#"{"s": {{json s}}, "n": {{json n}}}"#,
            json!({"s": {"a": "\"x"}, "n": 3}),
        )
        .unwrap();
        assert_eq!(out, r#"{"s": {"a":"\"x"}, "n": 3}"#);
    }

    #[test]
    fn prefixed_finds_the_first_value_with_the_prefix() {
        let out = |template: &str| {
            render(
                template,
                json!({"all": ["le2030-01-14", "ge2030-01-07"], "one": "ge2030"}),
            )
            .unwrap()
        };
        assert_eq!(out("{{prefixed all \"ge\"}}"), "2030-01-07");
        assert_eq!(out("{{prefixed all \"le\"}}"), "2030-01-14");
        assert_eq!(out("{{prefixed one \"ge\"}}"), "2030");
        assert_eq!(out("{{default (prefixed one \"le\") \"open\"}}"), "open");
        assert_eq!(
            out("{{default (prefixed missing \"le\") \"open\"}}"),
            "open"
        );
    }

    #[test]
    fn contains_ignores_case() {
        let out = |template: &str| render(template, json!({"d": "Discharge summary"})).unwrap();
        assert_eq!(out("{{contains d \"SUMMARY\"}}"), "true");
        assert_eq!(out("{{contains d \"letter\"}}"), "false");
        assert_eq!(out("{{contains d \"\"}}"), "true");
        assert_eq!(out("{{contains missing \"x\"}}"), "false");
    }

    #[test]
    fn slice_takes_characters() {
        let out =
            |template: &str| render(template, json!({"q": "ge2030-01-07", "u": "é1"})).unwrap();
        assert_eq!(out("{{slice q 2}}"), "2030-01-07");
        assert_eq!(out("{{slice q 0 2}}"), "ge");
        assert_eq!(out("{{slice q 20}}"), "");
        assert_eq!(out("{{slice q 5 1}}"), "");
        assert_eq!(out("{{slice u 1}}"), "1");
    }

    #[test]
    fn range_add_and_mul_at_the_limits() {
        let out = |template: &str, data: Value| render(template, data);
        for (start, end) in [
            (json!(i64::MIN), json!(i64::MAX)),
            (json!(-9.3e18), json!(9.3e18)),
            (json!("-1e300"), json!("1e300")),
        ] {
            assert!(out(
                "{{#each (range a b)}}x{{/each}}",
                json!({"a": start, "b": end})
            )
            .is_err());
        }
        assert_eq!(
            out(
                "{{#each (range a b)}}{{this}},{{/each}}",
                json!({"a": -2, "b": 1})
            )
            .unwrap(),
            "-2,-1,0,"
        );
        assert_eq!(
            out("{{len (range a b)}}", json!({"a": i64::MAX, "b": i64::MIN})).unwrap(),
            "0"
        );
        assert!(out(
            "{{add a b}} {{mul a b}}",
            json!({"a": f64::MAX, "b": f64::MAX})
        )
        .is_ok());
        assert!(out(
            "{{add a b}} {{mul a b}}",
            json!({"a": i64::MAX, "b": "NaN"})
        )
        .is_ok());
    }

    #[test]
    fn where_between_and_take_select_items_of_a_list() {
        let rows = json!([
            {"group": "A", "date": "2017-04-10"},
            {"group": "B", "date": "2016-11-15"},
            {"group": "A", "date": "2015-11-02"},
            {"group": "A"}
        ]);
        let out = render(
            r#"{{#each (between (where rows "group" "A") "date" "2015-11-02" "2016-12-31")}}{{date}};{{/each}}|{{len (between rows "date" null "")}}|{{len (where "x" "group" "A")}}|{{#each (take rows 2)}}{{group}}{{/each}}|{{len (take rows 0)}}"#,
            json!({"rows": rows}),
        )
        .unwrap();
        assert_eq!(out, "2015-11-02;|3|0|AB|4");
    }

    #[test]
    fn fhir_param_and_comparisons() {
        let body = json!({"parameter": [{"name": "patientNHSNumber", "valueIdentifier": {"value": "9658218873"}}]});
        let out = render(
            r#"{{lookup (fhir_param body "patientNHSNumber") "value"}} {{#if (eq "2" 2)}}yes{{/if}} {{default missing "d"}} {{upper "x"}}"#,
            json!({"body": body}),
        )
        .unwrap();
        assert_eq!(out, "9658218873 yes d X");
        let parts =
            json!({"parameter": [{"name": "a", "part": [{"name": "b", "valueBoolean": false}]}]});
        let out = render(
            r#"{{fhir_param (fhir_param body "a") "b"}}|{{fhir_param (fhir_param body "a") "c"}}|{{fhir_param (fhir_param body "x") "b"}}"#,
            json!({"body": parts}),
        )
        .unwrap();
        assert_eq!(out, "false||");
        let token = "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.";
        let out = render(
            r#"{{lookup (jwt_claims auth) "sub"}}|{{jwt_claims "Bearer x"}}"#,
            json!({"auth": token}),
        )
        .unwrap();
        assert_eq!(out, "1|");
    }
}
