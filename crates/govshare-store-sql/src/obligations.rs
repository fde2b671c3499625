//! Catalog update obligations and source-of-record designations.

use govshare_domain::catalog::EntryId;
use govshare_domain::obligation::{Extension, ObligationId, TriggerKind, UpdateObligation};
use govshare_domain::org::OrgId;
use govshare_domain::region::RegionCode;
use govshare_domain::source::SourceDesignation;
use govshare_store::{Result, StoreError};

use crate::driver::{Dialect, Exec, FromRow, Row, Tx, corrupt, sql};
use crate::rows::{Json, json};

fn extension_text(e: Option<&Extension>) -> Result<Option<String>> {
    e.map(json).transpose()
}

pub async fn insert_obligation<D: Dialect>(tx: &mut Tx<D>, o: &UpdateObligation) -> Result<()> {
    let exists: Option<(EntryId,)> =
        sql("SELECT id FROM catalog_entries WHERE id = $1").bind(o.entry).optional(tx).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound("目录不存在".into()));
    }
    sql("INSERT INTO catalog_obligations (id, entry_id, kind, changed_on, description, recorded_by, recorded_at, extension)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
    .binds((o.id, o.entry, o.kind.code(), o.changed_on, &o.description, &o.recorded_by, o.recorded_at, extension_text(o.extension.as_ref())?))
    .execute(tx)
    .await?;
    Ok(())
}

/// Replaces the extension by compare-and-set on its text.
pub async fn set_extension<D: Dialect>(
    tx: &mut Tx<D>,
    id: ObligationId,
    previous: Option<&Extension>,
    next: &Extension,
) -> Result<()> {
    let done = sql("UPDATE catalog_obligations SET extension = $1 WHERE id = $2 AND extension IS NOT DISTINCT FROM $3")
        .binds((extension_text(Some(next))?, id, extension_text(previous)?))
        .execute(tx)
        .await?;
    if done == 1 {
        return Ok(());
    }
    let exists: Option<(ObligationId,)> =
        sql("SELECT id FROM catalog_obligations WHERE id = $1").bind(id).optional(tx).await?;
    match exists {
        None => Err(StoreError::NotFound("更新义务不存在".into())),
        Some(_) => Err(StoreError::Conflict("延期申请已被他人处理,请刷新后再试".into())),
    }
}

impl FromRow for UpdateObligation {
    fn from_row(r: &impl Row) -> Result<Self> {
        let kind: String = r.get(2)?;
        Ok(UpdateObligation {
            id: r.get(0)?,
            entry: r.get(1)?,
            kind: TriggerKind::parse(&kind).map_err(|_| corrupt(format!("bad obligation kind {kind}")))?,
            changed_on: r.get(3)?,
            description: r.get(4)?,
            recorded_by: r.get(5)?,
            recorded_at: r.get(6)?,
            extension: r.get::<Option<Json<Extension>>>(7)?.map(|e| e.0),
        })
    }
}

const OBLIGATION_COLUMNS: &str =
    "o.id, o.entry_id, o.kind, o.changed_on, o.description, o.recorded_by, o.recorded_at, o.extension";

pub async fn get_obligation(e: &mut impl Exec, id: ObligationId) -> Result<UpdateObligation> {
    let row = sql(format!("SELECT {OBLIGATION_COLUMNS} FROM catalog_obligations o WHERE o.id = $1"))
        .bind(id)
        .optional(e)
        .await?;
    row.ok_or_else(|| StoreError::NotFound("更新义务不存在".into()))
}

pub async fn list_obligations(e: &mut impl Exec, provider: Option<OrgId>) -> Result<Vec<UpdateObligation>> {
    sql(format!(
        "SELECT {OBLIGATION_COLUMNS} FROM catalog_obligations o JOIN catalog_entries e ON e.id = o.entry_id
         WHERE $1 IS NULL OR e.provider = $1 ORDER BY o.recorded_at DESC, o.id DESC"
    ))
    .bind(provider)
    .all(e)
    .await
}

pub async fn save_designation<D: Dialect>(tx: &mut Tx<D>, d: &SourceDesignation) -> Result<()> {
    sql("INSERT INTO source_designations (id, region, subject, items, source_org, entry_id, basis, designated_by, designated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (region, subject) DO UPDATE SET id = excluded.id, items = excluded.items,
             source_org = excluded.source_org, entry_id = excluded.entry_id, basis = excluded.basis,
             designated_by = excluded.designated_by, designated_at = excluded.designated_at")
    .binds((d.id, d.region, &d.subject, json(&d.items)?, d.source_org, d.entry, &d.basis, &d.designated_by, d.designated_at))
    .execute(tx)
    .await?;
    Ok(())
}

impl FromRow for SourceDesignation {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(SourceDesignation {
            id: r.get(0)?,
            region: r.get(1)?,
            subject: r.get(2)?,
            items: r.get::<Json<_>>(3)?.0,
            source_org: r.get(4)?,
            entry: r.get(5)?,
            basis: r.get(6)?,
            designated_by: r.get(7)?,
            designated_at: r.get(8)?,
        })
    }
}

pub async fn list_designations(e: &mut impl Exec, region: Option<RegionCode>) -> Result<Vec<SourceDesignation>> {
    sql("SELECT id, region, subject, items, source_org, entry_id, basis, designated_by, designated_at
         FROM source_designations WHERE $1 IS NULL OR region = $1 ORDER BY region, subject")
    .bind(region)
    .all(e)
    .await
}
