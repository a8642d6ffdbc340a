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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testkit::{self, produce, TP};
    use crate::protocol::Acks;

    #[test]
    fn retention_deletes_old_records_and_keeps_checking() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut r = Retention::new(vec![Some(Time::ms(1000))], Time::ms(50));
        let mut fx = Effects::default();
        // the time index has spans of a second: [0, 1] from 0 s, [2] from 2 s
        for (seq, at) in [(0, 0), (1, 500), (2, 2000)] {
            r.on_append(TP, 0, &mut fx);
            produce(&mut rm, Acks::Leader, 1, seq, Time::ms(at), &mut fx);
        }
        assert_eq!(fx.timers().len(), 1, "one check scheduled");
        r.check(Time::ms(3500), &mut rm, 0, &mut fx);
        let p = rm.part(TP).unwrap();
        assert_eq!(p.log.start_offset(), 2, "the span older than 1 s is gone");
        assert_eq!(p.hw, 3);
        assert_eq!(fx.timers().len(), 2, "the next check");
        assert!(matches!(
            fx.timers()[1],
            (d, Msg::ServerTimer(ServerTimer::RetentionCheck(0))) if d == Time::ms(50)
        ));
    }

    #[test]
    fn topics_without_retention_schedule_nothing() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut r = Retention::new(vec![None], Time::ms(50));
        let mut fx = Effects::default();
        r.on_append(TP, 0, &mut fx);
        produce(&mut rm, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
        assert!(fx.timers().is_empty());
        r.check(Time::ms(1000), &mut rm, 0, &mut fx);
        assert_eq!(rm.part(TP).unwrap().log.start_offset(), 0);
        assert!(fx.timers().is_empty());
    }
}
