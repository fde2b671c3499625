//! Tamper evidence: sealed usage batches and the seal of the records kept before seals existed. (The
//! append-only guards are introspected by each dialect: see [`Dialect::guards`].)

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::audit::AuditEvent;
use govshare_domain::evidence::{StoredUsage, USAGE_BATCH_OBJECT, USAGE_SEAL_ACTION, UsageColumns, UsageSeal};
use govshare_domain::grant::{GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_domain::usage_archive::{UsageArchive, month_of};
use govshare_store::{Result, StoreError};
use uuid::Uuid;

use crate::data::ROWS_PER_STATEMENT;
use crate::driver::{Arg, Col, Dialect, FromRow, Row, Tx, sql, values};
use crate::rows::lenient_id;
use crate::{SqlStore, append, chain_head};

/// Inserts the batch's rows, then appends its seal: the chain append (which takes the head, and on PostgreSQL
/// its lock) comes last, so the row inserts stay outside that lock. Records of different months (Beijing time)
/// become separate batches, one seal each, so that no batch straddles two partitions or two archives.
pub async fn append_sealed<D: Dialect>(tx: &mut Tx<D>, records: &[UsageRecord]) -> Result<()> {
    let mut months: BTreeMap<NaiveDate, Vec<&UsageRecord>> = BTreeMap::new();
    for r in records {
        months.entry(month_of(r.at)).or_default().push(r);
    }
    for (month, records) in months {
        let documents: Vec<String> = records.iter().map(|r| govshare_domain::evidence::usage_document(r)).collect();
        let seal = UsageSeal::over(Uuid::now_v7(), &documents, false);
        for (chunk, offset) in records.chunks(ROWS_PER_STATEMENT).zip((0..).step_by(ROWS_PER_STATEMENT)) {
            let mut q = sql(format!(
                "INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, \
                 seal_position, month) VALUES {}",
                values(1, chunk.len(), 11)
            ));
            for (i, r) in chunk.iter().enumerate() {
                q.push(r.id).push(r.at).push(r.requester).push(r.provider).push(r.grant).push(r.entry);
                q.push(i64::try_from(r.rows).unwrap_or(i64::MAX)).push(documents[offset + i].as_str());
                q.push(seal.batch).push(offset + i).push(month);
            }
            q.execute(tx).await?;
        }
        append(tx, &seal.event()).await?;
    }
    Ok(())
}

/// The months of these records (Beijing time).
pub fn months_of(records: &[UsageRecord]) -> BTreeSet<NaiveDate> {
    records.iter().map(|r| month_of(r.at)).collect()
}

/// The columns verification and archives read a usage row by, from `usage_records`.
const SEALED_COLUMNS: &str =
    "SELECT id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position FROM usage_records";

/// A page of one month's rows in archive order.
pub async fn month_page<D: Dialect>(
    store: &SqlStore<D>,
    month: NaiveDate,
    after: Option<(Uuid, i64)>,
    limit: u32,
) -> Result<Vec<(Uuid, StoredUsage)>> {
    let mut q = match after {
        None => sql(format!("{SEALED_COLUMNS} WHERE month = $1")).bind(month),
        Some((batch, position)) => sql(format!(
            "{SEALED_COLUMNS} WHERE month = $1 AND (seal_id > $2 OR (seal_id = $2 AND seal_position > $3))"
        ))
        .binds((month, batch, position)),
    };
    let limit = q.param(limit);
    q.text(&format!(" ORDER BY seal_id, seal_position LIMIT {limit}"));
    let rows: Vec<SealedRow> = q.all(&mut store.r()).await?;
    Ok(rows.into_iter().map(|SealedRow(batch, usage)| (batch, usage)).collect())
}

/// A month's archive, as the store keeps it.
struct ArchiveRow(UsageArchive);

impl FromRow for ArchiveRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(ArchiveRow(UsageArchive {
            month: r.get(0)?,
            file: r.get(1)?,
            records: r.get::<i64>(2)?.max(0) as u64,
            batches: r.get::<i64>(3)?.max(0) as u64,
            link: r.get(4)?,
            previous: r.get(5)?,
            file_sm3: r.get(6)?,
            archived_at: r.get(7)?,
            detached_at: r.get(8)?,
        }))
    }
}

pub async fn archives<D: Dialect>(store: &SqlStore<D>) -> Result<Vec<UsageArchive>> {
    let rows: Vec<ArchiveRow> = sql(
        "SELECT month, file, records, batches, link, previous, file_sm3, archived_at, detached_at FROM usage_archives \
         ORDER BY month",
    )
    .all(&mut store.r())
    .await?;
    Ok(rows.into_iter().map(|ArchiveRow(a)| a).collect())
}

