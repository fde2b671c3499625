//! Catalog entries, versions, events and notifications.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use govshare_domain::catalog::{CatalogEntry, EntryContent, EntryEvent, EntryId, EntryVersion};
use govshare_domain::notification::Notification;
use govshare_domain::org::OrgId;
use govshare_store::{Result, StoreError};

use crate::driver::{Dialect, Exec, FromRow, Row, Tx, sql};
use crate::rows::{from_row, json};

/// Conflict when another entry already uses `code`.
pub async fn check_code<D: Dialect>(tx: &mut Tx<D>, entry: EntryId, code: &str) -> Result<()> {
    let other: Option<(EntryId,)> = sql("SELECT id FROM catalog_entries WHERE resource_code = $1 AND id <> $2")
        .binds((code, entry))
        .optional(tx)
        .await?;
    match other {
        Some(_) => Err(StoreError::Conflict(format!("资源代码 {code} 已被其他目录使用"))),
        None => Ok(()),
    }
}

/// NotFound unless the entry exists (what a write about an entry checks first, in its transaction).
pub async fn require_entry<D: Dialect>(tx: &mut Tx<D>, entry: EntryId) -> Result<()> {
    let exists: Option<(EntryId,)> =
        sql("SELECT id FROM catalog_entries WHERE id = $1").bind(entry).optional(&mut *tx).await?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound("目录不存在".into())),
    }
}

pub async fn insert_entry<D: Dialect>(tx: &mut Tx<D>, entry: &CatalogEntry) -> Result<()> {
    check_code(tx, entry.id, &entry.latest().content.resource_code).await?;
    sql("INSERT INTO catalog_entries (id, provider, resource_code, created_at) VALUES ($1, $2, $3, $4)")
        .binds((entry.id, entry.provider, &entry.latest().content.resource_code, entry.created_at))
        .execute(tx)
        .await?;
    upsert_versions(tx, entry.id, &entry.versions).await?;
    for event in &entry.events {
        insert_event(tx, entry.id, event).await?;
    }
    Ok(())
}

pub async fn upsert_versions<D: Dialect>(tx: &mut Tx<D>, entry: EntryId, versions: &[EntryVersion]) -> Result<()> {
    for v in versions {
        sql("INSERT INTO catalog_versions (entry_id, version, status, content, assessments, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (entry_id, version) DO UPDATE SET status = excluded.status, content = excluded.content,
                 assessments = excluded.assessments, updated_at = excluded.updated_at")
        .binds((entry, v.version, v.status.code(), json(&v.content)?, json(&v.assessments)?, v.updated_at))
        .execute(tx)
        .await?;
    }
    // The entry is known by the code of its newest version.
    let newest: Option<(EntryContent,)> =
        sql("SELECT content FROM catalog_versions WHERE entry_id = $1 ORDER BY version DESC LIMIT 1")
            .bind(entry)
            .optional(tx)
            .await?;
    if let Some((content,)) = newest {
        check_code(tx, entry, &content.resource_code).await?;
        sql("UPDATE catalog_entries SET resource_code = $1 WHERE id = $2")
            .binds((&content.resource_code, entry))
            .execute(tx)
            .await?;
    }
    Ok(())
}

pub async fn insert_event<D: Dialect>(tx: &mut Tx<D>, entry: EntryId, e: &EntryEvent) -> Result<()> {
    sql("INSERT INTO catalog_events (entry_id, version, at, actor, actor_name, action, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
    .binds((entry, e.version, e.at, &e.actor, &e.actor_name, &e.action, &e.note))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_notifications<D: Dialect>(tx: &mut Tx<D>, notes: &[Notification]) -> Result<()> {
    for n in notes {
        sql("INSERT INTO notifications (id, org_id, created_at, kind, title, body, link, read_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .binds((n.id, n.org_id, n.created_at, &n.kind, &n.title, &n.body, &n.link, n.read_at))
        .execute(tx)
        .await?;
    }
    Ok(())
}

from_row!(EntryVersion { version, status, content, assessments, updated_at });
from_row!(EntryEvent { version, at, actor, actor_name, action, note });

/// Loads entries, filtered by id or provider, with their versions and events.
pub async fn load(e: &mut impl Exec, id: Option<EntryId>, provider: Option<OrgId>) -> Result<Vec<CatalogEntry>> {
    const FILTER: &str = "($1 IS NULL OR e.id = $1) AND ($2 IS NULL OR e.provider = $2)";
    let entries: Vec<(EntryId, OrgId, DateTime<Utc>)> = sql(format!(
        "SELECT e.id, e.provider, e.created_at FROM catalog_entries e WHERE {FILTER} ORDER BY e.created_at, e.id"
    ))
    .binds((id, provider))
    .all(e)
    .await?;
    let versions = sql(format!(
        "SELECT v.version, v.status, v.content, v.assessments, v.updated_at, v.entry_id
         FROM catalog_versions v JOIN catalog_entries e ON e.id = v.entry_id WHERE {FILTER} ORDER BY v.version"
    ))
    .binds((id, provider))
    .rows(e)
    .await?;
    let events = sql(format!(
        "SELECT v.version, v.at, v.actor, v.actor_name, v.action, v.note, v.entry_id
         FROM catalog_events v JOIN catalog_entries e ON e.id = v.entry_id WHERE {FILTER} ORDER BY v.seq"
    ))
    .binds((id, provider))
    .rows(e)
    .await?;

    let order: Vec<EntryId> = entries.iter().map(|e| e.0).collect();
    let mut by_id: HashMap<EntryId, CatalogEntry> = entries
        .into_iter()
        .map(|(id, provider, created_at)| {
            (id, CatalogEntry { id, provider, created_at, versions: Vec::new(), events: Vec::new() })
        })
        .collect();
    for r in &versions {
        if let Some(entry) = by_id.get_mut(&r.get::<EntryId>(5)?) {
            entry.versions.push(EntryVersion::from_row(r)?);
        }
    }
    for r in &events {
        if let Some(entry) = by_id.get_mut(&r.get::<EntryId>(6)?) {
            entry.events.push(EntryEvent::from_row(r)?);
        }
    }
    Ok(order.into_iter().filter_map(|id| by_id.remove(&id)).collect())
}

from_row!(Notification { id, org_id, created_at, kind, title, body, link, read_at });

/// Removes an entry with its versions and events (the use case decided that it may go).
pub async fn delete<D: Dialect>(tx: &mut Tx<D>, entry: EntryId) -> Result<()> {
    for statement in [
        "DELETE FROM assessment_reports WHERE entry_id = $1",
        "DELETE FROM catalog_events WHERE entry_id = $1",
        "DELETE FROM catalog_versions WHERE entry_id = $1",
        "DELETE FROM catalog_entries WHERE id = $1",
    ] {
        sql(statement).bind(entry).execute(tx).await?;
    }
    Ok(())
}
