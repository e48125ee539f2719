//! End-to-end tests: the real binary on a free port, spoken to over HTTP.
#![allow(clippy::unwrap_used)]

mod appointments1;
mod check;
mod common;
mod contract;
mod contract1;
mod documents;
mod foundations;
mod gpc;
#[allow(dead_code, unused_imports)] // used by the 1.x tests as they land
mod gpc1;
mod hardening;
mod integrity;
mod mount;
mod newcomer;
mod postman;
mod reload;
mod routes;
mod scenarios;
mod shapes;
mod spine;
mod state;
mod structured;
mod versions;
mod xml;
