//! The data plane: data sources, hosted records and their change history, grants, usage records.

use std::collections::HashMap;

use govshare_domain::grant::Grant;
use govshare_domain::record::{LoadCounts, LoadMode, SourceLoad};
use govshare_store::{BatchPlan, RecordFeed, RecordVersion, Result, StoreError, StoredRecord, plan_batch};

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
from_row!(RecordVersion { seq, digest, payload, written_by });

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
            entry: entry.0,
            load_no,
            load: load.id,
            stage: Stage::Start,
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
        // The live versions the deletions replace go to the change history in one statement (the same selection).
        sql(format!("{ARCHIVE_VERSIONS} AND deleted = FALSE AND load_no <> $2"))
            .binds((entry, load_no))
            .execute(tx)
            .await?;
        for (key,) in stale {
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
    entry: uuid::Uuid,
    load_no: i64,
    load: uuid::Uuid,
    /// Where the stream is: the binary format's header goes before the first row, its trailer after the last.
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Rows,
    Ended,
}

#[async_trait::async_trait]
impl CopySource for FreshRecords<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.stage == Stage::Ended {
            return Ok(None);
        }
        let mut data = Vec::new();
        if self.stage == Stage::Start {
            data.extend_from_slice(COPY_BINARY_HEADER);
            self.stage = Stage::Rows;
        }
        let Some(batch) = self.feed.next_batch().await? else {
            data.extend_from_slice(COPY_BINARY_TRAILER);
            self.stage = Stage::Ended;
            return Ok(Some(data));
        };
        // The producer never repeats a key, so every record of a first load is an insert; a repeat would be an
        // update here and the COPY would fail on the primary key, aborting the load.
        let mut held = HashMap::new();
        let BatchPlan { changed, .. } = plan_batch(batch, &mut held, self.next_seq, self.counts);
        record_rows(&mut data, self.entry, self.load_no, self.load, changed.iter().map(|(r, _)| r));
        Ok(Some(data))
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
    let mut data = COPY_BINARY_HEADER.to_vec();
    record_rows(&mut data, entry.0, load_no, load, rows.iter().map(|(r, _)| r));
    data.extend_from_slice(COPY_BINARY_TRAILER);
    tx.copy_in(COPY_RECORDS, &data).await?;
    Ok(())
}

/// The COPY that writes new records, in PostgreSQL's binary format (no hex encoding of the ciphertext here and no
/// decoding and field splitting in the server); its rows are made by [`record_rows`].
const COPY_RECORDS: &str =
    "COPY source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no, written_by)
     FROM STDIN (FORMAT binary)";

/// Copies the current versions of the records selected by the conditions appended to it (`$1` is the entry) into
/// the change history, before a load or a correction replaces them; a tombstone's payload is not repeated there
/// (NULL marks a deletion). The current versions themselves are never kept twice.
pub(crate) const ARCHIVE_VERSIONS: &str = "INSERT INTO source_changes (entry_id, seq, key, digest, payload, load_id)
     SELECT entry_id, seq, key, digest, CASE WHEN deleted THEN NULL ELSE payload END, written_by
     FROM source_records WHERE entry_id = $1";

/// New records as rows of [`COPY_RECORDS`], appended to `out`.
fn record_rows<'r>(
    out: &mut Vec<u8>,
    entry: uuid::Uuid,
    load_no: i64,
    load: uuid::Uuid,
    records: impl ExactSizeIterator<Item = &'r StoredRecord>,
) {
    out.reserve(records.len() * 480);
    for r in records {
        copy_row(
            out,
            &[
                CopyField::Uuid(entry),
                CopyField::Text(&r.key),
                CopyField::Text(&r.scope),
                CopyField::BigInt(r.seq),
                CopyField::Text(&r.digest),
                CopyField::Bytes(Some(&r.payload)),
                CopyField::Bool(false),
                CopyField::BigInt(load_no),
                CopyField::Uuid(load),
            ],
        );
    }
}

/// The start of data in `COPY`'s binary format: its signature, no flags, no header extension.
const COPY_BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The end of data in `COPY`'s binary format: a field count of -1.
const COPY_BINARY_TRAILER: &[u8] = &[0xff, 0xff];

/// A field of a row in `COPY`'s binary format, as the column's type receives it.
pub(crate) enum CopyField<'a> {
    Uuid(uuid::Uuid),
    Text(&'a str),
    BigInt(i64),
    Bool(bool),
    /// `bytea` (`None`: NULL).
    Bytes(Option<&'a [u8]>),
}

/// Appends one row in `COPY`'s binary format: the field count, then each field's length (-1 for NULL) and its
/// bytes in the type's binary representation (network byte order).
pub(crate) fn copy_row(out: &mut Vec<u8>, fields: &[CopyField<'_>]) {
    let count = i16::try_from(fields.len()).expect("a row has fewer than 32,768 fields");
    out.extend_from_slice(&count.to_be_bytes());
    for f in fields {
        let int;
        let bytes: Option<&[u8]> = match f {
            CopyField::Uuid(id) => Some(id.as_bytes()),
            CopyField::Text(text) => Some(text.as_bytes()),
            CopyField::BigInt(n) => {
                int = n.to_be_bytes();
                Some(&int)
            }
            CopyField::Bool(b) => Some(if *b { &[1] } else { &[0] }),
            CopyField::Bytes(bytes) => *bytes,
        };
        match bytes {
            Some(bytes) => {
                let len = i32::try_from(bytes.len()).expect("a field is smaller than 2 GiB");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
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
    fn copy_rows_are_counted_length_prefixed_fields() {
        let mut out = Vec::new();
        let id = uuid::Uuid::from_u128(0x0102);
        copy_row(
            &mut out,
            &[
                CopyField::Uuid(id),
                CopyField::Text("a\tb"),
                CopyField::BigInt(-7),
                CopyField::Bool(true),
                CopyField::Bytes(Some(&[0, 0xab])),
                CopyField::Bytes(None),
            ],
        );
        let mut expected = vec![0, 6];
        expected.extend([0, 0, 0, 16]);
        expected.extend(id.as_bytes());
        expected.extend([0, 0, 0, 3, b'a', b'\t', b'b']);
        expected.extend([0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf9]);
        expected.extend([0, 0, 0, 1, 1]);
        expected.extend([0, 0, 0, 2, 0, 0xab]);
        expected.extend([0xff, 0xff, 0xff, 0xff]);
        assert_eq!(out, expected);
        assert_eq!(COPY_BINARY_HEADER.len(), 19, "signature (11), flags (4), header extension length (4)");
    }
}
