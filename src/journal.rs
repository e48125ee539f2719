//! The request journal: what the mock received and why it answered as it
//! did, in a bounded ring buffer (`--journal-size`).
//!
//! Recording is cheap on purpose: the entry copies the request target and
//! headers into one buffer (secrets cut short) and the body bytes (cut at
//! [`BODY_CAP`]), takes no lock shared with other requests, and turns
//! nothing into JSON: that happens only when an entry is read.
//!
//! Memory is bounded in bytes as well as entries: an entry keeps at most
//! [`TARGET_CAP`] bytes of the request target, [`HEADER_CAP`] of header
//! lines and [`BODY_CAP`] of body, each cut visibly (`path_truncated`,
//! `headers_truncated`, `body_truncated` in its detail), and the journal
//! as a whole holds at most [`DEFAULT_BYTE_BUDGET`] (32 MiB): past it the
//! oldest entries are dropped, even when fewer than `--journal-size`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Value};

/// Bodies are kept up to this many bytes.
pub const BODY_CAP: usize = 64 * 1024;
/// Header lines (`name: value\n`, secrets already cut) are kept up to
/// about this many bytes: whole lines, the one crossing it cut.
pub const HEADER_CAP: usize = 16 * 1024;
/// The request target (path and query) is kept up to this many bytes.
pub const TARGET_CAP: usize = 8 * 1024;
/// What all journalled entries together may hold, by [`Entry::cost`].
pub const DEFAULT_BYTE_BUDGET: usize = 32 * 1024 * 1024;

/// Header and query parameter names holding any of these (any case) are
/// secrets: their values are recorded cut short (`Authorization`,
/// `X-Api-Key`, `Cookie`, `?access_token=`, `apikey`, …). The words
/// [`is_secret_name`] looks for; its test checks it finds each.
#[cfg(test)]
const SECRET_WORDS: &[&str] = &[
    "auth", "token", "key", "secret", "cookie", "password", "session",
];

/// Whether a header or query parameter of this name carries a secret
/// (any case). It runs for every journalled header, so it allocates
/// nothing and looks at each byte once, comparing only where a word of
/// [`SECRET_WORDS`] could start: as `str::contains` per word it was 5 % of
/// a care-record request's CPU under load (perf).
fn is_secret_name(name: &str) -> bool {
    fn at(rest: &[u8], word: &[u8]) -> bool {
        rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word)
    }
    let bytes = name.as_bytes();
    (0..bytes.len()).any(|i| {
        let rest = &bytes[i..];
        match rest[0].to_ascii_lowercase() {
            b'a' => at(rest, b"auth"),
            b't' => at(rest, b"token"),
            b'k' => at(rest, b"key"),
            b's' => at(rest, b"secret") || at(rest, b"session"),
            b'c' => at(rest, b"cookie"),
            b'p' => at(rest, b"password"),
            _ => false,
        }
    })
}

/// [`is_secret_name`] for a header name, which `http` keeps in lower
/// case: plain byte comparisons, no case folding. Called once per header
/// (it was twice): with `write_decimal` for the cut secret's length, the
/// journal's work on a metadata request's head fell from about 2.9 k to
/// 1.7 k instructions (callgrind).
///
/// The names nearly every GP Connect request sends are answered by one
/// `match` (a length and a comparison) before any scan.
fn is_secret_header(name: &http::HeaderName) -> bool {
    match name.as_str() {
        "authorization" => return true,
        "host" | "accept" | "content-type" | "content-length" | "user-agent"
        | "accept-encoding" | "connection" | "ssp-traceid" | "ssp-from" | "ssp-to"
        | "ssp-interactionid" => return false,
        _ => {}
    }
    let bytes = name.as_str().as_bytes();
    bytes.iter().enumerate().any(|(i, byte)| {
        let rest = &bytes[i..];
        match byte {
            b'a' => rest.starts_with(b"auth"),
            b't' => rest.starts_with(b"token"),
            b'k' => rest.starts_with(b"key"),
            b's' => rest.starts_with(b"secret") || rest.starts_with(b"session"),
            b'c' => rest.starts_with(b"cookie"),
            b'p' => rest.starts_with(b"password"),
            _ => false,
        }
    })
}

