//! The JWT verdict cache: what checking a token's claims found for one
//! operation, kept until the token expires, bounded in bytes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::jwt::{self, Jwt};
use super::Violation;

/// What later rules need of a request's JWT: only the DSTU2
/// `$gpc.getcarerecord` check reads it, for the `requested_record` NHS
/// number. Kept instead of the decoded claims, so that a cached verdict
/// costs a few dozen bytes whatever the token's size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenFacts {
    /// `requested_record`'s NHS number, when the token names one.
    pub requested_nhs_number: Option<Box<str>>,
    /// The confidentiality of `requested_scope` (`N`, `R`) when it has one
    /// (`patient/*.read conf/N`).
    pub confidentiality: Option<Box<str>>,
}

impl TokenFacts {
    pub(super) fn of(jwt: &Jwt) -> TokenFacts {
        TokenFacts {
            requested_nhs_number: jwt::requested_nhs_number(&jwt.claims).map(Box::from),
            confidentiality: jwt::confidentiality(&jwt.claims).map(Box::from),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.requested_nhs_number.as_ref().map_or(0, |n| n.len())
            + self.confidentiality.as_ref().map_or(0, |c| c.len())
    }
}

/// The outcome of checking a token's claims for one operation, kept until
/// the token expires: a client that reuses its token (within its five
/// minutes) is not decoded again. Only the expiry depends on the clock,
/// and an entry is never used past `exp`.
///
/// Memory is bounded in bytes, not only entries ([`TOKEN_CACHE_BYTES`]):
/// an entry is keyed by a keyed 64-bit hash of the `Authorization` bytes
/// (a client cannot choose collisions: the hash state is random per
/// process) and holds a second, independently keyed hash and the length
/// as a fingerprint, the verdict's violations and the [`TokenFacts`] —
/// never the token or its claims. A padded megabyte token costs the same
/// as a short one.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    inner: RwLock<TokenEntries>,
}

#[derive(Debug, Default)]
struct TokenEntries {
    map: HashMap<u64, CachedToken, BuildNoHash>,
    /// What the entries cost, by [`CachedToken::cost`].
    bytes: usize,
}

#[derive(Debug)]
struct CachedToken {
    fingerprint: (u64, usize),
    facts: Arc<TokenFacts>,
    violations: Box<[Violation]>,
    until: i64,
}

impl CachedToken {
    /// Its size with its share of the table, an estimate on the high side.
    fn cost(&self) -> usize {
        std::mem::size_of::<(u64, CachedToken)>()
            + 16
            + std::mem::size_of::<TokenFacts>()
            + 16
            + self.facts.heap_bytes()
            + self
                .violations
                .iter()
                .map(|v| std::mem::size_of::<Violation>() + v.at.len() + v.message.len())
                .sum::<usize>()
    }
}

/// The byte budget of one operation's token cache (1 MiB: a few thousand
/// tokens). Over it, expired entries go first, then all of them.
pub const TOKEN_CACHE_BYTES: usize = 1024 * 1024;

/// The keys are already keyed hashes: the table uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct BuildNoHash;

#[derive(Debug, Default)]
struct NoHash(u64);

impl std::hash::Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl std::hash::BuildHasher for BuildNoHash {
    type Hasher = NoHash;
    fn build_hasher(&self) -> NoHash {
        NoHash::default()
    }
}

/// Two independently keyed hashers, random per process.
fn token_hashers() -> &'static (
    foldhash::quality::RandomState,
    foldhash::quality::RandomState,
) {
    static HASHERS: std::sync::OnceLock<(
        foldhash::quality::RandomState,
        foldhash::quality::RandomState,
    )> = std::sync::OnceLock::new();
    HASHERS.get_or_init(|| {
        (
            foldhash::quality::RandomState::default(),
            foldhash::quality::RandomState::default(),
        )
    })
}

fn token_key(header: &[u8]) -> (u64, (u64, usize)) {
    use std::hash::BuildHasher as _;
    let (key, check) = token_hashers();
    (key.hash_one(header), (check.hash_one(header), header.len()))
}

impl TokenCache {
    pub(super) fn get(&self, header: &[u8], now: i64) -> Option<(Arc<TokenFacts>, Vec<Violation>)> {
        let (key, fingerprint) = token_key(header);
        let entries = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries
            .map
            .get(&key)
            .filter(|entry| entry.fingerprint == fingerprint && now < entry.until)?;
        Some((entry.facts.clone(), entry.violations.to_vec()))
    }

    pub(super) fn put(
        &self,
        header: &[u8],
        facts: Arc<TokenFacts>,
        exp: Option<i64>,
        violations: &[Violation],
        now: i64,
    ) {
        let Some(until) = exp.filter(|exp| *exp > now) else {
            return;
        };
        let (key, fingerprint) = token_key(header);
        let entry = CachedToken {
            fingerprint,
            facts,
            violations: violations.into(),
            until,
        };
        let cost = entry.cost();
        if cost > TOKEN_CACHE_BYTES / 4 {
            return;
        }
        let mut entries = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.bytes + cost > TOKEN_CACHE_BYTES {
            entries.map.retain(|_, entry| now < entry.until);
            entries.bytes = entries.map.values().map(CachedToken::cost).sum();
            if entries.bytes + cost > TOKEN_CACHE_BYTES {
                // Give the table's memory back too, not only its entries.
                entries.map = HashMap::default();
                entries.bytes = 0;
            }
        }
        if let Some(old) = entries.map.insert(key, entry) {
            entries.bytes = entries.bytes.saturating_sub(old.cost());
        }
        entries.bytes += cost;
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RuleId;

    #[test]
    fn token_cache_serves_only_until_expiry() {
        let cache = TokenCache::default();
        let facts = Arc::new(TokenFacts::default());
        let found = vec![Violation::of(RuleId::JwtTime, "JWT claim x", "is wrong")];
        cache.put(b"live", facts.clone(), Some(1_000), &found, 900);
        assert_eq!(cache.get(b"live", 950).map(|(_, v)| v), Some(found.clone()));
        assert!(cache.get(b"live", 1_000).is_none(), "never past exp");
        assert!(cache.get(b"other", 950).is_none());
        cache.put(b"expired", facts.clone(), Some(800), &found, 900);
        assert!(
            cache.get(b"expired", 900).is_none(),
            "an expired token is not kept"
        );
        cache.put(b"no-exp", facts, None, &found, 900);
        assert!(cache.get(b"no-exp", 900).is_none());
    }

    #[test]
    fn token_cache_is_bounded_in_bytes_whatever_the_token_size() {
        let cache = TokenCache::default();
        let found = vec![Violation::of(RuleId::JwtTime, "JWT claim x", "is wrong")];
        let padding = "p".repeat(2_000);
        for i in 0..8_000 {
            let header = format!("Bearer {i}.{padding}");
            let facts = Arc::new(TokenFacts {
                requested_nhs_number: Some("9658218873".into()),
                confidentiality: None,
            });
            cache.put(header.as_bytes(), facts, Some(2_000), &found, 900);
            assert!(cache.bytes() <= TOKEN_CACHE_BYTES, "{}", cache.bytes());
        }
        let last = format!("Bearer {}.{padding}", 7_999);
        let (facts, violations) = cache.get(last.as_bytes(), 901).expect("the newest is kept");
        assert_eq!(facts.requested_nhs_number.as_deref(), Some("9658218873"));
        assert_eq!(violations, found);
    }
}
