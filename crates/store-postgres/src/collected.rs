//! The collector's tables (`collected`, `collect_checkpoints`) on
//! PostgreSQL: what `store-sqlite`'s module of the same name does, with
//! each write in one transaction. A sighting's binary is found (and
//! locked) by any of its hashes; sightings of one source at once are
//! serialised by a transaction-scoped advisory lock, so two collectors
//! seeing one new binary keep one row.

use crate::{from_millis, limit_param, millis, Outcome};
use deadpool_postgres::{GenericClient, Object, Transaction};
use store_core::collected::add_listed;
use store_core::compact::{pack, unpack};
use store_core::{CollectStatus, CollectedBinary, Due, QueryResult, Sighting, SourceCheckpoint};
use time::OffsetDateTime;
use tokio_postgres::Row;

const COLUMNS: &str = "id, md5, sha1, sha256, size, sources, hosts, file_names, path,
    first_seen, last_seen, last_query, last_analysis, rescanned_at, uploaded_at,
    verdict, malicious, total, in_feed, record";

/// The advisory lock taken by every write of the collector's binaries.
const COLLECT_LOCK: i64 = 0x7674_6363_6f6c_6c65;

fn list(json: &str) -> Vec<String> {
    // Written by this module only; an unreadable list reads as empty
    // rather than losing the row.
    serde_json::from_str(json).unwrap_or_default()
}

fn list_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

fn small(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn binary_row(r: &Row) -> Outcome<CollectedBinary> {
    let record = match r.get::<_, Option<&[u8]>>(19) {
        Some(bytes) => Some(unpack(bytes, "collected record")?),
        None => None,
    };
    Ok(CollectedBinary {
        id: r.get(0),
        md5: r.get(1),
        sha1: r.get(2),
        sha256: r.get(3),
        size: r
            .get::<_, Option<i64>>(4)
            .and_then(|s| u64::try_from(s).ok()),
        sources: list(r.get(5)),
        hosts: list(r.get(6)),
        file_names: list(r.get(7)),
        path: r.get(8),
        first_seen: from_millis(r.get(9)),
        last_seen: from_millis(r.get(10)),
        last_query: r.get::<_, Option<i64>>(11).map(from_millis),
        last_analysis: r.get::<_, Option<i64>>(12).map(from_millis),
        rescanned_at: r.get::<_, Option<i64>>(13).map(from_millis),
        uploaded_at: r.get::<_, Option<i64>>(14).map(from_millis),
        verdict: r.get(15),
        malicious: small(r.get(16)),
        total: small(r.get(17)),
        in_feed: r.get(18),
        record,
        due: None,
    })
}

fn rows(rows: &[Row]) -> Outcome<Vec<CollectedBinary>> {
    rows.iter().map(binary_row).collect()
}

fn size_param(size: Option<u64>) -> Option<i64> {
    size.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The kept binary any of the sighting's hashes names.
async fn find(tx: &Transaction<'_>, s: &Sighting) -> Outcome<Option<CollectedBinary>> {
    for (column, value) in [("sha256", &s.sha256), ("sha1", &s.sha1), ("md5", &s.md5)] {
        let Some(value) = value else { continue };
        // The column names are this module's constants.
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM collected WHERE {column} = $1 ORDER BY id LIMIT 1"
            ))
            .await?;
        if let Some(row) = tx.query_opt(&stmt, &[value]).await? {
            return Ok(Some(binary_row(&row)?));
        }
    }
    Ok(None)
}

