//! Tamper evidence on SQLite: sealed usage batches, the seal of the records kept before seals existed, and the
//! append-only triggers (which `audit verify` checks and `audit restore-guards` recreates).

use govshare_domain::audit::{AuditEvent, AuditRecord};
use govshare_domain::catalog::EntryId;
use govshare_domain::evidence::{StoredUsage, USAGE_BATCH_OBJECT, USAGE_SEAL_ACTION, UsageColumns, UsageSeal};
use govshare_domain::grant::{GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_store::Result;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::rows::{AuditRow, micros};
use crate::{append, db};

/// Statements stay under SQLite's parameter limit (32766) with room to spare.
const ROWS_PER_STATEMENT: usize = 500;

/// The triggers that keep the evidence append-only, with the statement that creates each.
const GUARDS: &[(&str, &str)] = &[
    (
        "audit_log_no_update",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ),
    (
        "audit_log_no_delete",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ),
    (
        "usage_records_no_update",
        "CREATE TRIGGER usage_records_no_update BEFORE UPDATE ON usage_records BEGIN SELECT RAISE(ABORT, 'usage records are append-only'); END",
    ),
    (
        "usage_records_no_delete",
        "CREATE TRIGGER usage_records_no_delete BEFORE DELETE ON usage_records BEGIN SELECT RAISE(ABORT, 'usage records are append-only'); END",
    ),
];

/// SQL text with its whitespace collapsed and a trailing `;` dropped, for comparing definitions.
fn normalised(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(';').trim_end().to_owned()
}

/// Inserts the batch's rows, then appends its seal: the chain append (which takes the writer's head) comes last.
pub async fn append_sealed(conn: &mut SqliteConnection, records: &[UsageRecord]) -> Result<()> {
    let documents: Vec<String> = records.iter().map(govshare_domain::evidence::usage_document).collect();
    let seal = UsageSeal::over(Uuid::now_v7(), &documents, false);
    let batch = seal.batch.to_string();
    for (chunk, offset) in records.chunks(ROWS_PER_STATEMENT).zip((0..).step_by(ROWS_PER_STATEMENT)) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, \
             seal_position) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut b, (i, r)| {
            b.push_bind(r.id.to_string())
                .push_bind(micros(r.at))
                .push_bind(r.requester.to_string())
                .push_bind(r.provider.to_string())
                .push_bind(r.grant.map(|g| g.to_string()))
                .push_bind(r.entry.to_string())
                .push_bind(r.rows as i64)
                .push_bind(documents[offset + i].as_str())
                .push_bind(batch.as_str())
                .push_bind((offset + i) as i64);
        });
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    append(conn, &seal.event()).await?;
    Ok(())
}

type UsageRow = (String, i64, String, String, Option<String>, String, i64, String, String, i64);

/// A column that does not parse reads as the max UUID, so that verification reports it as a mismatch.
fn id(text: &str) -> Uuid {
    text.parse().unwrap_or(Uuid::max())
}

fn stored(row: UsageRow) -> (Uuid, StoredUsage) {
    let (usage_id, at, requester, provider, grant, entry, rows, document, seal, position) = row;
    let columns = UsageColumns {
        id: id(&usage_id),
        at: chrono::DateTime::from_timestamp_micros(at).unwrap_or_default(),
        requester: OrgId(id(&requester)),
        provider: OrgId(id(&provider)),
        grant: grant.as_deref().map(|g| GrantId(id(g))),
        entry: EntryId(id(&entry)),
        rows: rows.max(0) as u64,
    };
    (id(&seal), StoredUsage { position, document, columns })
}

pub async fn sealed_usage(pool: &SqlitePool, batches: &[Uuid]) -> Result<Vec<(Uuid, StoredUsage)>> {
    let mut out = Vec::new();
    for chunk in batches.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position \
             FROM usage_records WHERE seal_id IN (",
        );
        let mut ids = q.separated(", ");
        for b in chunk {
            ids.push_bind(b.to_string());
        }
        q.push(") ORDER BY seal_id, seal_position");
        let rows: Vec<UsageRow> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
        out.extend(rows.into_iter().map(stored));
    }
    Ok(out)
}