/// The request target with secret query values cut short.
fn redact_query(target: &str) -> Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return Cow::Borrowed(target);
    };
    let secret = |pair: &str| {
        let name = pair.split('=').next().unwrap_or_default();
        is_secret_name(&percent_encoding::percent_decode_str(name).decode_utf8_lossy())
    };
    if !query.split('&').any(secret) {
        return Cow::Borrowed(target);
    }
    let mut out = Vec::with_capacity(target.len());
    out.extend_from_slice(path.as_bytes());
    out.push(b'?');
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            out.push(b'&');
        }
        match pair.split_once('=') {
            Some((name, value)) if secret(pair) => {
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                write_cut_secret(value.as_bytes(), &mut out);
            }
            _ => out.extend_from_slice(pair.as_bytes()),
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Why no scenario answered, for near-miss reports: worked out by
/// selection (see [`crate::scenario::select`]).
pub use crate::scenario::NearMiss;

/// What the request path learned about a request beyond the answer itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// Contract findings (rejections and warnings), as diagnostics.
    pub violations: Vec<String>,
    pub near_miss: Option<NearMiss>,
}

/// One journalled request.
#[derive(Debug)]
pub struct Entry {
    pub id: u64,
    pub time: DateTime<Utc>,
    pub method: Method,
    /// The request target and headers as received: see [`RequestHead`].
    pub head: RequestHead,
    pub body: Bytes,
    pub body_len: usize,
    pub status: u16,
    pub duration_us: u64,
    /// The mounted API, operation and scenario that answered, as the
    /// header values the snapshot built once (shared, not copied), and what
    /// a spec fallback was made from (`example`, `schema` or `empty`).
    pub api: Option<HeaderValue>,
    pub operation: Option<HeaderValue>,
    pub scenario: Option<HeaderValue>,
    pub source: Option<&'static str>,
    pub trace: Option<Box<Trace>>,
}

fn header_text(value: Option<&HeaderValue>) -> Option<&str> {
    value.and_then(|value| value.to_str().ok())
}

impl Entry {
    pub fn matched(&self) -> bool {
        self.scenario.is_some()
    }

    pub fn api(&self) -> Option<&str> {
        header_text(self.api.as_ref())
    }

    pub fn operation(&self) -> Option<&str> {
        header_text(self.operation.as_ref())
    }

    pub fn scenario(&self) -> Option<&str> {
        header_text(self.scenario.as_ref())
    }

    pub fn source(&self) -> Option<&str> {
        self.source
    }

    /// The bytes this entry holds, roughly: what the byte budget counts.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.head.bytes.len()
            + self.body.len()
            + self.trace.as_deref().map_or(0, |trace| {
                std::mem::size_of::<Trace>()
                    + trace.violations.iter().map(String::len).sum::<usize>()
                    + 256 * usize::from(trace.near_miss.is_some())
            })
    }

    pub fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "time": self.time.to_rfc3339(),
            "method": self.method.as_str(),
            "path": self.head.path_and_query(),
            "status": self.status,
            "api": self.api(),
            "operation": self.operation(),
            "scenario": self.scenario(),
            "source": self.source(),
            "duration_ms": self.duration_us as f64 / 1000.0,
        })
    }

    /// The whole entry, secrets cut short.
    pub fn detail(&self) -> Value {
        let mut out = self.summary();
        let headers: Vec<Value> = self
            .head
            .header_lines()
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| json!([name, value]))
            .collect();
        out["headers"] = Value::Array(headers);
        out["path_truncated"] = json!(self.head.target_truncated);
        out["headers_truncated"] = json!(self.head.headers_truncated());
        out["header_bytes"] = json!(self.head.headers_len);
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

