//! The Produce request's record batches (record-batch format v2, KIP-98): what one
//! partition's part of a request carries.

use crate::protocol::ErrorCode;
use crate::types::{LogRecord, RecordId, Tp};

/// One partition's record batch in a Produce request (record-batch format v2): its records
/// take consecutive offsets, and an idempotent producer numbers them from `base_seq`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProduceBatch {
    /// Target partition.
    pub tp: Tp,
    /// The records, in the order they were sent.
    pub records: Vec<LogRecord>,
    /// Idempotent producer's sequence number of the first record, −1 without idempotence.
    pub base_seq: i32,
    /// Idempotent producer's epoch for the partition.
    pub pepoch: i32,
}

impl ProduceBatch {
    /// The batch's first record: the name its answer carries.
    pub fn first(&self) -> RecordId {
        self.records[0].id
    }

    /// Sequence number of the last record (−1 without idempotence).
    pub fn last_seq(&self) -> i32 {
        if self.base_seq < 0 {
            -1
        } else {
            self.base_seq + self.records.len() as i32 - 1
        }
    }
}

/// One partition's part of a Produce response: the batch it answers and its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceResult {
    /// Partition.
    pub tp: Tp,
    /// The batch's first record: it names the batch.
    pub id: RecordId,
    /// Offset of the batch's first record (for a duplicate: where it was first written);
    /// the others follow it.
    pub result: Result<i64, ErrorCode>,
}
