//! End-to-end tests: the real binary on a free port, spoken to over HTTP.
#![allow(clippy::unwrap_used)]

mod check;
mod common;
mod contract;
mod gpc;
mod hardening;
mod integrity;
mod mount;
mod newcomer;
mod postman;
mod reload;
mod routes;
mod scenarios;
mod shapes;
mod state;
mod versions;
mod xml;
