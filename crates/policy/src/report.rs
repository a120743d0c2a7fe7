//! The File Security Rating Details report's rows, rebuilt from the
//! decision log: one per file, with its latest rating and every decision.

use crate::log::LoggedDecision;
use std::collections::{BTreeSet, HashMap};
use store::{DecisionQuery, Store, StoreError, MAX_DECISION_PAGE};

/// Most decisions read for one report (the latest are kept).
pub const MAX_REPORT_DECISIONS: usize = 200_000;

/// The files of the decision log, read page by page from the store.
pub async fn file_ratings(store: &dyn Store) -> Result<Vec<feeds::FileRating>, StoreError> {
    let mut logged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .decisions(&DecisionQuery {
                after_id: after,
                limit: MAX_DECISION_PAGE,
                ..DecisionQuery::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        logged.extend(
            page.iter()
                .filter_map(|r| serde_json::from_str::<LoggedDecision>(&r.decision.json).ok()),
        );
        if logged.len() > MAX_REPORT_DECISIONS {
            let extra = logged.len() - MAX_REPORT_DECISIONS;
            logged.drain(..extra);
        }
    }
    Ok(aggregate(logged))
}

/// One row per file (by sha256, else the best hash), oldest decision first in `logged`.
pub fn aggregate(logged: Vec<LoggedDecision>) -> Vec<feeds::FileRating> {
    struct Acc {
        rating: feeds::FileRating,
        hosts: BTreeSet<String>,
        users: BTreeSet<String>,
    }
    let mut files: HashMap<String, Acc> = HashMap::new();
    let mut order = Vec::new();
    for d in logged {
        let Some(key) = d
            .sha256
            .clone()
            .or_else(|| d.sha1.clone())
            .or_else(|| d.md5.clone())
        else {
            continue;
        };
        let acc = files.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Acc {
                rating: feeds::FileRating {
                    file_name: String::new(),
                    path: String::new(),
                    sha256: key.clone(),
                    rating: None,
                    malicious: None,
                    suspicious: None,
                    total: None,
                    first_seen: None,
                    last_decision_time: String::new(),
                    last_action: String::new(),
                    hosts: Vec::new(),
                    users: Vec::new(),
                    decisions: Vec::new(),
                    decision_count: 0,
                    detections: Vec::new(),
                    reasons: Vec::new(),
                    link: None,
                },
                hosts: BTreeSet::new(),
                users: BTreeSet::new(),
            }
        });
        let r = &mut acc.rating;
        // Later decisions overwrite: the row shows the latest.
        if let Some(name) = &d.file_name {
            r.file_name = name.clone();
        }
        if let Some(path) = &d.path {
            r.path = path.clone();
        }
        if d.rating.is_some() {
            r.rating = d.rating;
            r.malicious = d.malicious;
            r.suspicious = d.suspicious;
            r.total = d.total;
            r.detections = d.detections.clone();
            r.reasons = d.reasons.clone();
        } else if r.reasons.is_empty() {
            r.reasons = d.reasons.clone();
        }
        if d.first_seen.is_some() {
            r.first_seen = d.first_seen.clone();
        }
        if d.link.is_some() {
            r.link = d.link.clone();
        }
        r.last_decision_time = d.time.clone();
        r.last_action = d.decision.as_str().to_owned();
        r.decision_count += 1;
        if acc.hosts.len() < feeds::MAX_NAMES {
            acc.hosts.extend(d.host.clone());
        }
        if acc.users.len() < feeds::MAX_NAMES {
            acc.users.extend(d.user.clone());
        }
        r.decisions.push(feeds::DecisionLine {
            time: d.time,
            host: d.host.unwrap_or_default(),
            user: d.user.unwrap_or_default(),
            action: d.decision.as_str().to_owned(),
            policy: d.policy.unwrap_or_default(),
            fallback: d
                .fallback
                .map(|f| f.as_str().to_owned())
                .unwrap_or_default(),
        });
        if r.decisions.len() > 2 * feeds::MAX_DECISIONS_SHOWN {
            r.decisions.drain(..feeds::MAX_DECISIONS_SHOWN);
        }
    }
    order
        .into_iter()
        .filter_map(|k| files.remove(&k))
        .map(|mut acc| {
            acc.rating.hosts = acc.hosts.into_iter().collect();
            acc.rating.users = acc.users.into_iter().collect();
            acc.rating.decisions.reverse();
            acc.rating
        })
        .collect()
}
