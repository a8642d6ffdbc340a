//! What the checker says: the [`Claim`] a run is judged against, the [`AnomalyKind`]s it
//! names, each [`Anomaly`] with the records, offsets and clients involved, and the
//! [`Report`] that puts them together as the `--check` table.

use crate::types::{Metadata, RecordId, Tp};
use serde::{Deserialize, Serialize};
use sim::Time;
use std::fmt;
use std::sync::Arc;

/// The delivery guarantee a run is claimed to give.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// Every group consumes every record exactly once.
    ExactlyOncePerGroup,
    /// Every group consumes every record at least once.
    AtLeastOnce,
    /// Every group consumes every record at most once.
    AtMostOnce,
    /// A consume–transform–produce pipeline's committed output holds every input record's
    /// output exactly once, and `read_committed` readers see only committed transactions.
    ExactlyOncePipeline,
}

impl Claim {
    /// The claims about a group's consumption (every report of a history without
    /// transactions is judged against these).
    pub const ALL: [Claim; 3] = [Claim::ExactlyOncePerGroup, Claim::AtLeastOnce, Claim::AtMostOnce];

    /// Every claim, the transactional one included.
    pub const EVERY: [Claim; 4] = [
        Claim::ExactlyOncePerGroup,
        Claim::AtLeastOnce,
        Claim::AtMostOnce,
        Claim::ExactlyOncePipeline,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Claim::ExactlyOncePerGroup => "exactly-once-per-group",
            Claim::AtLeastOnce => "at-least-once",
            Claim::AtMostOnce => "at-most-once",
            Claim::ExactlyOncePipeline => "exactly-once-pipeline",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Claim> {
        Claim::EVERY.into_iter().find(|c| c.name() == s)
    }

    /// Whether a run with an anomaly of `kind` can still satisfy this claim.
    pub fn allows(self, kind: AnomalyKind) -> bool {
        if kind == AnomalyKind::Unseen {
            return true;
        }
        if AnomalyKind::TRANSACTIONAL.contains(&kind) {
            // the group claims say nothing of transactions
            return self != Claim::ExactlyOncePipeline;
        }
        match self {
            Claim::ExactlyOncePerGroup => false,
            Claim::AtLeastOnce => matches!(kind, AnomalyKind::Duplicate | AnomalyKind::DoubleOwnership),
            Claim::AtMostOnce => kind == AnomalyKind::Lost,
            Claim::ExactlyOncePipeline => matches!(
                kind,
                AnomalyKind::Duplicate | AnomalyKind::DoubleOwnership | AnomalyKind::Nonmonotonic
            ),
        }
    }
}

/// What kind of anomaly (the table in [`crate::check`] says more of each).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// A record the group should have consumed and moved past without consuming.
    Lost,
    /// Such a record not consumed by the end of the run, the group not past it (allowed).
    Unseen,
    /// A record consumed more than once by one group.
    Duplicate,
    /// A partition owned by two members of one group at once.
    DoubleOwnership,
    /// Inside one assignment, a consumer's offsets in a partition went back or repeated.
    Nonmonotonic,
    /// Inside one assignment, a consumer's offsets in a partition jumped past a record.
    Skip,
    /// Two different records seen at one offset of a partition.
    InconsistentOffsets,
    /// One produced record at two offsets of the log at the end.
    LogDuplicate,
    /// An acknowledged record not in the log at its acknowledged offset at the end.
    LostWrite,
    /// A consumer read a record of an aborted transaction.
    AbortedRead,
    /// A consumer read a transactional record before its transaction ended.
    UncommittedRead,
    /// A group read part of a committed transaction and moved past the rest.
    TornTransaction,
    /// A producer's later send to a partition landed at a lower offset.
    NonmonotonicSend,
    /// One input's output twice in a pipeline's committed output.
    DuplicateOutput,
}

