//! The data plane on PostgreSQL: data sources, hosted records and their change history, grants, usage records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use govshare_domain::catalog::EntryId;
use govshare_domain::grant::{Grant, GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_domain::record::{DataSource, LoadCounts, LoadMode, SourceLoad};
use govshare_store::{BatchPlan, RecordFeed, Result, StoreError, StoredRecord, UsageFilter, plan_batch};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use crate::db;
use crate::rows::corrupt;

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::other)
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{what} document: {e}")))
}

/// Statements stay well under PostgreSQL's parameter limit (65535).
const KEYS_PER_STATEMENT: usize = 500;

// ---- sources ----

pub async fn save_source(conn: &mut PgConnection, source: &DataSource) -> Result<()> {
    let exists: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM catalog_entries WHERE id = $1")
        .bind(source.entry.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    if exists.is_none() {
        return Err(StoreError::NotFound("目录不存在".into()));
    }
    sqlx::query(
        "INSERT INTO data_sources (entry_id, document, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (entry_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
    )
    .bind(source.entry.0)
    .bind(json(source)?)
    .bind(source.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn get_source(pool: &PgPool, entry: EntryId) -> Result<Option<DataSource>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM data_sources WHERE entry_id = $1")
        .bind(entry.0)
        .fetch_optional(pool)
        .await
        .map_err(db)?;
    row.map(|(d,)| parse("data source", &d)).transpose()
}

type RecordRow = (String, String, i64, String, Vec<u8>, bool);

fn record(row: RecordRow) -> StoredRecord {
    let (key, scope, seq, digest, payload, deleted) = row;
    StoredRecord { key, scope, seq, digest, payload, deleted }
}

/// Loads a file's batches inside the caller's transaction (see `Store::load_records`).
pub async fn load(conn: &mut PgConnection, load: &SourceLoad, feed: &mut dyn RecordFeed) -> Result<LoadCounts> {
    let entry = load.entry.0;
    let state: Option<(i64, i64)> =
        sqlx::query_as("SELECT next_seq, load_no + 1 FROM data_sources WHERE entry_id = $1")
            .bind(entry)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    let Some((mut next_seq, load_no)) = state else {
        return Err(StoreError::NotFound("该目录尚未绑定数据源".into()));
    };
    let load_id = load.id;
    // The table grows inside this one transaction, unseen by the statistics: without this the planner keeps
    // choosing sequential scans for the per-batch key lookups, and a large load becomes quadratic.
    sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *conn).await.map_err(db)?;
    let mut counts = LoadCounts::default();
    let mut batches = 0u64;
    while let Some(batch) = feed.next_batch().await? {
        // What the table holds for this batch's keys (earlier batches of this load included).
        let mut held: HashMap<String, (String, bool)> = HashMap::new();
        // One array parameter, joined through the primary key: one plan, whatever the batch.
        let keys: Vec<&str> = batch.iter().map(|r| r.key.as_str()).collect();
        let rows: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT r.key, r.digest, r.deleted FROM unnest($2::text[]) AS k(key)
             JOIN source_records r ON r.entry_id = $1 AND r.key = k.key COLLATE \"C\"",
        )
        .bind(entry)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        held.extend(rows.into_iter().map(|(k, d, del)| (k, (d, del))));
        batches += 1;
        if batches.is_multiple_of(50) {
            // The rows written so far are invisible to the statistics until this transaction ends; let the
            // planner see them (ANALYZE samples the transaction's own rows).
            sqlx::query("ANALYZE source_records").execute(&mut *conn).await.map_err(db)?;
        }
        let BatchPlan { changed, unchanged } = plan_batch(batch, &mut held, &mut next_seq, &mut counts);
        for chunk in changed.chunks(KEYS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Postgres>::new(
                "INSERT INTO source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no) ",
            );
            q.push_values(chunk, |mut b, (r, _)| {
                b.push_bind(entry)
                    .push_bind(&r.key)
                    .push_bind(&r.scope)
                    .push_bind(r.seq)
                    .push_bind(&r.digest)
                    .push_bind(&r.payload)
                    .push_bind(false)
                    .push_bind(load_no);
            });
            q.push(
                " ON CONFLICT (entry_id, key) DO UPDATE SET scope = excluded.scope, seq = excluded.seq,
                  digest = excluded.digest, payload = excluded.payload, deleted = FALSE, load_no = excluded.load_no",
            );
            q.build().execute(&mut *conn).await.map_err(db)?;
            let mut q = QueryBuilder::<Postgres>::new(
                "INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id) ",
            );
            q.push_values(chunk, |mut b, (r, op)| {
                b.push_bind(entry)
                    .push_bind(r.seq)
                    .push_bind(&r.key)
                    .push_bind(*op)
                    .push_bind(&r.digest)
                    .push_bind(&r.payload)
                    .push_bind(load_id);
            });
            q.build().execute(&mut *conn).await.map_err(db)?;
        }
        for chunk in unchanged.chunks(KEYS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Postgres>::new("UPDATE source_records SET load_no = ");
            q.push_bind(load_no).push(" WHERE entry_id = ").push_bind(entry).push(" AND key IN (");
            let mut keys = q.separated(", ");
            for k in chunk {
                keys.push_bind(k);
            }
            q.push(")");
            q.build().execute(&mut *conn).await.map_err(db)?;
        }
    }
    if load.mode == LoadMode::Replace {
        let stale: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, digest FROM source_records WHERE entry_id = $1 AND deleted = FALSE AND load_no <> $2 ORDER BY key",
        )
        .bind(entry)
        .bind(load_no)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for (key, digest) in stale {
            sqlx::query(
                "UPDATE source_records SET deleted = TRUE, seq = $1, load_no = $2 WHERE entry_id = $3 AND key = $4",
            )
            .bind(next_seq)
            .bind(load_no)
            .bind(entry)
            .bind(&key)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            sqlx::query(
                "INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id) VALUES ($1, $2, $3, 'delete', $4, NULL, $5)",
            )
            .bind(entry)
            .bind(next_seq)
            .bind(&key)
            .bind(&digest)
            .bind(load_id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            next_seq += 1;
            counts.deleted += 1;
        }
    }
    sqlx::query("UPDATE data_sources SET next_seq = $1, load_no = $2 WHERE entry_id = $3")
        .bind(next_seq)
        .bind(load_no)
        .bind(entry)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let mut kept = load.clone();
    kept.counts = counts.clone();
    sqlx::query("INSERT INTO source_loads (id, entry_id, at, document) VALUES ($1, $2, $3, $4)")
        .bind(load_id)
        .bind(entry)
        .bind(load.at)
        .bind(json(&kept)?)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(counts)
}

