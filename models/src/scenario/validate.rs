//! Whether a scenario can run: every field checked, with the path of the first problem.

use super::*;

/// Takes process name `name` (at `path`) for one process: printable, and no other process's,
/// broker's or controller's.
fn claim_name(names: &mut BTreeSet<String>, path: String, name: &str) -> Result<(), ScenarioError> {
    limits::name(path.clone(), "process name", name)?;
    if !names.insert(name.to_string()) {
        return Err(err(
            path,
            format!("process name {name:?} is used twice (or is a broker's or the controller's)"),
        ));
    }
    Ok(())
}

impl Scenario {
    /// Checks everything a run relies on; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        limits::check(self)?;
        let topics = self.validate_topics()?;
        let mut names = self.process_names();
        self.validate_producers(&topics, &mut names)?;
        self.validate_consumers(&topics, &mut names)?;
        for (i, f) in self.faults.iter().enumerate() {
            self.validate_fault(i, f)?;
        }
        Ok(())
    }

    /// The topics: at least one, named, unique, within their limits; their names.
    fn validate_topics(&self) -> Result<BTreeSet<&str>, ScenarioError> {
        if self.topics.is_empty() {
            return Err(err("topics", "a scenario needs at least one topic"));
        }
        let mut topics = BTreeSet::new();
        for (i, t) in self.topics.iter().enumerate() {
            limits::name(format!("topics[{i}].name"), "topic name", &t.name)?;
            if t.name.starts_with("__") {
                return Err(err(
                    format!("topics[{i}].name"),
                    format!("{:?}: names starting with __ are Kafka's internal topics", t.name),
                ));
            }
            if !topics.insert(t.name.as_str()) {
                return Err(err(
                    format!("topics[{i}].name"),
                    format!("topic {:?} is declared twice", t.name),
                ));
            }
            if t.partitions == 0 {
                return Err(err(
                    format!("topics[{i}].partitions"),
                    format!(
                        "topic {:?} has zero partitions; a topic needs at least one",
                        t.name
                    ),
                ));
            }
            let rf = self.replication_factor(t);
            if rf == 0 || rf > self.cluster.brokers {
                return Err(err(
                    format!("topics[{i}].replication_factor"),
                    format!(
                        "replication factor {rf} with {} broker(s): it must be between 1 and the number of brokers",
                        self.cluster.brokers
                    ),
                ));
            }
            for (k, v) in &t.config {
                let ok = match k.as_str() {
                    // Kafka: INT, atLeast(1)
                    "min.insync.replicas" => {
                        matches!(v, ConfigValue::Int(i) if (1..=i64::from(i32::MAX)).contains(i))
                    }
                    "unclean.leader.election.enable" => matches!(v, ConfigValue::Bool(_)),
                    // Kafka: LONG, at least 1 (or -1, forever: leave it out); the simulator:
                    // within its virtual time
                    "retention.ms" => matches!(v, ConfigValue::Int(i)
                        if (1..=limits::MAX_TIME_MS as i64).contains(i)),
                    _ => return Err(err(
                        format!("topics[{i}].config.\"{k}\""),
                                                    "unknown topic setting (known: min.insync.replicas, unclean.leader.election.enable, retention.ms)",
                    )),
                };
                if !ok {
                    return Err(err(
                        format!("topics[{i}].config.\"{k}\""),
                        format!(
                            "invalid value {v} (min.insync.replicas: 1 to 2147483647; retention.ms: 1 to {} ms; unclean.leader.election.enable: true or false)",
                            limits::MAX_TIME_MS
                        ),
                    ));
                }
            }
        }
        Ok(topics)
    }

    /// The names no process may take: the brokers' and the controller's.
    fn process_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.insert(BROKER_NAME.to_string());
        names.insert(CONTROLLER_NAME.to_string());
        for n in 1..=self.cluster.brokers {
            names.insert(broker_name(n));
        }
        names
    }

    fn validate_producers(
        &self,
        topics: &BTreeSet<&str>,
        names: &mut BTreeSet<String>,
    ) -> Result<(), ScenarioError> {
        for (i, p) in self.producers.iter().enumerate() {
            claim_name(names, format!("producers[{i}].name"), &p.name)?;
            if !topics.contains(p.topic.as_str()) {
                return Err(err(
                    format!("producers[{i}].topic"),
                    format!("topic {:?} does not exist", p.topic),
                ));
            }
            let companion = self.pipeline_of(&p.name).is_some();
            if companion && (p.generate.is_some() || !p.messages.is_empty() || p.transactions.is_some()) {
                return Err(err(
                    format!("producers[{i}]"),
                    "the producer of a pipeline's process sends what the pipeline hands over: no messages, generate or transactions",
                ));
            }
            let transactional = p.config.contains_key("transactional.id");
            if let Some(t) = &p.transactions {
                if !transactional || t.records == 0 {
                    return Err(err(
                        format!("producers[{i}].transactions"),
                        "needs a transactional.id in config and records >= 1",
                    ));
                }
            }
            match (&p.generate, p.messages.is_empty()) {
                (None, true) if companion => {}
                (Some(_), false) => {
                    return Err(err(
                        format!("producers[{i}]"),
                        "give either messages or generate, not both",
                    ))
                }
                (None, true) => return Err(err(format!("producers[{i}]"), "no messages and no generate")),
                _ => {}
            }
            let partitions = self
                .topics
                .iter()
                .find(|t| t.name == p.topic)
                .map_or(0, |t| t.partitions);
            for (j, m) in p.messages.iter().enumerate() {
                if let Some(part) = m.partition {
                    if part >= partitions {
                        return Err(err(
                            format!("producers[{i}].messages[{j}].partition"),
                            format!(
                                "partition {part} does not exist (topic {:?} has {partitions})",
                                p.topic
                            ),
                        ));
                    }
                }
            }
            self.producer_config(i)?;
        }
        Ok(())
    }

    fn validate_consumers(
        &self,
        topics: &BTreeSet<&str>,
        names: &mut BTreeSet<String>,
    ) -> Result<(), ScenarioError> {
        for (i, c) in self.consumers.iter().enumerate() {
            claim_name(names, format!("consumers[{i}].name"), &c.name)?;
            if c.group.is_empty() {
                no_group(i, c)?;
            } else {
                limits::name(format!("consumers[{i}].group"), "group.id", &c.group)?;
            }
            if c.topics.is_empty() {
                return Err(err(format!("consumers[{i}].topics"), "subscribes to no topic"));
            }
            if let Some(p) = &c.pipeline {
                self.validate_pipeline(i, c, p, topics)?;
            }
            for (j, t) in c.topics.iter().enumerate() {
                if !topics.contains(t.as_str()) {
                    return Err(err(
                        format!("consumers[{i}].topics[{j}]"),
                        format!("topic {t:?} does not exist"),
                    ));
                }
            }
            if let Some(close) = c.close_ms {
                if close < c.start_ms {
                    return Err(err(format!("consumers[{i}].close_ms"), "closes before it starts"));
                }
            }
            self.consumer_config(i)?;
        }
        Ok(())
    }

    /// One fault: its target, its time, and the fields its kind takes.
    fn validate_fault(&self, i: usize, f: &FaultSpec) -> Result<(), ScenarioError> {
        let path = |field: &str| format!("faults[{i}].{field}");
        if matches!(f.kind, FaultKind::Error | FaultKind::Delay) {
            self.validate_injection(i, f)?;
            return Ok(());
        }
        if let Some(field) = f.injection_field() {
            return Err(err(path(field), format!("a {} takes no {field}", f.kind.name())));
        }
        let broker = self.is_broker(&f.client);
        if f.client.is_empty() {
            return Err(err(
                path("client"),
                format!("a {} needs client (a consumer or broker name)", f.kind.name()),
            ));
        }
        if !broker && !self.consumers.iter().any(|c| c.name == f.client) {
            let what = if self.producers.iter().any(|p| p.name == f.client) {
                format!(
                    "{:?} is a producer; faults apply to consumers and brokers",
                    f.client
                )
            } else {
                format!("no consumer or broker named {:?}", f.client)
            };
            return Err(err(path("client"), what));
        }
        if broker && f.kind == FaultKind::Close {
            return Err(err(path("kind"), "a broker does not close; crash it"));
        }
        match (f.at_ms, f.between_ms) {
            (Some(_), Some(_)) => return Err(err(path("at_ms"), "give at_ms or between_ms, not both")),
            (None, None) => return Err(err(path("at_ms"), "a fault needs at_ms or between_ms")),
            (None, Some([a, b])) if a > b => {
                return Err(err(path("between_ms"), "the window ends before it starts"))
            }
            _ => {}
        }
        let needs_duration = matches!(f.kind, FaultKind::Stall | FaultKind::Cut);
        if needs_duration != f.duration_ms.is_some() {
            let msg = if needs_duration {
                format!("a {} needs duration_ms", f.kind.name())
            } else {
                format!("a {} takes no duration_ms", f.kind.name())
            };
            return Err(err(path("duration_ms"), msg));
        }
        if f.restart_after_ms.is_some() && !matches!(f.kind, FaultKind::Crash | FaultKind::Close) {
            return Err(err(path("restart_after_ms"), "only a crash or a close restarts"));
        }
        Ok(())
    }

    /// Checks an `error` or `delay` fault: a broker (or none: every broker), an API, the
    /// error or delay, when, and an optional partition of a data-plane API.
    fn validate_injection(&self, i: usize, f: &FaultSpec) -> Result<(), ScenarioError> {
        let path = |field: &str| format!("faults[{i}].{field}");
        let kind = f.kind.name();
        if !f.client.is_empty() && !self.is_broker(&f.client) {
            return Err(err(
                path("broker"),
                format!("{kind} faults apply to brokers; no broker named {:?}", f.client),
            ));
        }
        let Some(api) = f.api else {
            return Err(err(
                path("api"),
                format!("a {kind} fault needs api (a Kafka API name)"),
            ));
        };
        match (f.kind, f.error, f.delay_ms) {
            (FaultKind::Error, None, _) => {
                return Err(err(
                    path("error"),
                    "an error fault needs error (a Kafka error name)",
                ))
            }
            (FaultKind::Error, Some(_), Some(_)) => {
                return Err(err(path("delay_ms"), "an error fault takes no delay_ms"))
            }
            (FaultKind::Error, Some(_), None) if !api.can_fail() => {
                return Err(err(
                    path("api"),
                    format!("{} answers carry no error; only a delay applies", api.name()),
                ))
            }
            (FaultKind::Delay, _, None) => return Err(err(path("delay_ms"), "a delay fault needs delay_ms")),
            (FaultKind::Delay, Some(_), _) => return Err(err(path("error"), "a delay fault takes no error")),
            (FaultKind::Delay, None, Some(0)) => return Err(err(path("delay_ms"), "must be at least 1")),
            _ => {}
        }
        Self::validate_injection_when(i, f)?;
        self.validate_injection_scope(i, f, api)
    }

    /// When an `error` or `delay` fault applies: from `at_ms`, `count` requests or every one
    /// for `duration_ms`.
    fn validate_injection_when(i: usize, f: &FaultSpec) -> Result<(), ScenarioError> {
        let path = |field: &str| format!("faults[{i}].{field}");
        let kind = f.kind.name();
        if f.between_ms.is_some() {
            return Err(err(path("between_ms"), format!("a {kind} fault starts at at_ms")));
        }
        if f.restart_after_ms.is_some() {
            return Err(err(path("restart_after_ms"), "only a crash or a close restarts"));
        }
        match (f.count, f.duration_ms) {
            (Some(_), Some(_)) => return Err(err(path("count"), "give count or duration_ms, not both")),
            (Some(0), None) => return Err(err(path("count"), "must be at least 1")),
            (None, Some(0)) => return Err(err(path("duration_ms"), "must be at least 1")),
            _ => {}
        }
        Ok(())
    }

    /// Which requests an `error` or `delay` fault applies to: one group's (coordinator
    /// APIs) or one partition's (Produce, Fetch, ListOffsets), or every one.
    fn validate_injection_scope(&self, i: usize, f: &FaultSpec, api: ApiKey) -> Result<(), ScenarioError> {
        let path = |field: &str| format!("faults[{i}].{field}");
        if let Some(g) = &f.group {
            if matches!(
                api,
                ApiKey::Produce
                    | ApiKey::Fetch
                    | ApiKey::ListOffsets
                    | ApiKey::Metadata
                    | ApiKey::ReplicaFetch
            ) {
                return Err(err(
                    path("group"),
                    format!("{} requests name no group", api.name()),
                ));
            }
            if f.topic.is_some() {
                return Err(err(path("group"), "give topic or group, not both"));
            }
            if !self.consumers.iter().any(|c| &c.group == g) {
                return Err(err(path("group"), format!("no consumer is in group {g:?}")));
            }
        }
        match (&f.topic, f.partition) {
            (None, None) => Ok(()),
            (Some(_), None) | (None, Some(_)) => {
                Err(err(path("partition"), "give topic and partition together"))
            }
            (Some(_), Some(_)) if !matches!(api, ApiKey::Produce | ApiKey::Fetch | ApiKey::ListOffsets) => {
                Err(err(
                    path("topic"),
                    "only Produce, Fetch and ListOffsets faults name a partition",
                ))
            }
            (Some(t), Some(p)) => match self.topics.iter().find(|s| &s.name == t) {
                None => Err(err(path("topic"), format!("topic {t:?} does not exist"))),
                Some(s) if p >= s.partitions => Err(err(
                    path("partition"),
                    format!("topic {t:?} has {} partitions", s.partitions),
                )),
                Some(_) => Ok(()),
            },
        }
    }
}

