//! The collector's tables (`collected`, `collect_checkpoints`): binaries
//! seen, their VirusTotal results, and each source's checkpoint. Every
//! function here runs on the database thread inside one transaction.

use crate::{from_millis, millis, Db, Outcome};
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};
use store_core::collected::add_listed;
use store_core::compact::{pack, unpack};
use store_core::{CollectStatus, CollectedBinary, Due, QueryResult, Sighting, SourceCheckpoint};
use time::OffsetDateTime;

const COLUMNS: &str = "id, md5, sha1, sha256, size, sources, hosts, file_names, path,
    first_seen, last_seen, last_query, last_analysis, rescanned_at, uploaded_at,
    verdict, malicious, total, in_feed, record";

fn list(json: &str) -> Vec<String> {
    // Written by this module only; an unreadable list reads as empty
    // rather than losing the row.
    serde_json::from_str(json).unwrap_or_default()
}

fn list_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

fn opt_time(ms: Option<i64>) -> Option<OffsetDateTime> {
    ms.map(from_millis)
}

fn binary_row(r: &Row<'_>) -> rusqlite::Result<(CollectedBinary, Option<Vec<u8>>)> {
    let size: Option<i64> = r.get(4)?;
    let binary = CollectedBinary {
        id: r.get(0)?,
        md5: r.get(1)?,
        sha1: r.get(2)?,
        sha256: r.get(3)?,
        size: size.and_then(|s| u64::try_from(s).ok()),
        sources: list(&r.get::<_, String>(5)?),
        hosts: list(&r.get::<_, String>(6)?),
        file_names: list(&r.get::<_, String>(7)?),
        path: r.get(8)?,
        first_seen: from_millis(r.get(9)?),
        last_seen: from_millis(r.get(10)?),
        last_query: opt_time(r.get(11)?),
        last_analysis: opt_time(r.get(12)?),
        rescanned_at: opt_time(r.get(13)?),
        uploaded_at: opt_time(r.get(14)?),
        verdict: r.get(15)?,
        malicious: r.get(16)?,
        total: r.get(17)?,
        in_feed: r.get::<_, i64>(18)? != 0,
        record: None,
        due: None,
    };
    Ok((binary, r.get(19)?))
}

fn finish(rows: Vec<(CollectedBinary, Option<Vec<u8>>)>) -> Outcome<Vec<CollectedBinary>> {
    let mut out = Vec::with_capacity(rows.len());
    for (mut binary, record) in rows {
        if let Some(bytes) = record {
            binary.record = Some(unpack(&bytes, "collected record")?);
        }
        out.push(binary);
    }
    Ok(out)
}

/// The kept binary any of the sighting's hashes names.
fn find(tx: &Transaction<'_>, s: &Sighting) -> Outcome<Option<CollectedBinary>> {
    for (column, value) in [("sha256", &s.sha256), ("sha1", &s.sha1), ("md5", &s.md5)] {
        let Some(value) = value else { continue };
        // The column names are this module's constants.
        let found = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM collected WHERE {column} = ?1 ORDER BY id LIMIT 1"
            ))?
            .query_row([value], binary_row)
            .optional()?;
        if let Some(row) = found {
            return Ok(finish(vec![row])?.pop());
        }
    }
    Ok(None)
}

