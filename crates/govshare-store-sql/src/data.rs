//! The data plane: data sources, hosted records and their change history, grants, usage records.

use std::collections::HashMap;

use govshare_domain::grant::Grant;
use govshare_domain::record::{LoadCounts, LoadMode, SourceLoad};
use govshare_store::{BatchPlan, RecordFeed, Result, StoreError, StoredRecord, plan_batch};

use crate::driver::{Arg, Dialect, Sql, Tx, sql, values};
use crate::rows::{from_row, json};

/// Rows per multi-row statement: well under either backend's parameter limit (SQLite 32766, PostgreSQL 65535).
pub const ROWS_PER_STATEMENT: usize = 500;
/// A bulk load refreshes the planner's view of the table every this many batches (see
/// [`Dialect::bulk_load_hints`]).
const REFRESH_EVERY: u64 = 50;

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
    for hint in D::bulk_load_hints(true) {
        sql(*hint).execute(tx).await?;
    }
    let mut counts = LoadCounts::default();
    let mut batches = 0u64;
    while let Some(batch) = feed.next_batch().await? {
        // What the table holds for this batch's keys (earlier batches of this load included): one list
        // parameter joined through the primary key, one plan whatever the batch.
        let mut held: HashMap<String, (String, bool)> = HashMap::new();
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
        let BatchPlan { changed, unchanged } = plan_batch(batch, &mut held, &mut next_seq, &mut counts);
        for chunk in changed.chunks(ROWS_PER_STATEMENT) {
            let mut q = sql(format!(
                "INSERT INTO source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no) VALUES {}
                 ON CONFLICT (entry_id, key) DO UPDATE SET scope = excluded.scope, seq = excluded.seq,
                   digest = excluded.digest, payload = excluded.payload, deleted = FALSE, load_no = excluded.load_no",
                values(1, chunk.len(), 8)
            ));
            for (r, _) in chunk {
                q.push(entry).push(&r.key).push(&r.scope).push(r.seq).push(&r.digest).push(&r.payload);
                q.push(false).push(load_no);
            }
            q.execute(tx).await?;
            let mut q = sql(format!(
                "INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id) VALUES {}",
                values(1, chunk.len(), 7)
            ));
            for (r, op) in chunk {
                q.push(entry).push(r.seq).push(&r.key).push(*op).push(&r.digest).push(&r.payload).push(load.id);
            }
            q.execute(tx).await?;
        }
        if !unchanged.is_empty() {
            sql(format!("UPDATE source_records SET load_no = $1 WHERE entry_id = $2 AND {}", D::any("key", "$3")))
                .binds((load_no, entry, Arg::Texts(unchanged.iter().map(String::as_str).collect())))
                .execute(tx)
                .await?;
        }
    }
    if load.mode == LoadMode::Replace {
        let stale: Vec<(String, String)> = sql(
            "SELECT key, digest FROM source_records WHERE entry_id = $1 AND deleted = FALSE AND load_no <> $2 ORDER BY key",
        )
        .binds((entry, load_no))
        .all(tx)
        .await?;
        for (key, digest) in stale {
            sql("UPDATE source_records SET deleted = TRUE, seq = $1, load_no = $2 WHERE entry_id = $3 AND key = $4")
                .binds((next_seq, load_no, entry, &key))
                .execute(tx)
                .await?;
            sql("INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id)
                 VALUES ($1, $2, $3, 'delete', $4, NULL, $5)")
            .binds((entry, next_seq, &key, &digest, load.id))
            .execute(tx)
            .await?;
            next_seq += 1;
            counts.deleted += 1;
        }
    }
    sql("UPDATE data_sources SET next_seq = $1, load_no = $2 WHERE entry_id = $3")
        .binds((next_seq, load_no, entry))
        .execute(tx)
        .await?;
    let mut kept = load.clone();
    kept.counts = counts.clone();
    sql("INSERT INTO source_loads (id, entry_id, at, document) VALUES ($1, $2, $3, $4)")
        .binds((load.id, entry, load.at, json(&kept)?))
        .execute(tx)
        .await?;
    Ok(counts)
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
