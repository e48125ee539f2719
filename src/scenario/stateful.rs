//! The stateful parts of scenarios: conditions on state (`when.state`,
//! `when.requires_state`) and actions on it (`then.state`, `then.sets_state`).
//! Ids are small templates rendered against the request, so a scenario can
//! say "the slot this booking names". The file format of these parts is in
//! [`super::format`], their compiling in [`super::compile`].

use serde_json::Value;
use serde_json_path::JsonPath;

use super::conditions::{Condition, Miss};
pub use super::format::{DocumentSource, IdsMatch};
use crate::state::StateData;

/// A compiled `when.state` condition.
#[derive(Debug, Clone)]
pub struct StateCondition {
    pub collection: String,
    /// Registered template name of the id.
    pub id_template: String,
    /// The id template as written, so a request can be built to fit it.
    pub id_source: String,
    /// `ids`: the template renders several ids, and the condition holds
    /// for any or every one of them; `None`: one id.
    pub many: Option<IdsMatch>,
    pub exists: bool,
    pub fields: Vec<(String, JsonPath, Condition)>,
    /// A lookup id template (see [`Lookup`]): `id_template` is then the
    /// template of the looked-up value alone.
    pub lookup: Option<Lookup>,
}

/// An id template that names documents by a field's value,
/// `{{#each (state_list "patients" "$.logicalId" request.path_params.id)}}{{id}}{{/each}}`:
/// evaluated through the state's index, not rendered by Handlebars (which
/// clones every document found, for each request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The collection searched (`patients`).
    pub collection: String,
    /// The JSONPath of the field compared (`$.logicalId`).
    pub path: String,
    /// The request value it is compared with, as a template
    /// (`{{request.path_params.id}}`).
    pub value: String,
}

impl Lookup {
    /// The lookup an id template is, if it is one: `state_list` of a
    /// collection, a JSONPath and one request value, printing each
    /// document's `id`.
    pub fn parse(source: &str) -> Option<Lookup> {
        let rest = source.trim().strip_prefix("{{#each (state_list \"")?;
        let (collection, rest) = rest.split_once("\" \"")?;
        let (path, rest) = rest.split_once("\" ")?;
        let (value, rest) = rest.split_once(")}}")?;
        let plain = |text: &str| {
            !text.is_empty()
                && text.chars().all(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | '[' | ']' | '*')
                })
        };
        let request_value = value
            .strip_prefix("request.path_params.")
            .or_else(|| value.strip_prefix("request.query."));
        (rest.trim() == "{{id}}{{/each}}"
            && plain(collection)
            && !path.contains('"')
            && request_value.is_some_and(|name| plain(name) && !name.contains('.')))
        .then(|| Lookup {
            collection: collection.to_string(),
            path: path.to_string(),
            value: format!("{{{{{value}}}}}"),
        })
    }

    /// The ids the template would render: those of the documents found,
    /// joined as `{{#each}}{{id}}{{/each}}` joins them.
    fn ids(&self, data: &StateData, value: String) -> String {
        let found = data
            .find(&self.collection, &self.path, &Value::String(value))
            .unwrap_or_default();
        found
            .iter()
            .map(|document| {
                crate::state::index::loose_text(document.get("id").unwrap_or(&Value::Null))
            })
            .collect()
    }
}

/// The ids an `ids` template rendered: separated by whitespace or commas.
pub fn split_ids(rendered: &str) -> Vec<String> {
    rendered
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

impl StateCondition {
    /// The ids the condition reads, its template rendered by `render`; a
    /// lookup's are found in `data`.
    pub fn ids(&self, render: &dyn Fn(&str) -> Option<String>, data: &StateData) -> Vec<String> {
        let rendered = render(&self.id_template).unwrap_or_default();
        if let Some(lookup) = &self.lookup {
            return vec![lookup.ids(data, rendered)];
        }
        match self.many {
            Some(_) => split_ids(&rendered),
            None => vec![rendered],
        }
    }
}

/// A compiled `then.state` action.
#[derive(Debug, Clone)]
pub enum StateAction {
    Store {
        collection: String,
        id_template: Option<String>,
        from: DocumentSource,
    },
    Update {
        collection: String,
        id_template: String,
        /// `ids`: the template renders several ids, each updated alike.
        many: bool,
        from: Option<DocumentSource>,
        /// With `from`: only these top-level fields are copied from it.
        fields: Option<Vec<String>>,
        /// (field, registered template name)
        set: Vec<(String, String)>,
    },
    Remove {
        collection: String,
        id_template: String,
    },
}

/// What stateful conditions read: the state, and a way to render an id.
pub struct StateView<'a> {
    pub data: &'a StateData,
    pub render: &'a dyn Fn(&str) -> Option<String>,
}