pub(crate) async fn sightings(
    c: &mut Object,
    source: &str,
    sightings: &[Sighting],
    checkpoint: Option<&str>,
    now: OffsetDateTime,
) -> Outcome<u64> {
    let tx = c.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COLLECT_LOCK])
        .await?;
    let at = millis(now);
    let mut new = 0;
    for s in sightings.iter().filter(|s| s.has_hash()) {
        let size = size_param(s.size);
        match find(&tx, s).await? {
            Some(mut b) => {
                add_listed(&mut b.sources, Some(source));
                add_listed(&mut b.hosts, s.host.as_deref());
                add_listed(&mut b.file_names, s.file_name.as_deref());
                let stmt = tx
                    .prepare_cached(
                        "UPDATE collected SET md5 = COALESCE(md5, $2), sha1 = COALESCE(sha1, $3),
                           sha256 = COALESCE(sha256, $4), size = COALESCE($5, size),
                           sources = $6, hosts = $7, file_names = $8, path = COALESCE($9, path),
                           last_seen = $10
                         WHERE id = $1",
                    )
                    .await?;
                tx.execute(
                    &stmt,
                    &[
                        &b.id,
                        &s.md5,
                        &s.sha1,
                        &s.sha256,
                        &size,
                        &list_json(&b.sources),
                        &list_json(&b.hosts),
                        &list_json(&b.file_names),
                        &s.path,
                        &at,
                    ],
                )
                .await?;
            }
            None => {
                let (mut sources, mut hosts, mut names) = (Vec::new(), Vec::new(), Vec::new());
                add_listed(&mut sources, Some(source));
                add_listed(&mut hosts, s.host.as_deref());
                add_listed(&mut names, s.file_name.as_deref());
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO collected (md5, sha1, sha256, size, sources, hosts, file_names,
                           path, first_seen, last_seen)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                    )
                    .await?;
                tx.execute(
                    &stmt,
                    &[
                        &s.md5,
                        &s.sha1,
                        &s.sha256,
                        &size,
                        &list_json(&sources),
                        &list_json(&hosts),
                        &list_json(&names),
                        &s.path,
                        &at,
                    ],
                )
                .await?;
                new += 1;
            }
        }
    }
    if let Some(checkpoint) = checkpoint {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO collect_checkpoints (source, checkpoint, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,
                   updated_at = excluded.updated_at",
            )
            .await?;
        tx.execute(&stmt, &[&source, &checkpoint, &at]).await?;
    }
    tx.commit().await?;
    Ok(new)
}

pub(crate) async fn due(
    c: &mut Object,
    rescan_before: Option<OffsetDateTime>,
    limit: usize,
) -> Outcome<Vec<CollectedBinary>> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM collected WHERE last_query IS NULL ORDER BY id LIMIT $1"
        ))
        .await?;
    let mut out = rows(&tx.query(&stmt, &[&limit_param(limit)]).await?)?;
    for b in &mut out {
        b.due = Some(Due::Query);
    }
    if let (Some(before), true) = (rescan_before, out.len() < limit) {
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM collected
                 WHERE last_query IS NOT NULL AND last_analysis < $1
                   AND (rescanned_at IS NULL OR rescanned_at < $1)
                 ORDER BY last_analysis, id LIMIT $2"
            ))
            .await?;
        let found = tx
            .query(&stmt, &[&millis(before), &limit_param(limit - out.len())])
            .await?;
        for mut b in rows(&found)? {
            b.due = Some(Due::Rescan);
            out.push(b);
        }
    }
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn results(c: &mut Object, results: &[QueryResult]) -> Outcome<()> {
    let tx = c.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COLLECT_LOCK])
        .await?;
    let update = tx
        .prepare_cached(
            "UPDATE collected SET md5 = COALESCE(md5, $2), sha1 = COALESCE(sha1, $3),
               sha256 = COALESCE(sha256, $4), size = COALESCE(size, $5),
               last_query = $6, last_analysis = COALESCE($7, last_analysis),
               rescanned_at = CASE WHEN $8 THEN $6 ELSE rescanned_at END,
               uploaded_at = CASE WHEN $9 THEN $6 ELSE uploaded_at END,
               verdict = $10, malicious = $11, total = $12, in_feed = $13,
               record = COALESCE($14, record)
             WHERE id = $1",
        )
        .await?;
    for r in results {
        merge_duplicates(&tx, r).await?;
        let record = r.record.as_deref().map(pack);
        tx.execute(
            &update,
            &[
                &r.binary,
                &r.md5,
                &r.sha1,
                &r.sha256,
                &size_param(r.size),
                &millis(r.at),
                &r.last_analysis.map(millis),
                &r.rescanned,
                &r.uploaded,
                &r.verdict,
                &i64::from(r.malicious),
                &i64::from(r.total),
                &r.in_feed,
                &record,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows that turn out to be the same binary as `r.binary` once VirusTotal
/// gave its other hashes are folded into it (lists and times joined) and
/// removed, so the binary is looked up and published once.
async fn merge_duplicates(tx: &Transaction<'_>, r: &QueryResult) -> Outcome<()> {
    let mut others: Vec<CollectedBinary> = Vec::new();
    for (column, value) in [("md5", &r.md5), ("sha1", &r.sha1), ("sha256", &r.sha256)] {
        let Some(value) = value else { continue };
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM collected WHERE {column} = $1 AND id <> $2"
            ))
            .await?;
        for b in rows(&tx.query(&stmt, &[value, &r.binary]).await?)? {
            if !others.iter().any(|o| o.id == b.id) {
                others.push(b);
            }
        }
    }
    if others.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM collected WHERE id = $1"))
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&r.binary]).await? else {
        return Ok(());
    };
    let mut this = binary_row(&row)?;
    for o in &others {
        this.absorb(o);
        tx.execute("DELETE FROM collected WHERE id = $1", &[&o.id])
            .await?;
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE collected SET sources = $2, hosts = $3, file_names = $4, first_seen = $5,
               last_seen = $6, path = $7 WHERE id = $1",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &this.id,
            &list_json(&this.sources),
            &list_json(&this.hosts),
            &list_json(&this.file_names),
            &millis(this.first_seen),
            &millis(this.last_seen),
            &this.path,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn binaries(c: &Object, in_feed_only: bool) -> Outcome<Vec<CollectedBinary>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM collected WHERE in_feed OR NOT $1 ORDER BY id"
        ))
        .await?;
    rows(&c.query(&stmt, &[&in_feed_only]).await?)
}

