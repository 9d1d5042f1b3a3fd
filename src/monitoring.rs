//! What the daemon tells monitoring, over an optional HTTP listener
//! (`[http] listen`): `/healthz` for a liveness probe and `/metrics` in the
//! Prometheus text format.
//!
//! This module owns the metric names, the health verdict and the two
//! routes. The loop reports each tick here ([`Monitor::tick_finished`]);
//! everything about the commitments and the outbox is read from the
//! database at scrape time, through a connection of the listener's own.
//! Reading at scrape time rather than copying numbers after each tick is
//! deliberate: the CLI changes the database between ticks (`add`, `close`,
//! `import`), ticks are a minute apart, and the counts are a handful of
//! indexed queries — so a scrape sees the database as it is, not as it was
//! at the last tick. The queries run on a blocking thread, so a scrape never
//! stalls the loop, which shares this single-threaded runtime.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::daemon::TickReport;
use crate::store::Store;

/// How recent the last good tick must be for `/healthz` to say 200. The
/// loop ticks at least every 60 s; two minutes allows one slow tick.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(120);
/// How long `/healthz` waits for another writer before calling the store
/// unwritable.
const WRITE_PROBE_WAIT: Duration = Duration::from_secs(2);

const STATUSES: [&str; 5] = ["open", "fulfilled", "partial", "missed", "withdrawn"];

type Label = [(&'static str, &'static str); 1];

/// What the loop reported about its ticks.
#[derive(Debug, Clone, Default)]
pub struct Pulse {
    /// When the tick now running began, if one is running.
    pub running_since: Option<Instant>,
    /// When the last tick that succeeded finished.
    pub last_ok: Option<Instant>,
    /// The last tick that failed, if it came after the last good one.
    pub failure: Option<(Instant, String)>,
}

/// Whether the loop is alive, from its pulse alone: `Ok` with a line for
/// the body, or `Err` with the reason. Pure, so it is tested without a
/// clock.
///
/// Alive means: the last finished tick succeeded, and either it finished
/// within [`HEALTHY_WITHIN`] or the tick now running began within it. A
/// long delivery run therefore counts as alive for two minutes.
pub fn judge(pulse: &Pulse, started: Instant, now: Instant) -> Result<String, String> {
    let ago = |t: Instant| now.saturating_duration_since(t).as_secs();
    let recent = |t: Instant| now.saturating_duration_since(t) <= HEALTHY_WITHIN;
    let limit = HEALTHY_WITHIN.as_secs();
    if let Some((at, error)) = &pulse.failure {
        return Err(format!("the last tick failed {} s ago: {error}", ago(*at)));
    }
    match (pulse.last_ok, pulse.running_since) {
        (None, running) => Err(format!(
            "no tick has finished yet (the daemon started {} s ago{})",
            ago(started),
            running.map_or(String::new(), |t| format!(
                "; the first has been running for {} s",
                ago(t)
            ))
        )),
        (Some(at), _) if recent(at) => Ok(format!("last tick {} s ago", ago(at))),
        (Some(_), Some(since)) if recent(since) => {
            Ok(format!("a tick has been running for {} s", ago(since)))
        }
        (Some(_), Some(since)) => Err(format!(
            "a tick has been running for {} s, more than {limit} s: the loop is stuck or the outbox is very long",
            ago(since)
        )),
        (Some(at), None) => Err(format!(
            "the last tick finished {} s ago, more than {limit} s: the loop is stuck",
            ago(at)
        )),
    }
}

