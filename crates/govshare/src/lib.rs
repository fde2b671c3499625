//! The govshare binary's library: configuration, the command line, store selection and the demo province.
//! `main.rs` only parses arguments and calls [`cli::run`].

pub mod bench;
pub mod bench_data;
pub mod bench_deadlines;
pub mod bench_federation;
pub mod bench_supervision;
pub mod cli;
pub mod cli_federation;
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
        let store = SqliteStore::connect(url).await?;
        store.migrate().await?;
        Arc::new(store)
    } else {
        anyhow::bail!("database.url must start with `sqlite:` or `postgres://`, got `{}`", config::redact_url(url));
    };
    Ok(store)
}

/// The node's keys from its secret file, creating the file (32 random bytes, hex, mode 0600) when missing.
pub fn node_keys(path: &std::path::Path) -> anyhow::Result<govshare_service::crypto::NodeKeys> {
    use anyhow::Context;
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut secret);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).with_context(|| format!("cannot create node key file {}", path.display()))?;
        std::io::Write::write_all(&mut file, hex::encode(secret).as_bytes())?;
        file.sync_all()?;
        tracing::info!(path = %path.display(), "created the node key file; back it up with the database");
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read node key file {}", path.display()))?;
    let secret = hex::decode(text.trim())
        .ok()
        .filter(|s| s.len() == 32)
        .with_context(|| format!("node key file {} must hold 64 hex digits", path.display()))?;
    Ok(govshare_service::crypto::NodeKeys::from_secret(&secret))
}

/// `Services::load_source` with a progress bar on the terminal over its one pass through the file.
pub(crate) async fn load_with_progress(
    services: &govshare_service::Services,
    principal: &govshare_domain::principal::Principal,
    entry: govshare_domain::catalog::EntryId,
    file: &std::path::Path,
    request: &govshare_service::LoadRequest,
    message: &'static str,
) -> anyhow::Result<govshare_service::LoadReport> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let size = std::fs::metadata(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?.len();
    let bar = indicatif::ProgressBar::new(size).with_message(message);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {elapsed} (ETA {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let progress = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(Ordering::Relaxed));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    let outcome = services.load_source(principal, entry, file, request, progress).await;
    ticker.abort();
    bar.finish_and_clear();
    Ok(outcome?)
}
