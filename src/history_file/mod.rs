//! The history as a public format: JSON lines, read back into a [`Run`] the checker, the
//! renderers and [`crate::compare`] take — whoever wrote them: the simulator
//! (`--format json`, [`crate::render::json_lines`]), a real-client driver, or a test of
//! someone's own system.
//!
//! The first line is a header naming the format and its [`VERSION`], the topics and the
//! clients; every other line is one event (`t_ms`, `client`, `event` and the event's
//! fields). The README's "The history format" is the contract; this module enforces it,
//! and a line that breaks it is refused as `file:line: what is wrong`.

mod events;

use models::history::Event;
use models::types::{Metadata, TopicMeta};
use models::world::{ClientInfo, ClientKind, Run};
use serde_json::{Map, Value};
use sim::{ActorId, Time, Trace};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `format` field of the header line.
pub const FORMAT: &str = "kafka-sim-history";

/// The version of the format this build writes and reads. A reader refuses any other: a
/// new version is made when a field changes meaning or an event is removed; new events and
/// new fields are added within a version (readers ignore fields they do not know).
pub const VERSION: u64 = 1;

/// A history that could not be read: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// The line (1-based); 0 for the file as a whole.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

/// What the lines read so far say: topics, processes by name, clients.
pub(crate) struct Context {
    pub(crate) meta: Metadata,
    names: Vec<String>,
    index: BTreeMap<String, u32>,
}

impl Context {
    /// The actor of process `name`, numbered in order of first appearance when the header
    /// did not list it.
    pub(crate) fn actor(&mut self, name: &str) -> ActorId {
        if let Some(a) = self.index.get(name) {
            return ActorId(*a);
        }
        let a = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), a);
        ActorId(a)
    }
}

/// Reads a history in the JSON-lines format into a [`Run`]: the clients the header lists,
/// the topics, every event in order. `seed` is the header's (0 if it has none).
pub fn parse(text: &str) -> Result<Run, FormatError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (first, header) = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((n, l)) => break (n, l),
            None => {
                return Err(FormatError {
                    line: 0,
                    message: "empty: a history starts with its header line".into(),
                })
            }
        }
    };
    let at = |line: usize| move |message: String| FormatError { line, message };
    let header = object(header).map_err(at(first))?;
    let (mut cx, declared, seed) = read_header(&header).map_err(at(first))?;
    let mut entries: Vec<(Time, ActorId, Event)> = Vec::new();
    for (n, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let entry = object(l)
            .and_then(|o| events::entry(&mut cx, &o))
            .map_err(at(n))?;
        if let Some((last, _, _)) = entries.last() {
            if entry.0 < *last {
                return Err(at(n)(format!(
                    "t_ms {} is earlier than the line before's ({}): events are in time order",
                    entry.0.as_ms_f64(),
                    last.as_ms_f64()
                )));
            }
        }
        entries.push(entry);
    }
    let end = entries.last().map_or(Time::ZERO, |e| e.0);
    let clients = declared
        .into_iter()
        .map(|(name, kind, group)| ClientInfo {
            actor: cx.actor(&name),
            name,
            kind,
            group,
        })
        .collect();
    let mut trace = Trace::new(cx.names);
    for (t, a, e) in entries {
        trace.push(t, a, e);
    }
    let broker = ActorId(
        trace
            .names()
            .iter()
            .position(|n| n.starts_with("broker"))
            .unwrap_or(0) as u32,
    );
    Ok(Run {
        trace,
        meta: Arc::new(cx.meta),
        clients,
        broker,
        brokers: vec![broker],
        events: 0,
        end,
        seed,
    })
}

