//! The data plane: data sources, hosted records and their change history, grants, usage records.

use std::collections::HashMap;

use govshare_domain::grant::Grant;
use govshare_domain::record::{LoadCounts, LoadMode, SourceLoad};
use govshare_store::{BatchPlan, RecordFeed, Result, StoreError, StoredRecord, plan_batch};

use crate::driver::{Arg, CopySource, Dialect, Sql, Tx, sql, values};
use crate::rows::{from_row, json};

/// Rows per multi-row statement: well under either backend's parameter limit (SQLite 32766, PostgreSQL 65535).
pub const ROWS_PER_STATEMENT: usize = 500;
/// A bulk load refreshes the planner's view of the table every this many batches (see
/// [`Dialect::bulk_load_hints`]).
const REFRESH_EVERY: u64 = 50;
/// A load that changed at least this many records refreshes the planner's statistics before it commits.
const REFRESH_STATISTICS_AFTER: u64 = 10_000;

// ---- sources ----

from_row!(StoredRecord { key, scope, seq, digest, payload, deleted });

/// Loads a file's batches inside the caller's transaction (see `Store::load_records`).
pub async fn load<D: Dialect>(tx: &mut Tx<D>, load: &SourceLoad, feed: &mut dyn RecordFeed) -> Result<LoadCounts> {
    let entry = load.entry;
    // Taking the numbers by an UPDATE locks the source's row until the load commits: a correction of one of its
    // records (which takes its sequence number the same way) waits for the load instead of colliding with it.
    let state: Option<(i64, i64)> =
        sql("UPDATE data_sources SET load_no = load_no WHERE entry_id = $1 RETURNING next_seq, load_no + 1")
            .bind(entry)
            .optional(tx)
            .await?;
    let Some((mut next_seq, load_no)) = state else {
        return Err(StoreError::NotFound("该目录尚未绑定数据源".into()));
    };
    // A source that holds no record yet (its first load) needs no lookups: every key is new, and no other writer
    // adds records while this load holds the source's row.
    let (held_before,): (bool,) =
        sql("SELECT EXISTS (SELECT 1 FROM source_records WHERE entry_id = $1)").bind(entry).one(tx).await?;
    if held_before {
        for hint in D::bulk_load_hints(true) {
            sql(*hint).execute(tx).await?;
        }
    }
    let mut counts = LoadCounts::default();
    let mut batches = 0u64;
    let mut held: HashMap<String, (String, bool)> = HashMap::new();
    let streamed = !held_before && D::COPY_IN;
    if streamed {
        // A first load on PostgreSQL: every record streams into one COPY while the next batch is sealed. It
        // replaces nothing, so it writes no change history.
        let mut fresh = FreshRecords {
            feed,
            next_seq: &mut next_seq,
            counts: &mut counts,
            entry: entry.0.to_string(),
            load_no: load_no.to_string(),
            load: load.id.to_string(),
        };
        tx.copy_in_stream(COPY_RECORDS, &mut fresh).await?;
    }
    // Otherwise batch by batch (the streamed load has already taken the feed to its end).
    while !streamed && let Some(batch) = feed.next_batch().await? {
        if held_before {
            // What the table holds for this batch's keys (earlier batches of this load included): one list
            // parameter joined through the primary key, one plan whatever the batch.
            held.clear();
            let rows: Vec<(String, String, bool)> = sql(format!(
                "SELECT r.key, r.digest, r.deleted FROM source_records r WHERE r.entry_id = $1 AND {}",
                D::any("r.key", "$2")
            ))
            .binds((entry, Arg::Texts(batch.iter().map(|r| r.key.as_str()).collect())))
            .all(tx)
            .await?;
            held.extend(rows.into_iter().map(|(k, d, del)| (k, (d, del))));
            batches += 1;
            if batches.is_multiple_of(REFRESH_EVERY) {
                for hint in D::bulk_load_hints(false) {
                    sql(*hint).execute(tx).await?;
                }
            }
        }
        let BatchPlan { changed, unchanged } = plan_batch(batch, &mut held, &mut next_seq, &mut counts);
        if !held_before {
            // Only this load's keys, which the producer never repeats: nothing to remember across batches.
            held.clear();
        }
        let (inserts, updates): (Vec<_>, Vec<_>) = changed.iter().partition(|(_, op)| *op == "insert");
        if D::COPY_IN {
            copy_records(tx, entry, load_no, load.id, &inserts).await?;
        } else {
            for chunk in inserts.chunks(ROWS_PER_STATEMENT) {
                upsert_records(tx, entry, load_no, load.id, chunk).await?;
            }
        }
        for chunk in updates.chunks(ROWS_PER_STATEMENT) {
            // The versions these updates replace (a revived tombstone included) go to the change history first.
            let keys = Arg::Texts(chunk.iter().map(|(r, _)| r.key.as_str()).collect());
            sql(format!("{ARCHIVE_VERSIONS} AND {}", D::any("key", "$2"))).binds((entry, keys)).execute(tx).await?;
            upsert_records(tx, entry, load_no, load.id, chunk).await?;
        }
        if !unchanged.is_empty() {
            sql(format!("UPDATE source_records SET load_no = $1 WHERE entry_id = $2 AND {}", D::any("key", "$3")))
                .binds((load_no, entry, Arg::Texts(unchanged.iter().map(String::as_str).collect())))
                .execute(tx)
                .await?;
        }
    }
    if load.mode == LoadMode::Replace {
        let stale: Vec<(String,)> = sql(
            "SELECT key FROM source_records WHERE entry_id = $1 AND deleted = FALSE AND load_no <> $2 ORDER BY key",
        )
        .binds((entry, load_no))
        .all(tx)
        .await?;
        for (key,) in stale {
            sql(format!("{ARCHIVE_VERSIONS} AND key = $2")).binds((entry, &key)).execute(tx).await?;
            sql("UPDATE source_records SET deleted = TRUE, seq = $1, load_no = $2, written_by = $3
                 WHERE entry_id = $4 AND key = $5")
            .binds((next_seq, load_no, load.id, entry, &key))
            .execute(tx)
            .await?;
            next_seq += 1;
            counts.deleted += 1;
        }
    }
    // A large load leaves the planner statistics of what it wrote: a table first loaded in one transaction has none
    // until autovacuum's next round, and the change feed's pages were planned as a sort of every row after the
    // cursor meanwhile (about 50 ms instead of 2 ms per page of 1,000 at 1M records, `bench data --bulk-only`).
    if counts.inserted + counts.updated + counts.deleted >= REFRESH_STATISTICS_AFTER {
        for hint in D::bulk_load_hints(false) {
            sql(*hint).execute(tx).await?;
        }
    }
    sql("UPDATE data_sources SET next_seq = $1, load_no = $2 WHERE entry_id = $3")
        .binds((next_seq, load_no, entry))
        .execute(tx)
        .await?;
    let mut kept = feed.conclusion().map_or_else(|| load.clone(), |(load, _)| load);
    kept.counts = counts.clone();
    sql("INSERT INTO source_loads (id, entry_id, at, document) VALUES ($1, $2, $3, $4)")
        .binds((load.id, entry, load.at, json(&kept)?))
        .execute(tx)
        .await?;
    Ok(counts)
}

/// The records of a first load as COPY rows, batch by batch from the feed.
struct FreshRecords<'f> {
    feed: &'f mut dyn RecordFeed,
    next_seq: &'f mut i64,
    counts: &'f mut LoadCounts,
    entry: String,
    load_no: String,
    load: String,
}

