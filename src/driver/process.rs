//! The driver's client processes: started with their part of the scenario on standard
//! input, their events read from standard output into [`Shared`], closed by a `close` line;
//! and the events turned into the history's lines.

use super::DriverError;
use models::protocol::ErrorCode;
use models::scenario::{ConsumerSpec, Scenario};
use models::types::Metadata;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wall-clock µs since the epoch: what the clients stamp their events with.
pub(super) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What the clients reported so far.
#[derive(Default)]
pub(super) struct Shared {
    /// (t_us, actor, event object), in arrival order.
    entries: Vec<(u64, u32, Map<String, Value>)>,
    /// Partitions each consumer owns now, as (topic, partition).
    owned: BTreeMap<u32, BTreeSet<(String, u64)>>,
    /// Consumers that had an assignment.
    assigned: BTreeSet<u32>,
    /// Kinds of event seen, per actor.
    seen: BTreeSet<(u32, String)>,
    /// Records acknowledged.
    produced: BTreeSet<String>,
    /// Records consumed, per group.
    consumed: BTreeMap<String, BTreeSet<String>>,
    /// Lines that were not events, with the client's name.
    pub(super) garbage: Vec<String>,
    /// The run is over: teardown is not recorded.
    pub(super) stopped: bool,
}

fn tps(v: Option<&Value>) -> Vec<(String, u64)> {
    v.and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|x| Some((x.get(0)?.as_str()?.to_string(), x.get(1)?.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl Shared {
    pub(super) fn add(&mut self, actor: u32, name: &str, line: &str) {
        if self.stopped {
            return;
        }
        let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(line) else {
            self.garbage.push(format!("{name}: {line}"));
            return;
        };
        let (Some(t), Some(kind)) = (
            m.remove("t_us").and_then(|t| t.as_u64()),
            m.get("event").and_then(Value::as_str).map(str::to_string),
        ) else {
            self.garbage.push(format!("{name}: {line}"));
            return;
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match kind.as_str() {
            "assign" => {
                self.assigned.insert(actor);
                self.owned
                    .entry(actor)
                    .or_default()
                    .extend(tps(m.get("partitions")));
            }
            "revoke" | "lost" => {
                let owned = self.owned.entry(actor).or_default();
                for tp in tps(m.get("partitions")) {
                    owned.remove(&tp);
                }
            }
            "produce" => {
                self.produced.insert(s("record"));
            }
            "consume" => {
                self.consumed.entry(s("group")).or_default().insert(s("record"));
            }
            _ => {}
        }
        // an error the model does not name is the client's own: UNKNOWN_SERVER_ERROR
        if let Some(e) = m.get("error").and_then(Value::as_str) {
            if ErrorCode::from_name(e).is_none() {
                m.insert("error".into(), json!(ErrorCode::UnknownServerError.name()));
            }
        }
        self.seen.insert((actor, kind));
        self.entries.push((t, actor, m));
    }

    /// A process that crashed or closed owns nothing and has seen nothing: its next
    /// process starts afresh.
    pub(super) fn forget(&mut self, actor: u32) {
        self.owned.remove(&actor);
        self.assigned.remove(&actor);
        self.seen.retain(|(a, _)| *a != actor);
    }

    /// Every member had an assignment and each group owns every partition of its topics.
    pub(super) fn settled(&self, members: &[(u32, &ConsumerSpec)], meta: &Metadata) -> bool {
        if !members.iter().all(|(a, _)| self.assigned.contains(a)) {
            return false;
        }
        let groups: BTreeSet<&str> = members.iter().map(|(_, c)| c.group.as_str()).collect();
        groups.into_iter().all(|g| {
            let of_group: Vec<&(u32, &ConsumerSpec)> = members.iter().filter(|(_, c)| c.group == g).collect();
            let owned: BTreeSet<(String, u64)> = of_group
                .iter()
                .flat_map(|(a, _)| self.owned.get(a).cloned().unwrap_or_default())
                .collect();
            let wanted: BTreeSet<(String, u64)> = of_group
                .iter()
                .flat_map(|(_, c)| c.topics.iter())
                .flat_map(|t| {
                    let n = meta.topic_index(t).map_or(0, |i| meta.partitions(i));
                    (0..u64::from(n)).map(move |p| (t.clone(), p))
                })
                .collect();
            owned == wanted
        })
    }

    /// What each of `members` owns now, for an error: `name=[topic-p ...]` or `name=none yet`.
    pub(super) fn ownership(&self, members: &[(u32, &ConsumerSpec)]) -> String {
        let parts: Vec<String> = members
            .iter()
            .map(|(a, c)| {
                if !self.assigned.contains(a) {
                    return format!("{}=no assignment yet", c.name);
                }
                let owned: Vec<String> = self
                    .owned
                    .get(a)
                    .map(|o| o.iter().map(|(t, p)| format!("{t}-{p}")).collect())
                    .unwrap_or_default();
                format!("{}=[{}]", c.name, owned.join(" "))
            })
            .collect();
        parts.join(", ")
    }

    /// Every group in `groups` consumed every acknowledged record.
    pub(super) fn drained(&self, groups: &BTreeSet<&str>) -> bool {
        groups
            .iter()
            .all(|g| self.consumed.get(*g).is_some_and(|c| self.produced.is_subset(c)))
    }
}

/// The history's event lines: sorted by time, `t_ms` from the run's start, the `client`
/// named; each acknowledgement preceded by the broker's append of the record.
pub(super) fn history_lines(sh: &Shared, start_us: u64, s: &Scenario, brokers: u32) -> String {
    let mut names: Vec<String> = (1..=brokers).map(|n| format!("broker-{n}")).collect();
    names.extend(s.producers.iter().map(|p| p.name.clone()));
    names.extend(s.consumers.iter().map(|c| c.name.clone()));
    let mut entries: Vec<&(u64, u32, Map<String, Value>)> = sh.entries.iter().collect();
    entries.sort_by_key(|(t, _, _)| *t);
    let mut out = String::new();
    for (t, actor, m) in entries {
        let t_ms = t.saturating_sub(start_us) as f64 / 1000.0;
        let line = |client: &str, m: &Map<String, Value>| {
            let mut o = Map::new();
            o.insert("t_ms".into(), json!(t_ms));
            o.insert("client".into(), json!(client));
            o.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Object(o).to_string() + "\n"
        };
        if m.get("event").and_then(Value::as_str) == Some("produce") {
            let mut append = Map::new();
            append.insert("event".into(), json!("append"));
            for k in ["topic", "partition", "offset", "record"] {
                if let Some(v) = m.get(k) {
                    append.insert(k.into(), v.clone());
                }
            }
            out.push_str(&line(&names[0], &append));
        }
        out.push_str(&line(&names[*actor as usize], m));
    }
    out
}

/// A client process.
pub(super) struct Child {
    name: String,
    actor: u32,
    child: Mutex<std::process::Child>,
    stdin: Mutex<Option<ChildStdin>>,
    log: PathBuf,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Child {
    /// Starts `program role`, gives it `spec`, and reads its events into `shared` as `actor`.
    pub(super) fn spawn(
        program: &Path,
        role: &str,
        name: &str,
        actor: u32,
        spec: &Value,
        logs: &Path,
        shared: &Arc<Mutex<Shared>>,
    ) -> Result<Child, DriverError> {
        let log = logs.join(format!("{role}-{actor}.log"));
        let err = std::fs::File::create(&log)
            .map_err(|e| DriverError::Failed(format!("{}: {e}", log.display())))?;
        let mut child = Command::new(program)
            .arg(role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| DriverError::Failed(format!("cannot start {}: {e}", program.display())))?;
        let mut stdin = child.stdin.take().expect("piped");
        writeln!(stdin, "{spec}").map_err(|e| DriverError::Failed(format!("{name}: {e}")))?;
        stdin
            .flush()
            .map_err(|e| DriverError::Failed(format!("{name}: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        let (shared, who) = (shared.clone(), name.to_string());
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                shared.lock().expect("shared").add(actor, &who, &line);
            }
        });
        Ok(Child {
            name: name.to_string(),
            actor,
            child: Mutex::new(child),
            stdin: Mutex::new(Some(stdin)),
            log,
            reader: Some(reader),
        })
    }

    /// Writes `line` to its standard input.
    pub(super) fn send_line(&self, line: &str) -> Result<(), DriverError> {
        let mut stdin = self.stdin.lock().expect("stdin");
        let Some(stdin) = stdin.as_mut() else {
            return Ok(());
        };
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .map_err(|e| DriverError::Failed(format!("{}: {e}", self.name)))
    }

    /// SIGKILL: the process ends without a word to the broker.
    pub(super) fn kill(mut self) {
        {
            let mut c = self.child.lock().expect("child");
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// Whether the process has ended.
    pub(super) fn exited(&self) -> Result<bool, DriverError> {
        let mut c = self.child.lock().expect("child");
        c.try_wait()
            .map(|s| s.is_some())
            .map_err(|e| DriverError::Failed(format!("{}: {e}", self.name)))
    }

    /// An error naming the client, with the last lines of what it printed.
    pub(super) fn failure(&self, what: &str) -> DriverError {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        DriverError::Failed(format!("{} {what}: {}", self.name, tail.join(" | ")))
    }

    /// Ok if it exited with 0.
    pub(super) fn check_success(&self) -> Result<(), DriverError> {
        let status = self.child.lock().expect("child").wait();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(self.failure(&format!("failed ({s})"))),
            Err(e) => Err(DriverError::Failed(format!("{}: {e}", self.name))),
        }
    }

    /// Waits until it reported an event `kind` (or died, or `timeout` passed).
    pub(super) fn await_event(
        &self,
        kind: &str,
        timeout: Duration,
        shared: &Mutex<Shared>,
    ) -> Result<(), DriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            if shared
                .lock()
                .expect("shared")
                .seen
                .contains(&(self.actor, kind.to_string()))
            {
                return Ok(());
            }
            if self.exited()? {
                return Err(self.failure("exited"));
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!("reported no {kind} within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks it to close (a `close` line), waits for it to exit within `timeout`, else kills
    /// it.
    pub(super) fn close(mut self, timeout: Duration) -> Result<(), DriverError> {
        if let Some(mut stdin) = self.stdin.lock().expect("stdin").take() {
            let _ = writeln!(stdin, "close");
        }
        let deadline = Instant::now() + timeout;
        while !self.exited()? {
            if Instant::now() > deadline {
                let _ = self.child.lock().expect("child").kill();
                return Err(self.failure(&format!("did not close within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.check_success()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// Runs `program args...` (an admin command) to its end; exit 3 means unreachable.
pub(super) fn admin(
    program: &Path,
    args: &[String],
    logs: &Path,
    bootstrap: &str,
) -> Result<(), DriverError> {
    admin_output(program, args, logs, bootstrap).map(|_| ())
}

/// [`admin`], returning what the command wrote on standard output.
pub(super) fn admin_output(
    program: &Path,
    args: &[String],
    logs: &Path,
    bootstrap: &str,
) -> Result<String, DriverError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DriverError::Failed(format!("cannot start {}: {e}", program.display())))?;
    let _ = std::fs::write(logs.join(format!("admin-{}.log", args[1])), &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    let last = without_escapes(err.lines().last().unwrap_or(""));
    match out.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Some(3) => Err(DriverError::Unreachable(format!(
            "cannot reach broker {bootstrap}: {last}"
        ))),
        Some(4) => Err(DriverError::Unsupported(last)),
        _ => Err(DriverError::Failed(format!("admin {}: {last}", args[1]))),
    }
}

/// `line` without terminal escape sequences (`ESC [ ... letter`: a first use's Maven build
/// leaves colour resets in front of the program's own last line).
fn without_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_are_dropped_from_a_message() {
        assert_eq!(
            super::without_escapes("\x1b[0m\x1b[0mno broker answered"),
            "no broker answered"
        );
        assert_eq!(super::without_escapes("plain: text"), "plain: text");
    }
}
