//! Collection pages: `limit` and `cursor` in, `meta.count`, `meta.cursor`
//! and `links.next` out (both absent on the last page), as vt-py and vt-go
//! expect.

use crate::api_error::{ApiError, BaseUrl};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

/// The paging query parameters of a collection route.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page's window into a collection.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
}

impl PageQuery {
    /// Reads `limit` (default 10, capped at `max`) and `cursor` (an opaque offset).
    pub fn window(&self, max: usize) -> Result<Window, ApiError> {
        let limit = match self.limit.as_deref().filter(|l| !l.is_empty()) {
            None => 10,
            Some(l) => l
                .parse::<usize>()
                .map_err(|_| ApiError::invalid_argument(format!("Invalid limit \"{l}\"")))?,
        }
        .clamp(1, max);
        let offset = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) => decode_cursor(c)
                .ok_or_else(|| ApiError::invalid_argument(format!("Invalid cursor \"{c}\"")))?,
        };
        Ok(Window { offset, limit })
    }
}

pub fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix('o')?
        .parse()
        .ok()
}

/// Builds the page document for items `window.offset..` of a collection of
/// `total` items, of which `items` are this page's.
pub fn page(items: Vec<Value>, total: usize, window: Window, base: &BaseUrl, path: &str) -> Value {
    let self_link = if window.offset == 0 {
        base.api(&format!("{path}?limit={}", window.limit))
    } else {
        base.api(&format!(
            "{path}?limit={}&cursor={}",
            window.limit,
            encode_cursor(window.offset)
        ))
    };
    let end = window.offset + items.len();
    let mut meta = json!({"count": total});
    let mut links = json!({"self": self_link});
    if end < total {
        let cursor = encode_cursor(end);
        links["next"] = json!(base.api(&format!("{path}?limit={}&cursor={cursor}", window.limit)));
        meta["cursor"] = json!(cursor);
    }
    json!({"data": items, "meta": meta, "links": links})
}

/// Pages through a collection held whole in memory.
pub fn page_of(all: Vec<Value>, window: Window, base: &BaseUrl, path: &str) -> Value {
    let total = all.len();
    let items = all
        .into_iter()
        .skip(window.offset)
        .take(window.limit)
        .collect();
    page(items, total, window, base, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(37)), Some(37));
        let query = PageQuery {
            limit: Some("5".into()),
            cursor: Some("!!".into()),
        };
        assert!(query.window(40).is_err());
    }

    #[test]
    fn last_page_has_no_cursor_or_next_link() {
        let base = BaseUrl("http://h".into());
        let all: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let first = page_of(
            all.clone(),
            Window {
                offset: 0,
                limit: 3,
            },
            &base,
            "/x",
        );
        assert_eq!(first["meta"]["count"], 5);
        assert!(first["meta"]["cursor"].is_string());
        assert!(first["links"]["next"]
            .as_str()
            .is_some_and(|n| n.contains("cursor=")));
        let last = page_of(
            all,
            Window {
                offset: 3,
                limit: 3,
            },
            &base,
            "/x",
        );
        assert_eq!(last["data"].as_array().map(Vec::len), Some(2));
        assert!(last["meta"].get("cursor").is_none());
        assert!(last["links"].get("next").is_none());
    }
}
