//! Real-client drivers: a scenario's producers and consumers run against a real broker as
//! separate OS processes of a real Kafka client — kafka-python (the version the
//! `kafka-python` profile models) or Java's `kafka-clients` (the broker's version) — and what
//! they report is written as a history in the public format ([`crate::history_file`]),
//! which the checker and [`crate::compare`] read like the simulator's.
//!
//! The contract a driver program keeps (`scripts/drivers/<driver>/client.sh`):
//! * `client.sh admin create BOOTSTRAP TIMEOUT_S TOPIC:PARTITIONS...` creates the topics and
//!   returns once each partition has a leader; `admin delete BOOTSTRAP TIMEOUT_S TOPIC...`;
//!   exit 3 when the broker cannot be reached, 4 when asked for what it cannot do;
//! * `client.sh producer` and `client.sh consumer` read one JSON line from standard input
//!   (the client's part of the scenario) and write one JSON object per event
//!   on standard output — the history format's fields, `t_us` (wall-clock µs since the
//!   epoch) instead of `t_ms`, no `client`; what the seed demos print goes to standard
//!   error. A consumer runs until a line `close` (or the end of its input): then it closes
//!   (commit, LeaveGroup) and exits.
//!
//! This module keeps the run's shape the rdkafka adapter keeps: topics and groups under
//! per-run names; clients started in the scenario's order, each start after every group
//! settled; virtual gaps played as scaled real pauses; after the last acknowledgement, a
//! wait until every group consumed every record; teardown not recorded. Each record carries
//! a `ksim-id` header with its identity (`p<producer>-<seq>`), which consumers read back.

pub mod cluster;
mod process;
pub mod proxy;
mod schedule;
mod timed;

use crate::history_file;
use models::scenario::Scenario;
use models::types::Metadata;
use process::{Child, Shared};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A real client a driver runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Driver {
    /// kafka-python 3.0.12, from PyPI into a virtualenv under `.ci-cache/`.
    KafkaPython,
    /// Java's `kafka-clients` 4.4.0, from Maven Central, built into `.ci-cache/`.
    Java,
}

impl Driver {
    /// `kafka-python` or `java`.
    pub fn parse(s: &str) -> Option<Driver> {
        match s {
            "kafka-python" => Some(Driver::KafkaPython),
            "java" => Some(Driver::Java),
            _ => None,
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Driver::KafkaPython => "kafka-python",
            Driver::Java => "java",
        }
    }

    /// The client and version it runs, for tables.
    pub fn label(self) -> &'static str {
        match self {
            Driver::KafkaPython => "kafka-python 3.0.12",
            Driver::Java => "kafka-clients 4.4.0",
        }
    }

    /// Its program: `KAFKA_SIM_DRIVERS/<name>/client.sh`, by default this source tree's
    /// `scripts/drivers`.
    fn program(self) -> PathBuf {
        let dir = std::env::var_os("KAFKA_SIM_DRIVERS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/drivers")));
        dir.join(self.name()).join("client.sh")
    }
}

/// Knobs of a driven run (the adapter's).
#[derive(Clone, Debug)]
pub struct Options {
    /// How long the broker may take to answer at all.
    pub connect_timeout: Duration,
    /// How long a group may take to settle after a member starts.
    pub settle_timeout: Duration,
    /// How long, after the last acknowledgement, the groups may take to consume everything.
    pub drain_timeout: Duration,
    /// Real seconds per virtual second for the pauses between starts and between sends
    /// (a timed run, [`timed`], plays virtual time at one real second per second).
    pub scale: f64,
    /// The state directory of a three-node cluster (`scripts/kafka-cluster.sh dir`), through
    /// which broker faults are staged.
    pub cluster: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            settle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            scale: 0.01,
            cluster: None,
        }
    }
}

/// Why a driven run could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// The broker did not answer within the connect timeout.
    Unreachable(String),
    /// The scenario uses something the driver cannot stage.
    Unsupported(String),
    /// The run went wrong.
    Failed(String),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::Unreachable(m) | DriverError::Unsupported(m) | DriverError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

/// What happens next, in virtual-time order; at equal times consumers start before
/// producers, closes come last.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Consumer(usize),
    Producer(usize),
    Close(usize),
}

