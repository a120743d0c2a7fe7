//! [`AnswerMemo`]: the JSON of records the cache answered, kept in memory
//! for [`MEMO_TTL`], so a hot indicator costs one store read (inflate,
//! parse the whole VirusTotal object, build the record) every two seconds
//! instead of one a request (docs/BENCHMARKS.md, `vtc serve`: that read was
//! most of a cached lookup's CPU).
//!
//! Only answers that came from the cache are kept, so `cached: true` stays
//! true; a `?refresh=true` lookup forgets the indicator. What another
//! process writes to the store is seen within [`MEMO_TTL`].

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a cached answer is served from memory.
pub const MEMO_TTL: Duration = Duration::from_secs(2);

/// Most answers kept; past it the memory is emptied (hot indicators come
/// back at once).
const MAX_ANSWERS: usize = 10_000;

/// Keyed by the normalised indicator and whether the full object is in.
#[derive(Default)]
pub(crate) struct AnswerMemo {
    answers: RwLock<HashMap<(String, bool), (Bytes, Instant)>>,
}

impl AnswerMemo {
    pub(crate) fn get(&self, indicator: &str, full: bool) -> Option<Bytes> {
        let answers = self.answers.read().unwrap_or_else(|p| p.into_inner());
        // A borrowed key would need a tuple of references; the String is
        // small next to the record.
        answers
            .get(&(indicator.to_owned(), full))
            .filter(|(_, at)| at.elapsed() < MEMO_TTL)
            .map(|(bytes, _)| bytes.clone())
    }

    pub(crate) fn put(&self, indicator: String, full: bool, json: Bytes) {
        let mut answers = self.answers.write().unwrap_or_else(|p| p.into_inner());
        if answers.len() >= MAX_ANSWERS {
            answers.retain(|_, (_, at)| at.elapsed() < MEMO_TTL);
            if answers.len() >= MAX_ANSWERS {
                answers.clear();
            }
        }
        answers.insert((indicator, full), (json, Instant::now()));
    }

    pub(crate) fn forget(&self, indicator: &str) {
        let mut answers = self.answers.write().unwrap_or_else(|p| p.into_inner());
        answers.remove(&(indicator.to_owned(), false));
        answers.remove(&(indicator.to_owned(), true));
    }
}
