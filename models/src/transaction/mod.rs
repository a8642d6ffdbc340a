//! Transactions (KIP-98, KIP-447, KIP-890): the transaction coordinator and what it
//! persists.
//!
//! * [`crate::txn_metadata`] — a `transactional.id`'s state as written to
//!   `__transaction_state` (Kafka's `TransactionMetadata`, `TransactionState`);
//! * [`coordinator`] — the coordinator's state machine (Kafka's `TransactionCoordinator`
//!   under transaction version 2): InitProducerId with epoch bumps and fencing,
//!   AddPartitionsToTxn, EndTxn, markers, the timeout abort, failover from the log.
//!
//! The coordinator of a `transactional.id` is the leader of `__transaction_state` partition
//! `abs(transactionalId.hashCode()) % transaction.state.log.num.partitions` (50), placed
//! and replicated like `__consumer_offsets`.

pub mod coordinator;
#[cfg(test)]
mod tests;

pub use crate::txn_metadata::{TxnMetadata, TxnState};
pub use coordinator::{Markers, TxnConfig, TxnCoordinator, TxnOutput, TxnReply};