impl AnomalyKind {
    /// The kinds only a history with transactions can show (the `--check` table lists them
    /// only then).
    pub const TRANSACTIONAL: [AnomalyKind; 5] = [
        AnomalyKind::AbortedRead,
        AnomalyKind::UncommittedRead,
        AnomalyKind::TornTransaction,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::DuplicateOutput,
    ];

    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 14] = [
        AnomalyKind::Lost,
        AnomalyKind::Unseen,
        AnomalyKind::Duplicate,
        AnomalyKind::DoubleOwnership,
        AnomalyKind::Nonmonotonic,
        AnomalyKind::Skip,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::LogDuplicate,
        AnomalyKind::LostWrite,
        AnomalyKind::AbortedRead,
        AnomalyKind::UncommittedRead,
        AnomalyKind::TornTransaction,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::DuplicateOutput,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Lost => "lost",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::DoubleOwnership => "double-ownership",
            AnomalyKind::Nonmonotonic => "nonmonotonic",
            AnomalyKind::Skip => "skip",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::LogDuplicate => "log-duplicate",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::AbortedRead => "aborted-read",
            AnomalyKind::UncommittedRead => "uncommitted-read",
            AnomalyKind::TornTransaction => "torn-transaction",
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::DuplicateOutput => "duplicate-output",
        }
    }
}

/// One anomaly, with what it involves.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anomaly {
    /// Kind.
    pub kind: AnomalyKind,
    /// Group, for group anomalies.
    pub group: Option<Arc<str>>,
    /// Partition.
    pub tp: Tp,
    /// Offset, where one is involved.
    pub offset: Option<i64>,
    /// Record, where one is involved.
    pub record: Option<RecordId>,
    /// When it became visible.
    pub time: Time,
    /// Clients involved.
    pub clients: Vec<String>,
    /// A sentence for people.
    pub detail: String,
}

/// The checker's verdict on one history.
#[derive(Clone, Debug)]
pub struct Report {
    /// The claim judged.
    pub claim: Claim,
    /// Every anomaly found, sorted.
    pub anomalies: Vec<Anomaly>,
    /// Records acknowledged to producers.
    pub acknowledged: usize,
    /// Records appended to logs.
    pub appended: usize,
    /// Consumptions (record × consumer).
    pub consumed: usize,
    /// Whether the history has transactions (the transactional kinds were checked).
    pub transactional: bool,
}

impl Report {
    /// Anomalies of `kind`.
    pub fn of(&self, kind: AnomalyKind) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(move |a| a.kind == kind)
    }

    /// How many of `kind`.
    pub fn count(&self, kind: AnomalyKind) -> usize {
        self.of(kind).count()
    }

    /// Anomalies the claim does not allow.
    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| !self.claim.allows(a.kind))
    }

    /// Whether the history satisfies the claim.
    pub fn passed(&self) -> bool {
        self.violations().next().is_none()
    }

    /// The verdict as a table: anomaly, count, allowed, first example.
    pub fn table(&self, meta: &Metadata) -> String {
        let mut s = format!(
            "{:<22} {:>6}  {:<8} first example\n",
            "anomaly", "count", "allowed"
        );
        let shown = AnomalyKind::ALL
            .into_iter()
            .filter(|k| self.transactional || !AnomalyKind::TRANSACTIONAL.contains(k));
        for kind in shown {
            let n = self.count(kind);
            let first = self
                .of(kind)
                .next()
                .map_or_else(|| "-".to_string(), |a| a.describe(meta));
            let allowed = if self.claim.allows(kind) { "yes" } else { "no" };
            s.push_str(&format!(
                "{:<22} {:>6}  {:<8} {}\n",
                kind.name(),
                n,
                allowed,
                first
            ));
        }
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        s.push_str(&format!(
            "verdict: {verdict} for claim {} ({} acknowledged, {} appended, {} consumed, {} anomalies, {} not allowed)\n",
            self.claim.name(),
            self.acknowledged,
            self.appended,
            self.consumed,
            self.anomalies.len(),
            self.violations().count()
        ));
        s
    }
}

impl Anomaly {
    /// One line: where, what, who.
    pub fn describe(&self, meta: &Metadata) -> String {
        let mut s = format!("t={} {}", self.time, meta.display(self.tp));
        if let Some(o) = self.offset {
            s.push_str(&format!("@{o}"));
        }
        if let Some(r) = self.record {
            s.push_str(&format!(" record p{}-{}", r.producer, r.seq));
        }
        if let Some(g) = &self.group {
            s.push_str(&format!(" group {g}"));
        }
        if !self.clients.is_empty() {
            s.push_str(&format!(" [{}]", self.clients.join(", ")));
        }
        s.push_str(": ");
        s.push_str(&self.detail);
        s
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
