//! Federation: this node's configuration, the directories it adopted, the outbox of catalog changes it owes its
//! parent, the entries its children delivered, its children and the nonces of messages received.
//!
//! Invariant: an outbox row's `seq` is the audit record of the transaction that wrote it, written while the
//! audit head is held (after `append`), so the order of sequence numbers is the order of commits and a reader's
//! cursor never passes a row that commits later.

use chrono::{DateTime, Utc};
use govshare_domain::audit::AuditEvent;
use govshare_domain::catalog::EntryId;
use govshare_domain::federation::{
    AdmissionRequest, ChildNode, FederatedEntry, NodeConfig, NodeId, ParentLink, SignedDirectory,
};
use govshare_store::{Result, StoreError};

use crate::driver::{Arg, Dialect, FromRow, Row, Tx, sql};
use crate::rows::json;
use crate::{SqlStore, append};

fn node(raw: &str) -> Result<NodeId> {
    NodeId::parse(raw).map_err(|e| StoreError::Other(format!("stored node id {raw}: {}", e.message).into()))
}

fn document<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Other(format!("stored federation document: {e}").into()))
}

/// Writes the outbox rows of a transaction whose audit record is `seq`.
pub async fn enqueue<D: Dialect>(tx: &mut Tx<D>, seq: i64, entries: &[(EntryId, bool)]) -> Result<()> {
    for (entry, local) in entries {
        sql("INSERT INTO federation_outbox (seq, entry_id, local) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .binds((seq, *entry, *local))
            .execute(tx)
            .await?;
    }
    Ok(())
}

struct ConfigRow(NodeConfig);

impl FromRow for ConfigRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        let parent_id: Option<String> = r.get("parent_id")?;
        let parent = match parent_id {
            Some(id) => Some(ParentLink {
                id: node(&id)?,
                endpoint: r.get::<Option<String>>("parent_endpoint")?.unwrap_or_default(),
                sign_key: r.get::<Option<String>>("parent_key")?.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(ConfigRow(NodeConfig {
            id: node(&r.get::<String>("node_id")?)?,
            name: r.get("name")?,
            endpoint: r.get("endpoint")?,
            anchor_key: r.get("anchor_key")?,
            parent,
            parent_acked: r.get("parent_acked")?,
            joined_at: r.get("joined_at")?,
        }))
    }
}

pub async fn config<D: Dialect>(store: &SqlStore<D>) -> Result<Option<NodeConfig>> {
    let row: Option<ConfigRow> = sql("SELECT node_id, name, endpoint, anchor_key, parent_id, parent_endpoint, \
         parent_key, parent_acked, joined_at FROM federation_config WHERE id = 1")
    .optional(&mut store.r())
    .await?;
    Ok(row.map(|r| r.0))
}

pub async fn save_config<D: Dialect>(
    tx: &mut Tx<D>,
    config: &NodeConfig,
    directory: Option<(u64, DateTime<Utc>, &SignedDirectory)>,
) -> Result<()> {
    let held: Option<(i64,)> = sql("SELECT id FROM federation_config WHERE id = 1").optional(tx).await?;
    if held.is_some() {
        return Err(StoreError::Conflict("本节点已加入联邦，不能重复设置".into()));
    }
    let parent = config.parent.as_ref();
    sql("INSERT INTO federation_config (id, node_id, name, endpoint, anchor_key, parent_id, parent_endpoint, \
         parent_key, parent_acked, joined_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)")
    .binds((config.id.to_string(), &config.name, &config.endpoint, &config.anchor_key))
    .binds((
        parent.map(|p| p.id.to_string()),
        parent.map(|p| p.endpoint.clone()),
        parent.map(|p| p.sign_key.clone()),
        config.parent_acked,
        config.joined_at,
    ))
    .execute(tx)
    .await?;
    if let Some((version, expires_at, signed)) = directory {
        insert_directory(tx, version, expires_at, signed, config.joined_at).await?;
    }
    Ok(())
}

async fn insert_directory<D: Dialect>(
    tx: &mut Tx<D>,
    version: u64,
    expires_at: DateTime<Utc>,
    signed: &SignedDirectory,
    at: DateTime<Utc>,
) -> Result<()> {
    sql("INSERT INTO federation_directories (version, body, signature, expires_at, adopted_at) \
         VALUES ($1, $2, $3, $4, $5)")
    .binds((version as i64, &signed.body, &signed.signature, expires_at, at))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn held_directory<D: Dialect>(store: &SqlStore<D>) -> Result<Option<SignedDirectory>> {
    let row: Option<(String, String)> =
        sql("SELECT body, signature FROM federation_directories ORDER BY version DESC LIMIT 1")
            .optional(&mut store.r())
            .await?;
    Ok(row.map(|(body, signature)| SignedDirectory { body, signature }))
}

/// Adopts the directory if newer than the held one; the check and the insert are one transaction, and the
/// version is the primary key, so two instances adopting at once cannot both write it.
pub async fn adopt_directory<D: Dialect>(
    tx: &mut Tx<D>,
    version: u64,
    expires_at: DateTime<Utc>,
    signed: &SignedDirectory,
    at: DateTime<Utc>,
) -> Result<bool> {
    let (held,): (Option<i64>,) = sql("SELECT MAX(version) FROM federation_directories").one(tx).await?;
    if held.is_some_and(|h| h >= version as i64) {
        return Ok(false);
    }
    let inserted = sql("INSERT INTO federation_directories (version, body, signature, expires_at, adopted_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING")
    .binds((version as i64, &signed.body, &signed.signature, expires_at, at))
    .execute(tx)
    .await?;
    Ok(inserted == 1)
}

pub async fn outbox_after<D: Dialect>(
    store: &SqlStore<D>,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, EntryId, bool)>> {
    let last: Option<(i64,)> = sql("SELECT MAX(seq) FROM (SELECT DISTINCT seq FROM federation_outbox WHERE seq > $1 \
         ORDER BY seq LIMIT $2) AS firsts")
    .binds((after, i64::from(limit.max(1))))
    .optional(&mut store.r())
    .await?
    .and_then(|(m,): (Option<i64>,)| m.map(|m| (m,)));
    let Some((through,)) = last else { return Ok(Vec::new()) };
    sql("SELECT seq, entry_id, local FROM federation_outbox WHERE seq > $1 AND seq <= $2 ORDER BY seq, entry_id")
        .binds((after, through))
        .all(&mut store.r())
        .await
}

pub async fn outbox_head<D: Dialect>(store: &SqlStore<D>) -> Result<i64> {
    let (head,): (Option<i64>,) = sql("SELECT MAX(seq) FROM federation_outbox").one(&mut store.r()).await?;
    Ok(head.unwrap_or(-1))
}

pub async fn set_parent_acked<D: Dialect>(store: &SqlStore<D>, acked: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    sql("UPDATE federation_config SET parent_acked = $1 WHERE id = 1").bind(acked).execute(&mut tx).await?;
    tx.commit().await
}

/// The child's row, locked on PostgreSQL (`FOR UPDATE` through an update), so two instances applying the same
/// child's batch serialise and the second sees the first's cursor.
async fn child_cursor<D: Dialect>(tx: &mut Tx<D>, child: &NodeId) -> Result<i64> {
    let touched = sql("UPDATE federation_children SET last_seq = last_seq WHERE node_id = $1")
        .bind(child.to_string())
        .execute(tx)
        .await?;
    if touched == 0 {
        return Err(StoreError::NotFound(format!("节点 {child} 不是本节点的下级节点")));
    }
    let (seq,): (i64,) =
        sql("SELECT last_seq FROM federation_children WHERE node_id = $1").bind(child.to_string()).one(tx).await?;
    Ok(seq)
}

#[allow(clippy::too_many_arguments)]
pub async fn apply_deltas<D: Dialect>(
    store: &SqlStore<D>,
    child: &NodeId,
    after: i64,
    through: i64,
    entries: &[FederatedEntry],
    at: DateTime<Utc>,
    audit: &AuditEvent,
) -> Result<i64> {
    let mut tx = store.begin().await?;
    let cursor = child_cursor(&mut tx, child).await?;
    // Already applied, or not continuing from what was applied (the child must resend from the cursor).
    if through <= cursor || after > cursor {
        drop(tx);
        return Ok(cursor);
    }
    let mut changed = Vec::new();
    for e in entries {
        // One statement swaps the newer version in: a reader sees the old row or the new, never none.
        let done = sql("INSERT INTO federated_entries (entry_id, origin, version, via, document, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (entry_id) DO UPDATE SET origin = excluded.origin, version = excluded.version, \
             via = excluded.via, document = excluded.document, received_at = excluded.received_at \
             WHERE excluded.version > federated_entries.version")
        .binds((e.id, e.origin.to_string(), e.version, child.to_string(), json(e)?, at))
        .execute(&mut tx)
        .await?;
        if done > 0 {
            changed.push((e.id, false));
        }
    }
    sql("UPDATE federation_children SET last_seq = $1, last_delta_at = $2 WHERE node_id = $3")
        .binds((through, at, child.to_string()))
        .execute(&mut tx)
        .await?;
    let record = append(&mut tx, audit).await?;
    enqueue(&mut tx, record.seq, &changed).await?;
    tx.commit().await?;
    Ok(through)
}

pub async fn federated_entries<D: Dialect>(
    store: &SqlStore<D>,
    ids: Option<&[EntryId]>,
) -> Result<Vec<FederatedEntry>> {
    let rows: Vec<(String,)> = match ids {
        None => sql("SELECT document FROM federated_entries ORDER BY entry_id").all(&mut store.r()).await?,
        Some(ids) => {
            sql(format!("SELECT document FROM federated_entries WHERE {} ORDER BY entry_id", D::any("entry_id", "$1")))
                .bind(Arg::Ids(ids.iter().map(|i| i.0).collect()))
                .all(&mut store.r())
                .await?
        }
    };
    rows.iter().map(|(d,)| document(d)).collect()
}

pub async fn federated_versions<D: Dialect>(
    store: &SqlStore<D>,
    ids: Option<&[EntryId]>,
) -> Result<Vec<(EntryId, u32)>> {
    match ids {
        None => sql("SELECT entry_id, version FROM federated_entries").all(&mut store.r()).await,
        Some(ids) => {
            sql(format!("SELECT entry_id, version FROM federated_entries WHERE {}", D::any("entry_id", "$1")))
                .bind(Arg::Ids(ids.iter().map(|i| i.0).collect()))
                .all(&mut store.r())
                .await
        }
    }
}

pub async fn admit_child<D: Dialect>(tx: &mut Tx<D>, request: &AdmissionRequest, at: DateTime<Utc>) -> Result<()> {
    sql("INSERT INTO federation_children (node_id, request, admitted_at, last_seq) VALUES ($1, $2, $3, -1) \
         ON CONFLICT (node_id) DO UPDATE SET request = excluded.request")
    .binds((request.id.to_string(), json(request)?, at))
    .execute(tx)
    .await?;
    Ok(())
}

struct ChildRow(ChildNode);

impl FromRow for ChildRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(ChildRow(ChildNode {
            request: document(&r.get::<String>("request")?)?,
            admitted_at: r.get("admitted_at")?,
            last_seq: r.get("last_seq")?,
            last_delta_at: r.get("last_delta_at")?,
            last_seen_at: r.get("last_seen_at")?,
            directory_version: r.get::<Option<i64>>("directory_version")?.map(|v| v as u64),
            clock_skew_ms: r.get("clock_skew_ms")?,
        }))
    }
}

pub async fn children<D: Dialect>(store: &SqlStore<D>) -> Result<Vec<ChildNode>> {
    let rows: Vec<ChildRow> = sql("SELECT request, admitted_at, last_seq, last_delta_at, last_seen_at, \
         directory_version, clock_skew_ms FROM federation_children ORDER BY node_id")
    .all(&mut store.r())
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn child_seen<D: Dialect>(
    store: &SqlStore<D>,
    child: &NodeId,
    at: DateTime<Utc>,
    directory_version: Option<u64>,
    clock_skew_ms: i64,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sql("UPDATE federation_children SET last_seen_at = $1, directory_version = COALESCE($2, directory_version), \
         clock_skew_ms = $3 WHERE node_id = $4")
    .binds((at, directory_version.map(|v| v as i64), clock_skew_ms, child.to_string()))
    .execute(&mut tx)
    .await?;
    tx.commit().await
}

pub async fn use_nonce<D: Dialect>(
    store: &SqlStore<D>,
    sender: &NodeId,
    nonce: &str,
    at: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    sql("DELETE FROM federation_nonces WHERE at < $1").bind(forget_before).execute(&mut tx).await?;
    let inserted = sql("INSERT INTO federation_nonces (sender, nonce, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .binds((sender.to_string(), nonce, at))
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(inserted == 1)
}

pub async fn witness_checkpoint<D: Dialect>(
    store: &SqlStore<D>,
    child: &NodeId,
    checkpoint: &govshare_domain::evidence::Checkpoint,
    at: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let hash = hex::encode(checkpoint.hash);
    let held: Option<(String,)> = sql("SELECT hash FROM federation_witnessed WHERE node_id = $1 AND seq = $2")
        .binds((child.to_string(), checkpoint.seq))
        .optional(&mut tx)
        .await?;
    match held {
        Some((h,)) if h == hash => Ok(false),
        Some(_) => Err(StoreError::Conflict(format!(
            "节点 {child} 在序号 {} 处的检查点与已见证的不同：其审计链已被改写",
            checkpoint.seq
        ))),
        None => {
            sql("INSERT INTO federation_witnessed (node_id, seq, hash, received_at, document) VALUES ($1, $2, $3, $4, $5)")
                .binds((child.to_string(), checkpoint.seq, hash, at, json(checkpoint)?))
                .execute(&mut tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }
    }
}

pub async fn witnessed_checkpoints<D: Dialect>(
    store: &SqlStore<D>,
    child: &NodeId,
) -> Result<Vec<govshare_domain::evidence::Checkpoint>> {
    let rows: Vec<(String,)> = sql("SELECT document FROM federation_witnessed WHERE node_id = $1 ORDER BY seq")
        .bind(child.to_string())
        .all(&mut store.r())
        .await?;
    rows.iter().map(|(d,)| document(d)).collect()
}
