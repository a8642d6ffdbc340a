//! A partition's append-only log.
//!
//! Offsets are dense and start at 0 (no retention or compaction yet); the log end offset
//! (LEO) is the offset the next record gets. On a single broker the high watermark equals the
//! LEO; replication (followers, ISR) will separate them.

use crate::types::LogRecord;

/// One partition's log.
#[derive(Clone, Debug, Default)]
pub struct PartitionLog {
    records: Vec<LogRecord>,
}

impl PartitionLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record, returning its offset.
    pub fn append(&mut self, record: LogRecord) -> i64 {
        let offset = self.records.len() as i64;
        self.records.push(record);
        offset
    }

    /// Log start offset.
    pub fn start_offset(&self) -> i64 {
        0
    }

    /// Log end offset: the offset of the next record.
    pub fn end_offset(&self) -> i64 {
        self.records.len() as i64
    }

    /// Up to `max` records from `offset` (clamped to the log), with their offsets.
    pub fn read(&self, offset: i64, max: usize) -> impl Iterator<Item = (i64, &LogRecord)> {
        let from = offset.clamp(0, self.end_offset()) as usize;
        let to = from.saturating_add(max).min(self.records.len());
        self.records[from..to]
            .iter()
            .enumerate()
            .map(move |(i, r)| ((from + i) as i64, r))
    }

    /// The record at `offset`.
    pub fn get(&self, offset: i64) -> Option<&LogRecord> {
        usize::try_from(offset).ok().and_then(|o| self.records.get(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Payload, RecordId};

    fn rec(seq: u32) -> LogRecord {
        LogRecord {
            id: RecordId { producer: 0, seq },
            payload: Payload {
                key: None,
                value: None,
            },
        }
    }

    #[test]
    fn offsets_are_dense_from_zero() {
        let mut log = PartitionLog::new();
        assert_eq!(log.end_offset(), 0);
        for i in 0..5 {
            assert_eq!(log.append(rec(i)), i64::from(i));
        }
        assert_eq!(log.end_offset(), 5);
        let got: Vec<i64> = log.read(2, 10).map(|(o, _)| o).collect();
        assert_eq!(got, vec![2, 3, 4]);
        assert_eq!(log.read(1, 2).count(), 2);
        assert_eq!(log.read(9, 2).count(), 0);
        assert_eq!(log.get(4).unwrap().id.seq, 4);
        assert!(log.get(5).is_none());
    }
}
