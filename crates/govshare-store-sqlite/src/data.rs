//! The data plane on SQLite: data sources, hosted records and their change history, grants, usage records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use govshare_domain::catalog::EntryId;
use govshare_domain::grant::{Grant, GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_domain::record::{DataSource, LoadCounts, LoadMode, SourceLoad};
use govshare_store::{BatchPlan, RecordFeed, Result, StoreError, StoredRecord, UsageFilter, plan_batch};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use crate::db;
use crate::rows::{corrupt, micros};

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::other)
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{what} document: {e}")))
}

/// Statements stay under SQLite's parameter limit (32766) with room to spare.
const KEYS_PER_STATEMENT: usize = 500;

// ---- sources ----

pub async fn save_source(conn: &mut SqliteConnection, source: &DataSource) -> Result<()> {
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM catalog_entries WHERE id = ?")
        .bind(source.entry.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    if exists.is_none() {
        return Err(StoreError::NotFound("目录不存在".into()));
    }
    sqlx::query(
        "INSERT INTO data_sources (entry_id, document, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (entry_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
    )
    .bind(source.entry.to_string())
    .bind(json(source)?)
    .bind(micros(source.updated_at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn get_source(pool: &SqlitePool, entry: EntryId) -> Result<Option<DataSource>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM data_sources WHERE entry_id = ?")
        .bind(entry.to_string())
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
pub async fn load(conn: &mut SqliteConnection, load: &SourceLoad, feed: &mut dyn RecordFeed) -> Result<LoadCounts> {
    let entry = load.entry.to_string();
    let state: Option<(i64, i64)> = sqlx::query_as("SELECT next_seq, load_no + 1 FROM data_sources WHERE entry_id = ?")
        .bind(&entry)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let Some((mut next_seq, load_no)) = state else {
        return Err(StoreError::NotFound("该目录尚未绑定数据源".into()));
    };
    let load_id = load.id.to_string();
    let mut counts = LoadCounts::default();
    while let Some(batch) = feed.next_batch().await? {
        // What the table holds for this batch's keys (earlier batches of this load included).
        let mut held: HashMap<String, (String, bool)> = HashMap::new();
        for chunk in batch.chunks(KEYS_PER_STATEMENT) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT key, digest, deleted FROM source_records WHERE entry_id = ");
            q.push_bind(&entry).push(" AND key IN (");
            let mut keys = q.separated(", ");
            for r in chunk {
                keys.push_bind(&r.key);
            }
            q.push(")");
            let rows: Vec<(String, String, bool)> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
            held.extend(rows.into_iter().map(|(k, d, del)| (k, (d, del))));
        }
        let BatchPlan { changed, unchanged } = plan_batch(batch, &mut held, &mut next_seq, &mut counts);
        for chunk in changed.chunks(KEYS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no) ",
            );
            q.push_values(chunk, |mut b, (r, _)| {
                b.push_bind(&entry)
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
                  digest = excluded.digest, payload = excluded.payload, deleted = 0, load_no = excluded.load_no",
            );
            q.build().execute(&mut *conn).await.map_err(db)?;
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id) ",
            );
            q.push_values(chunk, |mut b, (r, op)| {
                b.push_bind(&entry)
                    .push_bind(r.seq)
                    .push_bind(&r.key)
                    .push_bind(*op)
                    .push_bind(&r.digest)
                    .push_bind(&r.payload)
                    .push_bind(&load_id);
            });
            q.build().execute(&mut *conn).await.map_err(db)?;
        }
        for chunk in unchanged.chunks(KEYS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE source_records SET load_no = ");
            q.push_bind(load_no).push(" WHERE entry_id = ").push_bind(&entry).push(" AND key IN (");
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
            "SELECT key, digest FROM source_records WHERE entry_id = ? AND deleted = 0 AND load_no <> ? ORDER BY key",
        )
        .bind(&entry)
        .bind(load_no)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for (key, digest) in stale {
            sqlx::query("UPDATE source_records SET deleted = 1, seq = ?, load_no = ? WHERE entry_id = ? AND key = ?")
                .bind(next_seq)
                .bind(load_no)
                .bind(&entry)
                .bind(&key)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            sqlx::query(
                "INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id) VALUES (?, ?, ?, 'delete', ?, NULL, ?)",
            )
            .bind(&entry)
            .bind(next_seq)
            .bind(&key)
            .bind(&digest)
            .bind(&load_id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            next_seq += 1;
            counts.deleted += 1;
        }
    }
    sqlx::query("UPDATE data_sources SET next_seq = ?, load_no = ? WHERE entry_id = ?")
        .bind(next_seq)
        .bind(load_no)
        .bind(&entry)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let mut kept = load.clone();
    kept.counts = counts.clone();
    sqlx::query("INSERT INTO source_loads (id, entry_id, at, document) VALUES (?, ?, ?, ?)")
        .bind(&load_id)
        .bind(&entry)
        .bind(micros(load.at))
        .bind(json(&kept)?)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(counts)
}

pub async fn loads(pool: &SqlitePool, entry: EntryId, limit: u32) -> Result<Vec<SourceLoad>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT document FROM source_loads WHERE entry_id = ? ORDER BY at DESC, id DESC LIMIT ?")
            .bind(entry.to_string())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(db)?;
    rows.iter().map(|(d,)| parse("source load", d)).collect()
}

const RECORD_COLUMNS: &str = "SELECT key, scope, seq, digest, payload, deleted FROM source_records WHERE entry_id = ";

