//! Background jobs that run beside the server.
//!
//! Every job is safe to run on several instances at once: each run is an idempotent statement against the
//! shared database, so two instances doing the same run at the same moment do no harm.

use std::time::Duration;

use govshare_service::Services;
use tokio::sync::watch;

/// Removes expired sessions and old login failures every `every`, until `shutdown` flips to true.
pub async fn run_housekeeping(services: Services, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let now = services.now();
                let keep_failures = now - services.settings().login_window;
                match services.store().purge_expired(now, keep_failures).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "housekeeping removed expired sessions and login failures"),
                    Err(err) => tracing::warn!(error = %err, "housekeeping failed; will retry"),
                }
                metrics::counter!("govshare_job_runs_total", "job" => "housekeeping").increment(1);
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
}
