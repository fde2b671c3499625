//! Catalog update obligations and source-of-record designations on PostgreSQL.

use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::catalog::EntryId;
use govshare_domain::obligation::{Extension, ObligationId, TriggerKind, UpdateObligation};
use govshare_domain::org::OrgId;
use govshare_domain::region::RegionCode;
use govshare_domain::source::SourceDesignation;
use govshare_store::{Result, StoreError};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db;
use crate::rows::corrupt;

fn extension_text(e: Option<&Extension>) -> Result<Option<String>> {
    e.map(|e| serde_json::to_string(e).map_err(StoreError::other)).transpose()
}

pub async fn insert_obligation(conn: &mut PgConnection, o: &UpdateObligation) -> Result<()> {
    let exists: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM catalog_entries WHERE id = $1")
        .bind(o.entry.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    if exists.is_none() {
        return Err(StoreError::NotFound("目录不存在".into()));
    }
    sqlx::query(
        "INSERT INTO catalog_obligations (id, entry_id, kind, changed_on, description, recorded_by, recorded_at, extension)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(o.id.0)
    .bind(o.entry.0)
    .bind(o.kind.code())
    .bind(o.changed_on)
    .bind(&o.description)
    .bind(&o.recorded_by)
    .bind(o.recorded_at)
    .bind(extension_text(o.extension.as_ref())?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn set_extension(
    conn: &mut PgConnection,
    id: ObligationId,
    previous: Option<&Extension>,
    next: &Extension,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE catalog_obligations SET extension = $1 WHERE id = $2 AND extension IS NOT DISTINCT FROM $3",
    )
    .bind(extension_text(Some(next))?)
    .bind(id.0)
    .bind(extension_text(previous)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM catalog_obligations WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    match exists {
        None => Err(StoreError::NotFound("更新义务不存在".into())),
        Some(_) => Err(StoreError::Conflict("延期申请已被他人处理,请刷新后再试".into())),
    }
}

type ObligationRow = (Uuid, Uuid, String, NaiveDate, String, String, DateTime<Utc>, Option<String>);

fn obligation(row: ObligationRow) -> Result<UpdateObligation> {
    let (id, entry, kind, changed_on, description, recorded_by, recorded_at, extension) = row;
    Ok(UpdateObligation {
        id: ObligationId(id),
        entry: EntryId(entry),
        kind: TriggerKind::parse(&kind).map_err(|_| corrupt(format!("bad obligation kind {kind}")))?,
        changed_on,
        description,
        recorded_by,
        recorded_at,
        extension: extension.map(|e| serde_json::from_str(&e).map_err(StoreError::other)).transpose()?,
    })
}

const OBLIGATION_COLUMNS: &str =
    "o.id, o.entry_id, o.kind, o.changed_on, o.description, o.recorded_by, o.recorded_at, o.extension";

pub async fn get_obligation(pool: &PgPool, id: ObligationId) -> Result<UpdateObligation> {
    let row: Option<ObligationRow> =
        sqlx::query_as(&format!("SELECT {OBLIGATION_COLUMNS} FROM catalog_obligations o WHERE o.id = $1"))
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .map_err(db)?;
    obligation(row.ok_or_else(|| StoreError::NotFound("更新义务不存在".into()))?)
}

pub async fn list_obligations(pool: &PgPool, provider: Option<OrgId>) -> Result<Vec<UpdateObligation>> {
    let rows: Vec<ObligationRow> = sqlx::query_as(&format!(
        "SELECT {OBLIGATION_COLUMNS} FROM catalog_obligations o JOIN catalog_entries e ON e.id = o.entry_id
         WHERE $1::uuid IS NULL OR e.provider = $1 ORDER BY o.recorded_at DESC, o.id DESC"
    ))
    .bind(provider.map(|p| p.0))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.into_iter().map(obligation).collect()
}

pub async fn save_designation(conn: &mut PgConnection, d: &SourceDesignation) -> Result<()> {
    sqlx::query(
        "INSERT INTO source_designations (id, region, subject, items, source_org, entry_id, basis, designated_by, designated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (region, subject) DO UPDATE SET id = excluded.id, items = excluded.items,
             source_org = excluded.source_org, entry_id = excluded.entry_id, basis = excluded.basis,
             designated_by = excluded.designated_by, designated_at = excluded.designated_at",
    )
    .bind(d.id)
    .bind(d.region.to_string())
    .bind(&d.subject)
    .bind(serde_json::to_string(&d.items).map_err(StoreError::other)?)
    .bind(d.source_org.0)
    .bind(d.entry.map(|e| e.0))
    .bind(&d.basis)
    .bind(&d.designated_by)
    .bind(d.designated_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

type DesignationRow = (Uuid, String, String, String, Uuid, Option<Uuid>, String, String, DateTime<Utc>);

pub async fn list_designations(pool: &PgPool, region: Option<RegionCode>) -> Result<Vec<SourceDesignation>> {
    let rows: Vec<DesignationRow> = sqlx::query_as(
        "SELECT id, region, subject, items, source_org, entry_id, basis, designated_by, designated_at
         FROM source_designations WHERE $1::text IS NULL OR region = $1 ORDER BY region, subject",
    )
    .bind(region.map(|r| r.to_string()))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|(id, region, subject, items, source_org, entry, basis, designated_by, designated_at)| {
            Ok(SourceDesignation {
                id,
                region: RegionCode::parse(&region).map_err(|_| corrupt(format!("bad region {region}")))?,
                subject,
                items: serde_json::from_str(&items).map_err(StoreError::other)?,
                source_org: OrgId(source_org),
                entry: entry.map(EntryId),
                basis,
                designated_by,
                designated_at,
            })
        })
        .collect()
}
