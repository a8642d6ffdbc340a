//! Reading scenarios: built-in names, TOML files and JSON files, with errors that fit on one
//! line and name the file, the place and the problem.

use crate::builtin;
use models::scenario::Scenario;
use std::fmt;
use std::path::Path;

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// The largest scenario file read (16 MiB: the million-record benchmark is 10 KB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// serde's words for the scenario's types, in the words of the scenario format.
const WORDS: &[(&str, &str)] = &[
    ("struct Scenario", "a scenario (topics, producers, consumers …)"),
    ("struct ClusterSpec", "a table { brokers = N }"),
    ("struct BrokerSpec", "a table of broker settings"),
    ("struct NetworkSpec", "a table { latency_us, jitter_us }"),
    ("struct TopicSpec", "a topic table { name, partitions, … }"),
    ("struct MessageSpec", "a message table { key, value, partition }"),
    ("struct GenerateSpec", "a table { count, key, value }"),
    ("struct ProducerSpec", "a producer table { name, topic, … }"),
    (
        "struct ConsumerSpec",
        "a consumer table { name, group, topics, … }",
    ),
    ("struct FaultSpec", "a fault table { kind, client, at_ms, … }"),
    ("struct StopSpec", "a table { at_ms = N }"),
    (
        "enum Profile",
        "a client profile (kafka-python, java, librdkafka)",
    ),
    (
        "enum CommitPolicy",
        "a commit policy (auto, after-record, after-batch, before-processing, none)",
    ),
    ("enum FaultKind", "a fault kind"),
    ("u32", "an integer from 0 to 4294967295"),
    ("u64", "an integer from 0 to 18446744073709551615"),
    ("usize", "a non-negative integer"),
    ("i64", "an integer"),
    ("a sequence", "a list [ … ]"),
    ("a map", "a table { … }"),
];

/// serde's message with the Rust type names replaced by what a scenario file writes.
fn in_user_words(msg: &str) -> String {
    let mut out = one_line(msg)
        .replace(" as i128", "")
        .replace(" as u128", "")
        .replace("wanted string or table", "expected a name in quotes");
    for (rust, user) in WORDS {
        for lead in ["expected ", "expected one of "] {
            out = out.replace(&format!("{lead}{rust}"), &format!("{lead}{user}"));
        }
    }
    out
}

/// The key path (`topics[0].config."session.timeout.ms"`) of the TOML value at `offset`:
/// the table header above it (`[[topics]]` counted) and the keys of the line up to it.
fn toml_path(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut header = String::new();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for line in text[..line_start].lines() {
        let l = line.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let n = counts.entry(name.trim().to_string()).or_insert(0);
            *n += 1;
            header = format!("{}[{}]", name.trim(), *n - 1);
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            header = name.trim().to_string();
        }
    }
    let mut keys: Vec<String> = Vec::new();
    let mut pending = String::new();
    let mut current: Option<String> = None;
    let mut quoted = false;
    for c in text[line_start..offset].chars() {
        match c {
            '"' => {
                quoted = !quoted;
                pending.push(c);
            }
            _ if quoted => pending.push(c),
            '=' => {
                current = Some(pending.trim().to_string());
                pending.clear();
            }
            '{' | '[' => {
                keys.extend(current.take());
                pending.clear();
            }
            '}' | ']' => {
                keys.pop();
                current = None;
                pending.clear();
            }
            ',' => {
                current = None;
                pending.clear();
            }
            _ => pending.push(c),
        }
    }
    keys.extend(current);
    let mut path = header;
    for k in keys.iter().filter(|k| !k.is_empty()) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
    }
    path
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// Parses TOML scenario text; `origin` names the source in errors.
pub fn parse_toml(origin: &str, text: &str) -> Result<Scenario, LoadError> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| {
        let place = e
            .span()
            .map(|s| {
                let (l, c) = line_col(text, s.start);
                let path = toml_path(text, s.start);
                if path.is_empty() {
                    format!("{l}:{c}: ")
                } else {
                    format!("{l}:{c}: {path}: ")
                }
            })
            .unwrap_or_default();
        LoadError(format!("{origin}:{place}{}", in_user_words(e.message())))
    })?;
    check(origin, scenario)
}

/// Parses JSON scenario text.
pub fn parse_json(origin: &str, text: &str) -> Result<Scenario, LoadError> {
    let scenario: Scenario = serde_json::from_str(text).map_err(|e| {
        let msg = in_user_words(&e.to_string());
        let msg = msg
            .rsplit_once(" at line ")
            .map_or(msg.clone(), |(m, _)| m.to_string());
        LoadError(format!("{origin}:{}:{}: {msg}", e.line(), e.column()))
    })?;
    check(origin, scenario)
}

