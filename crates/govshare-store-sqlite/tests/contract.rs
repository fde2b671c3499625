//! The store contract on SQLite: each test gets its own database file.

use std::sync::Arc;

use govshare_store::DynStore;
use govshare_store_sqlite::SqliteStore;

async fn fresh() -> DynStore {
    // The directory must outlive the test; it is removed when the process ends.
    let dir = tempfile::tempdir().unwrap().keep();
    let store = SqliteStore::connect(&format!("sqlite://{}/govshare.db", dir.display())).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    Arc::new(store)
}

govshare_store_tests::store_contract_tests!(fresh());
