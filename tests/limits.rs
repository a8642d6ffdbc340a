//! Every input bounded, every run finite: each input that once ran forever, allocated
//! without end or was silently wrong now gives one clear line (exit 2) or a correct, finite
//! run.

use std::io::Write;
use std::process::{Command, Output};

fn kafka_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .unwrap()
}

/// The one line of error of a refused command, which must exit 2.
fn refused(args: &[&str]) -> String {
    let o = kafka_sim(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line of error, got: {err}");
    for leak in ["untagged enum", "struct ", "i128", "u32", "u64", "panicked"] {
        assert!(!err.contains(leak), "{args:?}: {err}");
    }
    err.trim_end().to_string()
}

fn file(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kafka-sim-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    path.to_string_lossy().into_owned()
}

const TOPIC: &str = "[[topics]]\nname = \"t\"\npartitions = 2\n";
const PRODUCER: &str =
    "[[producers]]\nname = \"p\"\ntopic = \"t\"\nstart_ms = 1000\nmessages = [{ key = \"k\", value = \"v\" }]\n";
const CONSUMER: &str = "[[consumers]]\nname = \"c\"\ngroup = \"g\"\ntopics = [\"t\"]\n";

/// A small valid scenario with `extra` inserted before its topic (top-level tables) or
/// after it.
fn scenario(name: &str, before: &str, after: &str) -> String {
    file(
        &format!("{name}.toml"),
        &format!("{before}\n{TOPIC}{PRODUCER}{CONSUMER}{after}"),
    )
}

fn refused_scenario(name: &str, before: &str, after: &str) -> String {
    let path = scenario(name, before, after);
    refused(&["--scenario", &path])
}

#[test]
fn kafka_refuses_these_broker_settings_and_so_does_the_simulator() {
    let brokers = "[cluster]\nbrokers = 2\n";
    for (key, value, words) in [
        ("replica.lag.time.max.ms", "0", "replica.lag.time.max.ms"),
        (
            "broker.heartbeat.interval.ms",
            "0",
            "broker.heartbeat.interval.ms",
        ),
        ("replica.socket.timeout.ms", "0", "replica.socket.timeout.ms"),
        (
            "offsets.topic.num.partitions",
            "2147483647",
            "offsets.topic.num.partitions",
        ),
        ("min.insync.replicas", "4294967296", "min.insync.replicas"),
        (
            "broker.session.timeout.ms",
            "2147483648",
            "broker.session.timeout.ms",
        ),
    ] {
        let e = refused_scenario(key, &format!("{brokers}[broker]\n\"{key}\" = {value}\n"), "");
        assert!(e.contains(words), "{e}");
    }
}

#[test]
fn client_settings_keep_kafkas_ranges() {
    for (key, value) in [
        ("heartbeat.interval.ms", "0"),
        ("session.timeout.ms", "2147483648"),
        ("fetch.max.wait.ms", "-1"),
        ("max.poll.records", "0"),
    ] {
        let after = format!("config = {{ \"{key}\" = {value} }}\n");
        let e = refused_scenario(&format!("c-{key}"), "", &after);
        assert!(e.contains(key), "{e}");
    }
    let e = refused_scenario(
        "retries",
        "",
        "[[producers]]\nname = \"p2\"\ntopic = \"t\"\nmessages = [{}]\nconfig = { \"retries\" = 4294967296 }\n",
    );
    assert!(e.contains("retries") && e.contains("2147483647"), "{e}");
}

#[test]
fn a_topic_min_insync_beyond_u32_is_refused_not_wrapped() {
    let path = file(
        "minisr.toml",
        &format!("[[topics]]\nname = \"t\"\npartitions = 1\nconfig = {{ \"min.insync.replicas\" = 4294967296 }}\n{PRODUCER}"),
    );
    let e = refused(&["--scenario", &path]);
    assert!(e.contains("topics[0].config.\"min.insync.replicas\""), "{e}");
}

#[test]
fn sizes_have_limits() {
    let e = refused_scenario(
        "count",
        "",
        "[[producers]]\nname = \"g\"\ntopic = \"t\"\ngenerate = { count = 4294967295 }\n",
    );
    assert!(e.contains("records"), "{e}");
    let e = refused_scenario("brokers", "[cluster]\nbrokers = 1000\n", "");
    assert!(e.contains("cluster.brokers"), "{e}");
    let e = refused(&[
        "--scenario",
        &file(
            "parts.toml",
            "[[topics]]\nname = \"t\"\npartitions = 4000000000\n",
        ),
    ]);
    assert!(e.contains("topics[0].partitions"), "{e}");
}

#[test]
fn virtual_times_have_limits_and_derived_times_do_not_overflow() {
    for (name, after, place) in [
        ("close", "close_ms = 18446744073709551615\n", "consumers[0].close_ms"),
        ("start", "start_ms = 99999999999999\n", "consumers[0].start_ms"),
        (
            "interval",
            "[[producers]]\nname = \"q\"\ntopic = \"t\"\ninterval_ms = 4611686018427387904\nmessages = [{}, {}, {}, {}]\n",
            "producers[1].interval_ms",
        ),
        (
            "fault",
            "[[faults]]\nkind = \"crash\"\nclient = \"c\"\nat_ms = 1000\nrestart_after_ms = 18446744073709551615\n",
            "faults[0].restart_after_ms",
        ),
        (
            "fault-sum",
            "[[faults]]\nkind = \"stall\"\nclient = \"c\"\nat_ms = 9000000000\nduration_ms = 9000000000\n",
            "faults[0]",
        ),
    ] {
        let e = refused_scenario(name, "", after);
        assert!(e.contains(place), "{name}: {e}");
    }
    let e = refused_scenario("stop-early", "[stop]\nat_ms = 10\n", "start_ms = 500\n");
    assert!(
        e.contains("stop.at_ms") && e.contains("before the first process starts"),
        "{e}"
    );
    let e = refused_scenario("stop-at-start", "[stop]\nat_ms = 0\n", "");
    assert!(
        e.contains("stop.at_ms") && e.contains("as the first process starts (at 0 ms): nothing would run"),
        "{e}"
    );
}

#[test]
fn names_are_printable_and_internal_topics_are_kafkas() {
    let path = file(
        "internal.toml",
        &format!("[[topics]]\nname = \"__consumer_offsets\"\npartitions = 1\n{PRODUCER}"),
    );
    let e = refused(&["--scenario", &path]);
    assert!(e.contains("internal"), "{e}");
    for (i, bad) in ["a\\u0000b", "\\u001b[31m", "x\\uFFFE"].iter().enumerate() {
        let body =
            format!("{TOPIC}{PRODUCER}[[consumers]]\nname = \"{bad}\"\ngroup = \"g\"\ntopics = [\"t\"]\n");
        let e = refused(&["--scenario", &file(&format!("ctl{i}.toml"), &body)]);
        assert!(e.contains("printable"), "{e}");
        let body =
            format!("{TOPIC}{PRODUCER}[[consumers]]\nname = \"c\"\ngroup = \"{bad}\"\ntopics = [\"t\"]\n");
        let e = refused(&["--scenario", &file(&format!("ctlg{i}.toml"), &body)]);
        assert!(e.contains("printable"), "{e}");
    }
}

#[test]
fn a_run_that_stops_advancing_or_outruns_its_budget_ends_with_one_line() {
    // zero latency and fetch.max.wait.ms = 0: consumers and the broker answer each other at
    // one instant; the engine ends it
    let path = scenario(
        "spin",
        "[network]\nlatency_us = 0\njitter_us = 0\n",
        "config = { \"fetch.max.wait.ms\" = 0 }\n",
    );
    let o = kafka_sim(&["--scenario", &path, "--max-events", "200000"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("seed 0") && (err.contains("stopped advancing") || err.contains("budget")),
        "{err}"
    );
    assert!(
        err.contains(" to c ") || err.contains(" to broker-1 "),
        "names the actors: {err}"
    );
    let e = refused(&["--scenario", "demo2", "--max-events", "100"]);
    assert!(
        e.contains("budget of 100 events") && e.contains("--max-events"),
        "{e}"
    );
    let e = refused(&[
        "sweep",
        "--scenario",
        "demo2",
        "--seeds",
        "0..4",
        "--max-events",
        "100",
    ]);
    assert!(e.contains("seed 0:") && e.contains("budget"), "{e}");
    assert!(
        kafka_sim(&["--scenario", "demo2", "--max-events", "0"])
            .status
            .code()
            == Some(2)
    );
}

#[test]
fn zero_latency_on_a_replicated_scenario_ends() {
    // acks1-leader-loss with zero latency once hung from 20 s on; it now ends, either
    // finishing or with the engine's line
    let mut s = kafka_sim::load::builtin_scenario("acks1-leader-loss").unwrap();
    s.network.latency_us = 0;
    s.network.jitter_us = 0;
    let limits = kafka_sim::sim::Limits {
        events: 2_000_000,
        per_instant: 100_000,
    };
    match kafka_sim::models::world::run_limited(&s, 1, kafka_sim::models::world::History::Summary, limits) {
        Ok(run) => assert!(run.events <= 2_000_000),
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
}

#[test]
fn command_line_sizes_have_limits() {
    let e = refused(&[
        "sweep",
        "--scenario",
        "demo1",
        "--seeds",
        "0..18446744073709551615",
    ]);
    assert!(e.contains("--shard"), "{e}");
    let e = refused(&[
        "sweep",
        "--scenario",
        "demo1",
        "--seeds",
        "0..10",
        "--jobs",
        "100000",
    ]);
    assert!(e.contains("--jobs"), "{e}");
    let e = refused(&["--scenario", "/dev/zero"]);
    assert!(e.contains("larger than"), "{e}");
    for scale in ["nan", "inf", "1e308", "-1"] {
        let e = refused(&[
            "compare",
            "--scenario",
            "demo1",
            "--brokers",
            "mock",
            &format!("--scale={scale}"),
        ]);
        assert!(e.contains("scale"), "{e}");
    }
    for t in ["0", "99999999999"] {
        let e = refused(&[
            "compare",
            "--scenario",
            "demo1",
            "--brokers",
            "mock",
            &format!("--connect-timeout={t}"),
        ]);
        assert!(e.contains("connect-timeout"), "{e}");
    }
}

#[test]
fn options_that_mean_nothing_together_are_refused() {
    let e = refused(&["--scenario", "demo1", "--format", "json", "--check"]);
    assert!(e.contains("--check"), "{e}");
    let e = refused(&["--scenario", "demo1", "--expect", "at-most-once"]);
    assert!(e.contains("--check"), "{e}");
    let e = refused(&[
        "sweep",
        "--scenario",
        "demo1",
        "--seeds",
        "0..2",
        "--format",
        "stats",
    ]);
    assert!(e.contains("stats"), "{e}");
    let e = refused(&[
        "sweep",
        "--scenario",
        "demo1",
        "--seeds",
        "0..2",
        "--expect",
        "at-most-once",
    ]);
    assert!(e.contains("--check"), "{e}");
}

#[test]
fn record_text_is_printable_and_bounded() {
    let e = refused_scenario(
        "key-ctl",
        "",
        "[[producers]]\nname = \"q\"\ntopic = \"t\"\nmessages = [{ key = \"\\u001b[31m\" }]\n",
    );
    assert!(
        e.contains("producers[1].messages[0].key") && e.contains("printable"),
        "{e}"
    );
    let big = "v".repeat(200);
    let e = refused_scenario(
        "bytes",
        "",
        &format!("[[producers]]\nname = \"q\"\ntopic = \"t\"\ngenerate = {{ count = 9000000, value = \"{big}\" }}\n"),
    );
    assert!(e.contains("bytes"), "{e}");
}

#[test]
fn a_replicated_cluster_has_fewer_partitions() {
    let e = refused_scenario(
        "replicated",
        "[cluster]\nbrokers = 3\n[broker]\n\"offsets.topic.num.partitions\" = 10000\n",
        "",
    );
    assert!(e.contains("with more than one broker"), "{e}");
}