/// The metrics the loop feeds, and the gauges filled from the database at
/// each scrape.
struct Metrics {
    registry: Registry,
    sent: Counter,
    failed: Family<Label, Counter>,
    tick_seconds: Histogram,
    commitments: Family<Label, Gauge>,
    overdue: Gauge,
    outbox: Family<Label, Gauge>,
    last_sent: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("followup");
        let sent = Counter::default();
        let failed = Family::<Label, Counter>::default();
        // Both series exist from the first scrape, at 0.
        for outcome in ["retry", "dead"] {
            let _ = failed.get_or_create(&[("outcome", outcome)]);
        }
        // From the idle tick (a fraction of a millisecond) to a long
        // delivery run (tens of seconds).
        let tick_seconds = Histogram::new(exponential_buckets(0.0005, 4.0, 10));
        let commitments = Family::<Label, Gauge>::default();
        let overdue = Gauge::default();
        let outbox = Family::<Label, Gauge>::default();
        let last_sent = Gauge::default();
        registry.register(
            "reminders_sent",
            "Emails (reminders and digests) the transport accepted since the daemon started",
            sent.clone(),
        );
        registry.register(
            "reminders_failed",
            "Delivery attempts that failed since the daemon started, by what became of the email: retry (it will be tried again) or dead (given up)",
            failed.clone(),
        );
        registry.register(
            "tick_duration_seconds",
            "How long each scheduler tick (plan, digests, delivery) took",
            tick_seconds.clone(),
        );
        registry.register(
            "commitments",
            "Commitments in the database, by status",
            commitments.clone(),
        );
        registry.register(
            "commitments_overdue",
            "Open commitments whose last on-time day has passed",
            overdue.clone(),
        );
        registry.register(
            "outbox_emails",
            "Emails in the outbox, by state: pending (not tried yet), retrying (failed, will be tried again), dead (given up)",
            outbox.clone(),
        );
        registry.register(
            "last_sent_timestamp_seconds",
            "When the transport last accepted an email, in Unix seconds (0: never)",
            last_sent.clone(),
        );
        Metrics {
            registry,
            sent,
            failed,
            tick_seconds,
            commitments,
            overdue,
            outbox,
            last_sent,
        }
    }
}

/// Shared between the loop, which reports ticks, and the listener.
pub struct Monitor {
    started: Instant,
    pulse: Mutex<Pulse>,
    metrics: Metrics,
    /// The listener's own connection; the loop keeps its own.
    store: Mutex<Store>,
    /// For "overdue": a commitment is overdue from the day after its
    /// `latest` in the configured time zone. Replaced on SIGHUP.
    timezone: Mutex<TimeZone>,
    /// The database file as opened (device and inode).
    file: Option<(u64, u64)>,
}

impl Monitor {
    pub fn new(store: Store, timezone: TimeZone) -> Monitor {
        let file = crate::daemon::file_identity(store.path());
        Monitor {
            started: Instant::now(),
            pulse: Mutex::new(Pulse::default()),
            metrics: Metrics::new(),
            store: Mutex::new(store),
            timezone: Mutex::new(timezone),
            file,
        }
    }

    /// Records that a tick begins.
    pub fn tick_started(&self) {
        self.pulse
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .running_since = Some(Instant::now());
    }

    /// Records how a tick ended and how long it took.
    pub fn tick_finished(&self, elapsed: Duration, outcome: Result<&TickReport, String>) {
        self.metrics.tick_seconds.observe(elapsed.as_secs_f64());
        let now = Instant::now();
        let mut pulse = self.pulse.lock().unwrap_or_else(PoisonError::into_inner);
        pulse.running_since = None;
        match outcome {
            Ok(report) => {
                self.metrics.sent.inc_by(report.sent as u64);
                self.metrics
                    .failed
                    .get_or_create(&[("outcome", "retry")])
                    .inc_by(report.retried as u64);
                self.metrics
                    .failed
                    .get_or_create(&[("outcome", "dead")])
                    .inc_by(report.dead as u64);
                pulse.last_ok = Some(now);
                pulse.failure = None;
            }
            Err(error) => pulse.failure = Some((now, error)),
        }
    }

    pub fn set_timezone(&self, timezone: TimeZone) {
        *self.timezone.lock().unwrap_or_else(PoisonError::into_inner) = timezone;
    }