/// A line as a JSON object.
fn object(line: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// A client the header declares: name, kind, group.
type Declared = (String, ClientKind, Option<String>);

/// The header's topics, processes and clients.
fn read_header(h: &Map<String, Value>) -> Result<(Context, Vec<Declared>, u64), String> {
    match h.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => return Err(format!("format {other:?} is not {FORMAT:?}")),
        None if h.contains_key("event") => {
            return Err(format!(
                "the first line is an event, not the header ({{\"format\":\"{FORMAT}\",\"version\":{VERSION},...}})"
            ))
        }
        None => return Err(format!("the header has no \"format\": \"{FORMAT}\"")),
    }
    match h.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "version {v} of the history format; this kafka-sim reads version {VERSION}"
            ))
        }
        None => return Err("the header has no \"version\"".into()),
    }
    let topics = topics(h.get("topics").ok_or("the header has no \"topics\"")?)?;
    let mut cx = Context {
        meta: Metadata::new(topics),
        names: Vec::new(),
        index: BTreeMap::new(),
    };
    if let Some(p) = h.get("processes") {
        let list = p.as_array().ok_or("\"processes\" is not a list of names")?;
        for n in list {
            let n = n.as_str().ok_or("\"processes\" is not a list of names")?;
            if cx.index.contains_key(n) {
                return Err(format!("process {n:?} is listed twice"));
            }
            cx.actor(n);
        }
    }
    let clients = match h.get("clients") {
        Some(c) => clients(c)?,
        None => Vec::new(),
    };
    let seed = h.get("seed").and_then(Value::as_u64).unwrap_or(0);
    Ok((cx, clients, seed))
}

fn topics(v: &Value) -> Result<Vec<TopicMeta>, String> {
    let list = v.as_array().ok_or("\"topics\" is not a list")?;
    let mut out: Vec<TopicMeta> = Vec::new();
    for t in list {
        let name = t["name"].as_str().ok_or("a topic has no \"name\"")?;
        let partitions = t["partitions"]
            .as_u64()
            .filter(|p| (1..=u64::from(u32::MAX)).contains(p))
            .ok_or_else(|| format!("topic {name:?}: \"partitions\" is not a number of partitions"))?;
        if out.iter().any(|o| &*o.name == name) {
            return Err(format!("topic {name:?} is listed twice"));
        }
        out.push(TopicMeta {
            name: name.into(),
            partitions: partitions as u32,
        });
    }
    Ok(out)
}

fn clients(v: &Value) -> Result<Vec<Declared>, String> {
    let list = v.as_array().ok_or("\"clients\" is not a list")?;
    let mut out: Vec<Declared> = Vec::new();
    for c in list {
        let name = c["name"].as_str().ok_or("a client has no \"name\"")?;
        let kind = match c["kind"].as_str() {
            Some("producer") => ClientKind::Producer,
            Some("consumer") => ClientKind::Consumer,
            _ => {
                return Err(format!(
                    "client {name:?}: \"kind\" is neither \"producer\" nor \"consumer\""
                ))
            }
        };
        let group = c.get("group").and_then(Value::as_str).map(str::to_string);
        if out.iter().any(|o| o.0 == name) {
            return Err(format!("client {name:?} is listed twice"));
        }
        out.push((name.to_string(), kind, group));
    }
    Ok(out)
}

/// The text of the history file at `path`: at most 1 GiB, UTF-8; errors as `path: what`.
pub fn read_text(path: &std::path::Path) -> Result<String, String> {
    const MAX: u64 = 1 << 30;
    let shown = path.display();
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    // read at most one byte past the limit: a device such as /dev/zero never ends, and its
    // length says 0
    let mut bytes = Vec::new();
    file.take(MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() as u64 > MAX {
        return Err(format!(
            "{shown}: larger than 1 GiB: not a history kafka-sim reads"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{shown}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads the history file at `path` (at most 1 GiB); errors as `path:line: what is wrong`.
pub fn read(path: &std::path::Path) -> Result<Run, String> {
    let shown = path.display();
    let text = read_text(path)?;
    parse(&text).map_err(|e| match e.line {
        0 => format!("{shown}: {}", e.message),
        n => format!("{shown}:{n}: {}", e.message),
    })
}

#[cfg(test)]
mod tests;