/// The stateful half of a scenario's `when`.
#[derive(Debug, Clone, Default)]
pub struct StateWhen {
    pub conditions: Vec<StateCondition>,
    /// `requires_state`: the machine must be in this state.
    pub requires_state: Option<String>,
}

impl StateWhen {
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty() && self.requires_state.is_none()
    }

    /// The registered templates its conditions render (their ids).
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().map(|c| c.id_template.as_str())
    }

    pub fn check(&self, machine: &str, view: Option<&StateView<'_>>) -> Result<(), Miss> {
        if self.is_empty() {
            return Ok(());
        }
        let Some(view) = view else {
            return Err(Miss {
                place: "state",
                name: machine.to_string(),
                expected: "readable".into(),
            });
        };
        if let Some(required) = &self.requires_state {
            let current = view.data.machine_state(machine);
            if current != required {
                return Err(Miss {
                    place: "scenario state of",
                    name: machine.to_string(),
                    expected: format!("{required:?} (it is {current:?})"),
                });
            }
        }
        for condition in &self.conditions {
            let ids = condition.ids(view.render, view.data);
            match condition.many {
                None | Some(IdsMatch::Every) => {
                    for id in &ids {
                        check_document(condition, view, id)?;
                    }
                }
                Some(IdsMatch::Any) => {
                    let mut first_miss = None;
                    for id in &ids {
                        match check_document(condition, view, id) {
                            Ok(()) => {
                                first_miss = None;
                                break;
                            }
                            Err(miss) => {
                                first_miss.get_or_insert(miss);
                            }
                        }
                    }
                    if ids.is_empty() {
                        return Err(Miss {
                            place: "state documents",
                            name: condition.collection.clone(),
                            expected: "at least one id".into(),
                        });
                    }
                    if let Some(miss) = first_miss {
                        return Err(miss);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `condition` holds for the document `id` of its collection.
fn check_document(condition: &StateCondition, view: &StateView<'_>, id: &str) -> Result<(), Miss> {
    let name = format!("{}/{}", condition.collection, id);
    let document = view.data.get(&condition.collection, id);
    let wants = condition.exists || !condition.fields.is_empty();
    match (document, wants) {
        (None, true) => Err(Miss {
            place: "state document",
            name,
            expected: "existing".into(),
        }),
        (Some(_), false) => Err(Miss {
            place: "state document",
            name,
            expected: "absent".into(),
        }),
        (None, false) => Ok(()),
        (Some(document), true) => {
            for (expression, path, field_condition) in &condition.fields {
                let nodes = path.query(document).all();
                let values = nodes.into_iter().filter(|v| !v.is_null()).map(|v| match v {
                    Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                    other => std::borrow::Cow::Owned(other.to_string()),
                });
                if !field_condition.holds(values) {
                    return Err(Miss {
                        place: "state field",
                        name: format!("{name} {expression}"),
                        expected: field_condition.describe(),
                    });
                }
            }
            Ok(())
        }
    }
}

/// The stateful half of a scenario's `then`.
#[derive(Debug, Clone, Default)]
pub struct StateThen {
    pub actions: Vec<StateAction>,
    pub sets_state: Option<String>,
}

impl StateThen {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.sets_state.is_none()
    }

    /// The registered templates its actions render (ids and set values).
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().flat_map(|action| {
            let (id, set): (Option<&String>, &[(String, String)]) = match action {
                StateAction::Store { id_template, .. } => (id_template.as_ref(), &[]),
                StateAction::Update {
                    id_template, set, ..
                } => (Some(id_template), set),
                StateAction::Remove { id_template, .. } => (Some(id_template), &[]),
            };
            id.into_iter()
                .chain(set.iter().map(|(_, template)| template))
                .map(String::as_str)
        })
    }

    /// Applies the actions to a copy of `data`. `render` renders a
    /// registered template against the request; `response` is the answer's
    /// body, `body` the request's. Stored FHIR resources keep versions
    /// (`StateData::version_stored` …): a store starts at 1, an update bumps the version and
    /// keeps the one it replaced, a remove drops them. A template that
    /// fails to render fails the whole change (nothing is applied): the
    /// error names the action, its collection and the failure.
    pub fn apply(
        &self,
        data: &StateData,
        machine: &str,
        render: &dyn Fn(&str) -> Result<String, String>,
        request_id: &str,
        response: Option<&Value>,
        body: Option<&Value>,
    ) -> Result<StateData, String> {
        let failed = |action: &str, collection: &str, error: String| {
            format!("state action `{action}` on collection `{collection}`: {error}")
        };
        let mut next = data.clone();
        let source = |from: DocumentSource| match from {
            DocumentSource::Response => response.cloned(),
            DocumentSource::Body => body.cloned(),
        };
        for action in &self.actions {
            match action {
                StateAction::Store {
                    collection,
                    id_template,
                    from,
                } => {
                    let id = match id_template {
                        Some(template) => {
                            render(template).map_err(|e| failed("store", collection, e))?
                        }
                        None => request_id.to_string(),
                    };
                    if let Some(document) = source(*from) {
                        next.collections
                            .entry(collection.clone())
                            .or_default()
                            .insert(id.clone(), document);
                        next.version_stored(collection, &id);
                    }
                }
                StateAction::Update {
                    collection,
                    id_template,
                    many,
                    from,
                    fields,
                    set,
                } => {
                    let rendered =
                        render(id_template).map_err(|e| failed("update", collection, e))?;
                    let ids = if *many {
                        split_ids(&rendered)
                    } else {
                        vec![rendered]
                    };
                    for id in ids {
                        let Some(documents) = next.collections.get_mut(collection) else {
                            continue;
                        };
                        let Some(document) = documents.get_mut(&id) else {
                            continue;
                        };
                        let previous = document.clone();
                        match (from.and_then(source), fields) {
                            (Some(replacement), None) => *document = replacement,
                            (Some(Value::Object(changed)), Some(fields)) => {
                                if let Value::Object(stored) = document {
                                    for field in fields {
                                        match changed.get(field) {
                                            Some(value) => {
                                                stored.insert(field.clone(), value.clone());
                                            }
                                            None => {
                                                stored.shift_remove(field);
                                            }
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                        if let Value::Object(fields) = document {
                            for (field, template) in set {
                                let value = render(template).map_err(|e| {
                                    failed("update", collection, format!("set `{field}`: {e}"))
                                })?;
                                fields.insert(field.clone(), Value::String(value));
                            }
                        }
                        next.version_updated(collection, &id, previous);
                    }
                }
                StateAction::Remove {
                    collection,
                    id_template,
                } => {
                    let id = render(id_template).map_err(|e| failed("remove", collection, e))?;
                    if let Some(documents) = next.collections.get_mut(collection) {
                        documents.shift_remove(&id);
                    }
                    next.forget_versions(collection, &id);
                }
            }
        }
        if let Some(state) = &self.sets_state {
            next.machines.insert(machine.to_string(), state.clone());
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_with_fields_copies_only_those() {
        let mut data = StateData::default();
        data.collections.entry("appointments".into()).or_default().insert(
            "1".into(),
            json!({"id": "1", "status": "booked", "slot": [{"reference": "Slot/13"}], "comment": "old", "description": "d"}),
        );
        let then = StateThen {
            actions: vec![StateAction::Update {
                collection: "appointments".into(),
                id_template: "id".into(),
                many: false,
                from: Some(DocumentSource::Body),
                fields: Some(vec!["description".into(), "comment".into()]),
                set: Vec::new(),
            }],
            sets_state: None,
        };
        let render = |_: &str| Ok("1".to_string());
        let body =
            json!({"status": "cancelled", "slot": [{"reference": "Slot/2"}], "description": "new"});
        let next = then
            .apply(&data, "default", &render, "9", None, Some(&body))
            .unwrap();
        assert_eq!(
            next.get("appointments", "1"),
            Some(
                &json!({"id": "1", "status": "booked", "slot": [{"reference": "Slot/13"}], "description": "new"})
            ),
            "the slot and status stay; description is copied, comment (absent) removed"
        );
    }
    fn slots() -> StateData {
        let mut data = StateData::default();
        let slots = data.collections.entry("slots".into()).or_default();
        slots.insert("1".into(), json!({"id": "1", "status": "free"}));
        slots.insert("2".into(), json!({"id": "2", "status": "busy"}));
        slots.insert("3".into(), json!({"id": "3", "status": "free"}));
        data
    }

    fn busy(many: IdsMatch) -> StateCondition {
        StateCondition {
            collection: "slots".into(),
            id_template: "ids".into(),
            id_source: "ids".into(),
            many: Some(many),
            exists: true,
            fields: vec![(
                "$.status".into(),
                JsonPath::parse("$.status").unwrap(),
                Condition::Equals("busy".into()),
            )],
            lookup: None,
        }
    }

    #[test]
    fn a_lookup_finds_documents_by_a_field_as_its_template_would() {
        let source =
            r#"{{#each (state_list "slots" "$.status" request.path_params.id)}}{{id}}{{/each}}"#;
        let lookup = Lookup::parse(source).expect("a lookup");
        assert_eq!(lookup.collection, "slots");
        assert_eq!(lookup.path, "$.status");
        assert_eq!(lookup.value, "{{request.path_params.id}}");
        let data = slots();
        assert_eq!(
            lookup.ids(&data, "free".into()),
            "13",
            "ids joined as {{#each}} joins them"
        );
        assert_eq!(lookup.ids(&data, "busy".into()), "2");
        assert_eq!(lookup.ids(&data, "gone".into()), "");
        let condition = StateCondition {
            id_template: "value".into(),
            id_source: source.into(),
            many: None,
            lookup: Some(lookup),
            ..busy(IdsMatch::Any)
        };
        let render = |_: &str| Some("busy".to_string());
        let view = StateView {
            data: &data,
            render: &render,
        };
        assert!(StateWhen {
            conditions: vec![condition],
            requires_state: None
        }
        .check("default", Some(&view))
        .is_ok());
        for other in [
            r#"{{#each (state_list "slots" "$.status" request.body)}}{{id}}{{/each}}"#,
            r#"{{#each (state_list "slots" "$.status" request.path_params.id)}}{{name}}{{/each}}"#,
            r#"{{#each (state_list "slots" request.path_params.id)}}{{id}}{{/each}}"#,
        ] {
            assert_eq!(Lookup::parse(other), None, "{other}");
        }
    }

    fn holds(condition: StateCondition, data: &StateData, ids: &str) -> bool {
        let ids = ids.to_string();
        let render = move |_: &str| Some(ids.clone());
        let when = StateWhen {
            conditions: vec![condition],
            requires_state: None,
        };
        let view = StateView {
            data,
            render: &render,
        };
        when.check("default", Some(&view)).is_ok()
    }

    #[test]
    fn ids_hold_for_any_or_every_id() {
        let data = slots();
        assert_eq!(split_ids(" 1, 2\n3 "), ["1", "2", "3"]);
        assert!(holds(busy(IdsMatch::Any), &data, "1 2"), "slot 2 is busy");
        assert!(!holds(busy(IdsMatch::Any), &data, "1 3"), "neither is busy");
        assert!(!holds(busy(IdsMatch::Any), &data, ""), "no id: any fails");
        assert!(
            !holds(busy(IdsMatch::Every), &data, "1 2"),
            "slot 1 is free"
        );
        assert!(holds(busy(IdsMatch::Every), &data, "2"));
        assert!(
            holds(busy(IdsMatch::Every), &data, ""),
            "no id: every holds"
        );
        let mut unknown = busy(IdsMatch::Any);
        unknown.exists = false;
        unknown.fields.clear();
        assert!(holds(unknown.clone(), &data, "1 9"), "slot 9 is absent");
        assert!(!holds(unknown, &data, "1 3"), "both exist");
    }

    #[test]
    fn update_with_ids_updates_each() {
        let data = slots();
        let then = StateThen {
            actions: vec![StateAction::Update {
                collection: "slots".into(),
                id_template: "ids".into(),
                many: true,
                from: None,
                fields: None,
                set: vec![("status".into(), "value".into())],
            }],
            sets_state: None,
        };
        let render = |name: &str| {
            Ok(match name {
                "ids" => "1,3 9".to_string(),
                _ => "busy".to_string(),
            })
        };
        let next = then
            .apply(&data, "default", &render, "7", None, None)
            .unwrap();
        for id in ["1", "2", "3"] {
            assert_eq!(
                next.get("slots", id).unwrap()["status"],
                "busy",
                "slot {id}"
            );
        }
        assert!(next.get("slots", "9").is_none(), "an unknown id is skipped");
    }
}