pub(crate) fn sightings(
    db: &mut Db,
    source: &str,
    sightings: &[Sighting],
    checkpoint: Option<&str>,
    now: OffsetDateTime,
) -> Outcome<u64> {
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut new = 0;
    for s in sightings.iter().filter(|s| s.has_hash()) {
        let size = s.size.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        match find(&tx, s)? {
            Some(mut b) => {
                add_listed(&mut b.sources, Some(source));
                add_listed(&mut b.hosts, s.host.as_deref());
                add_listed(&mut b.file_names, s.file_name.as_deref());
                tx.prepare_cached(
                    "UPDATE collected SET md5 = COALESCE(md5, ?2), sha1 = COALESCE(sha1, ?3),
                       sha256 = COALESCE(sha256, ?4), size = COALESCE(?5, size),
                       sources = ?6, hosts = ?7, file_names = ?8, path = COALESCE(?9, path),
                       last_seen = ?10
                     WHERE id = ?1",
                )?
                .execute(params![
                    b.id,
                    s.md5,
                    s.sha1,
                    s.sha256,
                    size,
                    list_json(&b.sources),
                    list_json(&b.hosts),
                    list_json(&b.file_names),
                    s.path,
                    millis(now),
                ])?;
            }
            None => {
                let (mut sources, mut hosts, mut names) = (Vec::new(), Vec::new(), Vec::new());
                add_listed(&mut sources, Some(source));
                add_listed(&mut hosts, s.host.as_deref());
                add_listed(&mut names, s.file_name.as_deref());
                tx.prepare_cached(
                    "INSERT INTO collected (md5, sha1, sha256, size, sources, hosts, file_names,
                       path, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                )?
                .execute(params![
                    s.md5,
                    s.sha1,
                    s.sha256,
                    size,
                    list_json(&sources),
                    list_json(&hosts),
                    list_json(&names),
                    s.path,
                    millis(now),
                ])?;
                new += 1;
            }
        }
    }
    if let Some(checkpoint) = checkpoint {
        tx.prepare_cached(
            "INSERT INTO collect_checkpoints (source, checkpoint, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,
               updated_at = excluded.updated_at",
        )?
        .execute(params![source, checkpoint, millis(now)])?;
    }
    tx.commit()?;
    Ok(new)
}

pub(crate) fn checkpoint(db: &mut Db, source: &str) -> Outcome<Option<String>> {
    Ok(db
        .conn
        .prepare_cached("SELECT checkpoint FROM collect_checkpoints WHERE source = ?1")?
        .query_row([source], |r| r.get(0))
        .optional()?)
}

fn limit_param(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn due(
    db: &mut Db,
    rescan_before: Option<OffsetDateTime>,
    limit: usize,
) -> Outcome<Vec<CollectedBinary>> {
    let tx = db.conn.transaction()?;
    let mut out = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM collected WHERE last_query IS NULL ORDER BY id LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit_param(limit)], binary_row)?;
        finish(rows.collect::<Result<Vec<_>, _>>()?)?
    };
    for b in &mut out {
        b.due = Some(Due::Query);
    }
    if let (Some(before), true) = (rescan_before, out.len() < limit) {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM collected
             WHERE last_query IS NOT NULL AND last_analysis < ?1
               AND (rescanned_at IS NULL OR rescanned_at < ?1)
             ORDER BY last_analysis, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![millis(before), limit_param(limit - out.len())],
            binary_row,
        )?;
        for mut b in finish(rows.collect::<Result<Vec<_>, _>>()?)? {
            b.due = Some(Due::Rescan);
            out.push(b);
        }
    }
    Ok(out)
}

