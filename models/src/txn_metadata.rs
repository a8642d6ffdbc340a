//! What a transaction coordinator persists per `transactional.id`: Kafka's
//! `TransactionMetadata` as written to `__transaction_state` (`TransactionLogValue`).
//!
//! Each transition of a transaction is one record of the id's `__transaction_state`
//! partition; the last record of an id is its state. A broker that becomes leader of the
//! partition replays them (see [`crate::transaction::TxnCoordinator::load`]). Plain data,
//! as [`crate::group_metadata`] is for groups.

use crate::types::Tp;
use sim::Time;
use std::sync::Arc;

/// The largest producer epoch before the producer id is rotated (Kafka:
/// `Short.MaxValue - 1`, `TransactionMetadata.isEpochExhausted`).
pub const MAX_EPOCH: i32 = i16::MAX as i32 - 1;

/// A transaction's state, as Kafka's `TransactionState` names it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnState {
    /// No transaction open (a fresh id, or one whose producer was just initialised).
    Empty,
    /// A transaction is open: partitions were added to it.
    Ongoing,
    /// The producer asked to commit; markers are being written.
    PrepareCommit,
    /// The producer (or the coordinator: fencing, timeout) asked to abort; markers are being
    /// written.
    PrepareAbort,
    /// Every commit marker is written.
    CompleteCommit,
    /// Every abort marker is written.
    CompleteAbort,
    /// A new producer instance fences the open transaction of the old one. In-memory only,
    /// as in Kafka: what is written is the PrepareAbort that follows it.
    PrepareEpochFence,
    /// The id expired (`transactional.id.expiration.ms`, 7 days: never within a run).
    Dead,
}

impl TxnState {
    /// Kafka's name (`PrepareCommit`).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
            TxnState::Dead => "Dead",
        }
    }

    /// Whether markers are being written (the coordinator must finish it, even after a
    /// failover).
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// Whether no transaction is open or finishing: a new one may begin.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }

    /// The states this one may follow (Kafka's `TransactionState.validPreviousStates`).
    pub fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            PrepareEpochFence => &[Ongoing],
            Dead => &[Empty, CompleteCommit, CompleteAbort],
        }
    }
}

impl std::fmt::Display for TxnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One `transactional.id`'s persisted state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    /// `transactional.id`.
    pub transactional_id: Arc<str>,
    /// The producer id the coordinator gave it.
    pub producer_id: i64,
    /// The current producer epoch (−1 before the first InitProducerId).
    pub epoch: i32,
    /// The epoch before the last bump (−1: none): a retried EndTxn of that epoch is
    /// recognised under transaction version 2.
    pub last_epoch: i32,
    /// `transaction.timeout.ms` the producer asked for, µs.
    pub timeout_us: u64,
    /// State.
    pub state: TxnState,
    /// Partitions of the open transaction (user partitions and the `__consumer_offsets`
    /// partitions of groups whose offsets it commits), sorted.
    pub partitions: Vec<Tp>,
    /// When the open transaction began (its first partition was added).
    pub started: Time,
    /// When this record was written.
    pub updated: Time,
}

impl TxnMetadata {
    /// Whether the open transaction has outlived its timeout at `now`.
    pub fn timed_out(&self, now: Time) -> bool {
        self.state == TxnState::Ongoing && self.started + Time::us(self.timeout_us) < now
    }

    /// The same id moved to `state` at `now` (partitions and epochs unchanged).
    pub fn moved(&self, state: TxnState, now: Time) -> TxnMetadata {
        debug_assert!(
            state.valid_previous().contains(&self.state) || self.state == state,
            "{} → {}",
            self.state,
            state
        );
        TxnMetadata {
            state,
            updated: now,
            ..self.clone()
        }
    }
}