async fn count(tx: &Transaction<'_>, sql: &str) -> Outcome<u64> {
    let n: i64 = tx.query_one(sql, &[]).await?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn status(
    c: &mut Object,
    rescan_before: Option<OffsetDateTime>,
) -> Outcome<CollectStatus> {
    // One snapshot for every count.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let mut status = CollectStatus {
        binaries: count(&tx, "SELECT count(*) FROM collected").await?,
        queried: count(
            &tx,
            "SELECT count(*) FROM collected WHERE last_query IS NOT NULL",
        )
        .await?,
        backlog: count(
            &tx,
            "SELECT count(*) FROM collected WHERE last_query IS NULL",
        )
        .await?,
        in_feed: count(&tx, "SELECT count(*) FROM collected WHERE in_feed").await?,
        uploaded: count(
            &tx,
            "SELECT count(*) FROM collected WHERE uploaded_at IS NOT NULL",
        )
        .await?,
        rescanned: count(
            &tx,
            "SELECT count(*) FROM collected WHERE rescanned_at IS NOT NULL",
        )
        .await?,
        ..CollectStatus::default()
    };
    if let Some(before) = rescan_before {
        let n: i64 = tx
            .query_one(
                "SELECT count(*) FROM collected WHERE last_query IS NOT NULL AND last_analysis < $1
                   AND (rescanned_at IS NULL OR rescanned_at < $1)",
                &[&millis(before)],
            )
            .await?
            .get(0);
        status.rescan_due = u64::try_from(n).unwrap_or(0);
    }
    for row in tx
        .query(
            "SELECT COALESCE(verdict, 'unqueried'), count(*) FROM collected GROUP BY 1",
            &[],
        )
        .await?
    {
        let n: i64 = row.get(1);
        status
            .by_verdict
            .insert(row.get(0), u64::try_from(n).unwrap_or(0));
    }
    status.sources = tx
        .query(
            "SELECT source, checkpoint, updated_at FROM collect_checkpoints ORDER BY source",
            &[],
        )
        .await?
        .iter()
        .map(|r| SourceCheckpoint {
            source: r.get(0),
            checkpoint: r.get(1),
            updated_at: from_millis(r.get(2)),
        })
        .collect();
    tx.commit().await?;
    Ok(status)
}
