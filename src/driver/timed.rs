//! A timed run: the scenario's [`schedule`](super::schedule) played on the wall clock —
//! the action of virtual time `t` at `t` ms after the run's start (or as soon after as the
//! action before it is done: a consumer's start waits for its `connected`) — with producers
//! in the background, faults staged as the schedule says, until the scenario's stop time
//! (the simulator's, [`Scenario::stop_ms`](models::scenario::Scenario::stop_ms)), then every
//! partition read back from its start: the history ends with each partition's final log
//! (a `leader` event of epoch [`READBACK_EPOCH`] with `log_end` 0, then the records read
//! back as `append`s), which is what the checker judges lost writes against.

use super::process::{self, Child};
use super::schedule::{self, Action};
use super::{DriverError, Run};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The leader epoch of the final read-back: above any a real run reaches.
pub const READBACK_EPOCH: i32 = 1 << 30;

/// The processes of a timed run.
#[derive(Default)]
struct Live {
    consumers: Vec<Option<Child>>,
    /// Processes started ahead of their time, waiting for a `start` line: every client's
    /// first process at the run's start, a consumer's next one when it crashed or closed
    /// and restarts later (a JVM's start-up takes seconds; the schedule's times must not).
    standby: Vec<Option<Child>>,
    waiting_producers: Vec<Option<Child>>,
    producers: Vec<Child>,
    brokers: Vec<std::thread::JoinHandle<Result<(), DriverError>>>,
}

