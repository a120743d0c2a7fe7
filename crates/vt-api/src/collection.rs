//! Collections: one page at a time, or a stream that follows `meta.cursor`.

use crate::client::owned;
use crate::retry::Call;
use crate::{Client, Error};
use futures_util::stream::{self, Stream};
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use vt_model::Collection;

impl Client {
    /// One page of the collection at `path` (`limit` = `page_size` when
    /// non-zero, `cursor` when given). Its `next_cursor()` resumes.
    pub async fn collection_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        page_size: u32,
        cursor: Option<&str>,
    ) -> Result<Collection<T>, Error> {
        let call = Call::get(self.resolve(path), page_query(query, page_size, cursor));
        self.fetch(call).await
    }

    /// Every item of the collection at `path`, page after page, following
    /// `meta.cursor` until a page comes without one. Each page goes through
    /// the quota governor; the stream ends after the first error.
    pub fn collection<T>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        page_size: u32,
    ) -> impl Stream<Item = Result<T, Error>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let pager = Pager {
            client: self.clone(),
            url: self.resolve(path),
            query: owned(query),
            page_size,
            cursor: None,
            buffer: VecDeque::new(),
            finished: false,
        };
        stream::unfold(pager, |mut pager| async move {
            loop {
                if let Some(item) = pager.buffer.pop_front() {
                    return Some((Ok(item), pager));
                }
                if pager.finished {
                    return None;
                }
                match pager.next_page().await {
                    Ok(()) => {}
                    Err(error) => {
                        pager.finished = true;
                        return Some((Err(error), pager));
                    }
                }
            }
        })
    }
}

struct Pager<T> {
    client: Client,
    url: String,
    query: Vec<(String, String)>,
    page_size: u32,
    cursor: Option<String>,
    buffer: VecDeque<T>,
    finished: bool,
}

impl<T: DeserializeOwned> Pager<T> {
    async fn next_page(&mut self) -> Result<(), Error> {
        let mut query = self.query.clone();
        query.extend(page_query(&[], self.page_size, self.cursor.as_deref()));
        let page: Collection<T> = self
            .client
            .fetch(Call::get(self.url.clone(), query))
            .await?;
        let next = page.next_cursor().map(str::to_owned);
        // An empty page or a cursor that does not move would loop forever.
        self.finished = next.is_none() || page.data.is_empty() || next == self.cursor;
        self.cursor = next;
        self.buffer.extend(page.data);
        Ok(())
    }
}

fn page_query(
    query: &[(&str, &str)],
    page_size: u32,
    cursor: Option<&str>,
) -> Vec<(String, String)> {
    let mut all = owned(query);
    all.retain(|(k, _)| k != "limit" && k != "cursor");
    if page_size > 0 {
        all.push(("limit".into(), page_size.to_string()));
    }
    if let Some(cursor) = cursor {
        all.push(("cursor".into(), cursor.to_owned()));
    }
    all
}
