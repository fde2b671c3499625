//! Sharing applications and deadline alerts on SQLite.

use govshare_domain::application::{Application, ApplicationId};
use govshare_domain::notification::{AlertKind, DeadlineAlert};
use govshare_domain::org::OrgId;
use govshare_store::{Result, StoreError};
use sqlx::{SqliteConnection, SqlitePool};

use crate::db;
use crate::rows::{corrupt, micros, time};

fn document(a: &Application) -> Result<String> {
    serde_json::to_string(a).map_err(StoreError::other)
}

fn parse(text: &str) -> Result<Application> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("application document: {e}")))
}

fn updated_at(a: &Application) -> i64 {
    micros(a.events.last().map_or(a.created_at, |e| e.at))
}

pub async fn insert(conn: &mut SqliteConnection, a: &Application) -> Result<()> {
    let found: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM catalog_entries WHERE id = ?), (SELECT COUNT(*) FROM organisations WHERE id = ?),
                (SELECT COUNT(*) FROM organisations WHERE id = ?)",
    )
    .bind(a.entry.to_string())
    .bind(a.requester.to_string())
    .bind(a.provider.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    match found {
        (0, _, _) => return Err(StoreError::NotFound("目录不存在".into())),
        (_, 0, _) | (_, _, 0) => return Err(StoreError::NotFound("单位不存在".into())),
        _ => {}
    }
    let stage = a.stage();
    sqlx::query(
        "INSERT INTO applications (id, requester, provider, entry_id, stage, is_open, events, created_at, updated_at, document)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(a.id.to_string())
    .bind(a.requester.to_string())
    .bind(a.provider.to_string())
    .bind(a.entry.to_string())
    .bind(stage.code())
    .bind(!stage.is_final())
    .bind(a.events.len() as i64)
    .bind(micros(a.created_at))
    .bind(updated_at(a))
    .bind(document(a)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn update(conn: &mut SqliteConnection, a: &Application, expected_events: usize) -> Result<()> {
    let stage = a.stage();
    let done = sqlx::query(
        "UPDATE applications SET stage = ?, is_open = ?, events = ?, updated_at = ?, document = ? WHERE id = ? AND events = ?",
    )
    .bind(stage.code())
    .bind(!stage.is_final())
    .bind(a.events.len() as i64)
    .bind(updated_at(a))
    .bind(document(a)?)
    .bind(a.id.to_string())
    .bind(expected_events as i64)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM applications WHERE id = ?")
        .bind(a.id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    match exists {
        None => Err(StoreError::NotFound("共享申请不存在".into())),
        Some(_) => Err(StoreError::Conflict("共享申请已被他人办理,请刷新后再试".into())),
    }
}

pub async fn get(pool: &SqlitePool, id: ApplicationId) -> Result<Application> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM applications WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db)?;
    parse(&row.ok_or_else(|| StoreError::NotFound("共享申请不存在".into()))?.0)
}

pub async fn list(pool: &SqlitePool, party: Option<OrgId>, open_only: bool) -> Result<Vec<Application>> {
    let party = party.map(|p| p.to_string());
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT document FROM applications
         WHERE (? IS NULL OR requester = ? OR provider = ?) AND (? = 0 OR is_open = 1)
         ORDER BY created_at DESC, id DESC",
    )
    .bind(&party)
    .bind(&party)
    .bind(&party)
    .bind(open_only)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter().map(|(d,)| parse(d)).collect()
}

/// Inserts the alert unless its key exists; whether it was inserted.
pub async fn insert_alert(conn: &mut SqliteConnection, alert: &DeadlineAlert) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO deadline_alerts (key, subject, kind, due_at, created_at, note) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&alert.key)
    .bind(&alert.subject)
    .bind(alert.kind.code())
    .bind(micros(alert.due_at))
    .bind(micros(alert.created_at))
    .bind(&alert.note)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

type AlertRow = (String, String, String, i64, i64, String);

fn alert((key, subject, kind, due_at, created_at, note): AlertRow) -> Result<DeadlineAlert> {
    Ok(DeadlineAlert {
        kind: AlertKind::parse(&kind).ok_or_else(|| corrupt(format!("alert kind {kind}")))?,
        key,
        subject,
        due_at: time(due_at)?,
        created_at: time(created_at)?,
        note,
    })
}

pub async fn alerts(pool: &SqlitePool, subject: &str) -> Result<Vec<DeadlineAlert>> {
    let rows: Vec<AlertRow> = sqlx::query_as(
        "SELECT key, subject, kind, due_at, created_at, note FROM deadline_alerts WHERE subject = ? ORDER BY created_at, key",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.into_iter().map(alert).collect()
}

pub async fn overdue(pool: &SqlitePool, limit: u32) -> Result<Vec<DeadlineAlert>> {
    let rows: Vec<AlertRow> = sqlx::query_as(
        "SELECT key, subject, kind, due_at, created_at, note FROM deadline_alerts WHERE kind = 'overdue'
         ORDER BY created_at DESC, key LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.into_iter().map(alert).collect()
}