impl Run<'_> {
    /// Every action at its time, the producers' end, the drain, the read-back.
    pub(super) fn drive_timed(&self) -> Result<(), DriverError> {
        let elapsed = Duration::from_micros(process::now_us().saturating_sub(self.start_us));
        let t0 = Instant::now() - elapsed;
        let mut live = Live {
            consumers: (0..self.scenario.consumers.len()).map(|_| None).collect(),
            ..Live::default()
        };
        let result = (|| {
            for i in 0..self.scenario.consumers.len() {
                live.standby.push(Some(self.spawn_consumer(i, true)?));
            }
            for i in 0..self.scenario.producers.len() {
                live.waiting_producers.push(Some(self.spawn_producer(i, true)?));
            }
            let actions = schedule::actions(self.scenario);
            let restarts: BTreeSet<usize> = actions
                .iter()
                .filter_map(|(_, a)| match a {
                    Action::Restart(i) => Some(*i),
                    _ => None,
                })
                .collect();
            for (at, action) in actions {
                self.wait_until(t0 + Duration::from_millis(at), &mut live)?;
                self.act(action, &mut live)?;
                if let Action::Crash(i) | Action::Close(i) = action {
                    if restarts.contains(&i) && live.standby[i].is_none() {
                        live.standby[i] = Some(self.spawn_consumer(i, true)?);
                    }
                }
            }
            let deadline = Instant::now() + self.opts.drain_timeout * 4;
            while !live.producers.is_empty() {
                if Instant::now() > deadline {
                    return Err(DriverError::Failed("a producer did not finish in time".into()));
                }
                self.wait_until(Instant::now() + Duration::from_millis(20), &mut live)?;
            }
            // the run stops when the simulator's does (`Scenario::stop_ms`)
            self.wait_until(t0 + Duration::from_millis(self.scenario.stop_ms()), &mut live)?;
            for h in std::mem::take(&mut live.brokers) {
                h.join()
                    .map_err(|_| DriverError::Failed("a broker restart panicked".into()))??;
            }
            self.read_back()
        })();
        self.shared.lock().expect("shared").stopped = true;
        for c in live.consumers.into_iter().flatten() {
            let _ = c.close(self.opts.connect_timeout);
        }
        for h in live.brokers {
            let _ = h.join();
        }
        result
    }

    /// Sleeps until `when`, checking that no consumer died and collecting finished producers.
    fn wait_until(&self, when: Instant, live: &mut Live) -> Result<(), DriverError> {
        loop {
            for c in live.consumers.iter().flatten() {
                if c.exited()? {
                    return Err(c.failure("exited before it was closed"));
                }
            }
            let mut i = 0;
            while i < live.producers.len() {
                if live.producers[i].exited()? {
                    live.producers.remove(i).check_success()?;
                } else {
                    i += 1;
                }
            }
            let now = Instant::now();
            if now >= when {
                return Ok(());
            }
            std::thread::sleep((when - now).min(Duration::from_millis(5)));
        }
    }

    /// Records an event the driver itself stages (`crash`, `restart`, `stall`), now.
    fn note(&self, actor: u32, name: &str, event: &str, fields: Value) {
        let mut line = json!({"t_us": process::now_us(), "event": event});
        if let (Some(o), Value::Object(f)) = (line.as_object_mut(), fields) {
            o.extend(f);
        }
        let mut sh = self.shared.lock().expect("shared");
        if event == "crash" {
            sh.forget(actor);
        }
        sh.add(actor, name, &line.to_string());
    }

    fn act(&self, action: Action, live: &mut Live) -> Result<(), DriverError> {
        let name_of = |i: usize| self.scenario.consumers[i].name.clone();
        match action {
            Action::StartConsumer(i) => live.consumers[i] = Some(self.start_standby(i, live)?),
            Action::StartProducer(i) => {
                let p = match live.waiting_producers.get_mut(i).and_then(Option::take) {
                    Some(p) => p,
                    None => self.spawn_producer(i, true)?,
                };
                p.send_line("start")?;
                live.producers.push(p);
            }
            Action::Stall(i, ms) => {
                if let Some(c) = &live.consumers[i] {
                    let now_ms = process::now_us().saturating_sub(self.start_us) / 1000;
                    self.note(
                        self.actor_of_consumer(i),
                        &name_of(i),
                        "stall",
                        json!({"until_ms": now_ms + ms}),
                    );
                    c.send_line(&format!("stall {ms}"))?;
                }
            }
            Action::Close(i) => {
                if let Some(c) = live.consumers[i].take() {
                    c.close(self.opts.connect_timeout * 3)?;
                    self.shared
                        .lock()
                        .expect("shared")
                        .forget(self.actor_of_consumer(i));
                }
            }
            Action::Crash(i) => {
                if let Some(c) = live.consumers[i].take() {
                    c.kill();
                    self.note(self.actor_of_consumer(i), &name_of(i), "crash", json!({}));
                }
            }
            Action::Restart(i) => {
                self.note(self.actor_of_consumer(i), &name_of(i), "restart", json!({}));
                live.consumers[i] = Some(self.start_standby(i, live)?);
            }
            Action::BrokerKill(n) | Action::BrokerPause(n) | Action::BrokerResume(n) => {
                let (verb, event) = match action {
                    Action::BrokerKill(_) => ("kill", Some("crash")),
                    Action::BrokerPause(_) => ("pause", None),
                    _ => ("resume", None),
                };
                self.cluster()?.control(verb, n)?;
                if let Some(e) = event {
                    self.note(n - 1, &format!("broker-{n}"), e, json!({}));
                }
            }
            Action::CutClient(k) | Action::HealClient(k) => {
                let verb = if matches!(action, Action::CutClient(_)) {
                    "cut"
                } else {
                    "heal"
                };
                let id = super::client_id(self.scenario, &self.scenario.faults[k].client);
                self.cluster()?.proxy(&format!("{verb} client {id}"))?;
            }
            Action::CutBroker(n) | Action::HealBroker(n) => {
                let verb = if matches!(action, Action::CutBroker(_)) {
                    "cut"
                } else {
                    "heal"
                };
                self.cluster()?.proxy(&format!("{verb} broker {n}"))?;
            }
            Action::BrokerRestart(n) => {
                self.note(n - 1, &format!("broker-{n}"), "restart", json!({}));
                let cluster = self.cluster()?.clone();
                live.brokers
                    .push(std::thread::spawn(move || cluster.control("restart", n)));
            }
        }
        Ok(())
    }

    /// Consumer `i`'s waiting process started (a new one if none waits), once connected.
    fn start_standby(&self, i: usize, live: &mut Live) -> Result<Child, DriverError> {
        let c = match live.standby[i].take() {
            Some(c) => c,
            None => self.spawn_consumer(i, true)?,
        };
        c.send_line("start")?;
        c.await_event("connected", self.opts.connect_timeout * 3, &self.shared)?;
        Ok(c)
    }

    fn cluster(&self) -> Result<&super::cluster::Cluster, DriverError> {
        self.cluster
            .ok_or_else(|| DriverError::Unsupported("a broker fault needs a cluster (--cluster DIR)".into()))
    }

    /// Reads every partition back from its start (`admin readback`) and records each one's
    /// final log.
    fn read_back(&self) -> Result<(), DriverError> {
        let mut args: Vec<String> = vec!["admin".into(), "readback".into(), self.bootstrap.into()];
        args.push(self.opts.connect_timeout.as_secs().max(1).to_string());
        args.extend(
            self.meta
                .topics
                .iter()
                .map(|t| format!("{}:{}", self.names.topic(&t.name), t.partitions)),
        );
        let lines = process::admin_output(self.program, &args, self.logs, self.bootstrap)?;
        let now = process::now_us();
        let broker = models::scenario::BROKER_NAME;
        let mut sh = self.shared.lock().expect("shared");
        for t in &self.meta.topics {
            for p in 0..t.partitions {
                let leader = json!({"t_us": now, "event": "leader", "topic": &*t.name, "partition": p,
                    "leader_epoch": READBACK_EPOCH, "log_end": 0, "unclean": false});
                sh.add(0, broker, &leader.to_string());
            }
        }
        for line in lines.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .map_err(|_| DriverError::Failed(format!("admin readback wrote {line}")))?;
            let real = v.get("topic").and_then(Value::as_str).unwrap_or_default();
            let Some(t) = self
                .meta
                .topics
                .iter()
                .find(|t| self.names.topic(&t.name) == real)
            else {
                continue;
            };
            let append = json!({"t_us": now, "event": "append", "topic": &*t.name,
                "partition": v.get("partition"), "offset": v.get("offset"), "record": v.get("record")});
            sh.add(0, broker, &append.to_string());
        }
        Ok(())
    }
}
