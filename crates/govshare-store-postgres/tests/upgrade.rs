//! Upgrading a PostgreSQL database kept by a release before human numbers: the schema is built up to migration
//! 0008 from the shipped files, old rows are inserted, then the store migrates and numbers them.

use std::path::Path;
use std::sync::Arc;

use govshare_store::DynStore;
use govshare_store_postgres::{PgStore, testing};
use sqlx::Connection;

#[tokio::test]
async fn rows_kept_before_numbers_are_numbered_on_upgrade() {
    let url = testing::fresh_database().await;
    let old =
        govshare_store_tests::migrations_before(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"), "0009");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    let rows = govshare_store_tests::legacy_rows(|at| format!("'{}'", at.to_rfc3339()));
    for statement in &rows.statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = PgStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let store: DynStore = Arc::new(store);
    govshare_store_tests::numbered_on_upgrade(store, &rows).await;
}
