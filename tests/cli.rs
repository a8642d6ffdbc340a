//! The command line: listing, partition look-ups, and bad input (one clear line, exit 2).

use std::io::Write;
use std::process::{Command, Output};

fn kafka_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr_line(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(s.lines().count(), 1, "one line of error, got: {s}");
    s.trim_end().to_string()
}

fn temp_file(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kafka-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn list_names_the_demos_with_a_sentence() {
    let o = kafka_sim(&["list"]);
    assert!(o.status.success());
    let s = String::from_utf8(o.stdout).unwrap();
    for d in ["demo1", "demo2", "demo3"] {
        let line = s.lines().find(|l| l.starts_with(d)).unwrap();
        assert!(line.len() > 30, "{line}");
    }
}

#[test]
fn partition_command_matches_the_seed() {
    let o = kafka_sim(&[
        "partition",
        "--partitions",
        "4",
        "msg1_key",
        "msg2_key",
        "msg3_key",
        "msg4_key",
        "msg5_key",
    ]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "msg1_key 1\nmsg2_key 0\nmsg3_key 1\nmsg4_key 0\nmsg5_key 3\n"
    );
    let o = kafka_sim(&[
        "partition",
        "-p",
        "10",
        "--partitioner",
        "consistent",
        "123456789",
    ]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!("123456789 {}\n", 0xCBF4_3926u32 % 10)
    );
    let o = kafka_sim(&["partition", "-p", "0", "k"]);
    assert_eq!(o.status.code(), Some(2));
    stderr_line(&o);
    let o = kafka_sim(&["partition", "-p", "3", "--partitioner", "md5", "k"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("unknown partitioner"));
}

#[test]
fn unknown_scenario() {
    let o = kafka_sim(&["--scenario", "demo9"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr_line(&o);
    assert!(e.starts_with("error: unknown scenario \"demo9\""), "{e}");
    assert!(o.stdout.is_empty());
}

#[test]
fn no_scenario() {
    let o = kafka_sim(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("--scenario"));
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let p = temp_file("broken.toml", "[[topics]]\nname = \"t\"\npartitions = \n");
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr_line(&o);
    assert!(e.starts_with(&format!("error: {p}:3:")), "{e}");
}

#[test]
fn zero_partitions() {
    let p = temp_file("zero.toml", "[[topics]]\nname = \"t\"\npartitions = 0\n");
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr_line(&o);
    assert_eq!(
        e,
        format!(
            "error: {p}: topics[0].partitions: topic \"t\" has zero partitions; a topic needs at least one"
        )
    );
}

#[test]
fn replication_factor_beyond_the_cluster() {
    let p = temp_file(
        "rf.toml",
        "[cluster]\nbrokers = 2\n[[topics]]\nname = \"t\"\npartitions = 1\nreplication_factor = 3\n",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr_line(&o),
        format!(
            "error: {p}: topics[0].replication_factor: replication factor 3 with 2 broker(s): it must be between 1 and the number of brokers"
        )
    );
    let p = temp_file(
        "nobrokers.toml",
        "[cluster]\nbrokers = 0\n[[topics]]\nname = \"t\"\npartitions = 1\n",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr_line(&o),
        format!("error: {p}: cluster.brokers: a cluster has 1 to 64 brokers")
    );
}

#[test]
fn fault_on_a_broker_that_does_not_exist() {
    let p = temp_file(
        "nob.toml",
        "[[topics]]\nname = \"t\"\npartitions = 1\n[[faults]]\nkind = \"crash\"\nbroker = \"broker-2\"\nat_ms = 5\n",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr_line(&o),
        format!("error: {p}: faults[0].client: no consumer or broker named \"broker-2\"")
    );
}

#[test]
fn consumer_of_a_missing_topic() {
    let p = temp_file(
        "missing.toml",
        "[[topics]]\nname = \"t\"\npartitions = 1\n[[consumers]]\nname = \"c\"\ngroup = \"g\"\ntopics = [\"nope\"]\n",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr_line(&o),
        format!("error: {p}: consumers[0].topics[0]: topic \"nope\" does not exist")
    );
}

#[test]
fn unknown_field() {
    let p = temp_file(
        "field.toml",
        "[[topics]]\nname = \"t\"\npartitions = 1\nreplicas = 3\n",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr_line(&o);
    assert!(e.contains("unknown field `replicas`") && e.contains(":4:"), "{e}");
}

#[test]
fn unknown_config_key() {
    let p = temp_file(
        "cfg.toml",
        "[[topics]]\nname = \"t\"\npartitions = 1\n[[consumers]]\nname = \"c\"\ngroup = \"g\"\ntopics = [\"t\"]\nconfig = { \"session.timeout\" = 1 }\n",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("consumers[0].config.\"session.timeout\": unknown consumer setting"));
}

#[test]
fn session_and_heartbeat_are_checked_together_in_any_key_order() {
    // heartbeat.interval.ms sorts first and is above the default session.timeout.ms (45 s)
    let consumer = "[[topics]]\nname = \"t\"\npartitions = 1\n[[consumers]]\nname = \"c\"\ngroup = \"g\"\ntopics = [\"t\"]\n";
    let p = temp_file(
        "hb-ok.toml",
        &format!(
            "{consumer}config = {{ \"session.timeout.ms\" = 60000, \"heartbeat.interval.ms\" = 50000 }}\n"
        ),
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = temp_file(
        "hb-bad.toml",
        &format!(
            "{consumer}config = {{ \"session.timeout.ms\" = 60000, \"heartbeat.interval.ms\" = 60000 }}\n"
        ),
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr_line(&o),
        format!(
            "error: {p}: consumers[0].config: heartbeat.interval.ms must be lower than session.timeout.ms"
        )
    );
}

#[test]
fn malformed_json() {
    let p = temp_file(
        "bad.json",
        "{\"topics\": [ {\"name\": \"t\", \"partitions\": 1 ]}",
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).starts_with(&format!("error: {p}:1:")));
}

#[test]
fn json_scenario_runs_like_toml() {
    let p = temp_file(
        "ok.json",
        r#"{"topics":[{"name":"t","partitions":1}],
            "producers":[{"name":"p","topic":"t","start_ms":5000,"messages":[{"key":"a","value":"b"}]}],
            "consumers":[{"name":"c","group":"g","topics":["t"]}]}"#,
    );
    let o = kafka_sim(&["--scenario", &p]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("a b topic: t, partition: 0, offset: 0"));
}

#[test]
fn unreadable_path_is_reported() {
    let dir = std::env::temp_dir();
    let o = kafka_sim(&["--scenario", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("cannot read"));
}

#[test]
fn check_prints_a_verdict_table_and_passes_the_demos() {
    for demo in ["demo1", "demo2", "demo3"] {
        let o = kafka_sim(&[
            "--scenario",
            demo,
            "--seed",
            "3",
            "--check",
            "--expect",
            "exactly-once-per-group",
        ]);
        assert_eq!(o.status.code(), Some(0), "{demo}");
        let s = String::from_utf8(o.stdout).unwrap();
        assert!(
            s.contains("verdict: PASS for claim exactly-once-per-group"),
            "{s}"
        );
        for kind in [
            "lost",
            "duplicate",
            "double-ownership",
            "nonmonotonic",
            "skip",
            "inconsistent-offsets",
            "log-duplicate",
            "lost-write",
        ] {
            assert!(s.lines().any(|l| l.starts_with(kind)), "{kind} missing in {s}");
        }
    }
    let o = kafka_sim(&["--scenario", "demo1", "--check", "--expect", "twice"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn graph_is_dot_with_causal_edges() {
    let o = kafka_sim(&["graph", "--scenario", "demo3", "--seed", "4"]);
    assert!(o.status.success());
    let dot = String::from_utf8(o.stdout).unwrap();
    assert!(dot.starts_with("digraph happens_before {") && dot.trim_end().ends_with('}'));
    let edges = |kind: &str| {
        dot.lines()
            .filter(|l| l.contains("->") && l.contains(&format!("label = \"{kind}\"")))
            .count()
    };
    // demo 3: 5 records, each consumed by two groups
    assert_eq!(edges("produce"), 5);
    assert_eq!(edges("ack"), 5);
    assert_eq!(edges("fetch"), 10);
    assert!(edges("join") >= 3 && edges("sync") >= 3 && edges("po") > 20);
    let again = kafka_sim(&["graph", "--scenario", "demo3", "--seed", "4"]);
    assert_eq!(dot.as_bytes(), &again.stdout[..], "deterministic");
}

/// The output the README shows for `--scenario demo2 --seed 7` is what the binary prints.
#[test]
fn readme_demo2_output_is_current() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = "The first command prints, for seed 7:\n\n```text\n";
    let start = readme.find(marker).expect("README shows demo2's output") + marker.len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let o = kafka_sim(&["--scenario", "demo2", "--seed", "7"]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), block);
}

#[test]
fn summary_history_counts_what_it_does_not_keep() {
    // the same run: the same events and record counts, far fewer history entries kept
    let field = |out: &str, name: &str| -> u64 {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .parse()
            .unwrap()
    };
    let stats = [
        "--scenario",
        "rebalance-storm",
        "--seed",
        "3",
        "--format",
        "stats",
    ];
    let full = kafka_sim(&stats);
    let summary = kafka_sim(&[&stats[..], &["--history", "summary"]].concat());
    assert!(full.status.success() && summary.status.success());
    let (f, s) = (
        String::from_utf8(full.stdout).unwrap(),
        String::from_utf8(summary.stdout).unwrap(),
    );
    for name in ["virtual_ms", "events", "appended", "consumed"] {
        assert_eq!(field(&f, name), field(&s, name), "{name}: {f} vs {s}");
    }
    assert!(field(&f, "consumed") > 100, "{f}");
    assert!(field(&s, "history_entries") > 0, "group events are kept: {s}");
    assert!(
        field(&s, "history_entries") + field(&f, "appended") + field(&f, "consumed")
            < field(&f, "history_entries"),
        "{f} vs {s}"
    );
}

#[test]
fn summary_history_refuses_outputs_that_need_the_records() {
    for extra in [&["--format", "text"][..], &["--format", "json"], &["--check"]] {
        let mut args = vec!["--scenario", "demo1", "--history", "summary"];
        args.extend_from_slice(extra);
        let o = kafka_sim(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(stderr_line(&o).contains("--history summary"), "{extra:?}");
    }
}