#[async_trait::async_trait]
impl CopySource for FreshRecords<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(batch) = self.feed.next_batch().await? else { return Ok(None) };
        // The producer never repeats a key, so every record of a first load is an insert; a repeat would be an
        // update here and the COPY would fail on the primary key, aborting the load.
        let mut held = HashMap::new();
        let BatchPlan { changed, .. } = plan_batch(batch, &mut held, self.next_seq, self.counts);
        Ok(Some(record_rows(&self.entry, &self.load_no, &self.load, changed.iter().map(|(r, _)| r))))
    }
}

/// Inserts or updates records (an update of a tombstone revives it).
async fn upsert_records<D: Dialect>(
    tx: &mut Tx<D>,
    entry: govshare_domain::catalog::EntryId,
    load_no: i64,
    load: uuid::Uuid,
    chunk: &[&(StoredRecord, &'static str)],
) -> Result<()> {
    let mut q = sql(format!(
        "INSERT INTO source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no, written_by)
         VALUES {}
         ON CONFLICT (entry_id, key) DO UPDATE SET scope = excluded.scope, seq = excluded.seq,
           digest = excluded.digest, payload = excluded.payload, deleted = FALSE, load_no = excluded.load_no,
           written_by = excluded.written_by",
        values(1, chunk.len(), 9)
    ));
    for (r, _) in chunk {
        q.push(entry).push(&r.key).push(&r.scope).push(r.seq).push(&r.digest).push(&r.payload);
        q.push(false).push(load_no).push(load);
    }
    q.execute(tx).await?;
    Ok(())
}

/// New records by `COPY`: keys the table does not hold, so no conflict handling is needed.
async fn copy_records<D: Dialect>(
    tx: &mut Tx<D>,
    entry: govshare_domain::catalog::EntryId,
    load_no: i64,
    load: uuid::Uuid,
    rows: &[&(StoredRecord, &'static str)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let data = record_rows(&entry.0.to_string(), &load_no.to_string(), &load.to_string(), rows.iter().map(|(r, _)| r));
    tx.copy_in(COPY_RECORDS, &data).await?;
    Ok(())
}

/// The COPY that writes new records; its rows are made by [`record_rows`].
const COPY_RECORDS: &str =
    "COPY source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no, written_by) FROM STDIN";

/// Copies the current versions of the records selected by the conditions appended to it (`$1` is the entry) into
/// the change history, before a load or a correction replaces them; a tombstone's payload is not repeated there
/// (NULL marks a deletion). The current versions themselves are never kept twice.
pub(crate) const ARCHIVE_VERSIONS: &str = "INSERT INTO source_changes (entry_id, seq, key, digest, payload, load_id)
     SELECT entry_id, seq, key, digest, CASE WHEN deleted THEN NULL ELSE payload END, written_by
     FROM source_records WHERE entry_id = $1";

/// New records as rows of [`COPY_RECORDS`].
fn record_rows<'r>(
    entry: &str,
    load_no: &str,
    load: &str,
    records: impl ExactSizeIterator<Item = &'r StoredRecord>,
) -> Vec<u8> {
    let mut data = Vec::with_capacity(records.len() * 512);
    for r in records {
        copy_row(
            &mut data,
            &[
                CopyField::Text(entry),
                CopyField::Text(&r.key),
                CopyField::Text(&r.scope),
                CopyField::Int(r.seq),
                CopyField::Text(&r.digest),
                CopyField::Bytes(Some(&r.payload)),
                CopyField::Text("f"),
                CopyField::Text(load_no),
                CopyField::Text(load),
            ],
        );
    }
    data
}

/// A field of a row in COPY's text format.
pub(crate) enum CopyField<'a> {
    Text(&'a str),
    Int(i64),
    /// `bytea` (`None`: NULL).
    Bytes(Option<&'a [u8]>),
}

/// Appends one row in COPY's text format: tab-separated, newline-terminated, with backslash escapes for the
/// characters that would end a field or a row; `bytea` in hex (`\\x…`, the backslash itself escaped).
pub(crate) fn copy_row(out: &mut Vec<u8>, fields: &[CopyField<'_>]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match field {
            CopyField::Text(text) => {
                for &b in text.as_bytes() {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        _ => out.push(b),
                    }
                }
            }
            CopyField::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            CopyField::Bytes(None) => out.extend_from_slice(b"\\N"),
            CopyField::Bytes(Some(bytes)) => {
                out.extend_from_slice(b"\\\\x");
                for &b in *bytes {
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                }
            }
        }
    }
    out.push(b'\n');
}

pub(crate) const RECORD_COLUMNS: &str =
    "SELECT key, scope, seq, digest, payload, deleted FROM source_records WHERE entry_id = $1";

/// Appends the row-scope condition: the scope starts with one of the prefixes (none: nothing matches).
pub(crate) fn push_scope<D: Dialect>(q: &mut Sql<'_>, prefixes: Option<&[String]>) {
    if let Some(prefixes) = prefixes {
        let conditions: Vec<String> = prefixes.iter().map(|p| D::starts_with("scope", &q.param(p.clone()))).collect();
        let any = if conditions.is_empty() { "FALSE".to_owned() } else { conditions.join(" OR ") };
        q.text(&format!(" AND ({any})"));
    }
}

// ---- grants ----

pub async fn insert_grant<D: Dialect>(tx: &mut Tx<D>, grant: &Grant) -> Result<()> {
    sql("INSERT INTO grants (id, number, application_id, requester, provider, entry_id, events, created_at, document)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
    .binds((
        grant.id,
        &grant.number,
        grant.application,
        grant.requester,
        grant.provider,
        grant.entry,
        grant.events.len(),
        grant.created_at,
        json(grant)?,
    ))
    .execute(tx)
    .await?;
    Ok(())
}

// ---- usage records ----

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_what_would_end_a_field_or_a_row() {
        let mut out = Vec::new();
        copy_row(
            &mut out,
            &[
                CopyField::Text("a\tb\nc\\d\re"),
                CopyField::Int(-7),
                CopyField::Bytes(Some(&[0, 0xab, 0xff])),
                CopyField::Bytes(None),
            ],
        );
        assert_eq!(out, b"a\\tb\\nc\\\\d\\re\t-7\t\\\\x00abff\t\\N\n");
    }
}
