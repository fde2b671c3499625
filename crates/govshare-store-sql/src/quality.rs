//! Corrections, disputes and public complaints (Art. 26, 28, 37 ¶2), and incident reports: the writes their
//! transactions share.

use govshare_domain::attachment::AttachmentRef;
use govshare_domain::correction::Correction;
use govshare_store::{Result, StoreError, StoredRecord};

use crate::data::ARCHIVE_VERSIONS;
use crate::driver::{Dialect, Tx, sql};

/// Stores an attachment's (sealed) bytes for `owner`.
pub async fn insert_attachment<D: Dialect>(
    tx: &mut Tx<D>,
    owner: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
    attachment: Option<(&AttachmentRef, &[u8])>,
) -> Result<()> {
    if let Some((meta, data)) = attachment {
        sql("INSERT INTO attachments (id, owner_id, created_at, data) VALUES ($1, $2, $3, $4)")
            .binds((meta.id, owner, at, data))
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Writes the corrected version of a live hosted record under the entry's next sequence number, with its
/// change-history row naming the correction, and sets the number in the correction's answer.
pub async fn write_corrected<D: Dialect>(
    tx: &mut Tx<D>,
    correction: &mut Correction,
    record: Option<&StoredRecord>,
) -> Result<()> {
    let Some(record) = record else { return Ok(()) };
    let entry = correction.entry;
    // Taking the sequence number locks the source's row: a load and a correction never share a number.
    let seq: Option<(i64,)> =
        sql("UPDATE data_sources SET next_seq = next_seq + 1 WHERE entry_id = $1 RETURNING next_seq - 1")
            .bind(entry)
            .optional(tx)
            .await?;
    let Some((seq,)) = seq else { return Err(StoreError::NotFound("该目录尚未绑定数据源".into())) };
    // The version the correction replaces goes to the change history first.
    let archived = sql(format!("{ARCHIVE_VERSIONS} AND key = $2 AND deleted = FALSE"))
        .binds((entry, &record.key))
        .execute(tx)
        .await?;
    if archived == 0 {
        return Err(StoreError::NotFound("该记录已不存在（已被删除或替换），无法更正".into()));
    }
    sql("UPDATE source_records SET scope = $1, seq = $2, digest = $3, payload = $4, written_by = $5
         WHERE entry_id = $6 AND key = $7 AND deleted = FALSE")
    .binds((&record.scope, seq, &record.digest, &record.payload, correction.id.0, entry, &record.key))
    .execute(tx)
    .await?;
    sql("UPDATE corrections SET applied_seq = $1 WHERE id = $2").binds((seq, correction.id)).execute(tx).await?;
    if let Some(answer) = correction.answer.as_mut() {
        answer.applied_seq = Some(seq);
    }
    Ok(())
}

/// Compare-and-set of a case document on its step count: NotFound or Conflict (someone else acted first).
pub async fn save_case<D: Dialect>(
    tx: &mut Tx<D>,
    table: &'static str,
    what: &str,
    id: uuid::Uuid,
    steps: usize,
    expected: usize,
    document: String,
) -> Result<()> {
    let done = sql(format!("UPDATE {table} SET events = $1, document = $2 WHERE id = $3 AND events = $4"))
        .binds((steps, document, id, expected))
        .execute(tx)
        .await?;
    if done == 0 {
        let exists: Option<(uuid::Uuid,)> =
            sql(format!("SELECT id FROM {table} WHERE id = $1")).bind(id).optional(tx).await?;
        return Err(match exists {
            None => StoreError::NotFound(format!("{what}不存在")),
            Some(_) => StoreError::Conflict(format!("该{what}刚被其他人办理，请刷新后重试")),
        });
    }
    Ok(())
}