/// Writes `Bearer eyJhbGciOi…(312 chars)`: enough to recognise, not to
/// reuse. Tokens are ASCII, so the common case counts bytes and copies 16.
fn write_cut_secret(value: &[u8], out: &mut Vec<u8>) {
    const SHOWN: usize = 16;
    let (head, count) = if value.is_ascii() {
        (
            std::borrow::Cow::Borrowed(&value[..value.len().min(SHOWN)]),
            value.len(),
        )
    } else {
        let text = String::from_utf8_lossy(value);
        let head: String = text.chars().take(SHOWN).collect();
        (
            std::borrow::Cow::Owned(head.into_bytes()),
            text.chars().count(),
        )
    };
    if count <= SHOWN {
        out.extend_from_slice("…".as_bytes());
        return;
    }
    out.extend_from_slice(&head);
    out.extend_from_slice("…(".as_bytes());
    write_decimal(count, out);
    out.extend_from_slice(b" chars)");
}

/// The bytes [`write_cut_secret`] writes for an ASCII value, as tokens
/// are (for another the buffer may grow or shrink once; not scanning the
/// value twice costs less).
fn cut_secret_len(value: &[u8]) -> usize {
    const SHOWN: usize = 16;
    if value.len() <= SHOWN {
        return "…".len();
    }
    let digits = value.len().checked_ilog10().unwrap_or(0) as usize + 1;
    SHOWN + "…(".len() + digits + " chars)".len()
}

