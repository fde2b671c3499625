//! Tamper evidence: sealed usage batches and the seal of the records kept before seals existed. (The
//! append-only guards are introspected by each dialect: see [`Dialect::guards`].)

use govshare_domain::evidence::{StoredUsage, USAGE_BATCH_OBJECT, USAGE_SEAL_ACTION, UsageColumns, UsageSeal};
use govshare_domain::grant::{GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_store::Result;
use uuid::Uuid;

use crate::data::ROWS_PER_STATEMENT;
use crate::driver::{Col, Dialect, FromRow, Row, Tx, sql, values};
use crate::rows::lenient_id;
use crate::{SqlStore, append, chain_head};

/// Inserts the batch's rows, then appends its seal: the chain append (which takes the head, and on PostgreSQL
/// its lock) comes last, so the row inserts stay outside that lock.
pub async fn append_sealed<D: Dialect>(tx: &mut Tx<D>, records: &[UsageRecord]) -> Result<()> {
    let documents: Vec<String> = records.iter().map(govshare_domain::evidence::usage_document).collect();
    let seal = UsageSeal::over(Uuid::now_v7(), &documents, false);
    for (chunk, offset) in records.chunks(ROWS_PER_STATEMENT).zip((0..).step_by(ROWS_PER_STATEMENT)) {
        let mut q = sql(format!(
            "INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, \
             seal_position) VALUES {}",
            values(1, chunk.len(), 10)
        ));
        for (i, r) in chunk.iter().enumerate() {
            q.push(r.id).push(r.at).push(r.requester).push(r.provider).push(r.grant).push(r.entry);
            q.push(i64::try_from(r.rows).unwrap_or(i64::MAX)).push(documents[offset + i].as_str());
            q.push(seal.batch).push(offset + i);
        }
        q.execute(tx).await?;
    }
    append(tx, &seal.event()).await?;
    Ok(())
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
