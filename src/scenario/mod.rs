//! Scenario files: which answer an operation gives to which request.
//!
//! Every `*.yaml`/`*.yml` under the scenarios directory, recursively, names
//! one operation and lists scenarios, each a `when` (conditions that must all
//! hold) and a `then` (status, headers, body template, delay). Selection
//! takes the operation's scenarios in file order (files sorted by path) and
//! the first whose `when` holds wins; the header `X-Mock-Scenario` forces one
//! by name.
//!
//! The way through, by module:
//! - [`format`]: the files as written (serde types, YAML read in one place);
//! - [`compile`]: from those to [`Scenario`]s, every problem reported with
//!   its file and line ([`load_dir`]);
//! - [`conditions`]: the compiled `when` and its evaluation against a request;
//! - [`body_path`]: the JSONPaths of body conditions;
//! - [`stateful`]: conditions on state and the actions that change it;
//! - [`seed`]: seed files, the documents state starts with;
//! - [`select`]: the loaded [`ScenarioSet`], the choice of a scenario per
//!   request and, when none matches, the near miss.

pub mod body_path;
pub mod compile;
pub mod conditions;
pub mod format;
pub mod seed;
pub mod select;
pub mod stateful;

use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};

pub use compile::{load, load_dir};
pub use conditions::{BodyCondition, Condition, Miss, When};
pub use select::{NearMiss, ScenarioSet, Selection, Shadowed};
use stateful::{StateThen, StateWhen};

use crate::contract::Waiver;

/// The header a client sends to force a scenario by name.
pub const FORCE_HEADER: &str = "x-mock-scenario";

/// A header value of `then.headers`: fixed, or a template rendered per request.
#[derive(Debug, Clone)]
pub enum HeaderSource {
    Fixed(HeaderValue),
    Template(String),
}

/// The `then` of a scenario, resolved.
#[derive(Debug, Clone)]
pub struct Then {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderSource)>,
    /// Name of the body template in the registry; `None` is an empty body.
    pub body_template: Option<String>,
    pub delay: Duration,
    /// The contract rules this scenario is served despite (`skip_checks`:
    /// all of them; `skip_rules`: the ones named).
    pub waiver: Waiver,
    /// The `Content-Type` of its answers: the operation's declared media
    /// type for `status`, worked out once.
    pub content_type: Option<HeaderValue>,
    /// Whether that media type is JSON, so its bodies must parse.
    pub json_body: bool,
}

/// One compiled scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// The scenario file, as labelled in errors (`scenarios/patient/read.yaml`).
    pub file: String,
    /// The line of its `name:`.
    pub line: usize,
    pub when: When,
    pub then: Then,
    /// The named state machine `requires_state`/`sets_state` speak of.
    pub machine: String,
    pub state_when: StateWhen,
    pub state_then: StateThen,
    /// `priority:`; see [`select`] for the order scenarios are tried in.
    pub priority: i32,
}

impl Scenario {
    /// A scenario with no condition at all answers any request that reaches it.
    pub fn is_catch_all(&self) -> bool {
        self.when.is_empty() && self.state_when.is_empty()
    }

    pub fn is_stateful(&self) -> bool {
        !self.state_when.is_empty() || !self.state_then.is_empty()
    }

    /// The registered templates its answer renders: body, then headers.
    pub fn answer_templates(&self) -> impl Iterator<Item = &str> {
        self.then.body_template.iter().map(String::as_str).chain(
            self.then
                .headers
                .iter()
                .filter_map(|(_, source)| match source {
                    HeaderSource::Template(name) => Some(name.as_str()),
                    HeaderSource::Fixed(_) => None,
                }),
        )
    }

    /// Every registered template it renders: its answer's, its state
    /// conditions' and its state actions'.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.answer_templates()
            .chain(self.state_when.templates())
            .chain(self.state_then.templates())
    }

    /// Whether answering it changes the state (actions, or a move of its
    /// state machine); a scenario that only reads state does not.
    pub fn writes_state(&self) -> bool {
        !self.state_then.is_empty()
    }
}