/// `number` in decimal, without the formatting machinery.
fn write_decimal(mut number: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// The bounded journal: a ring of slots, one per id modulo the capacity.
///
/// Requests never share a lock: each swaps its entry into the slot of its
/// own id (uncontended, unless an admin reader is copying that slot out)
/// and drops the entry it replaced after letting go. Readers copy the
/// `Arc`s out and order them by id.
pub struct Journal {
    next_id: AtomicU64,
    slots: Box<[Slot]>,
    /// The bytes the entries in the slots hold, by [`Entry::cost`].
    held: AtomicUsize,
    budget: usize,
    /// Eviction goes oldest first from here (an id), one evicter at a time.
    evict_from: AtomicU64,
    evicting: Mutex<()>,
}

/// One slot of the ring, with the kept entry's id and cost beside the
/// entry, so a writer decides and accounts without reading the entry it
/// replaces (written a journal's length of requests ago, so out of
/// cache: that read was a third of `record`'s time in `perf`, a small GET
/// at 50 connections). Slots are not padded to a cache line each: a
/// padded ring is four times the memory, and in `perf` a writer then
/// missed the cache on its own slot at every request; neither layout was
/// faster in requests/s beyond the noise (`benches/load.sh`'s read case).
#[derive(Default)]
struct Slot(Mutex<Option<Stored>>);

struct Stored {
    id: u64,
    cost: usize,
    entry: Arc<Entry>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("capacity", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// A journal of `capacity` entries within [`DEFAULT_BYTE_BUDGET`].
    pub fn new(capacity: usize) -> Self {
        Self::with_budget(capacity, DEFAULT_BYTE_BUDGET)
    }

    /// A journal of at most `capacity` entries and `budget` bytes.
    pub fn with_budget(capacity: usize, budget: usize) -> Self {
        Self {
            next_id: AtomicU64::new(1),
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            held: AtomicUsize::new(0),
            budget,
            evict_from: AtomicU64::new(0),
            evicting: Mutex::new(()),
        }
    }

    /// The bytes held now, by [`Entry::cost`].
    pub fn held_bytes(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn is_enabled(&self) -> bool {
        !self.slots.is_empty()
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn slot(&self, id: u64) -> Option<MutexGuard<'_, Option<Stored>>> {
        let capacity = self.slots.len() as u64;
        if capacity == 0 {
            return None;
        }
        let slot = usize::try_from(id % capacity)
            .ok()
            .and_then(|index| self.slots.get(index))?;
        Some(
            slot.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Stores `entry` in the slot of its id, unless a newer entry (one
    /// `capacity` requests later, finished first) already holds it.
    pub fn record(&self, entry: Entry) {
        let id = entry.id;
        let cost = entry.cost();
        let kept = Stored {
            id,
            cost,
            entry: Arc::new(entry),
        };
        let (stored, replaced) = {
            let Some(mut slot) = self.slot(id) else {
                return;
            };
            match slot.as_ref() {
                Some(newer) if newer.id > id => (false, Some(kept)),
                _ => (true, slot.replace(kept)),
            }
        };
        if stored {
            // One change of the shared count, not an add and a release.
            let old = replaced.as_ref().map_or(0, |old| old.cost);
            if cost >= old {
                self.held.fetch_add(cost - old, Ordering::Relaxed);
            } else {
                self.release(old - cost);
            }
        }
        drop(replaced);
        if self.held.load(Ordering::Relaxed) > self.budget {
            self.evict(id);
        }
    }

    fn release(&self, cost: usize) {
        // Never below zero, whatever the interleaving of concurrent writers.
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(cost))
            });
    }

    /// Drops the oldest entries (never `newest`) until the journal is
    /// within its byte budget. One thread evicts at a time; another that
    /// finds it busy leaves the work to it.
    fn evict(&self, newest: u64) {
        let Ok(_evicting) = self.evicting.try_lock() else {
            return;
        };
        let capacity = self.slots.len() as u64;
        let oldest_possible = newest.saturating_sub(capacity.saturating_sub(1));
        let mut id = self.evict_from.load(Ordering::Relaxed).max(oldest_possible);
        while id < newest && self.held.load(Ordering::Relaxed) > self.budget {
            let removed = self.slot(id).and_then(|mut slot| match slot.as_ref() {
                Some(kept) if kept.id == id => slot.take(),
                _ => None,
            });
            if let Some(kept) = removed {
                self.release(kept.cost);
            }
            id += 1;
        }
        self.evict_from.fetch_max(id, Ordering::Relaxed);
    }

    /// Newest first.
    pub fn snapshot(&self) -> Vec<Arc<Entry>> {
        let mut entries: Vec<Arc<Entry>> = self
            .slots
            .iter()
            .filter_map(|slot| {
                slot.0
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .as_ref()
                    .map(|kept| kept.entry.clone())
            })
            .collect();
        entries.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.id));
        entries
    }

    pub fn get(&self, id: u64) -> Option<Arc<Entry>> {
        let slot = self.slot(id)?;
        let kept = slot.as_ref().filter(|kept| kept.id == id)?;
        Some(kept.entry.clone())
    }

    pub fn clear(&self) {
        for slot in self.slots.iter() {
            let removed = slot
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(kept) = &removed {
                self.release(kept.cost);
            }
            drop(removed);
        }
    }
}

/// The first [`BODY_CAP`] bytes of a body, copied: the request's own
/// `Bytes` share the connection's read buffer, which a journalled slice
/// would keep alive long after the connection is gone.
pub fn capped(body: &Bytes) -> Bytes {
    Bytes::copy_from_slice(&body[..body.len().min(BODY_CAP)])
}

/// A request's target and its headers as `name: value` lines, copied into
/// one buffer: a single small allocation, rather than a header map whose
/// values may share (and so keep alive) the connection's read buffers.
/// Made text only when read, invalid UTF-8 replaced then. The target is
/// cut at [`TARGET_CAP`] bytes and the header lines at [`HEADER_CAP`].
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    bytes: Box<[u8]>,
    target_len: usize,
    target_truncated: bool,
    /// The header lines' size before the cut.
    headers_len: usize,
}

/// Marks a cut line or target.
const CUT_MARK: &str = "…(truncated)";