pub async fn loads(pool: &PgPool, entry: EntryId, limit: u32) -> Result<Vec<SourceLoad>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT document FROM source_loads WHERE entry_id = $1 ORDER BY at DESC, id DESC LIMIT $2")
            .bind(entry.0)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(db)?;
    rows.iter().map(|(d,)| parse("source load", d)).collect()
}

const RECORD_COLUMNS: &str = "SELECT key, scope, seq, digest, payload, deleted FROM source_records WHERE entry_id = ";

pub async fn get_record(pool: &PgPool, entry: EntryId, key: &str) -> Result<Option<StoredRecord>> {
    let row: Option<RecordRow> = sqlx::query_as(
        "SELECT key, scope, seq, digest, payload, deleted FROM source_records WHERE entry_id = $1 AND key = $2 AND deleted = FALSE",
    )
    .bind(entry.0)
    .bind(key)
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    Ok(row.map(record))
}

fn push_scope(q: &mut QueryBuilder<'_, Postgres>, prefixes: Option<&[String]>) {
    if let Some(prefixes) = prefixes {
        q.push(" AND (");
        for (i, p) in prefixes.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("starts_with(scope, ").push_bind(p.clone()).push(")");
        }
        if prefixes.is_empty() {
            q.push("FALSE");
        }
        q.push(")");
    }
}

