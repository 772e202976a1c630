//! Housekeeping on a timer: [`Periodic`] runs one job every period until
//! stopped, and [`spawn_expiry_sweeper`] uses it to record what time has
//! ended — expired requests (their offers voided) and expired grants (their
//! `grant_expired` entries). Reads never depend on it: a grant past its end
//! is refused at once; the sweep only writes the record down. The same
//! tick answers the sandbox's `sandbox-ask-N` requests that are due
//! (`broker::sandbox::settle_due`).
//! [`spawn_revocation_sweeper`] forgets revoked access tokens once they
//! have expired, and sign-in and sign-up counters nothing has touched for
//! a day (the throttle forgets them anyway; deleting them keeps a spray of
//! made-up handles from growing the table for good).
//! [`spawn_authorization_purger`] deletes the OAuth rows that strangers
//! and companies can make in bulk (pushed requests, requests left on the
//! consent screen, authorization codes, DPoP proofs' `jti`s) once they
//! are spent.

use std::future::Future;
use std::time::Duration;

use store::Store;
use tokio::sync::watch;

/// How often the expiry sweep looks for what has ended.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often revoked access tokens that have expired since are forgotten.
pub const REVOCATION_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How often spent pushed requests, pending authorizations and codes are
/// deleted.
pub const AUTHORIZATION_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A job run every period on the runtime, until [`Periodic::stop`].
pub struct Periodic {
    stop: watch::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl Periodic {
    /// Runs `job` every `period` (the first run at once); a run that takes
    /// longer than the period delays the next rather than piling up.
    pub fn spawn<F, Fut>(period: Duration, mut job: F) -> Periodic
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (stop, mut stopped) = watch::channel(());
        let handle = tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stopped.changed() => break,
                }
                job().await;
            }
        });
        Periodic { stop, handle }
    }

    /// Stops the job, letting a run in progress finish.
    pub async fn stop(self) {
        self.stop.send(()).ok();
        if let Err(e) = self.handle.await {
            tracing::warn!(error = %e, "a periodic task failed");
        }
    }
}

/// Sweeps expired requests and grants every [`SWEEP_INTERVAL`]; a full
/// batch sweeps again at once, so a backlog drains without waiting.
pub fn spawn_expiry_sweeper(store: Store) -> Periodic {
    Periodic::spawn(SWEEP_INTERVAL, move || {
        let store = store.clone();
        async move {
            loop {
                match store.sweep_expired().await {
                    Ok(swept) => {
                        if swept.requests + swept.grants > 0 {
                            tracing::info!(
                                requests = swept.requests,
                                grants = swept.grants,
                                "recorded expiries"
                            );
                        }
                        if swept.requests < store::SWEEP_BATCH && swept.grants < store::SWEEP_BATCH
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "sweeping expired requests and grants");
                        break;
                    }
                }
            }
            // Synthetic `sandbox-ask-N` people answer on time even when
            // no one reads their requests (webhooks, CIBA pings).
            match broker::sandbox::settle_due(&store, time::OffsetDateTime::now_utc()).await {
                Ok(0) => {}
                Ok(decided) => tracing::debug!(decided, "sandbox requests answered"),
                Err(e) => tracing::warn!(error = %e, "answering sandbox requests"),
            }
        }
    })
}

/// Forgets revoked access tokens that have expired since (an expired token
/// is refused for its expiry) every [`REVOCATION_SWEEP_INTERVAL`], so the
/// deny list holds only tokens that could still be presented; and
/// `Idempotency-Key`s older than their 24 hours.
pub fn spawn_revocation_sweeper(store: Store) -> Periodic {
    Periodic::spawn(REVOCATION_SWEEP_INTERVAL, move || {
        let store = store.clone();
        async move {
            match store.forget_expired_revocations().await {
                Ok(0) => {}
                Ok(forgotten) => {
                    tracing::debug!(forgotten, "forgot expired access-token revocations");
                }
                Err(e) => tracing::warn!(error = %e, "forgetting expired revocations"),
            }
            forget_stale_throttles(&store).await;
            if let Err(e) = broker::idempotency::prune(&store).await {
                tracing::warn!(error = %e, "pruning idempotency keys");
            }
        }
    })
}

/// Deletes the throttle counters last counted over a day ago.
async fn forget_stale_throttles(store: &Store) {
    let before = time::OffsetDateTime::now_utc().unix_timestamp() - identity::FORGET_AFTER_SECS;
    match store.forget_throttles(before).await {
        Ok(0) => {}
        Ok(forgotten) => tracing::debug!(forgotten, "forgot stale sign-in counters"),
        Err(e) => tracing::warn!(error = %e, "forgetting stale sign-in counters"),
    }
}

/// Deletes spent OAuth rows every [`AUTHORIZATION_PURGE_INTERVAL`] (see
/// `store::Store::purge_spent_authorizations` for what is spent); a full
/// batch purges again at once, so a flood drains without waiting.
pub fn spawn_authorization_purger(store: Store) -> Periodic {
    Periodic::spawn(AUTHORIZATION_PURGE_INTERVAL, move || {
        let store = store.clone();
        async move {
            loop {
                match store.purge_spent_authorizations().await {
                    Ok(purged) => {
                        if purged.total() > 0 {
                            tracing::debug!(
                                pushed_requests = purged.pushed_requests,
                                pending_authorizations = purged.pending_authorizations,
                                codes = purged.codes,
                                dpop_proofs = purged.dpop_proofs,
                                "purged spent authorizations"
                            );
                        }
                        if !purged.is_full_batch() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "purging spent authorizations");
                        break;
                    }
                }
            }
        }
    })
}
