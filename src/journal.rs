//! The request journal: what the mock received and why it answered as it
//! did, in a bounded ring buffer (`--journal-size`).
//!
//! Recording is cheap on purpose: the entry keeps the request's header map
//! and body bytes as they are (the body cut at [`BODY_CAP`]); turning them
//! into JSON, and cutting secrets short, happens only when an entry is read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};
use serde_json::{json, Value};

/// Bodies are kept up to this many bytes.
pub const BODY_CAP: usize = 64 * 1024;

/// Headers whose values are shown cut short.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Why no scenario answered, for near-miss reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub scenario: String,
    pub file: String,
    pub line: usize,
    /// The condition that failed, in words.
    pub failed: String,
}

/// What the request path learned about a request beyond the answer itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// Contract findings (rejections and warnings), as diagnostics.
    pub violations: Vec<String>,
    pub near_miss: Option<NearMiss>,
    /// The request checks refused the request.
    pub rejected: bool,
}

/// One journalled request.
#[derive(Debug)]
pub struct Entry {
    pub id: u64,
    pub time: DateTime<Utc>,
    pub method: Method,
    pub path_and_query: String,
    /// The request headers as `name: value` lines: one small allocation,
    /// rather than a header map whose values may share (and so keep alive)
    /// the connection's read buffers.
    pub headers: String,
    pub body: Bytes,
    pub body_len: usize,
    pub status: u16,
    pub duration_us: u64,
    pub operation: Option<String>,
    pub scenario: Option<String>,
    /// `example`, `schema` or `empty` when the spec answered.
    pub source: Option<String>,
    pub trace: Option<Box<Trace>>,
}

impl Entry {
    pub fn matched(&self) -> bool {
        self.scenario.is_some()
    }

    pub fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "time": self.time.to_rfc3339(),
            "method": self.method.as_str(),
            "path": self.path_and_query,
            "status": self.status,
            "operation": self.operation,
            "scenario": self.scenario,
            "source": self.source,
            "duration_ms": self.duration_us as f64 / 1000.0,
        })
    }

    /// The whole entry, secrets cut short.
    pub fn detail(&self) -> Value {
        let mut out = self.summary();
        let headers: Vec<Value> = self
            .headers
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| {
                let shown = if SECRET_HEADERS.contains(&name) {
                    truncate_secret(value)
                } else {
                    value.to_string()
                };
                json!([name, shown])
            })
            .collect();
        out["headers"] = Value::Array(headers);
        out["body"] = match serde_json::from_slice::<Value>(&self.body) {
            Ok(json) => json,
            Err(_) if self.body.is_empty() => Value::Null,
            Err(_) => Value::String(String::from_utf8_lossy(&self.body).into_owned()),
        };
        out["body_truncated"] = json!(self.body_len > self.body.len());
        out["body_bytes"] = json!(self.body_len);
        let trace = self.trace.as_deref().cloned().unwrap_or_default();
        out["contract_findings"] = json!(trace.violations);
        out["near_miss"] = near_miss_json(trace.near_miss.as_ref());
        out
    }
}

pub fn near_miss_json(miss: Option<&NearMiss>) -> Value {
    match miss {
        Some(miss) => {
            json!({ "scenario": miss.scenario, "file": miss.file, "line": miss.line, "failed_condition": miss.failed })
        }
        None => Value::Null,
    }
}

/// `Bearer eyJhbGciOi…(312 chars)`: enough to recognise, not to reuse.
fn truncate_secret(value: &str) -> String {
    let count = value.chars().count();
    if count <= 16 {
        return "…".to_string();
    }
    let head: String = value.chars().take(16).collect();
    format!("{head}…({count} chars)")
}

/// The bounded journal; newest last inside, newest first out.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    next_id: AtomicU64,
    /// Held only to push, pop or copy out `Arc`s; never across an await.
    entries: Mutex<VecDeque<Arc<Entry>>>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            next_id: AtomicU64::new(1),
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn record(&self, entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let entry = Arc::new(entry);
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Newest first.
    pub fn snapshot(&self) -> Vec<Arc<Entry>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.iter().rev().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<Entry>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.iter().find(|e| e.id == id).cloned()
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

/// Cuts a body to [`BODY_CAP`]; a cut body is copied so the journal does
/// not keep a large one alive.
pub fn capped(body: &Bytes) -> Bytes {
    if body.len() > BODY_CAP {
        Bytes::copy_from_slice(&body[..BODY_CAP])
    } else {
        body.clone()
    }
}

/// Headers as `name: value` lines (names are lower case in `http`).
pub fn header_lines(headers: &HeaderMap) -> String {
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 3)
        .sum();
    let mut out = String::with_capacity(size);
    for (name, value) in headers {
        out.push_str(name.as_str());
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(journal: &Journal, status: u16) -> Entry {
        Entry {
            id: journal.next_id(),
            time: Utc::now(),
            method: Method::GET,
            path_and_query: "/x".into(),
            headers: String::new(),
            body: Bytes::new(),
            body_len: 0,
            status,
            duration_us: 5,
            operation: None,
            scenario: None,
            source: None,
            trace: None,
        }
    }

    #[test]
    fn bounded_and_newest_first() {
        let journal = Journal::new(3);
        for status in [200, 201, 202, 203] {
            journal.record(entry(&journal, status));
        }
        let statuses: Vec<u16> = journal.snapshot().iter().map(|e| e.status).collect();
        assert_eq!(statuses, vec![203, 202, 201]);
        assert!(journal.get(1).is_none(), "the oldest fell out");
    }

    #[test]
    fn secrets_are_cut_short() {
        let journal = Journal::new(1);
        let mut e = entry(&journal, 200);
        let token = format!("Bearer {}", "x".repeat(300));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", token.parse().unwrap());
        e.headers = header_lines(&headers);
        let detail = e.detail();
        let shown = detail["headers"][0][1].as_str().unwrap();
        assert!(
            shown.starts_with("Bearer xxxxxxxxx") && shown.ends_with("(307 chars)"),
            "{shown}"
        );
    }
}
