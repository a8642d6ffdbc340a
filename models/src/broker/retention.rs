//! Log retention: a topic's `retention.ms`, checked every `log.retention.check.interval.ms`.
//!
//! Kafka's `LogManager.cleanupLogs` with `cleanup.policy=delete`: records older than
//! `retention.ms` are deleted and the log start offset moves past them. Each replica keeps
//! its own segments, as in Kafka (followers also follow their leader's log start). A run
//! whose topics keep everything has no retention timer at all: the check is scheduled once a
//! partition with `retention.ms` receives data.

use super::effects::Effects;
use super::replica_manager::ReplicaManager;
use crate::protocol::{Msg, ServerTimer};
use crate::types::Tp;
use sim::Time;

/// The retention checker of one broker.
pub struct Retention {
    /// `retention.ms`, per topic index (`None`: kept for the whole run).
    retention: Vec<Option<Time>>,
    /// `log.retention.check.interval.ms`.
    interval: Time,
    /// The check is scheduled.
    armed: bool,
}

impl Retention {
    /// A checker for topics with these `retention.ms`, every `interval`.
    pub fn new(retention: Vec<Option<Time>>, interval: Time) -> Retention {
        Retention {
            retention,
            interval,
            armed: false,
        }
    }

    /// Forgets the scheduled check (a crash: its timer is gone).
    pub fn reset(&mut self) {
        self.armed = false;
    }

    fn schedule(&mut self, incarnation: u32, fx: &mut Effects) {
        self.armed = true;
        fx.timer(
            self.interval,
            Msg::ServerTimer(ServerTimer::RetentionCheck(incarnation)),
        );
    }

    /// Something is written to `tp`: schedules the check if its topic has `retention.ms`
    /// and none is scheduled.
    pub fn on_append(&mut self, tp: Tp, incarnation: u32, fx: &mut Effects) {
        let limited = self.retention.get(tp.topic as usize).copied().flatten().is_some();
        if !self.armed && limited {
            self.schedule(incarnation, fx);
        }
    }

    /// The check's timer fired: deletes what `retention.ms` lets go on every replica of
    /// such a topic and schedules the next check.
    pub fn check(&mut self, now: Time, rm: &mut ReplicaManager, incarnation: u32, fx: &mut Effects) {
        self.armed = false;
        let mut any = false;
        for (t, keep) in self.retention.iter().enumerate() {
            let Some(keep) = keep else { continue };
            for p in rm.topic_mut(t) {
                any = true;
                p.log.retain_after(now.saturating_sub(*keep));
                p.hw = p.hw.max(p.log.start_offset());
            }
        }
        if any {
            self.schedule(incarnation, fx);
        }
    }
}