pub async fn record_archive<D: Dialect>(
    store: &SqlStore<D>,
    a: &UsageArchive,
    batches: &[(Uuid, u64)],
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sql("INSERT INTO usage_archives (month, file, records, batches, link, previous, file_sm3, archived_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
    .binds((a.month, a.file.as_str(), a.records as i64, a.batches as i64, a.link.as_str(), a.previous.as_deref()))
    .binds((a.file_sm3.as_str(), a.archived_at))
    .execute(&mut tx)
    .await?;
    for chunk in batches.chunks(ROWS_PER_STATEMENT) {
        let mut q = sql(format!(
            "INSERT INTO usage_archived_batches (batch_id, month, records) VALUES {}",
            values(1, chunk.len(), 3)
        ));
        for (batch, count) in chunk {
            q.push(*batch).push(a.month).push(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        q.execute(&mut tx).await?;
    }
    append(&mut tx, event).await?;
    tx.commit().await
}

/// Removes an archived month's rows where the backend partitions the usage log: detaches the month's partition
/// and drops it, marks the archive detached and records `event`, in one transaction.
pub async fn detach_month<D: Dialect>(
    store: &SqlStore<D>,
    month: NaiveDate,
    at: DateTime<Utc>,
    event: &AuditEvent,
) -> Result<bool> {
    if !D::USAGE_PARTITIONS {
        return Ok(false);
    }
    let mut tx = store.begin().await?;
    let marked = sql("UPDATE usage_archives SET detached_at = $2 WHERE month = $1 AND detached_at IS NULL")
        .binds((month, at))
        .execute(&mut tx)
        .await?;
    if marked != 1 {
        return Err(StoreError::Conflict(format!("{} 的用量记录尚未归档或已移出数据库", month.format("%Y-%m"))));
    }
    let partition = format!("usage_records_{}", month.format("%Y_%m"));
    for statement in
        [format!("ALTER TABLE usage_records DETACH PARTITION {partition}"), format!("DROP TABLE {partition}")]
    {
        sql(statement).planned_per_call().execute(&mut tx).await?;
    }
    append(&mut tx, event).await?;
    tx.commit().await?;
    store.forget_month(month);
    Ok(true)
}

pub async fn archived_batches<D: Dialect>(
    store: &SqlStore<D>,
    batches: &[Uuid],
) -> Result<Vec<(Uuid, NaiveDate, u64)>> {
    let mut out = Vec::new();
    for chunk in batches.chunks(ROWS_PER_STATEMENT) {
        let mut q = sql(format!(
            "SELECT batch_id, month, records FROM usage_archived_batches WHERE {}",
            <D as Dialect>::any("batch_id", "$1")
        ))
        .bind(Arg::Ids(chunk.to_vec()));
        let rows: Vec<(Uuid, NaiveDate, i64)> = q.planned_per_call().all(&mut store.r()).await?;
        out.extend(rows.into_iter().map(|(b, m, n)| (b, m, n.max(0) as u64)));
    }
    Ok(out)
}

pub async fn archived_batches_of<D: Dialect>(
    store: &SqlStore<D>,
    month: NaiveDate,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<(Uuid, u64)>> {
    let mut q = match after {
        None => sql("SELECT batch_id, records FROM usage_archived_batches WHERE month = $1").bind(month),
        Some(after) => sql("SELECT batch_id, records FROM usage_archived_batches WHERE month = $1 AND batch_id > $2")
            .binds((month, after)),
    };
    let limit = q.param(limit);
    q.text(&format!(" ORDER BY batch_id LIMIT {limit}"));
    let rows: Vec<(Uuid, i64)> = q.all(&mut store.r()).await?;
    Ok(rows.into_iter().map(|(b, n)| (b, n.max(0) as u64)).collect())
}

/// A stored usage row as evidence: a column that does not read as its type reads as the max UUID or the epoch,
/// so that verification reports a mismatch rather than failing.
pub(crate) struct SealedRow(pub Uuid, pub StoredUsage);

impl FromRow for SealedRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        let columns = UsageColumns {
            id: lenient_id(r, 0),
            at: r.get(1).unwrap_or_default(),
            requester: OrgId(lenient_id(r, 2)),
            provider: OrgId(lenient_id(r, 3)),
            grant: r.id(Col::At(4)).unwrap_or(Some(Uuid::max())).map(GrantId),
            entry: govshare_domain::catalog::EntryId(lenient_id(r, 5)),
            rows: r.get::<i64>(6)?.max(0) as u64,
        };
        Ok(SealedRow(lenient_id(r, 8), StoredUsage { position: r.get(9)?, document: r.get(7)?, columns }))
    }
}

/// Whether migration 0007 (usage seals) had been applied before this start.
pub async fn seals_migrated<D: Dialect>(store: &SqlStore<D>) -> bool {
    let applied = sql("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 7 AND success");
    applied.one::<(i64,), _>(&mut store.r()).await.is_ok_and(|(n,)| n > 0)
}

/// Seals the records migration 0007 gathered into the nil batch, unless the chain already has a legacy seal
/// (several instances may start at once: the head, locked first, makes the check and the seal one step). Called
/// only by a start that found the migration unapplied, so rows inserted later with the nil batch id are never
/// sealed by a restart.
pub async fn seal_legacy<D: Dialect>(store: &SqlStore<D>) -> Result<()> {
    let mut tx = store.begin().await?;
    chain_head(&mut tx).await?;
    let nil = Uuid::nil();
    let (sealed,): (i64,) =
        sql("SELECT COUNT(*) FROM audit_log WHERE object_type = $1 AND object_id = $2 AND action = $3")
            .binds((USAGE_BATCH_OBJECT, nil.to_string(), USAGE_SEAL_ACTION))
            .one(&mut tx)
            .await?;
    let documents: Vec<(String,)> = sql("SELECT document FROM usage_records WHERE seal_id = $1 ORDER BY seal_position")
        .bind(nil)
        .all(&mut tx)
        .await?;
    if sealed > 0 || documents.is_empty() {
        return Ok(());
    }
    let documents: Vec<String> = documents.into_iter().map(|(d,)| d).collect();
    append(&mut tx, &UsageSeal::over(nil, &documents, true).event()).await?;
    tx.commit().await
}