/// A consumer without `group`: what kafka-python does with `group_id=None` (every partition
/// of its topics, no commits). Java and librdkafka refuse to subscribe without a `group.id`.
fn no_group(i: usize, c: &ConsumerSpec) -> Result<(), ScenarioError> {
    let path = format!("consumers[{i}].group");
    if c.profile != Profile::KafkaPython {
        return Err(err(
            path,
            format!(
                "a {} consumer needs a group to subscribe (only kafka-python subscribes with group_id=None)",
                c.profile.name()
            ),
        ));
    }
    if c.commit != CommitPolicy::Auto {
        return Err(err(
            format!("consumers[{i}].commit"),
            "a consumer without a group cannot commit (kafka-python: IllegalStateError)",
        ));
    }
    if c.config.contains_key("group.instance.id") {
        return Err(err(
            format!("consumers[{i}].config.\"group.instance.id\""),
            "group_instance_id requires group_id",
        ));
    }
    Ok(())
}

impl Scenario {
    /// A pipeline consumer: in a group, its producer a scenario producer of no other
    /// pipeline, transactional when the offsets go with the transaction, its output a topic.
    fn validate_pipeline(
        &self,
        i: usize,
        c: &ConsumerSpec,
        p: &PipelineSpec,
        topics: &BTreeSet<&str>,
    ) -> Result<(), ScenarioError> {
        let path = format!("consumers[{i}].pipeline");
        if c.group.is_empty() {
            return Err(err(path, "a pipeline commits its offsets: it needs a group"));
        }
        if !topics.contains(p.output.as_str()) {
            return Err(err(
                format!("{path}.output"),
                format!("topic {:?} does not exist", p.output),
            ));
        }
        let Some(q) = self.producers.iter().find(|q| q.name == p.producer) else {
            return Err(err(
                format!("{path}.producer"),
                format!("the scenario has no producer named {:?}", p.producer),
            ));
        };
        if self
            .pipeline_of(&q.name)
            .is_some_and(|other| other.name != c.name)
        {
            return Err(err(
                format!("{path}.producer"),
                "another pipeline uses that producer",
            ));
        }
        if !q.config.contains_key("transactional.id") {
            return Err(err(
                format!("{path}.producer"),
                "a pipeline's producer needs a transactional.id",
            ));
        }
        Ok(())
    }
}
