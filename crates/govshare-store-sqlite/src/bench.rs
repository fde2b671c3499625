//! Support for `govshare bench data` on SQLite: the floor of the bulk export (the plainest read of the same rows).
#![doc(hidden)]

use std::str::FromStr;

use futures_util::TryStreamExt;
use govshare_domain::catalog::EntryId;
use govshare_store::{Result, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

/// Every live record's payload of an entry, in sequence order, handed to `each` as it is read (one connection, one
/// statement, streamed); returns the rows read.
pub async fn select_payloads(url: &str, entry: EntryId, mut each: impl FnMut(&[u8])) -> Result<usize> {
    let mut conn =
        SqliteConnectOptions::from_str(url).map_err(StoreError::other)?.connect().await.map_err(StoreError::other)?;
    let mut rows = sqlx::query("SELECT payload FROM source_records WHERE entry_id = ? AND NOT deleted ORDER BY seq")
        .bind(entry.0.hyphenated().to_string())
        .fetch(&mut conn);
    let mut n = 0;
    while let Some(row) = rows.try_next().await.map_err(StoreError::other)? {
        each(row.try_get::<&[u8], _>(0).map_err(StoreError::other)?);
        n += 1;
    }
    Ok(n)
}