pub async fn get_record(pool: &SqlitePool, entry: EntryId, key: &str) -> Result<Option<StoredRecord>> {
    let row: Option<RecordRow> = sqlx::query_as(
        "SELECT key, scope, seq, digest, payload, deleted FROM source_records WHERE entry_id = ? AND key = ? AND deleted = 0",
    )
    .bind(entry.to_string())
    .bind(key)
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    Ok(row.map(record))
}

fn push_scope(q: &mut QueryBuilder<'_, Sqlite>, prefixes: Option<&[String]>) {
    if let Some(prefixes) = prefixes {
        q.push(" AND (");
        for (i, p) in prefixes.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("substr(scope, 1, ").push_bind(p.chars().count() as i64).push(") = ").push_bind(p.clone());
        }
        if prefixes.is_empty() {
            q.push("0");
        }
        q.push(")");
    }
}

pub async fn scan(
    pool: &SqlitePool,
    entry: EntryId,
    prefixes: Option<&[String]>,
    after_key: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredRecord>> {
    let mut q = QueryBuilder::<Sqlite>::new(RECORD_COLUMNS);
    q.push_bind(entry.to_string()).push(" AND deleted = 0");
    if let Some(after) = after_key {
        q.push(" AND key > ").push_bind(after.to_owned());
    }
    push_scope(&mut q, prefixes);
    q.push(" ORDER BY key LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<RecordRow> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    Ok(rows.into_iter().map(record).collect())
}

pub async fn changes(
    pool: &SqlitePool,
    entry: EntryId,
    prefixes: Option<&[String]>,
    after_seq: i64,
    live_only: bool,
    limit: u32,
) -> Result<Vec<StoredRecord>> {
    let mut q = QueryBuilder::<Sqlite>::new(RECORD_COLUMNS);
    q.push_bind(entry.to_string()).push(" AND seq > ").push_bind(after_seq);
    if live_only {
        q.push(" AND deleted = 0");
    }
    push_scope(&mut q, prefixes);
    q.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<RecordRow> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    Ok(rows.into_iter().map(record).collect())
}

// ---- grants ----

pub async fn insert_grant(conn: &mut SqliteConnection, grant: &Grant) -> Result<()> {
    sqlx::query(
        "INSERT INTO grants (id, application_id, requester, provider, entry_id, events, created_at, document)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(grant.id.to_string())
    .bind(grant.application.to_string())
    .bind(grant.requester.to_string())
    .bind(grant.provider.to_string())
    .bind(grant.entry.to_string())
    .bind(grant.events.len() as i64)
    .bind(micros(grant.created_at))
    .bind(json(grant)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn update_grant(conn: &mut SqliteConnection, grant: &Grant, expected_events: usize) -> Result<()> {
    let done = sqlx::query("UPDATE grants SET events = ?, document = ? WHERE id = ? AND events = ?")
        .bind(grant.events.len() as i64)
        .bind(json(grant)?)
        .bind(grant.id.to_string())
        .bind(expected_events as i64)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM grants WHERE id = ?")
        .bind(grant.id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    match exists {
        None => Err(StoreError::NotFound("共享授权不存在".into())),
        Some(_) => Err(StoreError::Conflict("该授权刚被其他人处理,请刷新后重试".into())),
    }
}

pub async fn get_grant(pool: &SqlitePool, id: GrantId) -> Result<Grant> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM grants WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db)?;
    let (d,) = row.ok_or_else(|| StoreError::NotFound("共享授权不存在".into()))?;
    parse("grant", &d)
}

pub async fn list_grants(pool: &SqlitePool, party: Option<OrgId>) -> Result<Vec<Grant>> {
    let rows: Vec<(String,)> = match party {
        Some(org) => {
            sqlx::query_as(
                "SELECT document FROM grants WHERE requester = ? OR provider = ? ORDER BY created_at DESC, id DESC",
            )
            .bind(org.to_string())
            .bind(org.to_string())
            .fetch_all(pool)
            .await
        }
        None => sqlx::query_as("SELECT document FROM grants ORDER BY created_at DESC, id DESC").fetch_all(pool).await,
    }
    .map_err(db)?;
    rows.iter().map(|(d,)| parse("grant", d)).collect()
}

// ---- usage records ----

pub async fn usage(pool: &SqlitePool, filter: &UsageFilter, limit: u32) -> Result<Vec<UsageRecord>> {
    let mut q = QueryBuilder::<Sqlite>::new("SELECT document FROM usage_records WHERE 1 = 1");
    if let Some(org) = filter.party {
        q.push(" AND (requester = ").push_bind(org.to_string()).push(" OR provider = ").push_bind(org.to_string());
        q.push(")");
    }
    if let Some(grant) = filter.grant {
        q.push(" AND grant_id = ").push_bind(grant.to_string());
    }
    if let Some(entry) = filter.entry {
        q.push(" AND entry_id = ").push_bind(entry.to_string());
    }
    if let Some(before) = filter.before {
        q.push(" AND at < ").push_bind(micros(before));
    }
    q.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<(String,)> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    rows.iter().map(|(d,)| parse("usage record", d)).collect()
}

pub async fn rows_since(pool: &SqlitePool, grant: GrantId, since: DateTime<Utc>) -> Result<u64> {
    let (sum,): (Option<i64>,) = sqlx::query_as("SELECT SUM(rows) FROM usage_records WHERE grant_id = ? AND at >= ?")
        .bind(grant.to_string())
        .bind(micros(since))
        .fetch_one(pool)
        .await
        .map_err(db)?;
    Ok(sum.unwrap_or(0).max(0) as u64)
}
