//! Sharing applications and deadline alerts.

use chrono::{DateTime, Utc};
use govshare_domain::application::{Application, ApplicationId};
use govshare_domain::notification::{AlertKind, DeadlineAlert};
use govshare_domain::org::OrgId;
use govshare_store::{Result, StoreError};

use crate::driver::{Dialect, Exec, FromRow, Row, Tx, corrupt, sql};
use crate::rows::{Json, json};

fn updated_at(a: &Application) -> DateTime<Utc> {
    a.events.last().map_or(a.created_at, |e| e.at)
}

pub async fn insert<D: Dialect>(tx: &mut Tx<D>, a: &Application) -> Result<()> {
    let found: (i64, i64, i64) = sql(
        "SELECT (SELECT COUNT(*) FROM catalog_entries WHERE id = $1), (SELECT COUNT(*) FROM organisations WHERE id = $2),
                (SELECT COUNT(*) FROM organisations WHERE id = $3)",
    )
    .binds((a.entry, a.requester, a.provider))
    .one(tx)
    .await?;
    match found {
        (0, _, _) => return Err(StoreError::NotFound("目录不存在".into())),
        (_, 0, _) | (_, _, 0) => return Err(StoreError::NotFound("单位不存在".into())),
        _ => {}
    }
    let stage = a.stage();
    sql("INSERT INTO applications (id, requester, provider, entry_id, stage, is_open, events, created_at, updated_at, document)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
    .binds((a.id, a.requester, a.provider, a.entry, stage.code(), !stage.is_final(), a.events.len(), a.created_at, updated_at(a), json(a)?))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn update<D: Dialect>(tx: &mut Tx<D>, a: &Application, expected_events: usize) -> Result<()> {
    let stage = a.stage();
    let done = sql("UPDATE applications SET stage = $1, is_open = $2, events = $3, updated_at = $4, document = $5
         WHERE id = $6 AND events = $7")
    .binds((stage.code(), !stage.is_final(), a.events.len(), updated_at(a), json(a)?, a.id, expected_events))
    .execute(tx)
    .await?;
    if done == 1 {
        return Ok(());
    }
    let exists: Option<(ApplicationId,)> =
        sql("SELECT id FROM applications WHERE id = $1").bind(a.id).optional(tx).await?;
    match exists {
        None => Err(StoreError::NotFound("共享申请不存在".into())),
        Some(_) => Err(StoreError::Conflict("共享申请已被他人办理,请刷新后再试".into())),
    }
}

pub async fn get(e: &mut impl Exec, id: ApplicationId) -> Result<Application> {
    let row: Option<(Json<Application>,)> =
        sql("SELECT document FROM applications WHERE id = $1").bind(id).optional(e).await?;
    Ok(row.ok_or_else(|| StoreError::NotFound("共享申请不存在".into()))?.0.0)
}

pub async fn list(e: &mut impl Exec, party: Option<OrgId>, open_only: bool) -> Result<Vec<Application>> {
    let rows: Vec<(Json<Application>,)> = sql("SELECT document FROM applications
         WHERE ($1 IS NULL OR requester = $1 OR provider = $1) AND ($2 = FALSE OR is_open = TRUE)
         ORDER BY created_at DESC, id DESC")
    .binds((party, open_only))
    .all(e)
    .await?;
    Ok(rows.into_iter().map(|(d,)| d.0).collect())
}

/// Inserts the alert unless its key exists; whether it was inserted.
pub async fn insert_alert<D: Dialect>(tx: &mut Tx<D>, alert: &DeadlineAlert) -> Result<bool> {
    let done = sql("INSERT INTO deadline_alerts (key, subject, kind, due_at, created_at, note)
                    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING")
    .binds((&alert.key, &alert.subject, alert.kind.code(), alert.due_at, alert.created_at, &alert.note))
    .execute(tx)
    .await?;
    Ok(done == 1)
}

impl FromRow for DeadlineAlert {
    fn from_row(r: &impl Row) -> Result<Self> {
        let kind: String = r.get(2)?;
        Ok(DeadlineAlert {
            kind: AlertKind::parse(&kind).ok_or_else(|| corrupt(format!("alert kind {kind}")))?,
            key: r.get(0)?,
            subject: r.get(1)?,
            due_at: r.get(3)?,
            created_at: r.get(4)?,
            note: r.get(5)?,
        })
    }
}

pub async fn alerts(e: &mut impl Exec, subject: &str) -> Result<Vec<DeadlineAlert>> {
    sql("SELECT key, subject, kind, due_at, created_at, note FROM deadline_alerts WHERE subject = $1
         ORDER BY created_at, key")
    .bind(subject)
    .all(e)
    .await
}

pub async fn overdue(e: &mut impl Exec, limit: u32) -> Result<Vec<DeadlineAlert>> {
    sql("SELECT key, subject, kind, due_at, created_at, note FROM deadline_alerts WHERE kind = 'overdue'
         ORDER BY created_at DESC, key LIMIT $1")
    .bind(limit)
    .all(e)
    .await
}