fn steps(s: &Scenario) -> Vec<(u64, Step)> {
    let mut steps: Vec<(u64, Step)> = Vec::new();
    for (i, c) in s.consumers.iter().enumerate() {
        steps.push((c.start_ms, Step::Consumer(i)));
        if let Some(t) = c.close_ms {
            steps.push((t, Step::Close(i)));
        }
    }
    for (i, p) in s.producers.iter().enumerate() {
        steps.push((p.start_ms, Step::Producer(i)));
    }
    steps.sort();
    steps
}

/// `virtual_ms` as real time at `scale`, at most an hour.
fn scaled(virtual_ms: u64, scale: f64) -> Duration {
    let secs = virtual_ms as f64 / 1000.0 * scale;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs.min(3600.0)).unwrap_or(Duration::ZERO)
}

/// Per-run names of topics and groups on the broker.
struct Names {
    suffix: String,
}

impl Names {
    fn topic(&self, t: &str) -> String {
        format!("{t}-{}", self.suffix)
    }
    fn group(&self, g: &str) -> String {
        format!("{g}-{}", self.suffix)
    }
}

/// Whether `s` is played as a timed run ([`timed`]): it has faults, several brokers,
/// processing times or commits by the application — anything whose outcome depends on real
/// time, so virtual time is played at one real second per second.
pub fn timed(s: &Scenario) -> bool {
    !s.faults.is_empty()
        || s.cluster.brokers > 1
        || s.consumers
            .iter()
            .any(|c| c.processing_ms != 0 || c.commit != models::consumer::CommitPolicy::Auto)
}

/// Runs `scenario`'s clients through `driver` against the broker at `bootstrap` and returns
/// the history they reported, in the public format (header line first).
pub fn run(
    scenario: &Scenario,
    seed: u64,
    driver: Driver,
    bootstrap: &str,
    opts: &Options,
) -> Result<String, DriverError> {
    scenario
        .validate()
        .map_err(|e| DriverError::Unsupported(e.to_string()))?;
    let cluster = opts.cluster.as_deref().map(cluster::Cluster::open).transpose()?;
    let is_timed = timed(scenario);
    let why = if is_timed {
        schedule::unstageable(scenario, cluster.as_ref().map(|_| cluster::NODES))
    } else {
        crate::compare::unstageable(scenario, "a driver")
    };
    if let Some(why) = why {
        return Err(DriverError::Unsupported(why));
    }
    let program = driver.program();
    if !program.exists() {
        return Err(DriverError::Unsupported(format!(
            "no {} driver at {} (set KAFKA_SIM_DRIVERS to the scripts/drivers folder)",
            driver.name(),
            program.display()
        )));
    }
    let meta = scenario.metadata();
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let names = Names {
        suffix: format!("ksim{:x}", now_ns ^ seed),
    };
    let logs = std::env::temp_dir().join(format!("kafka-sim-driver-{}", names.suffix));
    std::fs::create_dir_all(&logs).map_err(|e| DriverError::Failed(format!("{}: {e}", logs.display())))?;
    let real: Vec<String> = meta.topics.iter().map(|t| names.topic(&t.name)).collect();
    let mut create: Vec<String> = vec!["admin".into(), "create".into(), bootstrap.into()];
    create.push(opts.connect_timeout.as_secs().max(1).to_string());
    create.extend(meta.topics.iter().zip(&real).map(|(t, n)| {
        if is_timed {
            topic_arg(scenario, &t.name, n)
        } else {
            format!("{n}:{}", t.partitions)
        }
    }));
    process::admin(&program, &create, &logs, bootstrap)?;
    let run = Run {
        scenario,
        meta: &meta,
        names: &names,
        program: &program,
        logs: &logs,
        bootstrap,
        opts: &if is_timed {
            Options {
                scale: 1.0,
                ..opts.clone()
            }
        } else {
            opts.clone()
        },
        shared: Arc::new(Mutex::new(Shared::default())),
        start_us: process::now_us(),
        brokers: if is_timed { scenario.cluster.brokers } else { 1 },
        cluster: cluster.as_ref(),
    };
    let result = if is_timed {
        run.drive_timed().and_then(|()| run.history())
    } else {
        run.drive()
    };
    if let Some(c) = &cluster {
        c.heal();
    }
    let mut delete: Vec<String> = vec!["admin".into(), "delete".into(), bootstrap.into()];
    delete.push(opts.connect_timeout.as_secs().max(1).to_string());
    delete.extend(real);
    let _ = process::admin(&program, &delete, &logs, bootstrap);
    let history = result?;
    let header = header(&run, seed, driver, bootstrap);
    let _ = std::fs::remove_dir_all(&logs);
    Ok(header + &history)
}

