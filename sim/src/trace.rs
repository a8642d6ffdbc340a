//! The recorded history of a run: every record an actor chose to write, with the virtual
//! time and the actor. Renderers and checkers read the trace, never the model's internals.

use crate::engine::ActorId;
use crate::time::Time;

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
}

impl<R> Trace<R> {
    /// An empty trace for actors named `names` (indexed by [`ActorId`]). The engine builds
    /// its own; this is for histories recorded elsewhere — a real broker run, a test.
    pub fn new(names: Vec<String>) -> Self {
        Trace {
            entries: Vec::new(),
            names,
        }
    }

    /// Appends a record. Panics if `time` is earlier than the last entry's.
    pub fn push(&mut self, time: Time, actor: ActorId, record: R) {
        assert!(actor.index() < self.names.len(), "unknown actor {actor:?}");
        if let Some(last) = self.entries.last() {
            assert!(last.time <= time, "trace out of time order");
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
