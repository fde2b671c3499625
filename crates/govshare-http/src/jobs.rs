//! Background jobs that run beside the server.
//!
//! Every job is safe to run on several instances at once: each run is an idempotent statement against the shared
//! database (housekeeping), touches only this instance's memory (the search index), or records what it does under
//! a unique key so that only one instance's record commits (deadline reminders and overdue marks).

use std::future::Future;
use std::time::Duration;

use govshare_service::Services;
use tokio::sync::watch;

/// Runs `run` every `every` until `shutdown` flips to true, counting runs in `govshare_job_runs_total`.
async fn periodic<F, Fut>(job: &'static str, every: Duration, mut shutdown: watch::Receiver<bool>, mut run: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                run().await;
                metrics::counter!("govshare_job_runs_total", "job" => job).increment(1);
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
}

/// Removes expired sessions and old login failures every `every`, until `shutdown` flips to true.
pub async fn run_housekeeping(services: Services, every: Duration, shutdown: watch::Receiver<bool>) {
    periodic("housekeeping", every, shutdown, || async {
        let now = services.now();
        let keep_failures = now - services.settings().login_window;
        match services.store().purge_expired(now, keep_failures).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "housekeeping removed expired sessions and login failures"),
            Err(err) => tracing::warn!(error = %err, "housekeeping failed; will retry"),
        }
    })
    .await
}

/// Reconciles this instance's search index with the store every `every` (publications made through other
/// instances, or an index update that failed). The first run builds the index at start-up.
pub async fn run_search_sync(services: Services, every: Duration, shutdown: watch::Receiver<bool>) {
    periodic("search_sync", every, shutdown, || async {
        if let Err(err) = services.sync_search_index().await {
            tracing::warn!(error = %err, "search index sync failed; will retry");
        }
    })
    .await
}

/// Sends deadline reminders and marks overdue deadlines every `every` (R-APP-5).
pub async fn run_deadlines(services: Services, every: Duration, shutdown: watch::Receiver<bool>) {
    periodic("deadlines", every, shutdown, || async {
        match services.run_deadline_sweep().await {
            Ok(report) if report.reminders + report.overdue > 0 => {
                tracing::info!(reminders = report.reminders, overdue = report.overdue, "deadline job sent alerts")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "deadline job failed; will retry"),
        }
    })
    .await
}

/// Signs the audit chain's head into the checkpoint file every `every` (when it moved since the last checkpoint).
/// Several instances may each sign the same head: every checkpoint is checked, duplicates agree.
pub async fn run_checkpoints(services: Services, every: Duration, shutdown: watch::Receiver<bool>) {
    periodic("audit_checkpoint", every, shutdown, || async {
        match services.checkpoint_head().await {
            Ok(Some(c)) => tracing::debug!(seq = c.seq, "audit chain head signed"),
            Ok(None) => {}
            Err(err) => tracing::error!(error = %err, "audit checkpoint not signed; will retry"),
        }
    })
    .await
}

/// The federation's sync (directory, admissions, catalog deltas; the root's renewals) every `every`; after a
/// failure it retries after 2, 4, 8 … times `every`, at most `max_backoff`, and resumes the normal pace at
/// the first success, so a node recovers by itself from any outage of its parent. Warns while the held
/// directory is within its warning period of expiry.
pub async fn run_federation(
    services: Services,
    every: Duration,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    loop {
        let delay = govshare_domain::federation::backoff(failures, every, max_backoff.max(every));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
        }
        match services.federation_sync().await {
            Ok(outcome) => {
                if failures > 0 {
                    tracing::info!(after_failures = failures, "federation sync recovered");
                }
                failures = 0;
                if outcome.adopted.is_some() || outcome.deltas_sent > 0 {
                    tracing::info!(adopted = ?outcome.adopted, deltas = outcome.deltas_sent, acked = ?outcome.acked, "federation synced");
                }
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %err, failures, "federation sync failed; will retry with back-off");
            }
        }
        metrics::counter!("govshare_job_runs_total", "job" => "federation").increment(1);
        if let Ok(Some(freshness)) = services.directory_freshness().await {
            use govshare_domain::federation::Freshness;
            match freshness {
                Freshness::ExpiresSoon { expires_at } => {
                    tracing::warn!(%expires_at, "the node directory expires soon and no newer one could be fetched")
                }
                Freshness::Expired { expires_at } => {
                    tracing::error!(%expires_at, "the node directory has expired: messages from other nodes are refused")
                }
                Freshness::Valid { expires_at } => {
                    let left = (expires_at - services.now()).num_seconds();
                    metrics::gauge!("govshare_federation_directory_seconds_left").set(left as f64);
                }
            }
        }
    }
}
