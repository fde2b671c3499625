//! The store contract on PostgreSQL: each test gets its own database.

use std::sync::Arc;

use govshare_store::DynStore;
use govshare_store_postgres::{PgStore, testing};

async fn fresh() -> DynStore {
    let store = PgStore::connect(&testing::fresh_database().await).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    Arc::new(store)
}

govshare_store_tests::store_contract_tests!(fresh());
