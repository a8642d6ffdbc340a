//! The history as a public format: what `--format json` writes reads back into the same
//! history (byte for byte when written again, the same verdicts under every claim), and
//! `kafka-sim check --history` judges histories written by hand — a lost record, a
//! duplicate — and refuses malformed ones with `file:line` errors and exit 2.

use kafka_sim::{builtin, history_file, load, render};
use models::check::{check, Claim};
use std::io::Write;
use std::process::{Command, Output};

fn kafka_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_file(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kafka-sim-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn every_builtin_reads_back_to_the_same_history_and_verdicts() {
    for name in builtin::names() {
        let scenario = load::builtin_scenario(name).unwrap();
        for seed in [0, 1, 7] {
            let run = models::world::run(&scenario, seed).unwrap();
            let json = render::json_lines(&run);
            let back = history_file::parse(&json).unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
            assert_eq!(
                render::json_lines(&back),
                json,
                "{name} seed {seed}: written again"
            );
            assert_eq!(
                render::text(&back),
                render::text(&run),
                "{name} seed {seed}: text"
            );
            for claim in Claim::ALL {
                let (a, b) = (check(&run.trace, claim), check(&back.trace, claim));
                assert_eq!(
                    b.table(&back.meta),
                    a.table(&run.meta),
                    "{name} seed {seed} {claim:?}"
                );
            }
        }
    }
}

/// The CLI: `check --history` on the simulator's own output prints what `--check` prints
/// (after its first line) and exits alike.
#[test]
fn check_history_agrees_with_check() {
    for (name, seed) in [("demo3", 7), ("acks1-leader-loss", 1), ("crash-autocommit", 1)] {
        let seed_s = seed.to_string();
        let json = kafka_sim(&["--scenario", name, "--seed", &seed_s, "--format", "json"]);
        let path = temp_file(&format!("{name}.jsonl"), &String::from_utf8(json.stdout).unwrap());
        for claim in ["at-least-once", "exactly-once-per-group", "at-most-once"] {
            let direct = kafka_sim(&[
                "--scenario",
                name,
                "--seed",
                &seed_s,
                "--check",
                "--expect",
                claim,
            ]);
            let again = kafka_sim(&["check", "--history", &path, "--expect", claim]);
            assert_eq!(again.status.code(), direct.status.code(), "{name} {claim}");
            let body = |o: &Output| {
                let s = String::from_utf8_lossy(&o.stdout).into_owned();
                s.split_once('\n').unwrap().1.to_string()
            };
            assert_eq!(body(&again), body(&direct), "{name} {claim}");
        }
    }
}

const HEADER: &str = r#"{"format":"kafka-sim-history","version":1,"topics":[{"name":"orders","partitions":1}],"clients":[{"name":"writer","kind":"producer"},{"name":"reader","kind":"consumer","group":"g"}]}"#;

/// A history of two records written and acknowledged, then `events` of one consumer of
/// group `g` (`{t}` in each is replaced by a time after the one before).
fn written_and(events: &[&str]) -> String {
    let mut lines = vec![HEADER.to_string()];
    for (i, t) in [(0, 1.0), (1, 2.0)] {
        lines.push(format!(r#"{{"t_ms":{t},"client":"broker","event":"append","topic":"orders","partition":0,"offset":{i},"record":"p0-{i}"}}"#));
        lines.push(format!(r#"{{"t_ms":{t},"client":"writer","event":"produce","topic":"orders","partition":0,"offset":{i},"key":"k{i}","value":"v","record":"p0-{i}"}}"#));
    }
    for (n, e) in events.iter().enumerate() {
        lines.push(format!(r#"{{"t_ms":{},"client":"reader",{e}}}"#, 3 + n));
    }
    lines.join("\n") + "\n"
}

const ASSIGN1: &str = r#""event":"assign","group":"g","generation":1,"partitions":[["orders",0]]"#;
const FROM_EARLIEST: &str =
    r#""event":"position","group":"g","topic":"orders","partition":0,"offset":0,"from":"earliest""#;
const READ0: &str = r#""event":"consume","group":"g","generation":1,"topic":"orders","partition":0,"offset":0,"key":"k0","value":"v","record":"p0-0""#;
const READ1: &str = r#""event":"consume","group":"g","generation":1,"topic":"orders","partition":0,"offset":1,"key":"k1","value":"v","record":"p0-1""#;

/// Both records read, once each.
fn written_and_read() -> String {
    written_and(&[ASSIGN1, FROM_EARLIEST, READ0, READ1])
}

fn row<'a>(out: &'a str, anomaly: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{anomaly} ")))
        .unwrap_or_else(|| panic!("no {anomaly} row:\n{out}"))
}

#[test]
fn a_clean_hand_written_history_passes() {
    let path = temp_file("clean.jsonl", &written_and_read());
    let o = kafka_sim(&["check", "--history", &path, "--expect", "exactly-once-per-group"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("verdict: PASS"), "{out}");
}

#[test]
fn a_lost_record_fails_with_the_table() {
    // the group committed past the first record without reading it (a commit before
    // processing, then nothing processed)
    let commit = r#""event":"commit","group":"g","generation":1,"offsets":[["orders",0,2]]"#;
    let path = temp_file("lost.jsonl", &written_and(&[ASSIGN1, FROM_EARLIEST, commit]));
    let o = kafka_sim(&["check", "--history", &path]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let lost = row(&out, "lost");
    assert!(lost.contains(" 2 ") && lost.contains("p0-0"), "{lost}");
    assert!(out.contains("verdict: FAIL for claim at-least-once"), "{out}");
    // at-most-once allows it
    let o = kafka_sim(&["check", "--history", &path, "--expect", "at-most-once"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_duplicate_fails_exactly_once_only() {
    // read both, lost the partition before committing the second, got it back from the
    // commit of the first: the second is read again
    let commit = r#""event":"commit","group":"g","generation":1,"offsets":[["orders",0,1]]"#;
    let revoke = r#""event":"revoke","group":"g","generation":1,"partitions":[["orders",0]]"#;
    let assign2 = r#""event":"assign","group":"g","generation":2,"partitions":[["orders",0]]"#;
    let from_commit =
        r#""event":"position","group":"g","topic":"orders","partition":0,"offset":1,"from":"committed""#;
    let again = READ1.replace("\"generation\":1", "\"generation\":2");
    let path = temp_file(
        "dup.jsonl",
        &written_and(&[
            ASSIGN1,
            FROM_EARLIEST,
            READ0,
            commit,
            READ1,
            revoke,
            assign2,
            from_commit,
            &again,
        ]),
    );
    let o = kafka_sim(&["check", "--history", &path, "--expect", "exactly-once-per-group"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(row(&out, "duplicate").contains("p0-1"), "{out}");
    let o = kafka_sim(&["check", "--history", &path, "--expect", "at-least-once"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn a_produce_line_names_its_batch_or_not() {
    // written by the simulator: every acknowledgement names its batch; read back the same
    let out = kafka_sim(&["--scenario", "demo3", "--seed", "1", "--format", "json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let produces: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"event\":\"produce\""))
        .collect();
    assert_eq!(produces.len(), 5);
    assert!(
        produces.iter().all(|l| l.contains("\"batch\":\"p0-")),
        "{produces:?}"
    );
    let with = temp_file("batched.jsonl", &text);
    let o = kafka_sim(&["check", "--history", &with]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // without the field (a real client's, or an older history) the same lines still read
    let without = written_and_read();
    assert!(!without.contains("\"batch\""));
    let path = temp_file("unbatched.jsonl", &without);
    assert!(kafka_sim(&["check", "--history", &path]).status.success());
}

#[test]
fn malformed_histories_name_file_and_line() {
    let good = written_and_read();
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let consume = lines.len() - 1;
    let variants = [
        (
            "truncated.jsonl",
            consume,
            lines[consume][..20].to_string(),
            "not JSON",
        ),
        (
            "kind.jsonl",
            consume,
            lines[consume].replace("\"consume\"", "\"teleport\""),
            "unknown event kind \"teleport\"",
        ),
        (
            "record.jsonl",
            consume,
            lines[consume].replace("\"p0-1\"", "\"first\""),
            "p<producer>-<sequence>",
        ),
        (
            "batch.jsonl",
            2,
            lines[2].replace("\"record\":\"p0-0\"", "\"record\":\"p0-0\",\"batch\":7"),
            "p<producer>-<sequence>",
        ),
        (
            "version.jsonl",
            0,
            HEADER.replace("\"version\":1", "\"version\":2"),
            "version 2",
        ),
    ];
    for (file, index, line, what) in variants {
        let saved = std::mem::replace(&mut lines[index], line);
        let path = temp_file(file, &(lines.join("\n") + "\n"));
        lines[index] = saved;
        let o = kafka_sim(&["check", "--history", &path]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: {path}:{}: ", index + 1)),
            "{err}"
        );
        assert!(err.contains(what), "{err} lacks {what}");
        assert!(o.stdout.is_empty());
    }
    let o = kafka_sim(&["check", "--history", "/nonexistent/h.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    // a device that never ends (and says its length is 0) is refused, not read forever
    if std::path::Path::new("/dev/zero").exists() {
        let o = kafka_sim(&["check", "--history", "/dev/zero"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/zero: larger than 1 GiB"));
        // and so is it as the real side of a comparison
        let args = [
            "compare",
            "--scenario",
            "demo2",
            "--seed",
            "1",
            "--real-history",
            "/dev/zero",
        ];
        let o = kafka_sim(&args);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/zero: larger than 1 GiB"));
    }
}
