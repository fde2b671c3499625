//! Upgrading a SQLite database kept by an earlier release: the schema is built from the shipped files up to the
//! migration under test, old rows are inserted, then the store migrates — numbering the rows kept before human
//! numbers (0009), storing each record version once (0020).

use std::path::Path;
use std::sync::Arc;

use govshare_store::DynStore;
use govshare_store_sqlite::SqliteStore;
use sqlx::Connection;

#[tokio::test]
async fn rows_kept_before_numbers_are_numbered_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/govshare.db", dir.path().display());
    let old =
        govshare_store_tests::migrations_before(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"), "0009");
    let options =
        <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url).unwrap().create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    let rows = govshare_store_tests::legacy_rows(|at| at.timestamp_micros().to_string());
    for statement in &rows.statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let store: DynStore = Arc::new(store);
    govshare_store_tests::numbered_on_upgrade(store, &rows).await;
}

#[tokio::test]
async fn versions_kept_before_0020_are_stored_once_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/govshare.db", dir.path().display());
    let old =
        govshare_store_tests::migrations_before(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"), "0020");
    let options =
        <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url).unwrap().create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    let legacy = govshare_store_tests::legacy_history(|bytes| {
        format!("X'{}'", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    });
    for statement in &legacy.statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    govshare_store_tests::history_kept_on_upgrade(Arc::new(store), &legacy).await;
}
