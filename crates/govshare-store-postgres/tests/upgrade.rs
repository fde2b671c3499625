//! Upgrading a PostgreSQL database kept by an earlier release: the schema is built from the shipped files up to the
//! migration under test, old rows are inserted, then the store migrates — numbering the rows kept before human
//! numbers (0009), storing each record version once (0020).

use std::path::Path;
use std::sync::Arc;

use govshare_store::DynStore;
use govshare_store_postgres::{PgStore, testing};
use sqlx::Connection;

/// A fresh database built by the shipped migrations before `first_left_out`, holding the rows `statements` insert,
/// then opened and migrated by the store.
async fn upgraded(first_left_out: &str, statements: &[String]) -> DynStore {
    let url = testing::fresh_database().await;
    let old = govshare_store_tests::migrations_before(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"),
        first_left_out,
    );
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let store = PgStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

#[tokio::test]
async fn rows_kept_before_numbers_are_numbered_on_upgrade() {
    let rows = govshare_store_tests::legacy_rows(|at| format!("'{}'", at.to_rfc3339()));
    govshare_store_tests::numbered_on_upgrade(upgraded("0009", &rows.statements).await, &rows).await;
}

#[tokio::test]
async fn versions_kept_before_0020_are_stored_once_on_upgrade() {
    let legacy = govshare_store_tests::legacy_history(|bytes| {
        format!("'\\x{}'::bytea", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    });
    govshare_store_tests::history_kept_on_upgrade(upgraded("0020", &legacy.statements).await, &legacy).await;
}