impl RequestHead {
    pub fn new(path_and_query: &str, headers: &HeaderMap) -> Self {
        let redacted = redact_query(path_and_query);
        let path_and_query = redacted.as_ref();
        let target_truncated = path_and_query.len() > TARGET_CAP;
        let target = if target_truncated {
            let mut end = TARGET_CAP;
            while !path_and_query.is_char_boundary(end) {
                end -= 1;
            }
            &path_and_query[..end]
        } else {
            path_and_query
        };
        // One look at each name: whether it is a secret, kept for the
        // first 128 headers (`--max-headers` is 100 by default).
        let mut secrets: u128 = 0;
        // A cut secret is 16 characters and its length: 48 bytes covers it.
        let mut headers_len = 0;
        // What is written: a cut secret's exact length where it is ASCII,
        // so the buffer is not shrunk (a reallocation) when boxed.
        let mut written = 0;
        for (index, (name, value)) in headers.iter().enumerate() {
            let is_secret = is_secret_header(name);
            if is_secret && index < 128 {
                secrets |= 1 << index;
            }
            let (shown, exact) = if is_secret {
                (value.len().min(48), cut_secret_len(value.as_bytes()))
            } else {
                (value.len(), value.len())
            };
            headers_len += name.as_str().len() + shown + 3;
            written += name.as_str().len() + exact + 3;
        }
        let size = target.len()
            + usize::from(target_truncated) * CUT_MARK.len()
            + written.min(HEADER_CAP + CUT_MARK.len() + 1);
        let mut bytes = Vec::with_capacity(size);
        bytes.extend_from_slice(target.as_bytes());
        if target_truncated {
            bytes.extend_from_slice(CUT_MARK.as_bytes());
        }
        let target_len = bytes.len();
        let secret = |index: usize, name: &http::HeaderName| match index {
            0..128 => secrets & (1 << index) != 0,
            _ => is_secret_header(name),
        };
        for (index, (name, value)) in headers.iter().enumerate() {
            let room = (target_len + HEADER_CAP).saturating_sub(bytes.len());
            if room == 0 {
                break;
            }
            let start = bytes.len();
            bytes.extend_from_slice(name.as_str().as_bytes());
            bytes.extend_from_slice(b": ");
            // Secrets are cut short as they are recorded: the journal
            // never holds a usable token (and a JWT is most of a head).
            if secret(index, name) {
                write_cut_secret(value.as_bytes(), &mut bytes);
            } else {
                bytes.extend_from_slice(value.as_bytes());
            }
            if bytes.len() - start >= room {
                // The line crossing the cap is kept up to it, marked.
                bytes.truncate(start + room);
                bytes.extend_from_slice(CUT_MARK.as_bytes());
                bytes.push(b'\n');
                break;
            }
            bytes.push(b'\n');
        }
        Self {
            bytes: bytes.into_boxed_slice(),
            target_len,
            target_truncated,
            headers_len,
        }
    }

    pub fn path_and_query(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes[..self.target_len])
    }

    /// `name: value` lines (names are lower case in `http`).
    pub fn header_lines(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes[self.target_len..])
    }

    fn header_bytes(&self) -> usize {
        self.bytes.len() - self.target_len
    }

    /// Whether the header lines were cut at [`HEADER_CAP`].
    pub fn headers_truncated(&self) -> bool {
        self.headers_len > self.header_bytes()
    }
}

#[cfg(test)]
mod tests {
    /// Any header or query parameter whose name speaks of a secret is cut
    /// short; others are kept as sent.
    #[test]
    fn every_secret_word_is_recognised_in_any_case_and_place() {
        for word in SECRET_WORDS {
            assert!(is_secret_name(word), "{word}");
            assert!(
                is_secret_name(&format!("X-{}-Id", word.to_uppercase())),
                "{word}"
            );
        }
        for plain in [
            "ssp-traceid",
            "accept",
            "content-type",
            "ssp-interactionid",
            "a",
            "",
        ] {
            assert!(!is_secret_name(plain), "{plain}");
        }
    }

