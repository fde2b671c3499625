//! The govshare binary's library: configuration, the command line, store selection and the demo province.
//! `main.rs` only parses arguments and calls [`cli::run`].

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;

use std::sync::Arc;

use govshare_store::DynStore;
use govshare_store_postgres::PgStore;
use govshare_store_sqlite::SqliteStore;

/// Opens the store named by a database URL (`sqlite:…` or `postgres://…`) and brings its schema up to date.
pub async fn open_store(url: &str) -> anyhow::Result<DynStore> {
    let store: DynStore = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url).await?;
        store.migrate().await?;
        Arc::new(store)
    } else if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url).await?;
        store.migrate().await?;
        Arc::new(store)
    } else {
        anyhow::bail!("database.url must start with `sqlite:` or `postgres://`, got `{}`", config::redact_url(url));
    };
    Ok(store)
}