pub async fn scan(
    pool: &PgPool,
    entry: EntryId,
    prefixes: Option<&[String]>,
    after_key: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredRecord>> {
    let mut q = QueryBuilder::<Postgres>::new(RECORD_COLUMNS);
    q.push_bind(entry.0).push(" AND deleted = FALSE");
    if let Some(after) = after_key {
        q.push(" AND key > ").push_bind(after.to_owned());
    }
    push_scope(&mut q, prefixes);
    q.push(" ORDER BY key LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<RecordRow> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    Ok(rows.into_iter().map(record).collect())
}

pub async fn changes(
    pool: &PgPool,
    entry: EntryId,
    prefixes: Option<&[String]>,
    after_seq: i64,
    live_only: bool,
    limit: u32,
) -> Result<Vec<StoredRecord>> {
    let mut q = QueryBuilder::<Postgres>::new(RECORD_COLUMNS);
    q.push_bind(entry.0).push(" AND seq > ").push_bind(after_seq);
    if live_only {
        q.push(" AND deleted = FALSE");
    }
    push_scope(&mut q, prefixes);
    q.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<RecordRow> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    Ok(rows.into_iter().map(record).collect())
}

// ---- grants ----

pub async fn insert_grant(conn: &mut PgConnection, grant: &Grant) -> Result<()> {
    sqlx::query(
        "INSERT INTO grants (id, application_id, requester, provider, entry_id, events, created_at, document)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(grant.id.0)
    .bind(grant.application.0)
    .bind(grant.requester.0)
    .bind(grant.provider.0)
    .bind(grant.entry.0)
    .bind(grant.events.len() as i32)
    .bind(grant.created_at)
    .bind(json(grant)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn update_grant(conn: &mut PgConnection, grant: &Grant, expected_events: usize) -> Result<()> {
    let done = sqlx::query("UPDATE grants SET events = $1, document = $2 WHERE id = $3 AND events = $4")
        .bind(grant.events.len() as i32)
        .bind(json(grant)?)
        .bind(grant.id.0)
        .bind(expected_events as i32)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM grants WHERE id = $1")
        .bind(grant.id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    match exists {
        None => Err(StoreError::NotFound("共享授权不存在".into())),
        Some(_) => Err(StoreError::Conflict("该授权刚被其他人处理,请刷新后重试".into())),
    }
}

pub async fn get_grant(pool: &PgPool, id: GrantId) -> Result<Grant> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM grants WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(db)?;
    let (d,) = row.ok_or_else(|| StoreError::NotFound("共享授权不存在".into()))?;
    parse("grant", &d)
}

pub async fn list_grants(pool: &PgPool, party: Option<OrgId>) -> Result<Vec<Grant>> {
    let rows: Vec<(String,)> = match party {
        Some(org) => {
            sqlx::query_as(
                "SELECT document FROM grants WHERE requester = $1 OR provider = $2 ORDER BY created_at DESC, id DESC",
            )
            .bind(org.0)
            .bind(org.0)
            .fetch_all(pool)
            .await
        }
        None => sqlx::query_as("SELECT document FROM grants ORDER BY created_at DESC, id DESC").fetch_all(pool).await,
    }
    .map_err(db)?;
    rows.iter().map(|(d,)| parse("grant", d)).collect()
}

// ---- usage records ----

pub async fn usage(pool: &PgPool, filter: &UsageFilter, limit: u32) -> Result<Vec<UsageRecord>> {
    let mut q = QueryBuilder::<Postgres>::new("SELECT document FROM usage_records WHERE TRUE");
    if let Some(org) = filter.party {
        q.push(" AND (requester = ").push_bind(org.0).push(" OR provider = ").push_bind(org.0);
        q.push(")");
    }
    if let Some(grant) = filter.grant {
        q.push(" AND grant_id = ").push_bind(grant.0);
    }
    if let Some(entry) = filter.entry {
        q.push(" AND entry_id = ").push_bind(entry.0);
    }
    if let Some(before) = filter.before {
        q.push(" AND at < ").push_bind(before);
    }
    q.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<(String,)> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    rows.iter().map(|(d,)| parse("usage record", d)).collect()
}

pub async fn rows_since(pool: &PgPool, grant: GrantId, since: DateTime<Utc>) -> Result<u64> {
    let (sum,): (Option<i64>,) =
        sqlx::query_as("SELECT SUM(rows)::BIGINT FROM usage_records WHERE grant_id = $1 AND at >= $2")
            .bind(grant.0)
            .bind(since)
            .fetch_one(pool)
            .await
            .map_err(db)?;
    Ok(sum.unwrap_or(0).max(0) as u64)
}
