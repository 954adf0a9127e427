//! Prometheus metrics: one registry per process, typed handles the other rooms call (one
//! line per hook), and the text endpoint ([`http`]) that `serve` runs when
//! `metrics_listen` is set.
//!
//! Every label value comes from a fixed set of enums below, never from a client: a
//! username, an address or a table name cannot become a label (or a new series). The
//! handles of every labelled series are made once, at start, so a hook is an atomic add,
//! not a map lookup (the gate counts refusals under a connection flood).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `moat_logins_total` | counter | `outcome`: success, failure, locked, busy |
//! | `moat_lockouts_total` | counter | |
//! | `moat_gate_refusals_total` | counter | `reason`: not_allowed, source_rate, global_rate, source_preauth, total_preauth, early_drop, no_version |
//! | `moat_sessions` | gauge | |
//! | `moat_argon2_queue_depth` | gauge | |
//! | `moat_argon2_wait_seconds` | histogram | |
//! | `moat_keystroke_frame_seconds` | histogram | |
//! | `moat_store_query_seconds` | histogram | `kind`: login, lockout, count, page, distinct, record, write, audit |
//! | `moat_audit_appends_total` | counter | |
//! | `moat_build_info` | gauge (1) | `version`, `revision` |

pub mod http;

use std::sync::OnceLock;
use std::time::Instant;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::gate::Refusal;

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Login {
    Success,
    /// A wrong password or code (or a right password whose code never came).
    Failure,
    /// Refused because a lockout key was locked (no hash computed).
    Locked,
    /// Refused at once: the hashing capacity was full.
    Busy,
}

/// Why the gate closed a connection before the SSH banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refused {
    NotAllowed,
    SourceRate,
    GlobalRate,
    SourcePreauth,
    TotalPreauth,
    EarlyDrop,
    /// No SSH version line within the version grace time.
    NoVersion,
}

impl From<Refusal> for Refused {
    fn from(r: Refusal) -> Refused {
        match r {
            Refusal::NotAllowed => Refused::NotAllowed,
            Refusal::SourceRate => Refused::SourceRate,
            Refusal::GlobalRate => Refused::GlobalRate,
            Refusal::SourcePreauth => Refused::SourcePreauth,
            Refusal::TotalPreauth => Refused::TotalPreauth,
            Refusal::EarlyDrop => Refused::EarlyDrop,
        }
    }
}

/// What a store call was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// A user's login record.
    Login,
    /// Failure counters: read or update.
    Lockout,
    /// A list's row count.
    Count,
    /// A page of a list (searched, filtered, sorted or not).
    Page,
    /// A column's most common values (the filter picker).
    Distinct,
    /// One record.
    Record,
    /// A create, change or delete of rows (with its audit rows).
    Write,
    /// Audit entries appended without a data change (logins, denials).
    Audit,
}

macro_rules! label_values {
    ($($ty:ident { $($variant:ident => $text:literal),* $(,)? })*) => {$(
        impl $ty {
            const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),*
                }
            }

            fn index(self) -> usize {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
            }
        }

        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    )*};
}

