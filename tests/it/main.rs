//! End-to-end tests: the real binary on a free port, spoken to over HTTP.

mod common;
mod gpc;
mod reload;
mod routes;
