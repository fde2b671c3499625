//! Support for `govshare bench data` on PostgreSQL: a throw-away database, and the COPY baseline of the bulk
//! export (PostgreSQL's own fastest way to read the same rows).
#![doc(hidden)]

use govshare_domain::catalog::EntryId;
use govshare_store::{Result, StoreError};
use sqlx::Connection;

/// Creates `govshare_bench_<uuid>` on the server of `admin_url`; returns its URL and name.
pub async fn create_database(admin_url: &str) -> Result<(String, String)> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.map_err(StoreError::other)?;
    let name = format!("govshare_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.map_err(StoreError::other)?;
    let _ = admin.close().await;
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    Ok((format!("{base}/{name}"), name))
}

pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.map_err(StoreError::other)?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(StoreError::other)?;
    Ok(())
}

/// `COPY (the live records of an entry, in sequence order) TO STDOUT`; returns the rows read.
pub async fn copy_out_records(url: &str, entry: EntryId) -> Result<usize> {
    use futures_util::StreamExt;
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(StoreError::other)?;
    let sql = format!(
        "COPY (SELECT key, scope, seq, digest, payload FROM source_records WHERE entry_id = '{}' AND NOT deleted \
         ORDER BY seq) TO STDOUT",
        entry.0
    );
    let mut rows = 0usize;
    let mut stream = conn.copy_out_raw(&sql).await.map_err(StoreError::other)?;
    while let Some(chunk) = stream.next().await {
        rows += chunk.map_err(StoreError::other)?.iter().filter(|b| **b == b'\n').count();
    }
    Ok(rows)
}

/// `COPY … FROM STDIN (FORMAT csv, HEADER)` of a file into a fresh table of text columns named by its header,
/// keyed by its second column (the people file's ID number); returns the rows copied.
pub async fn copy_in_csv(url: &str, file: &std::path::Path) -> Result<u64> {
    use std::io::BufRead;
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(StoreError::other)?;
    let header = {
        let mut line = String::new();
        std::io::BufReader::new(std::fs::File::open(file).map_err(StoreError::other)?)
            .read_line(&mut line)
            .map_err(StoreError::other)?;
        line.trim().split(',').map(str::to_owned).collect::<Vec<_>>()
    };
    let columns: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} TEXT{}", if i == 1 { " PRIMARY KEY" } else { "" }))
        .collect();
    sqlx::query(&format!("CREATE TABLE bench_copy_in ({})", columns.join(", ")))
        .execute(&mut conn)
        .await
        .map_err(StoreError::other)?;
    let mut copy =
        conn.copy_in_raw("COPY bench_copy_in FROM STDIN (FORMAT csv, HEADER)").await.map_err(StoreError::other)?;
    let bytes = std::fs::read(file).map_err(StoreError::other)?;
    for chunk in bytes.chunks(1 << 20) {
        copy.send(chunk).await.map_err(StoreError::other)?;
    }
    let rows = copy.finish().await.map_err(StoreError::other)?;
    sqlx::query("DROP TABLE bench_copy_in").execute(&mut conn).await.map_err(StoreError::other)?;
    Ok(rows)
}

/// `COPY (every live record's payload of an entry, in sequence order) TO STDOUT (FORMAT binary)`, each payload
/// handed to `each` as it arrives; returns the rows read.
pub async fn copy_out_payloads(url: &str, entry: EntryId, mut each: impl FnMut(&[u8])) -> Result<usize> {
    use futures_util::StreamExt;
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(StoreError::other)?;
    let sql = format!(
        "COPY (SELECT payload FROM source_records WHERE entry_id = '{}' AND NOT deleted ORDER BY seq) \
         TO STDOUT (FORMAT binary)",
        entry.0
    );
    let mut stream = conn.copy_out_raw(&sql).await.map_err(StoreError::other)?;
    // The binary format: an 11-byte signature, flags and a header extension, then per tuple a 16-bit field count
    // and per field a 32-bit length and the bytes; a field count of -1 ends it.
    let mut buf: Vec<u8> = Vec::new();
    let (mut at, mut header_done, mut rows) = (0usize, false, 0usize);
    let bad = || StoreError::other(std::io::Error::other("unexpected COPY binary data"));
    while let Some(chunk) = stream.next().await {
        buf.drain(..at);
        at = 0;
        buf.extend_from_slice(&chunk.map_err(StoreError::other)?);
        if !header_done {
            if buf.len() < 19 {
                continue;
            }
            let extension = u32::from_be_bytes(buf[15..19].try_into().map_err(|_| bad())?) as usize;
            if buf.len() < 19 + extension {
                continue;
            }
            at = 19 + extension;
            header_done = true;
        }
        while let Some(count) = buf.get(at..at + 2) {
            let count = i16::from_be_bytes(count.try_into().map_err(|_| bad())?);
            if count == -1 {
                return Ok(rows);
            }
            if count != 1 {
                return Err(bad());
            }
            let Some(len) = buf.get(at + 2..at + 6) else { break };
            let len = i32::from_be_bytes(len.try_into().map_err(|_| bad())?).max(0) as usize;
            let Some(payload) = buf.get(at + 6..at + 6 + len) else { break };
            each(payload);
            rows += 1;
            at += 6 + len;
        }
    }
    Ok(rows)
}
