//! The real-broker adapter (cargo feature `rdkafka`): runs a scenario's producers and
//! consumers as real `rdkafka` clients against a broker — an Apache Kafka at `HOST:PORT`, or
//! librdkafka's in-process mock cluster — and records what happened as the same history
//! [`Event`](models::history::Event)s the simulator writes, so the renderers, the checker
//! and [`crate::compare`] read both alike.
//!
//! How a scenario maps onto real clients:
//! * topics are created under per-run names (`demo2-ksim<run id>`) with the scenario's
//!   partition counts, and deleted afterwards; groups get the same suffix, so concurrent runs
//!   never meet; the history maps both back;
//! * producers use the profile's partitioner (`murmur2_random` for Java and kafka-python,
//!   librdkafka's default `consistent_random`); every record carries a `ksim-id` header with
//!   its (producer, sequence) identity, which consumers read back;
//! * consumers get the scenario's group, assignors and offsets settings under librdkafka's
//!   names; auto-commit is librdkafka's;
//! * clients start in the scenario's order; before each start the adapter waits until every
//!   group has settled (each running member has an assignment covering its topics), as a
//!   person running the seed demos waits for `link kafka ok.`. Virtual gaps become real
//!   pauses scaled by `scale`; producer intervals too;
//! * a producer with `transactional.id` and `transactions`, and a `pipeline` consumer with
//!   the producer of its process, go through rdkafka's transactional API
//!   (`transactions.rs`), and the broker's log end offsets and the pipeline groups'
//!   committed offsets are read at the end ([`EndState`]);
//! * after the last record is acknowledged, it waits until every group has consumed every
//!   record (or `drain_timeout`), closes the consumers (LeaveGroup) and deletes the topics.
//!
//! Parts: this module reaches the cluster and manages the run's topics; `drive.rs` runs the
//! clients through the scenario; `poll.rs` polls the consumers and waits for groups to
//! settle; `transactions.rs` stages transactional producers and pipelines; `record.rs` turns
//! what they report into history events.
//!
//! Not supported against a real broker: faults (a crash cannot be staged in-process),
//! processing times, commit policies other than `auto`, transactions held open (`hang_ms`)
//! and pipelines that commit their offsets outside the transaction. Such scenarios are
//! refused with a clear error.

mod drive;
mod poll;
mod record;
mod transactions;

pub use transactions::EndState;

use drive::Driver;
use models::scenario::Scenario;
use models::types::Metadata;
use models::world::Run;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};
use record::Names;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the real run happens.
#[derive(Clone, Debug)]
pub enum Target {
    /// A broker's bootstrap address.
    Brokers(String),
    /// librdkafka's in-process mock cluster.
    Mock,
}

impl Target {
    /// `mock`, or a bootstrap address.
    pub fn parse(s: &str) -> Target {
        if s == "mock" {
            Target::Mock
        } else {
            Target::Brokers(s.to_string())
        }
    }

    /// For tables: `Apache Kafka at ...` or `librdkafka mock`.
    pub fn label(&self) -> String {
        match self {
            Target::Brokers(b) => format!("broker {b}"),
            Target::Mock => "librdkafka mock".into(),
        }
    }
}

/// Knobs of a real run.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long the broker may take to answer at all.
    pub connect_timeout: Duration,
    /// How long a group may take to settle after a member starts.
    pub settle_timeout: Duration,
    /// How long, after the last acknowledgement, the groups may take to consume everything.
    pub drain_timeout: Duration,
    /// Real seconds per virtual second for the pauses between starts and between sends.
    pub scale: f64,
    /// Override the producers' `partitioner` (to show a mismatch on purpose).
    pub partitioner: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            settle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            scale: 0.01,
            partitioner: None,
        }
    }
}

/// Why a real run could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterError {
    /// The broker did not answer within the connect timeout.
    Unreachable(String),
    /// The scenario uses something the adapter cannot stage.
    Unsupported(String),
    /// The run went wrong.
    Failed(String),
}

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterError::Unreachable(m) | AdapterError::Unsupported(m) | AdapterError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

fn failed(what: &str) -> impl Fn(rdkafka::error::KafkaError) -> AdapterError + '_ {
    move |e| AdapterError::Failed(format!("{what}: {e}"))
}

/// The broker (or mock cluster) a run talks to, with the admin client that creates and
/// deletes its topics. Dropped in field order: the admin client before the mock cluster's
/// owner.
struct Cluster {
    admin: AdminClient<DefaultClientContext>,
    bootstrap: String,
    /// librdkafka's mock cluster, served by `_mock_owner`.
    mock: Option<*mut rdkafka::bindings::rd_kafka_mock_cluster_t>,
    /// A mock cluster lives inside a client that must outlive the run.
    _mock_owner: Option<BaseProducer>,
}

impl Cluster {
    /// Reaches `target` (creating the mock cluster for [`Target::Mock`]) within the connect
    /// timeout.
    fn connect(target: &Target, opts: &Options) -> Result<Cluster, AdapterError> {
        let (bootstrap, mock, owner) = match target {
            Target::Brokers(b) => (b.clone(), None, None),
            Target::Mock => {
                let (bootstrap, mc, owner) = mock_cluster()?;
                (bootstrap, Some(mc), Some(owner))
            }
        };
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set(
                "socket.connection.setup.timeout.ms",
                // librdkafka's range: 1000 to 2147483647 ms
                opts.connect_timeout
                    .as_millis()
                    .clamp(1_000, i32::MAX as u128)
                    .to_string(),
            )
            .create()
            .map_err(failed("cannot create an admin client"))?;
        admin
            .inner()
            .fetch_metadata(None, opts.connect_timeout)
            .map_err(|e| {
                AdapterError::Unreachable(format!(
                    "cannot reach {} within {:?}: {e}",
                    target.label(),
                    opts.connect_timeout
                ))
            })?;
        Ok(Cluster {
            admin,
            bootstrap,
            mock,
            _mock_owner: owner,
        })
    }

