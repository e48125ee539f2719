//! gpconnect-mock: a mock and contract server for the NHS GP Connect FHIR APIs.
//!
//! # Layout
//! - [`spec`]: Swagger 2.0 / OpenAPI 3.0 → [`spec::ApiModel`].
//! - [`routes`]: the route table generated from the model.
//! - [`request`]: the normalised incoming request.
//! - [`scenario`]: scenario files, their conditions, selection.
//! - [`template`]: the Handlebars registry, escaping and helpers.
//! - [`answer`]: rendering a scenario or the spec fallback into an [`answer::Answer`].
//! - [`fhir`]: FHIR eras and GP Connect OperationOutcomes.
//! - [`negotiate`]: the answer format (JSON or XML) of a FHIR request.
//! - [`fhir_xml`]: FHIR JSON ↔ FHIR XML, for answers and request bodies.
//! - [`contract`]: request checks (the spec's and GP Connect's rules) between
//!   routing and scenario selection.
//! - [`snapshot`]: one immutable loaded version of all of the above.
//! - [`handler`]: the request path, route → select → render → respond.
//! - [`server`]: the axum app and shared state.
//! - [`reload`]: file watching and atomic snapshot swaps.
//! - [`admin`]: the `/__admin/` API (health, reload).
//! - [`postman`]: the Postman collection and environment export.
//! - [`error`]: load diagnostics with file and line.
//!
//! # Request path
//! `server::handle` loads the current snapshot once, builds a
//! [`request::MockRequest`], and calls [`handler::respond`], which routes,
//! selects a scenario and renders it.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod answer;
pub mod app;
pub mod check;
pub mod cli;
pub mod contract;
pub mod error;
pub mod fhir;
pub mod fhir_xml;
pub mod journal;
pub mod jsonpath;
pub mod media;
pub mod memory;
pub mod negotiate;
pub mod pipeline;
pub mod postman;
pub mod reload;
pub mod request;
pub mod response_check;
pub mod routes;
pub mod sample;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod spec;
pub mod state;
pub mod template;