pub async fn usage_count(pool: &SqlitePool) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_records").fetch_one(pool).await.map_err(db)?;
    Ok(n.max(0) as u64)
}

pub async fn usage_seal_of(pool: &SqlitePool, usage: Uuid) -> Result<Option<(Uuid, i64)>> {
    let row: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT seal_id, seal_position FROM usage_records WHERE id = ?")
            .bind(usage.to_string())
            .fetch_optional(pool)
            .await
            .map_err(db)?;
    Ok(row.and_then(|(seal, position)| Some((seal?.parse().ok()?, position?))))
}

pub async fn seal_record(pool: &SqlitePool, batch: Uuid) -> Result<Option<AuditRecord>> {
    let row: Option<AuditRow> = sqlx::query_as(
        "SELECT * FROM audit_log WHERE object_type = ? AND object_id = ? AND action = ? ORDER BY seq LIMIT 1",
    )
    .bind(USAGE_BATCH_OBJECT)
    .bind(batch.to_string())
    .bind(USAGE_SEAL_ACTION)
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    row.map(TryInto::try_into).transpose()
}

/// Whether migration 0007 (usage seals) had been applied before this start.
pub async fn seals_migrated(pool: &SqlitePool) -> bool {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 7 AND success")
        .fetch_one(pool)
        .await
        .is_ok_and(|(n,)| n > 0)
}

/// Seals the records migration 0007 gathered into the nil batch, unless the chain already has a legacy seal.
/// Called only by the start that applied the migration, so rows inserted later with the nil batch id are never
/// sealed by a restart.
pub async fn seal_legacy(pool: &SqlitePool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db)?;
    let nil = Uuid::nil().to_string();
    let (sealed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE object_type = ? AND object_id = ? AND action = ?")
            .bind(USAGE_BATCH_OBJECT)
            .bind(&nil)
            .bind(USAGE_SEAL_ACTION)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    let documents: Vec<(String,)> =
        sqlx::query_as("SELECT document FROM usage_records WHERE seal_id = ? ORDER BY seal_position")
            .bind(&nil)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
    if sealed > 0 || documents.is_empty() {
        return Ok(());
    }
    let documents: Vec<String> = documents.into_iter().map(|(d,)| d).collect();
    let seal = UsageSeal::over(Uuid::nil(), &documents, true);
    append(&mut tx, &seal.event()).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

async fn guard_state(conn: &mut SqliteConnection) -> Result<Vec<&'static str>> {
    let present: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    Ok(GUARDS
        .iter()
        .filter(|(name, sql)| {
            !present.iter().any(|(n, s)| n == name && s.as_deref().map(normalised) == Some(normalised(sql)))
        })
        .map(|(name, _)| *name)
        .collect())
}

pub async fn missing_guards(pool: &SqlitePool) -> Result<Vec<String>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    Ok(guard_state(&mut conn).await?.into_iter().map(str::to_owned).collect())
}

pub async fn restore_guards(pool: &SqlitePool, audit: &AuditEvent) -> Result<Vec<String>> {
    let mut tx = pool.begin().await.map_err(db)?;
    let missing = guard_state(&mut tx).await?;
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    for name in &missing {
        let (_, create) = GUARDS.iter().find(|(n, _)| n == name).expect("a known guard");
        sqlx::query(&format!("DROP TRIGGER IF EXISTS {name}")).execute(&mut *tx).await.map_err(db)?;
        sqlx::query(create).execute(&mut *tx).await.map_err(db)?;
    }
    append(&mut tx, audit).await?;
    tx.commit().await.map_err(db)?;
    Ok(missing.into_iter().map(str::to_owned).collect())
}
