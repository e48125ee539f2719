//! The repeat cache: the answers of a scenario whose templates read the
//! request and the booking state, kept for the next identical request.
//!
//! A template that reads only the request's path, query, body and headers
//! named one by one (`request.headers.host`), the booking state and the
//! clock (`now`, `date_add`, at the second) renders the same answer for the
//! same request, state and second — except for
//! what is fresh per request ([`Fresh`]): `request.id`, and
//! `request.trace_id` where it is only written out. Such answers are
//! rendered with sentinels in their place, kept (a few per scenario) under a
//! keyed 128-bit hash of the request's path, query, body, those headers and
//! the second,
//! with the state they were rendered from; an identical request finds it
//! and gets the sentinels replaced by its own values. A state change
//! (booking, reset) or the next second renders anew. Concurrent identical
//! requests wait for one render rather than each rendering: at the turn of
//! a second, fifty connections asking for a 35 ms structured record would
//! otherwise render it fifty times.
//!
//! A trace id that is not plain text (letters, digits, `-`, `_`, `.`, `:`)
//! could be escaped differently in JSON, XML and headers than the sentinel
//! it replaces: such a request is rendered for itself, and nothing is kept.
//!
//! It pays where the answer is built from data by loops and helpers: the
//! default pack's care record (one generic template over the seeded record
//! collections) went from 1,041 to 6,553 requests/s at one connection, 7.9 %
//! to 48.4 % of the bare server (`benches/load.sh`, `carerecord`, one run
//! each on this 2-core machine). The structured record (62,884 bytes, every
//! area) went from 0.3 % to 36.3 % of the bare server at 50 connections
//! (`structured`, one worker thread, one run). A kept answer's XML is
//! written once too, and where the sentinels stand in a kept body or XML is
//! found once, not searched for in each copy.

use foldhash::quality::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::HeaderValue;

use crate::answer::Answer;
use crate::request::{Fresh, MockRequest};
use crate::state::StateData;

/// The id a cached answer is rendered with: twenty digits no real request
/// id reaches (ids count up from 1000).
pub const SENTINEL_ID: u64 = 18_446_744_073_709_100_017;

/// The trace id a cached answer is rendered with: UUID-shaped, as trace ids
/// are, and not one a consumer would send.
pub const SENTINEL_TRACE_ID: &str = "5e471ee1-7ace-4d00-8000-000000000000";

/// Answers kept per scenario.
const KEPT: usize = 8;

/// The longest trace id put in for the sentinel (a UUID has 36 bytes).
const MAX_TRACE_ID: usize = 128;

struct Entry {
    key: (u64, u64),
    /// The state it was rendered from: held, so its address is not reused.
    state: Arc<StateData>,
    /// The answer, once rendered (the first request of a key renders it,
    /// identical ones meanwhile wait for it).
    answer: Arc<OnceLock<Kept>>,
    /// Its body written as FHIR XML (sentinels and all), on first use.
    xml: Arc<OnceLock<Option<Kept<Bytes>>>>,
}

/// A kept answer (or its XML) and where the sentinels stand in its body:
/// found once, so each request's copy is written without a search.
#[derive(Debug)]
struct Kept<T = Answer> {
    kept: T,
    marks: Marks,
}

/// What the request path needs to write a kept answer as XML: the kept XML
/// (sentinels and all), the values to put in it, and the body handed out,
/// which the XML stands for only while the answer still holds it.
#[derive(Debug, Clone)]
pub struct Repeat {
    xml: Arc<OnceLock<Option<Kept<Bytes>>>>,
    /// The kept body, with the sentinels: what the XML is written from.
    kept: Bytes,
    id: u64,
    trace_id: String,
    body: Bytes,
}

impl Repeat {
    /// The XML of `body` — when `body` is the one handed out — from the
    /// kept XML, which `to_xml` writes from the kept body once per kept
    /// answer; `None` when the body changed since or cannot be XML.
    pub fn xml(&self, body: &Bytes, to_xml: impl FnOnce(&Bytes) -> Option<Bytes>) -> Option<Bytes> {
        let same = body.as_ptr() == self.body.as_ptr() && body.len() == self.body.len();
        if !same {
            return None;
        }
        let xml = self
            .xml
            .get_or_init(|| {
                to_xml(&self.kept).map(|xml| Kept {
                    marks: Marks::of(&xml),
                    kept: xml,
                })
            })
            .as_ref()?;
        let fresh = Fresh {
            id: self.id,
            trace_id: &self.trace_id,
        };
        Some(xml.marks.fill(&xml.kept, fresh))
    }
}