/// A timed run's `admin create` argument for topic `name` (real name `real`):
/// `REAL:PARTITIONS:REPLICAS:CONFIGS` — the replicas of each partition as the simulator
/// places them (`1,2,3/2,3,1`: Kafka's rack-unaware assignment, so `broker-N` leads what it
/// leads in the model), and the topic's `min.insync.replicas` and
/// `unclean.leader.election.enable` (its own, or the scenario's broker settings), so the
/// cluster's defaults never stand in for the scenario's.
fn topic_arg(s: &Scenario, name: &str, real: &str) -> String {
    use models::config::ConfigValue;
    let Some(t) = s.topics.iter().find(|t| t.name == name) else {
        return real.to_string();
    };
    let rf = t
        .replication_factor
        .unwrap_or(s.broker.default_replication_factor);
    let replicas: Vec<String> = models::cluster::placement(s.cluster.brokers, t.partitions, rf)
        .into_iter()
        .map(|r| r.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(","))
        .collect();
    let mut configs = std::collections::BTreeMap::new();
    configs.insert(
        "min.insync.replicas".to_string(),
        s.broker.min_insync_replicas.to_string(),
    );
    configs.insert(
        "unclean.leader.election.enable".to_string(),
        s.broker.unclean_leader_election_enable.to_string(),
    );
    for (k, v) in &t.config {
        let v = match v {
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Int(i) => i.to_string(),
            ConfigValue::Str(x) => x.clone(),
        };
        configs.insert(k.clone(), v);
    }
    let configs: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{real}:{}:{}:{}",
        t.partitions,
        replicas.join("/"),
        configs.join(";")
    )
}

/// The history's header line.
fn header(run: &Run, seed: u64, driver: Driver, bootstrap: &str) -> String {
    let s = run.scenario;
    let mut processes: Vec<String> = (1..=run.brokers).map(|n| format!("broker-{n}")).collect();
    let mut clients = Vec::new();
    for p in &s.producers {
        processes.push(p.name.clone());
        clients.push(json!({"name": p.name, "kind": "producer"}));
    }
    for c in &s.consumers {
        processes.push(c.name.clone());
        clients.push(json!({"name": c.name, "kind": "consumer", "group": c.group}));
    }
    let topics: Vec<Value> = run
        .meta
        .topics
        .iter()
        .map(|t| json!({"name": &*t.name, "partitions": t.partitions}))
        .collect();
    let h = json!({
        "format": history_file::FORMAT,
        "version": history_file::VERSION,
        "seed": seed,
        "topics": topics,
        "processes": processes,
        "clients": clients,
        "recorded_by": format!("{} against {bootstrap}", driver.label()),
    });
    h.to_string() + "\n"
}

/// A driven run in progress.
struct Run<'a> {
    scenario: &'a Scenario,
    meta: &'a Metadata,
    names: &'a Names,
    program: &'a std::path::Path,
    logs: &'a std::path::Path,
    bootstrap: &'a str,
    opts: &'a Options,
    shared: Arc<Mutex<Shared>>,
    start_us: u64,
    /// Broker processes the history names (`broker-1` …): the scenario's in a timed run.
    brokers: u32,
    /// The cluster broker faults are staged through.
    cluster: Option<&'a cluster::Cluster>,
}