fn check(origin: &str, scenario: Scenario) -> Result<Scenario, LoadError> {
    scenario
        .validate()
        .map_err(|e| LoadError(format!("{origin}: {}", one_line(&e.to_string()))))?;
    Ok(scenario)
}

/// A built-in scenario by name.
pub fn builtin_scenario(name: &str) -> Option<Scenario> {
    builtin::source(name).map(|src| parse_toml(name, src).expect("built-in scenarios are valid"))
}

/// A built-in name, or a path to a `.toml` or `.json` file.
pub fn scenario(arg: &str) -> Result<Scenario, LoadError> {
    if let Some(s) = builtin_scenario(arg) {
        return Ok(s);
    }
    let path = Path::new(arg);
    if !path.exists() {
        let looks_like_a_path = arg.contains(std::path::MAIN_SEPARATOR)
            || arg.contains('/')
            || arg.ends_with(".toml")
            || arg.ends_with(".json");
        return Err(LoadError(if looks_like_a_path {
            format!("{arg}: no such file")
        } else {
            format!("unknown scenario {arg:?}: neither a built-in (`kafka-sim list` names them) nor a file")
        }));
    }
    let text = read_bounded(arg, path)?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => parse_json(arg, &text),
        _ => parse_toml(arg, &text),
    }
}

/// The file's text, refused beyond [`MAX_FILE_BYTES`] (a device like `/dev/zero` never
/// ends) or when it is not UTF-8.
pub fn read_bounded(arg: &str, path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| LoadError(format!("{arg}: cannot read: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError(format!(
            "{arg}: larger than {} MiB: not a file kafka-sim reads",
            MAX_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        LoadError(format!(
            "{arg}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for name in builtin::names() {
            assert!(builtin_scenario(name).is_some(), "{name}");
        }
    }

    #[test]
    fn toml_errors_are_one_line_with_place() {
        let e = parse_toml("x.toml", "[[topics]]\nname = \"t\"\npartitions = \"two\"\n").unwrap_err();
        assert!(e.0.starts_with("x.toml:3:"), "{e}");
        assert!(!e.0.contains('\n'));
        let e = parse_toml("x.toml", "bogus = 1\n[[topics]]\nname = \"t\"\npartitions = 1\n").unwrap_err();
        assert!(e.0.contains("unknown field `bogus`"), "{e}");
        let e = parse_toml("x.toml", "[[topics]]\nname = \"t\"\npartitions = 0\n").unwrap_err();
        assert_eq!(
            e.0,
            "x.toml: topics[0].partitions: topic \"t\" has zero partitions; a topic needs at least one"
        );
    }

    #[test]
    fn json_errors_are_one_line_with_place() {
        let e = parse_json("x.json", "{\"topics\": [{\"name\": \"t\", \"partitions\": -1}]}").unwrap_err();
        assert!(e.0.starts_with("x.json:1:"), "{e}");
        let ok = parse_json("x.json", "{\"topics\": [{\"name\": \"t\", \"partitions\": 1}]}").unwrap();
        assert_eq!(ok.topics[0].partitions, 1);
    }

    #[test]
    fn errors_name_the_field_in_the_files_words() {
        let t = |body: &str| parse_toml("x.toml", body).unwrap_err().0;
        let e = t("[[topics]]\nname = \"t\"\npartitions = 1\nconfig = { \"min.insync.replicas\" = 1.5 }\n");
        assert_eq!(
            e,
            "x.toml:4:36: topics[0].config.\"min.insync.replicas\": 1.5 is not a whole number: Kafka's numeric settings are integers (milliseconds, bytes, counts)"
        );
        let e = t("topics = 5\n");
        assert!(
            e.contains("topics: invalid type: integer `5`, expected a list"),
            "{e}"
        );
        let e = t("topics = [5]\n");
        assert!(
            e.contains("expected a topic table { name, partitions, … }"),
            "{e}"
        );
        let e = t("[[topics]]\nname = \"t\"\npartitions = -1\n");
        assert!(
            e.contains(
                "topics[0].partitions: invalid value: integer `-1`, expected an integer from 0 to 4294967295"
            ),
            "{e}"
        );
        for e in [
            e,
            t("[[topics]]\nname = \"t\"\npartitions = 99999999999999999999\n"),
        ] {
            assert!(
                !e.contains("i128") && !e.contains("u32") && !e.contains("struct"),
                "{e}"
            );
        }
    }

    #[test]
    fn unbounded_and_binary_files_are_refused() {
        let e = scenario("/dev/zero").unwrap_err().0;
        assert!(e.contains("larger than 16 MiB"), "{e}");
    }

    #[test]
    fn unknown_scenario() {
        let e = scenario("demo9").unwrap_err();
        assert!(e.0.contains("unknown scenario \"demo9\""), "{e}");
    }
}
