//! The recorded history of a run: every record an actor chose to write, with the virtual
//! time and the actor. Renderers and checkers read the trace, never the model's internals.

use crate::engine::ActorId;
use crate::time::Time;
use std::collections::BTreeMap;

/// Decides which records a trace keeps: `None` keeps a record, `Some(kind)` drops it and
/// counts it under `kind`. Long runs that only need totals (a benchmark, a throughput
/// measurement) keep the per-record facts out of memory this way.
pub type Filter<R> = fn(&R) -> Option<&'static str>;

/// One recorded fact.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEntry<R> {
    /// When it happened.
    pub time: Time,
    /// Who recorded it.
    pub actor: ActorId,
    /// What happened.
    pub record: R,
}

/// A run's history, in the order records were written (which is virtual-time order).
#[derive(Clone, Debug)]
pub struct Trace<R> {
    entries: Vec<TraceEntry<R>>,
    names: Vec<String>,
    filter: Option<Filter<R>>,
    /// Records dropped, by kind (a handful of kinds: a short list).
    dropped: Vec<(&'static str, u64)>,
    last: Time,
}

impl<R> Trace<R> {
    /// An empty trace for actors named `names` (indexed by [`ActorId`]). The engine builds
    /// its own; this is for histories recorded elsewhere — a real broker run, a test.
    pub fn new(names: Vec<String>) -> Self {
        Trace {
            entries: Vec::new(),
            names,
            filter: None,
            dropped: Vec::new(),
            last: Time::ZERO,
        }
    }

    /// From now on, records `filter` names are counted instead of kept.
    pub fn set_filter(&mut self, filter: Filter<R>) {
        self.filter = Some(filter);
    }

    /// Records dropped by the filter, by kind, in kind order.
    pub fn dropped(&self) -> BTreeMap<&'static str, u64> {
        self.dropped.iter().copied().collect()
    }

    /// Appends a record. Panics if `time` is earlier than the last entry's.
    pub fn push(&mut self, time: Time, actor: ActorId, record: R) {
        assert!(actor.index() < self.names.len(), "unknown actor {actor:?}");
        assert!(self.last <= time, "trace out of time order");
        self.last = time;
        if let Some(kind) = self.filter.and_then(|f| f(&record)) {
            match self.dropped.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => self.dropped.push((kind, 1)),
            }
            return;
        }
        self.entries.push(TraceEntry { time, actor, record });
    }

    pub(crate) fn add_name(&mut self, name: String) {
        self.names.push(name);
    }

    /// All entries, in time order.
    pub fn entries(&self) -> &[TraceEntry<R>] {
        &self.entries
    }

    /// The name an actor was registered under.
    pub fn name(&self, actor: ActorId) -> &str {
        &self.names[actor.index()]
    }

    /// All actor names, indexed by [`ActorId::index`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