label_values! {
    Login {
        Success => "success",
        Failure => "failure",
        Locked => "locked",
        Busy => "busy",
    }
    Refused {
        NotAllowed => "not_allowed",
        SourceRate => "source_rate",
        GlobalRate => "global_rate",
        SourcePreauth => "source_preauth",
        TotalPreauth => "total_preauth",
        EarlyDrop => "early_drop",
        NoVersion => "no_version",
    }
    Query {
        Login => "login",
        Lockout => "lockout",
        Count => "count",
        Page => "page",
        Distinct => "distinct",
        Record => "record",
        Write => "write",
        Audit => "audit",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: Login,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: Refused,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: Query,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

/// The registry and the handle of every series.
pub struct Metrics {
    registry: Registry,
    logins: Vec<Counter>,
    lockouts: Counter,
    refusals: Vec<Counter>,
    sessions: Gauge,
    argon2_queue: Gauge,
    argon2_wait: Histogram,
    keystroke_frame: Histogram,
    queries: Vec<Histogram>,
    audit_appends: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A histogram of seconds whose buckets double from `start`.
fn seconds(start: f64, length: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, 2.0, length))
}

/// Buckets of store calls: 0.1 ms to about 3 s.
fn query_seconds() -> Histogram {
    seconds(0.000_1, 16)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every series at zero (each labelled series listed from the start,
    /// so a scrape shows a zero rather than nothing).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("moat");

        let logins = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "logins",
            "Login attempts by outcome (a refused round counts once)",
            logins.clone(),
        );
        let lockouts = Counter::default();
        registry.register(
            "lockouts",
            "Lockouts started (a username, an address or a pair reached its limit)",
            lockouts.clone(),
        );
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "gate_refusals",
            "Connections closed before the SSH banner, by reason",
            refusals.clone(),
        );
        let sessions = Gauge::default();
        registry.register(
            "sessions",
            "Live sessions on this instance (from login to the end of the console)",
            sessions.clone(),
        );
        let argon2_queue = Gauge::default();
        registry.register(
            "argon2_queue_depth",
            "Password verifications waiting for a worker",
            argon2_queue.clone(),
        );
        let argon2_wait = seconds(0.001, 14);
        registry.register(
            "argon2_wait_seconds",
            "Time a password verification waited for a worker",
            argon2_wait.clone(),
        );
        let keystroke_frame = seconds(0.000_25, 15);
        registry.register(
            "keystroke_frame_seconds",
            "From a key's bytes arriving to the frame that shows its effect being queued",
            keystroke_frame.clone(),
        );
        let queries =
            Family::<KindLabel, Histogram, fn() -> Histogram>::new_with_constructor(query_seconds);
        registry.register(
            "store_query_seconds",
            "Store calls by kind (a call may run several statements)",
            queries.clone(),
        );
        let audit_appends = Counter::default();
        registry.register(
            "audit_appends",
            "Entries appended to the audit chain",
            audit_appends.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "build_info",
            "The running moat: version and git revision (always 1)",
            build.clone(),
        );
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                revision: crate::REVISION,
            })
            .set(1);

        Metrics {
            registry,
            logins: Login::ALL
                .iter()
                .map(|&outcome| logins.get_or_create_owned(&OutcomeLabel { outcome }))
                .collect(),
            lockouts,
            refusals: Refused::ALL
                .iter()
                .map(|&reason| refusals.get_or_create_owned(&ReasonLabel { reason }))
                .collect(),
            sessions,
            argon2_queue,
            argon2_wait,
            keystroke_frame,
            queries: Query::ALL
                .iter()
                .map(|&kind| queries.get_or_create_owned(&KindLabel { kind }))
                .collect(),
            audit_appends,
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        text
    }

    pub fn login(&self, outcome: Login) {
        if let Some(c) = self.logins.get(outcome.index()) {
            c.inc();
        }
    }

    pub fn lockout_started(&self) {
        self.lockouts.inc();
    }

    pub fn refused(&self, reason: Refused) {
        if let Some(c) = self.refusals.get(reason.index()) {
            c.inc();
        }
    }

    pub fn session_started(&self) {
        self.sessions.inc();
    }

    pub fn session_ended(&self) {
        self.sessions.dec();
    }

    /// A password verification enters the queue; the handle says when a worker takes it
    /// (or, dropped unstarted, that it left the queue without running).
    pub fn argon2_queued(&'static self) -> Queued {
        self.argon2_queue.inc();
        Queued {
            metrics: self,
            at: Some(Instant::now()),
        }
    }

    /// Time a store call of `kind` until the returned guard is dropped.
    pub fn query(&'static self, kind: Query) -> Timer {
        Timer {
            histogram: self.queries.get(kind.index()),
            at: Instant::now(),
        }
    }

    pub fn audit_appended(&self) {
        self.audit_appends.inc();
    }

    /// The frame showing the effect of input that arrived at `typed` was just queued.
    pub fn frame_after_input(&self, typed: Instant) {
        self.keystroke_frame.observe(typed.elapsed().as_secs_f64());
    }
}

/// A verification in the argon2 queue (see [`Metrics::argon2_queued`]).
#[derive(Debug)]
pub struct Queued {
    metrics: &'static Metrics,
    at: Option<Instant>,
}