    /// Creates the topics of `meta` under their names on the broker, `real`.
    fn create_topics(&self, meta: &Metadata, real: &[String], opts: &Options) -> Result<(), AdapterError> {
        match self.mock {
            // the mock cluster does not serve CreateTopics: its own API creates them
            Some(mc) => {
                for (t, n) in meta.topics.iter().zip(real) {
                    let name = std::ffi::CString::new(n.as_str()).expect("topic names have no NUL");
                    let err = unsafe {
                        rdkafka::bindings::rd_kafka_mock_topic_create(
                            mc,
                            name.as_ptr(),
                            t.partitions as i32,
                            1,
                        )
                    };
                    if err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                        return Err(AdapterError::Failed(format!("create mock topic {n}: {err:?}")));
                    }
                }
            }
            None => {
                let new_topics: Vec<NewTopic> = meta
                    .topics
                    .iter()
                    .zip(real)
                    .map(|(t, n)| NewTopic::new(n, t.partitions as i32, TopicReplication::Fixed(1)))
                    .collect();
                for r in
                    futures_executor::block_on(self.admin.create_topics(&new_topics, &admin_options(opts)))
                        .map_err(failed("create topics"))?
                {
                    r.map_err(|(t, e)| AdapterError::Failed(format!("create topic {t}: {e}")))?;
                }
            }
        }
        Ok(())
    }

    /// Waits until the new topics are usable: every partition has a leader in the metadata.
    fn await_leaders(&self, meta: &Metadata, real: &[String], opts: &Options) -> Result<(), AdapterError> {
        let deadline = Instant::now() + opts.connect_timeout;
        loop {
            let md = self
                .admin
                .inner()
                .fetch_metadata(None, opts.connect_timeout)
                .map_err(failed("metadata"))?;
            let ready = real.iter().zip(&meta.topics).all(|(name, t)| {
                md.topics().iter().find(|mt| mt.name() == name).is_some_and(|mt| {
                    mt.error().is_none()
                        && mt.partitions().len() == t.partitions as usize
                        && mt
                            .partitions()
                            .iter()
                            .all(|p| p.leader() >= 0 && p.error().is_none())
                })
            });
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(AdapterError::Failed(
                    "the new topics got no leaders in time".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Deletes the run's topics from a real broker (the mock cluster goes away whole).
    fn delete_topics(&self, real: &[String], opts: &Options) {
        if self.mock.is_none() {
            let _ = futures_executor::block_on(self.admin.delete_topics(
                &real.iter().map(String::as_str).collect::<Vec<_>>(),
                &admin_options(opts),
            ));
        }
    }
}

/// Admin requests wait up to the connect timeout.
fn admin_options(opts: &Options) -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(opts.connect_timeout))
}

/// librdkafka's in-process mock cluster of one broker: its bootstrap address, the cluster,
/// and the client it lives in.
fn mock_cluster() -> Result<
    (
        String,
        *mut rdkafka::bindings::rd_kafka_mock_cluster_t,
        BaseProducer,
    ),
    AdapterError,
> {
    let owner: BaseProducer = ClientConfig::new()
        .set("test.mock.num.brokers", "1")
        .create()
        .map_err(failed("cannot create the librdkafka mock cluster"))?;
    unsafe {
        let mc = rdkafka::bindings::rd_kafka_handle_mock_cluster(owner.client().native_ptr());
        if mc.is_null() {
            return Err(AdapterError::Failed(
                "librdkafka did not create a mock cluster".into(),
            ));
        }
        rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
        let bootstrap = std::ffi::CStr::from_ptr(rdkafka::bindings::rd_kafka_mock_cluster_bootstraps(mc))
            .to_string_lossy()
            .into_owned();
        Ok((bootstrap, mc, owner))
    }
}

/// Runs `scenario` against `target` and returns its history as a [`Run`].
pub fn run(scenario: &Scenario, seed: u64, target: &Target, opts: &Options) -> Result<Run, AdapterError> {
    run_with_end_state(scenario, seed, target, opts).map(|(run, _)| run)
}

/// [`run`], with what the broker holds at the end of a scenario with transactions: log end
/// offsets and the pipeline groups' committed offsets ([`EndState`]; empty otherwise).
pub fn run_with_end_state(
    scenario: &Scenario,
    seed: u64,
    target: &Target,
    opts: &Options,
) -> Result<(Run, EndState), AdapterError> {
    scenario
        .validate()
        .map_err(|e| AdapterError::Unsupported(e.to_string()))?;
    if let Some(why) = crate::compare::unstageable(scenario, "the cross-check")
        .or_else(|| transactions::unstageable(scenario))
    {
        return Err(AdapterError::Unsupported(why));
    }
    let cluster = Cluster::connect(target, opts)?;
    // topics under per-run names
    let run_id = format!(
        "ksim{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ seed
    );
    let meta = Arc::new(scenario.metadata());
    let names = Arc::new(Names::new(&meta, &run_id));
    cluster.create_topics(&meta, &names.real, opts)?;
    cluster.await_leaders(&meta, &names.real, opts)?;
    let driver = Driver {
        scenario,
        bootstrap: &cluster.bootstrap,
        meta: &meta,
        names: &names,
        opts,
        mock: cluster.mock.is_some(),
    };
    let result = driver.drive(seed);
    cluster.delete_topics(&names.real, opts);
    result
}