/// One scenario's kept answers.
pub struct RepeatCache {
    hashers: (RandomState, RandomState),
    /// The headers its templates read (`request.headers.host`): part of
    /// the key.
    headers: Vec<String>,
    entries: Mutex<VecDeque<Entry>>,
}

impl std::fmt::Debug for RepeatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepeatCache").finish_non_exhaustive()
    }
}

impl Default for RepeatCache {
    fn default() -> Self {
        Self::keyed_by(Vec::new())
    }
}

impl RepeatCache {
    /// A cache whose answers depend on the request's `headers` (lower-case
    /// names) too.
    pub fn keyed_by(mut headers: Vec<String>) -> Self {
        headers.sort();
        headers.dedup();
        Self {
            hashers: (RandomState::default(), RandomState::default()),
            headers,
            entries: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }

    fn key(&self, request: &MockRequest, second: i64) -> (u64, u64) {
        let hash = |state: &RandomState| {
            let mut hasher = state.build_hasher();
            request.path.hash(&mut hasher);
            request.raw_query.hash(&mut hasher);
            request.body.hash(&mut hasher);
            for name in &self.headers {
                request
                    .headers
                    .get(name.as_str())
                    .map(|v| v.as_bytes())
                    .hash(&mut hasher);
            }
            second.hash(&mut hasher);
            hasher.finish()
        };
        (hash(&self.hashers.0), hash(&self.hashers.1))
    }

    /// The answer to `request` in `state`: kept, or rendered by `render`
    /// (given the fresh values to render with: the sentinels) and kept; the
    /// request's `fresh` values in place of the sentinels either way. A
    /// trace id that is not plain is rendered for itself (no [`Repeat`]).
    pub fn answer(
        &self,
        request: &MockRequest,
        state: &Arc<StateData>,
        fresh: Fresh<'_>,
        render: impl FnOnce(Fresh<'_>) -> Answer,
    ) -> (Answer, Option<Repeat>) {
        if !is_plain(fresh.trace_id) {
            return (render(fresh), None);
        }
        let key = self.key(request, chrono::Utc::now().timestamp());
        let (cell, xml) = {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match entries
                .iter()
                .find(|e| e.key == key && Arc::ptr_eq(&e.state, state))
            {
                Some(kept) => (kept.answer.clone(), kept.xml.clone()),
                None => {
                    if entries.len() == KEPT {
                        entries.pop_front();
                    }
                    let entry = Entry {
                        key,
                        state: state.clone(),
                        answer: Arc::new(OnceLock::new()),
                        xml: Arc::new(OnceLock::new()),
                    };
                    let cells = (entry.answer.clone(), entry.xml.clone());
                    entries.push_back(entry);
                    cells
                }
            }
        };
        // Rendered outside the lock: other keys are served meanwhile.
        let sentinels = Fresh {
            id: SENTINEL_ID,
            trace_id: SENTINEL_TRACE_ID,
        };
        let kept = cell.get_or_init(|| {
            let answer = render(sentinels);
            Kept {
                marks: Marks::of(&answer.body),
                kept: answer,
            }
        });
        let answer = with_fresh(kept, fresh);
        let kept = kept.kept.body.clone();
        let repeat = Repeat {
            xml,
            kept,
            id: fresh.id,
            trace_id: fresh.trace_id.to_string(),
            body: answer.body.clone(),
        };
        (answer, Some(repeat))
    }
}

/// Whether `trace_id` reads the same in JSON, XML and a header as written:
/// what can stand where its sentinel was rendered.
fn is_plain(trace_id: &str) -> bool {
    !trace_id.is_empty()
        && trace_id.len() <= MAX_TRACE_ID
        && trace_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A sentinel of [`Fresh`].
#[derive(Debug, Clone, Copy)]
enum Sentinel {
    Id,
    TraceId,
}

/// Where the sentinels stand in a text, in order: (offset, which).
#[derive(Debug, Default)]
struct Marks(Vec<(usize, Sentinel)>);

impl Marks {
    fn of(text: &[u8]) -> Marks {
        let id = SENTINEL_ID.to_string();
        let mut marks: Vec<(usize, Sentinel)> = memchr::memmem::find_iter(text, id.as_bytes())
            .map(|at| (at, Sentinel::Id))
            .chain(
                memchr::memmem::find_iter(text, SENTINEL_TRACE_ID.as_bytes())
                    .map(|at| (at, Sentinel::TraceId)),
            )
            .collect();
        marks.sort_unstable_by_key(|(at, _)| *at);
        Marks(marks)
    }

    /// `text` (the one these marks were found in) with each sentinel
    /// replaced by its `fresh` value; the same bytes when it holds none.
    fn fill(&self, text: &Bytes, fresh: Fresh<'_>) -> Bytes {
        if self.0.is_empty() {
            return text.clone();
        }
        let id = fresh.id.to_string();
        let sentinel_id = SENTINEL_ID.to_string();
        let mut out = Vec::with_capacity(text.len() + 64);
        let mut from = 0;
        for &(at, sentinel) in &self.0 {
            let (value, len) = match sentinel {
                Sentinel::Id => (id.as_bytes(), sentinel_id.len()),
                Sentinel::TraceId => (fresh.trace_id.as_bytes(), SENTINEL_TRACE_ID.len()),
            };
            out.extend_from_slice(&text[from..at]);
            out.extend_from_slice(value);
            from = at + len;
        }
        out.extend_from_slice(&text[from..]);
        Bytes::from(out)
    }
}

/// The kept answer, copied with every sentinel in its body and headers
/// replaced by its `fresh` value.
fn with_fresh(kept: &Kept, fresh: Fresh<'_>) -> Answer {
    let mut answer = kept.kept.copy_with_room();
    answer.body = kept.marks.fill(&answer.body, fresh);
    let id = SENTINEL_ID.to_string();
    for value in answer.headers.values_mut() {
        let holds = memchr::memmem::find(value.as_bytes(), id.as_bytes()).is_some()
            || memchr::memmem::find(value.as_bytes(), SENTINEL_TRACE_ID.as_bytes()).is_some();
        if holds {
            let text = Bytes::copy_from_slice(value.as_bytes());
            let filled = Marks::of(&text).fill(&text, fresh);
            if let Ok(new) = HeaderValue::from_maybe_shared(filled) {
                *value = new;
            }
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, StatusCode};
    use std::cell::Cell;

    fn request(body: &str) -> MockRequest {
        traced(body, "9b2a7b5e-0c1d-4e2f-8a3b-4c5d6e7f8091")
    }

    fn traced(body: &str, trace_id: &str) -> MockRequest {
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(trace_id) {
            headers.insert("ssp-traceid", value);
        }
        MockRequest::new(
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            headers,
            Bytes::from(body.to_string()),
        )
    }

    fn rendered(fresh: Fresh<'_>) -> Answer {
        let id = fresh.id;
        Answer::new(
            StatusCode::OK,
            "application/json",
            Bytes::from(format!("{{\"id\":\"{id}\",\"again\":\"{id}\"}}")),
        )
    }

    #[test]
    fn an_identical_request_in_the_same_state_is_served_with_its_own_id() {
        let cache = RepeatCache::default();
        let state = Arc::new(StateData::default());
        let renders = Cell::new(0);
        let render = |fresh: Fresh<'_>| {
            renders.set(renders.get() + 1);
            rendered(fresh)
        };
        let (a, b) = (request("a"), request("a"));
        let (first, repeat) = cache.answer(&a, &state, a.fresh(1001), render);
        let (second, _) = cache.answer(&b, &state, b.fresh(1002), render);
        let repeat = repeat.expect("kept");
        assert_eq!(&first.body[..], br#"{"id":"1001","again":"1001"}"#);
        assert_eq!(&second.body[..], br#"{"id":"1002","again":"1002"}"#);
        assert_eq!(renders.get(), 1);
        // The XML of the body handed out, converted once, with the id put in.
        let xml = repeat.xml(&first.body, |kept| {
            assert!(String::from_utf8_lossy(kept).contains(&SENTINEL_ID.to_string()));
            Some(Bytes::from(format!("<id value=\"{SENTINEL_ID}\"/>")))
        });
        assert_eq!(xml.as_deref(), Some(&b"<id value=\"1001\"/>"[..]));
        assert_eq!(repeat.xml(&Bytes::from_static(b"changed"), |_| None), None);
        // Another body, or another state: rendered anew.
        let other = request("b");
        cache.answer(&other, &state, other.fresh(1003), render);
        let changed = Arc::new(StateData::default());
        cache.answer(&a, &changed, a.fresh(1004), render);
        assert_eq!(renders.get(), 3);
    }

    #[test]
    fn each_request_gets_its_own_trace_id_in_body_headers_and_xml() {
        let cache = RepeatCache::default();
        let state = Arc::new(StateData::default());
        let renders = Cell::new(0);
        let render = |fresh: Fresh<'_>| {
            renders.set(renders.get() + 1);
            Answer::new(
                StatusCode::OK,
                "application/json",
                Bytes::from(format!("{{\"id\":\"{}\"}}", fresh.trace_id)),
            )
            .with_header(
                http::header::HeaderName::from_static("x-trace"),
                fresh.trace_id,
            )
        };
        let (one, two) = (traced("a", "trace-1"), traced("a", "trace-2"));
        let (first, _) = cache.answer(&one, &state, one.fresh(1001), render);
        let (second, repeat) = cache.answer(&two, &state, two.fresh(1002), render);
        assert_eq!(renders.get(), 1);
        assert_eq!(&first.body[..], br#"{"id":"trace-1"}"#);
        assert_eq!(&second.body[..], br#"{"id":"trace-2"}"#);
        assert_eq!(second.headers["x-trace"], "trace-2");
        let xml = repeat.expect("kept").xml(&second.body, |kept| {
            assert!(String::from_utf8_lossy(kept).contains(SENTINEL_TRACE_ID));
            Some(Bytes::from(format!("<id value=\"{SENTINEL_TRACE_ID}\"/>")))
        });
        assert_eq!(xml.as_deref(), Some(&b"<id value=\"trace-2\"/>"[..]));
        // A trace id that JSON or XML would write escaped is rendered for
        // itself, and nothing is kept for it.
        let quoted = traced("a", "a<b");
        let (answer, repeat) = cache.answer(&quoted, &state, quoted.fresh(1003), render);
        assert!(repeat.is_none());
        assert_eq!(&answer.body[..], br#"{"id":"a<b"}"#);
        assert_eq!(renders.get(), 2);
    }

    #[test]
    fn identical_requests_at_once_render_once() {
        let cache = RepeatCache::default();
        let state = Arc::new(StateData::default());
        let renders = std::sync::atomic::AtomicUsize::new(0);
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            for i in 0..4 {
                let (cache, state, renders, barrier) = (&cache, &state, &renders, &barrier);
                scope.spawn(move || {
                    let request = request("same");
                    barrier.wait();
                    let (answer, _) = cache.answer(&request, state, request.fresh(2000 + i), |f| {
                        renders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        rendered(f)
                    });
                    let expected =
                        format!("{{\"id\":\"{}\",\"again\":\"{}\"}}", 2000 + i, 2000 + i);
                    assert_eq!(answer.body, expected.as_bytes());
                });
            }
        });
        // The second may turn during the renders: at most two.
        assert!(renders.load(std::sync::atomic::Ordering::SeqCst) <= 2);
    }

    #[test]
    fn a_header_the_templates_read_keys_the_answers() {
        let cache = RepeatCache::keyed_by(vec!["host".into()]);
        let state = Arc::new(StateData::default());
        let renders = Cell::new(0);
        let render = |fresh: Fresh<'_>| {
            renders.set(renders.get() + 1);
            rendered(fresh)
        };
        let at = |host: &'static str| {
            let mut request = request("a");
            request
                .headers
                .insert("host", HeaderValue::from_static(host));
            request
        };
        let (one, two, again) = (at("one"), at("two"), at("one"));
        let second = chrono::Utc::now().timestamp();
        for request in [&one, &two, &again] {
            cache.answer(request, &state, request.fresh(1001), render);
        }
        let turned = chrono::Utc::now().timestamp() != second;
        // Another host renders anew; `again` finds `one`'s answer.
        if !turned {
            assert_eq!(renders.get(), 2);
        }
        assert!(renders.get() >= 2);
    }

    #[test]
    fn at_most_a_few_answers_are_kept() {
        let cache = RepeatCache::default();
        let state = Arc::new(StateData::default());
        for i in 0..20 {
            let request = request(&i.to_string());
            cache.answer(&request, &state, request.fresh(1000 + i), rendered);
        }
        let kept = cache.entries.lock().map(|e| e.len()).unwrap_or(0);
        assert_eq!(kept, KEPT);
    }
}