pub(crate) fn results(db: &mut Db, results: &[QueryResult]) -> Outcome<()> {
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut update = tx.prepare_cached(
            "UPDATE collected SET md5 = COALESCE(md5, ?2), sha1 = COALESCE(sha1, ?3),
               sha256 = COALESCE(sha256, ?4), size = COALESCE(size, ?5),
               last_query = ?6, last_analysis = COALESCE(?7, last_analysis),
               rescanned_at = CASE WHEN ?8 THEN ?6 ELSE rescanned_at END,
               uploaded_at = CASE WHEN ?9 THEN ?6 ELSE uploaded_at END,
               verdict = ?10, malicious = ?11, total = ?12, in_feed = ?13,
               record = COALESCE(?14, record)
             WHERE id = ?1",
        )?;
        for r in results {
            merge_duplicates(&tx, r)?;
            let size = r.size.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            update.execute(params![
                r.binary,
                r.md5,
                r.sha1,
                r.sha256,
                size,
                millis(r.at),
                r.last_analysis.map(millis),
                r.rescanned,
                r.uploaded,
                r.verdict,
                r.malicious,
                r.total,
                r.in_feed,
                r.record.as_deref().map(pack),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Rows that turn out to be the same binary as `r.binary` once VirusTotal
/// gave its other hashes (one source named it by md5, another by sha256)
/// are folded into it: their lists and times join it, and they go, so the
/// binary is looked up and published once.
fn merge_duplicates(tx: &Transaction<'_>, r: &QueryResult) -> Outcome<()> {
    let mut others = Vec::new();
    for (column, value) in [("md5", &r.md5), ("sha1", &r.sha1), ("sha256", &r.sha256)] {
        let Some(value) = value else { continue };
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM collected WHERE {column} = ?1 AND id != ?2"
        ))?;
        let rows = stmt.query_map(params![value, r.binary], binary_row)?;
        for row in rows {
            let (b, _) = row?;
            if !others.iter().any(|o: &CollectedBinary| o.id == b.id) {
                others.push(b);
            }
        }
    }
    if others.is_empty() {
        return Ok(());
    }
    let Some((mut this, _)) = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM collected WHERE id = ?1"))?
        .query_row([r.binary], binary_row)
        .optional()?
    else {
        return Ok(());
    };
    for o in &others {
        this.absorb(o);
        tx.prepare_cached("DELETE FROM collected WHERE id = ?1")?
            .execute([o.id])?;
    }
    tx.prepare_cached(
        "UPDATE collected SET sources = ?2, hosts = ?3, file_names = ?4, first_seen = ?5,
           last_seen = ?6, path = ?7 WHERE id = ?1",
    )?
    .execute(params![
        this.id,
        list_json(&this.sources),
        list_json(&this.hosts),
        list_json(&this.file_names),
        millis(this.first_seen),
        millis(this.last_seen),
        this.path,
    ])?;
    Ok(())
}

pub(crate) fn binaries(db: &mut Db, in_feed_only: bool) -> Outcome<Vec<CollectedBinary>> {
    let mut stmt = db.conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM collected WHERE in_feed OR NOT ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([in_feed_only], binary_row)?;
    finish(rows.collect::<Result<Vec<_>, _>>()?)
}

fn count(tx: &Transaction<'_>, sql: &str, p: impl rusqlite::Params) -> Outcome<u64> {
    let n: i64 = tx.query_row(sql, p, |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn status(db: &mut Db, rescan_before: Option<OffsetDateTime>) -> Outcome<CollectStatus> {
    let tx = db.conn.transaction()?;
    let mut status = CollectStatus {
        binaries: count(&tx, "SELECT count(*) FROM collected", [])?,
        queried: count(
            &tx,
            "SELECT count(*) FROM collected WHERE last_query IS NOT NULL",
            [],
        )?,
        backlog: count(
            &tx,
            "SELECT count(*) FROM collected WHERE last_query IS NULL",
            [],
        )?,
        in_feed: count(&tx, "SELECT count(*) FROM collected WHERE in_feed", [])?,
        uploaded: count(
            &tx,
            "SELECT count(*) FROM collected WHERE uploaded_at IS NOT NULL",
            [],
        )?,
        rescanned: count(
            &tx,
            "SELECT count(*) FROM collected WHERE rescanned_at IS NOT NULL",
            [],
        )?,
        ..CollectStatus::default()
    };
    if let Some(before) = rescan_before {
        status.rescan_due = count(
            &tx,
            "SELECT count(*) FROM collected WHERE last_query IS NOT NULL AND last_analysis < ?1
               AND (rescanned_at IS NULL OR rescanned_at < ?1)",
            [millis(before)],
        )?;
    }
    {
        let mut stmt = tx.prepare_cached(
            "SELECT COALESCE(verdict, 'unqueried'), count(*) FROM collected GROUP BY 1",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (verdict, n) = row?;
            status
                .by_verdict
                .insert(verdict, u64::try_from(n).unwrap_or(0));
        }
        let mut stmt = tx.prepare_cached(
            "SELECT source, checkpoint, updated_at FROM collect_checkpoints ORDER BY source",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceCheckpoint {
                source: r.get(0)?,
                checkpoint: r.get(1)?,
                updated_at: from_millis(r.get(2)?),
            })
        })?;
        status.sources = rows.collect::<Result<Vec<_>, _>>()?;
    }
    Ok(status)
}

pub(crate) fn reset(db: &mut Db) -> Outcome<u64> {
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute("DELETE FROM collected", [])?;
    tx.execute("DELETE FROM collect_checkpoints", [])?;
    tx.commit()?;
    Ok(u64::try_from(n).unwrap_or(0))
}