    /// The `/healthz` verdict: the loop's pulse, and a write probe on the
    /// store. A tick can succeed without writing (nothing due), so the
    /// probe is what shows the file still takes writes.
    fn health(&self) -> Result<String, String> {
        let pulse = self
            .pulse
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let alive = judge(&pulse, self.started, Instant::now());
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        // A probe would write to the file still open, which no command
        // reads once it is removed or replaced; the loop stops at its next
        // tick, and until then the daemon is not healthy.
        if crate::daemon::file_identity(store.path()) != self.file {
            return Err(format!(
                "the database {} was removed or replaced while the daemon had it open; it stops at its next tick",
                store.path().display()
            ));
        }
        let writable = store
            .takes_writes(WRITE_PROBE_WAIT)
            .map_err(|e| format!("the store does not take writes: {e}"));
        drop(store);
        match (alive, writable) {
            (Ok(alive), Ok(())) => Ok(format!("ok: {alive}; the store takes writes")),
            (Err(why), Ok(())) | (Ok(_), Err(why)) => Err(why),
            (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        }
    }

    /// The `/metrics` text, with the database-backed gauges read now.
    fn metrics_text(&self) -> Result<String, String> {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Timestamp::now();
        let timezone = self
            .timezone
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let today = now.to_zoned_datetime(timezone).date();
        let counts = store.counts(today).map_err(|e| e.to_string())?;
        let outbox = store.outbox_counts(now).map_err(|e| e.to_string())?;
        let m = &self.metrics;
        let by_status = [
            counts.open,
            counts.fulfilled,
            counts.partial,
            counts.missed,
            counts.withdrawn,
        ];
        for (status, n) in STATUSES.iter().zip(by_status) {
            m.commitments
                .get_or_create(&[("status", status)])
                .set(gauge(n));
        }
        m.overdue.set(gauge(counts.overdue));
        for (state, n) in [
            ("pending", outbox.pending),
            ("retrying", outbox.retrying),
            ("dead", outbox.dead),
        ] {
            m.outbox.get_or_create(&[("state", state)]).set(gauge(n));
        }
        m.last_sent
            .set(outbox.last_sent_at.map_or(0, |t| t.as_second()));
        let mut text = String::new();
        prometheus_text::encode(&mut text, &m.registry).map_err(|e| e.to_string())?;
        Ok(text)
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Binds the listener, with an error that names the address and the key.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} for /healthz and /metrics (http.listen); choose a free address and port, or stop what uses it"
        )
    })
}

/// Connections the listener serves at once; one more is closed as soon as
/// it is accepted. The monitor is scraped by one Prometheus and probed by
/// one health check: a few dozen is room to spare, and a bound on the
/// descriptors any local process can make the daemon hold (an unbounded
/// listener could run it out of them, and then out of files to deliver
/// mail with).
const MAX_CONNECTIONS: usize = 32;
/// How long a client has to send its request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long any one connection may last, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Serves `/healthz` and `/metrics` until `stop` is raised.
pub async fn serve(
    listener: tokio::net::TcpListener,
    monitor: Arc<Monitor>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let app = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(monitor);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %err, "the HTTP listener could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
        });
    }
}

async fn healthz(State(monitor): State<Arc<Monitor>>) -> impl IntoResponse {
    let verdict = tokio::task::spawn_blocking(move || monitor.health())
        .await
        .unwrap_or_else(|err| Err(format!("the health check did not finish: {err}")));
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match verdict {
        Ok(line) => (StatusCode::OK, plain, format!("{line}\n")),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            plain,
            format!("unhealthy: {why}\n"),
        ),
    }
}

async fn metrics(State(monitor): State<Arc<Monitor>>) -> impl IntoResponse {
    let text = tokio::task::spawn_blocking(move || monitor.metrics_text())
        .await
        .unwrap_or_else(|err| Err(format!("the scrape did not finish: {err}")));
    match text {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            text,
        ),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot read the database: {why}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_after_a_recent_good_tick() {
        let started = Instant::now();
        let later = |s| started + Duration::from_secs(s);
        let mut pulse = Pulse::default();
        let err = judge(&pulse, started, later(5)).unwrap_err();
        assert!(err.contains("no tick has finished yet"), "{err}");
        pulse.running_since = Some(later(1));
        let err = judge(&pulse, started, later(5)).unwrap_err();
        assert!(err.contains("the first has been running for 4 s"), "{err}");

        pulse.running_since = None;
        pulse.last_ok = Some(later(10));
        assert_eq!(
            judge(&pulse, started, later(70)).unwrap(),
            "last tick 60 s ago"
        );
        assert!(judge(&pulse, started, later(130)).is_ok());
        let err = judge(&pulse, started, later(131)).unwrap_err();
        assert!(err.contains("121 s ago, more than 120 s"), "{err}");

        // A long delivery run that began in time is alive, for a while.
        pulse.running_since = Some(later(70));
        assert_eq!(
            judge(&pulse, started, later(150)).unwrap(),
            "a tick has been running for 80 s"
        );
        let err = judge(&pulse, started, later(191)).unwrap_err();
        assert!(err.contains("running for 121 s"), "{err}");
        pulse.running_since = None;

        pulse.failure = Some((later(20), "database is busy".into()));
        let err = judge(&pulse, started, later(21)).unwrap_err();
        assert!(err.contains("failed 1 s ago: database is busy"), "{err}");
    }
}