    /// Header names (lower case in `http`) are judged as any other name.
    #[test]
    fn header_names_are_judged_like_other_names() {
        let names = SECRET_WORDS
            .iter()
            .flat_map(|word| [word.to_string(), format!("x-{word}-id"), format!("{word}s")])
            .chain(["ssp-traceid", "accept", "content-type", "a", "to", "se"].map(String::from))
            // The names the fast path answers without a scan.
            .chain(
                [
                    "authorization",
                    "host",
                    "content-length",
                    "user-agent",
                    "accept-encoding",
                    "connection",
                    "ssp-from",
                    "ssp-to",
                    "ssp-interactionid",
                ]
                .map(String::from),
            );
        for name in names {
            let header = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(is_secret_header(&header), is_secret_name(&name), "{name}");
        }
        let mut out = Vec::new();
        for number in [0, 7, 10, 1234567] {
            write_decimal(number, &mut out);
            out.push(b' ');
        }
        assert_eq!(out, b"0 7 10 1234567 ");
        for length in [0, 1, 16, 17, 99, 100, 1234, 100_000] {
            let value = "x".repeat(length);
            let mut out = Vec::new();
            write_cut_secret(value.as_bytes(), &mut out);
            assert_eq!(cut_secret_len(value.as_bytes()), out.len(), "{length}");
        }
    }

    #[test]
    fn secrets_are_cut_wherever_they_appear() {
        let mut headers = HeaderMap::new();
        let long = "s3cr3t-value-that-is-long-enough-to-cut";
        for name in [
            "x-auth-token",
            "x-client-secret",
            "x-session-id",
            "ssp-from",
        ] {
            headers.insert(
                http::HeaderName::from_static(name),
                HeaderValue::from_static(long),
            );
        }
        let head = RequestHead::new(
            &format!("/fhir/Patient?access_token={long}&identifier=x&apiKey={long}"),
            &headers,
        );
        let target = head.path_and_query();
        assert!(!target.contains(long), "{target}");
        assert!(target.contains("identifier=x"), "{target}");
        assert!(
            target.contains("access_token=s3cr3t-value-tha…("),
            "{target}"
        );
        let lines = head.header_lines();
        assert_eq!(
            lines.matches(long).count(),
            1,
            "only ssp-from is kept: {lines}"
        );
        assert!(lines.contains(&format!("ssp-from: {long}")), "{lines}");
    }

    use super::*;

