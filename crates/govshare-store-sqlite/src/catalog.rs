//! Catalog entries, versions, events and notifications on SQLite.

use std::collections::HashMap;

use govshare_domain::catalog::{CatalogEntry, EntryEvent, EntryId, EntryStatus, EntryVersion};
use govshare_domain::notification::Notification;
use govshare_domain::org::OrgId;
use govshare_store::{Result, StoreError};
use sqlx::{SqliteConnection, SqlitePool};

use crate::db;
use crate::rows::{micros, time, uuid};

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::other)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(StoreError::other)
}

/// Conflict when another entry already uses `code`.
pub async fn check_code(conn: &mut SqliteConnection, entry: EntryId, code: &str) -> Result<()> {
    let other: Option<(String,)> = sqlx::query_as("SELECT id FROM catalog_entries WHERE resource_code = ? AND id <> ?")
        .bind(code)
        .bind(entry.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    match other {
        Some(_) => Err(StoreError::Conflict(format!("资源代码 {code} 已被其他目录使用"))),
        None => Ok(()),
    }
}

pub async fn insert_entry(conn: &mut SqliteConnection, entry: &CatalogEntry) -> Result<()> {
    check_code(conn, entry.id, &entry.latest().content.resource_code).await?;
    sqlx::query("INSERT INTO catalog_entries (id, provider, resource_code, created_at) VALUES (?, ?, ?, ?)")
        .bind(entry.id.to_string())
        .bind(entry.provider.to_string())
        .bind(&entry.latest().content.resource_code)
        .bind(micros(entry.created_at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    upsert_versions(conn, entry.id, &entry.versions).await?;
    for event in &entry.events {
        insert_event(conn, entry.id, event).await?;
    }
    Ok(())
}

pub async fn upsert_versions(conn: &mut SqliteConnection, entry: EntryId, versions: &[EntryVersion]) -> Result<()> {
    for v in versions {
        sqlx::query(
            "INSERT INTO catalog_versions (entry_id, version, status, content, assessments, updated_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (entry_id, version) DO UPDATE SET status = excluded.status, content = excluded.content,
                 assessments = excluded.assessments, updated_at = excluded.updated_at",
        )
        .bind(entry.to_string())
        .bind(i64::from(v.version))
        .bind(v.status.code())
        .bind(json(&v.content)?)
        .bind(json(&v.assessments)?)
        .bind(micros(v.updated_at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    // The entry is known by the code of its newest version.
    let newest: Option<(String,)> =
        sqlx::query_as("SELECT content FROM catalog_versions WHERE entry_id = ? ORDER BY version DESC LIMIT 1")
            .bind(entry.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    if let Some((content,)) = newest {
        let content: govshare_domain::catalog::EntryContent = from_json(&content)?;
        check_code(conn, entry, &content.resource_code).await?;
        sqlx::query("UPDATE catalog_entries SET resource_code = ? WHERE id = ?")
            .bind(&content.resource_code)
            .bind(entry.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

pub async fn insert_event(conn: &mut SqliteConnection, entry: EntryId, e: &EntryEvent) -> Result<()> {
    sqlx::query("INSERT INTO catalog_events (entry_id, version, at, actor, actor_name, action, note) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(entry.to_string())
        .bind(i64::from(e.version))
        .bind(micros(e.at))
        .bind(&e.actor)
        .bind(&e.actor_name)
        .bind(&e.action)
        .bind(&e.note)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn insert_notifications(conn: &mut SqliteConnection, notes: &[Notification]) -> Result<()> {
    for n in notes {
        sqlx::query(
            "INSERT INTO notifications (id, org_id, created_at, kind, title, body, link, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(n.id.to_string())
        .bind(n.org_id.to_string())
        .bind(micros(n.created_at))
        .bind(&n.kind)
        .bind(&n.title)
        .bind(&n.body)
        .bind(&n.link)
        .bind(n.read_at.map(micros))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

type VersionRow = (String, i64, String, String, String, i64);
type EventRow = (String, i64, i64, String, String, String, String);

/// Loads entries, filtered by id or provider, with their versions and events.
pub async fn load(pool: &SqlitePool, id: Option<EntryId>, provider: Option<OrgId>) -> Result<Vec<CatalogEntry>> {
    let id = id.map(|i| i.to_string());
    let provider = provider.map(|p| p.to_string());
    let filter = "(?1 IS NULL OR e.id = ?1) AND (?2 IS NULL OR e.provider = ?2)";
    let entries: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT e.id, e.provider, e.created_at FROM catalog_entries e WHERE {filter} ORDER BY e.created_at, e.id"
    ))
    .bind(&id)
    .bind(&provider)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let versions: Vec<VersionRow> = sqlx::query_as(&format!(
        "SELECT v.entry_id, v.version, v.status, v.content, v.assessments, v.updated_at
         FROM catalog_versions v JOIN catalog_entries e ON e.id = v.entry_id WHERE {filter} ORDER BY v.version"
    ))
    .bind(&id)
    .bind(&provider)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let events: Vec<EventRow> = sqlx::query_as(&format!(
        "SELECT v.entry_id, v.version, v.at, v.actor, v.actor_name, v.action, v.note
         FROM catalog_events v JOIN catalog_entries e ON e.id = v.entry_id WHERE {filter} ORDER BY v.seq"
    ))
    .bind(&id)
    .bind(&provider)
    .fetch_all(pool)
    .await
    .map_err(db)?;

    let mut by_id: HashMap<String, CatalogEntry> = HashMap::with_capacity(entries.len());
    let order: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    for (id, provider, created_at) in entries {
        let entry = CatalogEntry {
            id: EntryId(uuid(&id)?),
            provider: OrgId(uuid(&provider)?),
            created_at: time(created_at)?,
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
                updated_at: time(updated_at)?,
            });
        }
    }
    for (entry_id, version, at, actor, actor_name, action, note) in events {
        if let Some(entry) = by_id.get_mut(&entry_id) {
            entry.events.push(EntryEvent {
                version: u32::try_from(version).map_err(StoreError::other)?,
                at: time(at)?,
                actor,
                actor_name,
                action,
                note,
            });
        }
    }
    Ok(order.into_iter().filter_map(|id| by_id.remove(&id)).collect())
}

type NotificationRow = (String, String, i64, String, String, String, String, Option<i64>);

pub async fn notifications(pool: &SqlitePool, org: OrgId, limit: u32) -> Result<Vec<Notification>> {
    let rows: Vec<NotificationRow> = sqlx::query_as(
        "SELECT id, org_id, created_at, kind, title, body, link, read_at FROM notifications
         WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
    )
    .bind(org.to_string())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|(id, org_id, created_at, kind, title, body, link, read_at)| {
            Ok(Notification {
                id: uuid(&id)?,
                org_id: OrgId(uuid(&org_id)?),
                created_at: time(created_at)?,
                kind,
                title,
                body,
                link,
                read_at: read_at.map(time).transpose()?,
            })
        })
        .collect()
}
