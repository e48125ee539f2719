//! The repeat cache: the answers of a scenario whose templates read the
//! request and the booking state, kept for the next identical request.
//!
//! A template that reads only the request's path, query and body, the
//! booking state and the clock (`now`, `date_add`, at the second) renders
//! the same answer for the same request, state and second — except for
//! `request.id`, which is fresh per request. Such answers are rendered
//! with a sentinel id, kept (a few per scenario) under a keyed 128-bit hash
//! of the request's path, query, body and the second, with the state they
//! were rendered from; an identical request finds it and gets the
//! sentinel replaced by its own id. A state change (booking, reset) or the
//! next second renders anew.
//!
//! It pays where the answer is built from data by loops and helpers: the
//! default pack's care record (one generic template over the seeded record
//! collections) went from 1,041 to 6,553 requests/s at one connection, 7.9 %
//! to 48.4 % of the bare server (`benches/load.sh`, `carerecord`, one run
//! each on this 2-core machine). A kept answer's XML is written once too.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::HeaderValue;

use crate::answer::Answer;
use crate::request::MockRequest;
use crate::state::StateData;

/// The id a cached answer is rendered with: twenty digits no real request
/// id reaches (ids count up from 1000).
pub const SENTINEL_ID: u64 = 18_446_744_073_709_100_017;

/// Answers kept per scenario.
const KEPT: usize = 8;

struct Entry {
    key: (u64, u64),
    /// The state it was rendered from: held, so its address is not reused.
    state: Arc<StateData>,
    answer: Answer,
    /// Its body written as FHIR XML (sentinel id and all), on first use.
    xml: Arc<OnceLock<Option<Bytes>>>,
}

/// What the request path needs to write a kept answer as XML: the kept XML
/// (sentinel id and all), the id to put in it, and the body handed out,
/// which the XML stands for only while the answer still holds it.
#[derive(Debug, Clone)]
pub struct Repeat {
    xml: Arc<OnceLock<Option<Bytes>>>,
    /// The kept body, with the sentinel id: what the XML is written from.
    kept: Bytes,
    id: u64,
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
        let xml = self.xml.get_or_init(|| to_xml(&self.kept)).as_ref()?;
        Some(with_id_in(xml, self.id))
    }
}

/// One scenario's kept answers.
pub struct RepeatCache {
    hashers: (RandomState, RandomState),
    entries: Mutex<VecDeque<Entry>>,
}

impl std::fmt::Debug for RepeatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepeatCache").finish_non_exhaustive()
    }
}

impl Default for RepeatCache {
    fn default() -> Self {
        Self {
            hashers: (RandomState::new(), RandomState::new()),
            entries: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }
}

impl RepeatCache {
    fn key(&self, request: &MockRequest, second: i64) -> (u64, u64) {
        let hash = |state: &RandomState| {
            let mut hasher = state.build_hasher();
            request.path.hash(&mut hasher);
            request.raw_query.hash(&mut hasher);
            request.body.hash(&mut hasher);
            second.hash(&mut hasher);
            hasher.finish()
        };
        (hash(&self.hashers.0), hash(&self.hashers.1))
    }

    /// The answer to `request` in `state`: kept, or rendered by `render`
    /// (given the id to render with) and kept; `request_id` in place of
    /// the sentinel either way.
    pub fn answer(
        &self,
        request: &MockRequest,
        state: &Arc<StateData>,
        request_id: u64,
        render: impl FnOnce(u64) -> Answer,
    ) -> (Answer, Repeat) {
        let key = self.key(request, chrono::Utc::now().timestamp());
        let kept = {
            let entries = self
                .entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            entries
                .iter()
                .find(|e| e.key == key && Arc::ptr_eq(&e.state, state))
                .map(|e| (e.answer.copy_with_room(), e.xml.clone()))
        };
        let (answer, xml) = match kept {
            Some(kept) => kept,
            None => {
                let answer = render(SENTINEL_ID);
                let xml = Arc::new(OnceLock::new());
                let mut entries = self
                    .entries
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if entries.len() == KEPT {
                    entries.pop_front();
                }
                entries.push_back(Entry {
                    key,
                    state: state.clone(),
                    answer: answer.clone(),
                    xml: xml.clone(),
                });
                (answer, xml)
            }
        };
        let kept = answer.body.clone();
        let answer = with_id(answer, request_id);
        let repeat = Repeat {
            xml,
            kept,
            id: request_id,
            body: answer.body.clone(),
        };
        (answer, repeat)
    }
}

/// `text` with every sentinel id replaced by `id` (the same bytes when it
/// holds none).
fn with_id_in(text: &Bytes, id: u64) -> Bytes {
    let sentinel = SENTINEL_ID.to_string();
    if memchr::memmem::find(text, sentinel.as_bytes()).is_none() {
        return text.clone();
    }
    Bytes::from(replace(
        text,
        sentinel.as_bytes(),
        id.to_string().as_bytes(),
    ))
}

/// `answer` with every sentinel id in its body and headers replaced by `id`.
fn with_id(mut answer: Answer, id: u64) -> Answer {
    let sentinel = SENTINEL_ID.to_string();
    answer.body = with_id_in(&answer.body, id);
    let id = id.to_string();
    for value in answer.headers.values_mut() {
        if memchr::memmem::find(value.as_bytes(), sentinel.as_bytes()).is_some() {
            let replaced = replace(value.as_bytes(), sentinel.as_bytes(), id.as_bytes());
            if let Ok(new) = HeaderValue::from_bytes(&replaced) {
                *value = new;
            }
        }
    }
    answer
}

fn replace(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memmem::find(rest, from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, StatusCode};
    use std::cell::Cell;

    fn request(body: &str) -> MockRequest {
        MockRequest::new(
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            http::HeaderMap::new(),
            Bytes::from(body.to_string()),
        )
    }

    fn rendered(id: u64) -> Answer {
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
        let render = |id| {
            renders.set(renders.get() + 1);
            rendered(id)
        };
        let (first, repeat) = cache.answer(&request("a"), &state, 1001, render);
        let (second, _) = cache.answer(&request("a"), &state, 1002, render);
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
        cache.answer(&request("b"), &state, 1003, render);
        let changed = Arc::new(StateData::default());
        cache.answer(&request("a"), &changed, 1004, render);
        assert_eq!(renders.get(), 3);
    }

    #[test]
    fn at_most_a_few_answers_are_kept() {
        let cache = RepeatCache::default();
        let state = Arc::new(StateData::default());
        for i in 0..20 {
            cache.answer(&request(&i.to_string()), &state, 1000 + i, rendered);
        }
        let kept = cache.entries.lock().map(|e| e.len()).unwrap_or(0);
        assert_eq!(kept, KEPT);
    }
}