    fn entry(journal: &Journal, status: u16) -> Entry {
        Entry {
            id: journal.next_id(),
            time: Utc::now(),
            method: Method::GET,
            head: RequestHead::new("/x", &HeaderMap::new()),
            body: Bytes::new(),
            body_len: 0,
            status,
            duration_us: 5,
            api: None,
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
    fn a_late_older_entry_never_replaces_a_newer_one() {
        let journal = Journal::new(2);
        let old = entry(&journal, 200); // id 1
        let _skipped = journal.next_id(); // id 2
        let newer = entry(&journal, 201); // id 3, same slot as id 1
        journal.record(newer);
        journal.record(old);
        let ids: Vec<u64> = journal.snapshot().iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![3]);
        assert!(journal.get(1).is_none());
        journal.clear();
        assert!(journal.snapshot().is_empty() && journal.get(3).is_none());
    }

    #[test]
    fn request_heads_keep_order_and_replace_invalid_text() {
        let mut headers = HeaderMap::new();
        headers.insert("ssp-from", HeaderValue::from_static("200000000359"));
        headers.append(
            "x-odd",
            HeaderValue::from_bytes(b"caf\xe9").expect("obs-text is allowed"),
        );
        let head = RequestHead::new("/fhir/metadata?a=1", &headers);
        assert_eq!(head.path_and_query(), "/fhir/metadata?a=1");
        assert_eq!(
            head.header_lines(),
            "ssp-from: 200000000359\nx-odd: caf\u{fffd}\n"
        );
    }

    #[test]
    fn secrets_are_cut_by_characters() {
        let cut = |value: &[u8]| {
            let mut out = Vec::new();
            write_cut_secret(value, &mut out);
            String::from_utf8(out).expect("text")
        };
        assert_eq!(cut(b"short"), "…");
        assert_eq!(
            cut("ééééééééééééééééé".as_bytes()),
            "éééééééééééééééé…(17 chars)"
        );
        assert_eq!(
            cut(b"Bearer abcdefghijklmnop"),
            "Bearer abcdefghi…(23 chars)"
        );
    }

    #[test]
    fn recorded_bodies_do_not_share_the_request_buffer() {
        let buffer = Bytes::from(vec![b'x'; 100]);
        let body = buffer.slice(10..20);
        let kept = capped(&body);
        assert_eq!(kept, body);
        assert_ne!(kept.as_ptr(), body.as_ptr());
    }

    #[test]
    fn secrets_are_cut_short() {
        let journal = Journal::new(1);
        let mut e = entry(&journal, 200);
        let token = format!("Bearer {}", "x".repeat(300));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", token.parse().unwrap());
        e.head = RequestHead::new("/x", &headers);
        let detail = e.detail();
        let shown = detail["headers"][0][1].as_str().unwrap();
        assert!(
            shown.starts_with("Bearer xxxxxxxxx") && shown.ends_with("(307 chars)"),
            "{shown}"
        );
    }

    #[test]
    fn huge_heads_are_cut_visibly() {
        let mut headers = HeaderMap::new();
        headers.insert("ssp-from", HeaderValue::from_static("200000000359"));
        for i in 0..40 {
            let name = http::HeaderName::from_bytes(format!("x-pad-{i}").as_bytes()).unwrap();
            headers.insert(name, HeaderValue::from_str(&"v".repeat(10_000)).unwrap());
        }
        let target = format!("/fhir/metadata?{}", "q".repeat(20_000));
        let head = RequestHead::new(&target, &headers);
        assert!(head.bytes.len() <= TARGET_CAP + HEADER_CAP + 2 * CUT_MARK.len() + 1);
        assert!(head.headers_truncated());
        assert!(head.header_lines().starts_with("ssp-from: 200000000359\n"));
        assert!(head.header_lines().ends_with("…(truncated)\n"));
        assert!(head.path_and_query().ends_with("q…(truncated)"));
        let journal = Journal::new(1);
        let mut e = entry(&journal, 200);
        e.head = head;
        let detail = e.detail();
        assert_eq!(detail["headers_truncated"], json!(true));
        assert_eq!(detail["path_truncated"], json!(true));
        assert!(detail["header_bytes"].as_u64().unwrap() > 400_000);
        let small = RequestHead::new("/x", &HeaderMap::new());
        assert!(!small.headers_truncated() && !small.target_truncated);
    }

    #[test]
    fn the_journal_keeps_within_its_byte_budget() {
        let journal = Journal::with_budget(1000, 1024 * 1024);
        for _ in 0..500 {
            let mut e = entry(&journal, 200);
            e.body = Bytes::from(vec![b'x'; BODY_CAP]);
            e.body_len = BODY_CAP;
            journal.record(e);
            assert!(
                journal.held_bytes() <= 1024 * 1024 + BODY_CAP + 1024,
                "{}",
                journal.held_bytes()
            );
        }
        let kept = journal.snapshot();
        assert!(kept.len() < 20 && !kept.is_empty(), "{}", kept.len());
        assert_eq!(kept[0].id, 500, "the newest is kept");
        let total: usize = kept.iter().map(|e| e.cost()).sum();
        assert_eq!(total, journal.held_bytes());
        journal.clear();
        assert_eq!(journal.held_bytes(), 0);
    }
}