impl Queued {
    /// A worker took it: it leaves the queue, and its wait is observed.
    pub fn started(mut self) {
        if let Some(at) = self.at.take() {
            self.metrics.argon2_queue.dec();
            self.metrics.argon2_wait.observe(at.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        if self.at.take().is_some() {
            self.metrics.argon2_queue.dec();
        }
    }
}

/// Observes the time since it was made when dropped (see [`Metrics::query`]).
#[derive(Debug)]
pub struct Timer {
    histogram: Option<&'static Histogram>,
    at: Instant,
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(h) = self.histogram {
            h.observe(self.at.elapsed().as_secs_f64());
        }
    }
}

/// When input arrived that no frame has shown yet (one per session loop).
#[derive(Debug, Default)]
pub struct FrameClock(Option<Instant>);

impl FrameClock {
    /// Input arrived (the earliest since the last frame counts).
    pub fn input(&mut self) {
        self.0.get_or_insert_with(Instant::now);
    }

    /// A frame was drawn and queued.
    pub fn drawn(&mut self) {
        if let Some(typed) = self.0.take() {
            global().frame_after_input(typed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak() -> &'static Metrics {
        Box::leak(Box::new(Metrics::new()))
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
    }

    #[test]
    fn every_labelled_series_is_listed_from_the_start() {
        let m = leak();
        let text = m.encode();
        for outcome in Login::ALL {
            line(
                &text,
                &format!("moat_logins_total{{outcome=\"{}\"}} 0", outcome.as_str()),
            );
        }
        for reason in Refused::ALL {
            line(
                &text,
                &format!(
                    "moat_gate_refusals_total{{reason=\"{}\"}} 0",
                    reason.as_str()
                ),
            );
        }
        for kind in Query::ALL {
            line(
                &text,
                &format!(
                    "moat_store_query_seconds_count{{kind=\"{}\"}} 0",
                    kind.as_str()
                ),
            );
        }
        line(&text, "moat_sessions 0");
        line(&text, "moat_build_info{version=\"");
        assert!(
            text.contains("# TYPE moat_keystroke_frame_seconds histogram"),
            "{text}"
        );
    }

    #[test]
    fn hooks_move_their_own_series_only() {
        let m = leak();
        m.login(Login::Locked);
        m.login(Login::Locked);
        m.refused(Refusal::EarlyDrop.into());
        m.lockout_started();
        m.audit_appended();
        drop(m.query(Query::Page));
        m.session_started();
        m.session_started();
        m.session_ended();
        let text = m.encode();
        line(&text, "moat_logins_total{outcome=\"locked\"} 2");
        line(&text, "moat_logins_total{outcome=\"success\"} 0");
        line(&text, "moat_gate_refusals_total{reason=\"early_drop\"} 1");
        line(&text, "moat_gate_refusals_total{reason=\"not_allowed\"} 0");
        line(&text, "moat_lockouts_total 1");
        line(&text, "moat_audit_appends_total 1");
        line(&text, "moat_store_query_seconds_count{kind=\"page\"} 1");
        line(&text, "moat_store_query_seconds_count{kind=\"write\"} 0");
        line(&text, "moat_sessions 1");
    }

    #[test]
    fn the_argon2_queue_counts_waiting_jobs_whether_they_run_or_not() {
        let m = leak();
        let a = m.argon2_queued();
        let b = m.argon2_queued();
        line(&m.encode(), "moat_argon2_queue_depth 2");
        a.started();
        drop(b); // refused: never ran
        let text = m.encode();
        line(&text, "moat_argon2_queue_depth 0");
        line(&text, "moat_argon2_wait_seconds_count 1");
    }

    #[test]
    fn every_gate_refusal_has_its_own_label() {
        let all = [
            Refusal::NotAllowed,
            Refusal::SourceRate,
            Refusal::GlobalRate,
            Refusal::SourcePreauth,
            Refusal::TotalPreauth,
            Refusal::EarlyDrop,
        ];
        let labels: std::collections::HashSet<&str> =
            all.iter().map(|r| Refused::from(*r).as_str()).collect();
        assert_eq!(labels.len(), all.len());
        assert!(!labels.contains(Refused::NoVersion.as_str()));
    }
}
