//! Catalog entries, versions, events and notifications on PostgreSQL.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use govshare_domain::catalog::{CatalogEntry, EntryEvent, EntryId, EntryStatus, EntryVersion};
use govshare_domain::notification::Notification;
use govshare_domain::org::OrgId;
use govshare_store::{Result, StoreError};
use sqlx::{PgConnection, PgPool};

use crate::db;

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::other)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(StoreError::other)
}

/// Conflict when another entry already uses `code`.
pub async fn check_code(conn: &mut PgConnection, entry: EntryId, code: &str) -> Result<()> {
    let other: Option<(uuid::Uuid,)> =
        sqlx::query_as("SELECT id FROM catalog_entries WHERE resource_code = $1 AND id <> $2")
            .bind(code)
            .bind(entry.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    match other {
        Some(_) => Err(StoreError::Conflict(format!("资源代码 {code} 已被其他目录使用"))),
        None => Ok(()),
    }
}

pub async fn insert_entry(conn: &mut PgConnection, entry: &CatalogEntry) -> Result<()> {
    check_code(conn, entry.id, &entry.latest().content.resource_code).await?;
    sqlx::query("INSERT INTO catalog_entries (id, provider, resource_code, created_at) VALUES ($1, $2, $3, $4)")
        .bind(entry.id.0)
        .bind(entry.provider.0)
        .bind(&entry.latest().content.resource_code)
        .bind(entry.created_at)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    upsert_versions(conn, entry.id, &entry.versions).await?;
    for event in &entry.events {
        insert_event(conn, entry.id, event).await?;
    }
    Ok(())
}

pub async fn upsert_versions(conn: &mut PgConnection, entry: EntryId, versions: &[EntryVersion]) -> Result<()> {
    for v in versions {
        sqlx::query(
            "INSERT INTO catalog_versions (entry_id, version, status, content, assessments, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (entry_id, version) DO UPDATE SET status = excluded.status, content = excluded.content,
                 assessments = excluded.assessments, updated_at = excluded.updated_at",
        )
        .bind(entry.0)
        .bind(i32::try_from(v.version).map_err(StoreError::other)?)
        .bind(v.status.code())
        .bind(json(&v.content)?)
        .bind(json(&v.assessments)?)
        .bind(v.updated_at)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    // The entry is known by the code of its newest version.
    let newest: Option<(String,)> =
        sqlx::query_as("SELECT content FROM catalog_versions WHERE entry_id = $1 ORDER BY version DESC LIMIT 1")
            .bind(entry.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    if let Some((content,)) = newest {
        let content: govshare_domain::catalog::EntryContent = from_json(&content)?;
        check_code(conn, entry, &content.resource_code).await?;
        sqlx::query("UPDATE catalog_entries SET resource_code = $1 WHERE id = $2")
            .bind(&content.resource_code)
            .bind(entry.0)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

pub async fn insert_event(conn: &mut PgConnection, entry: EntryId, e: &EntryEvent) -> Result<()> {
    sqlx::query("INSERT INTO catalog_events (entry_id, version, at, actor, actor_name, action, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(entry.0)
        .bind(i32::try_from(e.version).map_err(StoreError::other)?)
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.actor_name)
        .bind(&e.action)
        .bind(&e.note)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn insert_notifications(conn: &mut PgConnection, notes: &[Notification]) -> Result<()> {
    for n in notes {
        sqlx::query(
            "INSERT INTO notifications (id, org_id, created_at, kind, title, body, link, read_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(n.id)
        .bind(n.org_id.0)
        .bind(n.created_at)
        .bind(&n.kind)
        .bind(&n.title)
        .bind(&n.body)
        .bind(&n.link)
        .bind(n.read_at)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

type VersionRow = (uuid::Uuid, i32, String, String, String, DateTime<Utc>);
type EventRow = (uuid::Uuid, i32, DateTime<Utc>, String, String, String, String);

/// Loads entries, filtered by id or provider, with their versions and events.
pub async fn load(pool: &PgPool, id: Option<EntryId>, provider: Option<OrgId>) -> Result<Vec<CatalogEntry>> {
    let id = id.map(|i| i.0);
    let provider = provider.map(|p| p.0);
    let filter = "($1::uuid IS NULL OR e.id = $1) AND ($2::uuid IS NULL OR e.provider = $2)";
    let entries: Vec<(uuid::Uuid, uuid::Uuid, DateTime<Utc>)> = sqlx::query_as(&format!(
        "SELECT e.id, e.provider, e.created_at FROM catalog_entries e WHERE {filter} ORDER BY e.created_at, e.id"
    ))
    .bind(id)
    .bind(provider)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let versions: Vec<VersionRow> = sqlx::query_as(&format!(
        "SELECT v.entry_id, v.version, v.status, v.content, v.assessments, v.updated_at
         FROM catalog_versions v JOIN catalog_entries e ON e.id = v.entry_id WHERE {filter} ORDER BY v.version"
    ))
    .bind(id)
    .bind(provider)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let events: Vec<EventRow> = sqlx::query_as(&format!(
        "SELECT v.entry_id, v.version, v.at, v.actor, v.actor_name, v.action, v.note
         FROM catalog_events v JOIN catalog_entries e ON e.id = v.entry_id WHERE {filter} ORDER BY v.seq"
    ))
    .bind(id)
    .bind(provider)
    .fetch_all(pool)
    .await
    .map_err(db)?;

    let mut by_id: HashMap<uuid::Uuid, CatalogEntry> = HashMap::with_capacity(entries.len());
    let order: Vec<uuid::Uuid> = entries.iter().map(|e| e.0).collect();
    for (id, provider, created_at) in entries {
        let entry = CatalogEntry {
            id: EntryId(id),
            provider: OrgId(provider),
            created_at,
            versions: Vec::new(),
            events: Vec::new(),
        };
        by_id.insert(id, entry);
    }
    for (entry_id, version, status, content, assessments, updated_at) in versions {
        if let Some(entry) = by_id.get_mut(&entry_id) {
            entry.versions.push(EntryVersion {
                version: u32::try_from(version).map_err(StoreError::other)?,
                status: EntryStatus::parse("status", &status).map_err(StoreError::other)?,
                content: from_json(&content)?,
                assessments: from_json(&assessments)?,
                updated_at,
            });
        }
    }
    for (entry_id, version, at, actor, actor_name, action, note) in events {
        if let Some(entry) = by_id.get_mut(&entry_id) {
            entry.events.push(EntryEvent {
                version: u32::try_from(version).map_err(StoreError::other)?,
                at,
                actor,
                actor_name,
                action,
                note,
            });
        }
    }
    Ok(order.into_iter().filter_map(|id| by_id.remove(&id)).collect())
}

type NotificationRow = (uuid::Uuid, uuid::Uuid, DateTime<Utc>, String, String, String, String, Option<DateTime<Utc>>);

pub async fn notifications(pool: &PgPool, org: OrgId, limit: u32) -> Result<Vec<Notification>> {
    let rows: Vec<NotificationRow> = sqlx::query_as(
        "SELECT id, org_id, created_at, kind, title, body, link, read_at FROM notifications
         WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(org.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|(id, org_id, created_at, kind, title, body, link, read_at)| {
            Ok(Notification { id, org_id: OrgId(org_id), created_at, kind, title, body, link, read_at })
        })
        .collect()
}
