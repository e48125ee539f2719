//! gpconnect-mock: a mock and contract server for the NHS GP Connect FHIR APIs.
//!
//! # Layout
//! Loading (once per snapshot, off the request path):
//! - [`spec`]: Swagger 2.0 / OpenAPI 3.0 → [`spec::ApiModel`] (`load`,
//!   `build`, `swagger2`, `schema`).
//! - [`routes`]: the route table generated from the model (`matchit`).
//! - [`scenario`]: scenario files — `format` (the YAML format), `compile`,
//!   `conditions`, `select` (selection and near misses), `stateful`, `seed`,
//!   `body_path` (JSONPaths over request bodies).
//! - [`jsonpath`]: the one narrow JSONPath grammar, for matching and for
//!   building sample bodies.
//! - [`template`]: Handlebars — `registry`, `helpers` (one table), `time`,
//!   `records` (the list helpers that assemble a structured record from
//!   data), `analysis` (JSON proofs, request independence, partial
//!   inlining), `flat` (the no-Handlebars fast path), `escape`.
//! - [`contract`]: the request checks. `catalogue` names every rule (its
//!   eras, operations, answer and source) and compiles the rules of each
//!   operation once per snapshot; the checks report violations of those
//!   rules: `spec_rules` (any definition), `gpconnect` (SSP headers,
//!   interactions, identifiers) over `interactions` (the interaction
//!   table, data), `jwt` (and `tokens`, its verdict cache),
//!   `nhs_number`, `operations` (DSTU2 operation parameters) and
//!   `operations_stu3` (1.x: slot search, patient appointments),
//!   `operations_documents` (Access Document's document search),
//!   `operations_structured` (Access Record Structured's Parameters),
//!   `resources` and `resources_stu3` (bodies and JWT claim resources
//!   against `profiles` and `profiles_stu3`, the resource descriptions).
//! - [`snapshot`]: one immutable loaded version of all of the above, a list
//!   of mounted [`snapshot::Api`]s; a reload rebuilds each API and keeps
//!   the last good version of one whose files do not load (the APIs load
//!   on a thread each); `sources`, where they are loaded from. [`kept`]:
//!   the header values every answer copies (names of what answered, a
//!   scenario's own headers), kept for the process's life so a copy is a
//!   pointer's.
//! - [`mount`]: the mount file (`downloads/apis.yaml`), the APIs to mount
//!   with their base paths, eras, ASIDs and endpoint URLs, and the Spine's
//!   consumers and directory-only providers; the command line's paths
//!   resolved into [`snapshot::Sources`].
//! - [`spine`]: the Spine around the mounted providers, built per
//!   snapshot — the directory ([`spine::Spine`]: ODS codes, ASIDs, party
//!   keys, endpoint URLs and interaction ids of the mounted GP Connect
//!   APIs), `proxy` (the Spine Secure Proxy's checks and refusals) and
//!   `sds` (the Spine Directory Service's FHIR API).
//! - [`pack`]: where pack files come from — a directory on disk or the pack
//!   built into the binary.
//! - [`error`]: load diagnostics with file and line.
//!
//! Answering:
//! - [`request`]: the normalised incoming request, and request ids.
//! - [`pipeline`]: the request path, one function; `render`, its step 4
//!   (the answer, then the state actions).
//! - [`answer`]: the answer value, rendering a scenario, the spec fallback.
//! - [`media`]: media types; [`fhir`]: eras and OperationOutcomes.
//! - [`negotiate`]: the answer format (JSON or XML) of a FHIR request.
//! - [`fhir_xml`]: FHIR JSON ↔ FHIR XML, for answers and request bodies.
//! - [`state`]: the booking state (collections, state machines and the
//!   kept versions of stored resources), one store per mounted API
//!   (`Stores`); `index`, lookups by field value per state version.
//! - [`repeat`]: kept answers of templates that read only the request's
//!   path, query and body, the state and the clock.
//! - [`versions`]: FHIR versions over HTTP — `meta.versionId` and `ETag`,
//!   version reads (`_history`), `If-Match`, `If-None-Match`, `Prefer`.
//! - [`response_check`]: answers checked against the definition.
//! - [`journal`]: the bounded record of requests and why they were answered.
//!
//! Running:
//! - [`app`]: the application — snapshot, booking state, hits, journal, each
//!   with one owner.
//! - [`server`]: the axum app, the protocol checks and CORS;
//!   [`encoding`]: `Content-Encoding` of request bodies and answers;
//!   [`listen`]: the accept loop (connection timeouts, limits, graceful
//!   shutdown, the TLS handshake); [`rewake`]: a connection's task polled
//!   again at once when it wakes itself (a request body); [`tls`]: the rustls configuration of
//!   `--tls-cert` (client CA, `--tls-profile`) and handshake failures in
//!   words; [`certs`]: `gpconnect-mock certs`, development certificates;
//!   [`admin`]: the `/__admin/` API and its guard (`sample`:
//!   sample requests, per API);
//!   [`reload`]: file watching and atomic snapshot swaps; [`memory`]: the
//!   allocator.
//! - [`cli`]: the command line (used by the binary, `main.rs`).
//!
//! Offline tools:
//! - [`sample`]: requests built to select a scenario (sample requests,
//!   `check`, the Postman export).
//! - [`check`]: `gpconnect-mock check`, the offline proof of a pack
//!   (`arrange` the booking state, `capabilities`, `xml` round trips,
//!   `primitives` checked by the element types of `definitions`, a table
//!   the request profiles of `contract` read too).
//! - [`postman`]: the Postman collection and environment export.
//!
//! # Request path
//! [`listen`] accepts the connection (and, with `--tls-cert`, completes
//! the TLS handshake, refusing a missing, expired or foreign client
//! certificate); [`server`]'s `handle` reads the body (413 past the cap, through
//! [`pipeline::refuse`]) and undoes its coding ([`encoding`]), builds a
//! [`request::MockRequest`], loads the
//! snapshot once and calls [`pipeline::serve`], which runs:
//!
//! - **spine** — [`spine::intercept`]: a request for the directory
//!   (`/spine-directory/FHIR/R4/…`) is answered by `spine::sds`; one in
//!   the proxy's form (`/https://endpoint/…`) is checked by `spine::proxy`
//!   and refused in the proxy's words (400, 403, 415, 502), or handed to
//!   the steps below with the serving API's path; any other request goes
//!   on as it is. Then, in one function:
//!
//! 0. **negotiate** — [`snapshot::Snapshot::api_for`] picks the mounted API
//!    by base path, and with it its booking state ([`state::Stores`]); for a FHIR API, [`negotiate`] fixes the answer format
//!    once and an XML body is read as JSON ([`fhir_xml`]);
//! 1. **route** — the API's [`routes::RouteTable`] gives the operation (or
//!    404/405); a version read (`…/_history/<vid>`) is routed as its read
//!    ([`versions::lookup`]);
//! 2. **check** — [`contract::Contract::check`] gives one
//!    [`contract::Verdict`]: every violation of the operation's rules, in
//!    the order headers, JWT, media types, parameters, operation rules,
//!    body schema;
//! 3. **decide** — under the booking state's writer lock for a stateful
//!    operation, [`scenario::ScenarioSet::select`] picks the scenario, and
//!    the verdict's [`contract::Ruling`] (against the scenario's
//!    [`contract::Waiver`]: `skip_checks`, `skip_rules`) rejects or serves; a PUT's
//!    `If-Match` is compared with the stored version
//!    ([`versions::check_if_match`]);
//! 4. **render** — [`answer::render_scenario`] (a static answer or one kept
//!    by [`repeat`] when it can be; or the spec fallback, or the
//!    rejection), then the scenario's state actions, then
//!    [`versions::conclude`] (the version a vread asked for, `Location`,
//!    304, `Prefer`);
//! 5. **finish** — the headers every answer carries; then, when XML was
//!    negotiated, the body written as FHIR XML.
//!
//! It returns a [`pipeline::Served`]; `handle` counts the hit
//! ([`app::Hits`]), journals it ([`journal`]), compresses the answer when
//! the client accepts a coding ([`encoding`]) and writes it.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod answer;
pub mod app;
pub mod certs;
pub mod check;
pub mod cli;
pub mod contract;
pub mod encoding;
pub mod error;
pub mod fhir;
pub mod fhir_xml;
pub mod journal;
pub mod jsonpath;
pub mod kept;
pub mod listen;
pub mod media;
pub mod memory;
pub mod mount;
pub mod negotiate;
pub mod pack;
pub mod pipeline;
pub mod postman;
pub mod reload;
pub mod repeat;
pub mod request;
pub mod response_check;
pub mod rewake;
pub mod routes;
pub mod sample;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod spec;
pub mod spine;
pub mod state;
pub mod template;
pub mod tls;
pub mod versions;