impl Run<'_> {
    /// Every step of the scenario, then the drain; the events as history lines.
    fn drive(&self) -> Result<String, DriverError> {
        let s = self.scenario;
        let mut live: Vec<(usize, Child)> = Vec::new();
        let mut last_virtual = 0u64;
        let result = (|| {
            for (at, step) in steps(s) {
                self.settle(&live)?;
                self.pause(&live, scaled(at - last_virtual.min(at), self.opts.scale))?;
                last_virtual = at;
                match step {
                    Step::Consumer(i) => live.push((i, self.start_consumer(i)?)),
                    Step::Producer(i) => self.produce(i, &live)?,
                    Step::Close(i) => {
                        if let Some(pos) = live.iter().position(|(j, _)| *j == i) {
                            let (_, c) = live.remove(pos);
                            c.close(self.opts.connect_timeout * 3)?;
                        }
                    }
                }
            }
            self.settle(&live)?;
            self.drain(&live)
        })();
        self.shared.lock().expect("shared").stopped = true;
        for (_, c) in live {
            let _ = c.close(self.opts.connect_timeout);
        }
        result?;
        self.history()
    }

    /// The events reported, as history lines; an error if a client wrote a line that is no
    /// event.
    fn history(&self) -> Result<String, DriverError> {
        let shared = self.shared.lock().expect("shared");
        if let Some(line) = shared.garbage.first() {
            return Err(DriverError::Failed(format!(
                "a client wrote a line that is no event: {line}"
            )));
        }
        Ok(process::history_lines(
            &shared,
            self.start_us,
            self.scenario,
            self.brokers,
        ))
    }

    fn actor_of_consumer(&self, i: usize) -> u32 {
        self.brokers + self.scenario.producers.len() as u32 + i as u32
    }

    /// Starts consumer `i` and waits for its `connected`.
    fn start_consumer(&self, i: usize) -> Result<Child, DriverError> {
        let child = self.spawn_consumer(i, false)?;
        child.await_event("connected", self.opts.connect_timeout * 3, &self.shared)?;
        Ok(child)
    }

    /// Starts consumer `i`'s process; with `wait`, it waits for a `start` line first (a
    /// timed run's process started ahead of its time).
    fn spawn_consumer(&self, i: usize, wait: bool) -> Result<Child, DriverError> {
        let c = &self.scenario.consumers[i];
        let topics: Vec<Value> = c.topics.iter().map(|t| json!([t, self.names.topic(t)])).collect();
        let spec = json!({
            "bootstrap": self.bootstrap,
            "name": c.name,
            "group": c.group,
            "real_group": self.names.group(&c.group),
            "topics": topics,
            "config": with_client_id(config_json(&c.config), self.scenario, &c.name),
            "commit": c.commit.name(),
            "processing_ms": c.processing_ms as f64 * self.opts.scale,
        });
        let spec = with_wait(spec, wait);
        let actor = self.actor_of_consumer(i);
        Child::spawn(
            self.program,
            "consumer",
            &c.name,
            actor,
            &spec,
            self.logs,
            &self.shared,
        )
    }

    /// Starts producer `i`'s process (with `wait`, as [`Run::spawn_consumer`]).
    fn spawn_producer(&self, i: usize, wait: bool) -> Result<Child, DriverError> {
        let p = &self.scenario.producers[i];
        let records = models::producer::Records::from_spec(p);
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        let list: Vec<Value> = (0..records.len())
            .map(|seq| {
                let (payload, partition) = records.get(seq);
                json!({"key": text(payload.key()), "value": text(payload.value()),
                       "partition": partition, "record": format!("p{i}-{seq}")})
            })
            .collect();
        let spec = json!({
            "bootstrap": self.bootstrap,
            "name": p.name,
            "topic": p.topic,
            "real_topic": self.names.topic(&p.topic),
            "interval_ms": scaled(p.interval_ms, self.opts.scale).as_secs_f64() * 1000.0,
            "records": list,
            "config": with_client_id(config_json(&p.config), self.scenario, &p.name),
        });
        let spec = with_wait(spec, wait);
        Child::spawn(
            self.program,
            "producer",
            &p.name,
            self.brokers + i as u32,
            &spec,
            self.logs,
            &self.shared,
        )
    }

    /// Runs producer `i` to its end (all records acknowledged, closed).
    fn produce(&self, i: usize, live: &[(usize, Child)]) -> Result<(), DriverError> {
        let p = &self.scenario.producers[i];
        let child = self.spawn_producer(i, false)?;
        let deadline = Instant::now() + self.opts.drain_timeout + self.opts.connect_timeout * 3;
        while !child.exited()? {
            if Instant::now() > deadline {
                return Err(DriverError::Failed(format!(
                    "producer {} did not finish in time",
                    p.name
                )));
            }
            self.check_alive(live)?;
            std::thread::sleep(Duration::from_millis(5));
        }
        child.check_success()
    }

    /// A consumer that died is an error (its log's last lines say why).
    fn check_alive(&self, live: &[(usize, Child)]) -> Result<(), DriverError> {
        for (_, c) in live {
            if c.exited()? {
                return Err(c.failure("exited before it was closed"));
            }
        }
        Ok(())
    }

    fn pause(&self, live: &[(usize, Child)], d: Duration) -> Result<(), DriverError> {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.check_alive(live)?;
            std::thread::sleep(Duration::from_millis(2).min(until - Instant::now()));
        }
        Ok(())
    }

    /// Waits until every running consumer has had an assignment and each group's members
    /// own every partition of their topics, and still do after [`crate::compare::settle_quiet`].
    fn settle(&self, live: &[(usize, Child)]) -> Result<(), DriverError> {
        if live.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.opts.settle_timeout;
        let quiet = crate::compare::settle_quiet(self.scenario);
        let mut since: Option<Instant> = None;
        loop {
            self.check_alive(live)?;
            let members: Vec<(u32, &models::scenario::ConsumerSpec)> = live
                .iter()
                .map(|(i, _)| (self.actor_of_consumer(*i), &self.scenario.consumers[*i]))
                .collect();
            let ok = self.shared.lock().expect("shared").settled(&members, self.meta);
            match (ok, since) {
                (true, Some(t)) if t.elapsed() > quiet => return Ok(()),
                (true, None) => since = Some(Instant::now()),
                (false, _) => since = None,
                _ => {}
            }
            if Instant::now() > deadline {
                let owned = self.shared.lock().expect("shared").ownership(&members);
                return Err(DriverError::Failed(format!(
                    "the groups did not settle within {:?} (owned: {owned})",
                    self.opts.settle_timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until every group of a running consumer consumed every acknowledged record.
    fn drain(&self, live: &[(usize, Child)]) -> Result<(), DriverError> {
        let deadline = Instant::now() + self.opts.drain_timeout;
        let groups: std::collections::BTreeSet<&str> = live
            .iter()
            .map(|(i, _)| self.scenario.consumers[*i].group.as_str())
            .collect();
        loop {
            self.check_alive(live)?;
            if self.shared.lock().expect("shared").drained(&groups) || Instant::now() > deadline {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `spec` with `"wait_start": true` when `wait`.
fn with_wait(mut spec: Value, wait: bool) -> Value {
    if let (true, Some(o)) = (wait, spec.as_object_mut()) {
        o.insert("wait_start".into(), json!(true));
    }
    spec
}

/// A scenario's client `config` as a JSON object (Kafka's names; each driver maps them to
/// its client's and refuses what it cannot set).
fn config_json(c: &std::collections::BTreeMap<String, models::config::ConfigValue>) -> Value {
    use models::config::ConfigValue;
    let m: Map<String, Value> = c
        .iter()
        .map(|(k, v)| {
            let v = match v {
                ConfigValue::Bool(b) => json!(b),
                ConfigValue::Int(i) => json!(i),
                ConfigValue::Str(s) => json!(s),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(m)
}

/// The `client.id` a client's requests carry: its own setting, else its scenario name when
/// a `cut` names it (the proxy tells its links apart by it, [`proxy`]).
fn client_id(s: &Scenario, name: &str) -> String {
    let own = (s.consumers.iter().find(|c| c.name == name).map(|c| &c.config))
        .or_else(|| s.producers.iter().find(|p| p.name == name).map(|p| &p.config))
        .and_then(|c| c.get("client.id"));
    match own {
        Some(models::config::ConfigValue::Str(id)) => id.clone(),
        _ => name.to_string(),
    }
}

/// `config` with `client.id` set for a client a `cut` names (unless it sets its own).
fn with_client_id(mut config: Value, s: &Scenario, name: &str) -> Value {
    let cut = s
        .faults
        .iter()
        .any(|f| f.kind == models::scenario::FaultKind::Cut && f.client == name);
    if let (true, Value::Object(m)) = (cut, &mut config) {
        m.entry("client.id").or_insert_with(|| json!(client_id(s, name)));
    }
    config
}
