//! Header values that every answer copies, kept for the life of the
//! process: the names of what answered (`X-Mock-Operation`,
//! `X-Mock-Scenario`, and the API a journal entry names) and a scenario's
//! own headers (its `Content-Type` among them), built once per snapshot so
//! that copying one into an answer or a journal entry is a copy of a
//! pointer.
//!
//! A value made from a `String` shares one reference count among every
//! copy: each request bumped and dropped such counts five times or more,
//! from both worker threads, so their cache lines travelled between the
//! cores on every request. Each distinct text is kept once, whatever the
//! reloads; the texts come from the loaded files, never from requests, so
//! what is kept is bounded by what a user writes.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use http::HeaderValue;

/// The header value of `text`, or `None` when a header cannot carry it.
pub fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()?;
    let kept = keep(text);
    HeaderValue::from_maybe_shared(Bytes::from_static(kept.as_bytes())).ok()
}

/// `text`, kept for the life of the process (once per distinct text).
fn keep(text: &str) -> &'static str {
    static KEPT: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut kept = KEPT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&found) = kept.get(text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    kept.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_is_kept_once_and_copies_share_it() {
        let first = header_value("Patient_Read").expect("a header value");
        let second = header_value(&String::from("Patient_Read")).expect("a header value");
        assert_eq!(first, "Patient_Read");
        assert_eq!(
            first.as_bytes().as_ptr(),
            second.as_bytes().as_ptr(),
            "the same text is kept once"
        );
        let copy = first.clone();
        assert_eq!(copy.as_bytes().as_ptr(), first.as_bytes().as_ptr());
    }

    #[test]
    fn a_name_no_header_can_carry_is_none() {
        assert!(header_value("line\nbreak").is_none());
    }
}
