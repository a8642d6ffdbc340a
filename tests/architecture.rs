//! The model's modules import one another without circles, and the vocabulary (messages,
//! history, types, the scenario and configuration) sits below the actors that use it.
//!
//! A module is a file or folder directly under `models/src/`; a `crate::<module>` path
//! anywhere in its files (imports and qualified paths alike, tests excepted) is an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/src");

/// Everything except the actor modules and `world`, which assembles them.
const BELOW_ACTORS: &[&str] = &[
    "assignor",
    "check",
    "cluster",
    "config",
    "group_metadata",
    "history",
    "log",
    "partitioner",
    "protocol",
    "scenario",
    "transaction",
    "txn_metadata",
    "types",
];
const ACTORS: &[&str] = &["broker", "consumer", "producer", "controller", "world"];

/// The code of a file before its unit tests, without comments (doc links are no imports).
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or("");
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("models/src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(code(&std::fs::read_to_string(&path).expect("source")));
        }
    }
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(SRC).expect("models/src") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let mut texts = Vec::new();
        if path.is_dir() {
            sources(&path, &mut texts);
        } else {
            texts.push(code(&std::fs::read_to_string(&path).expect("source")));
        }
        let mut deps = BTreeSet::new();
        for text in &texts {
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let dep: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !dep.is_empty() && dep != name {
                    deps.insert(dep);
                }
            }
            // grouped imports: `use crate::{a, b::C}`
            for (i, _) in text.match_indices("crate::{") {
                let rest = &text[i + "crate::{".len()..];
                let group = &rest[..rest.find('}').unwrap_or(0)];
                for part in group.split(',') {
                    let dep: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !dep.is_empty() && dep != name {
                        deps.insert(dep);
                    }
                }
            }
        }
        graph.insert(name, deps);
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(dep, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn model_modules_import_without_circles() {
    let graph = module_graph();
    assert!(graph.len() > 10, "read the modules: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_vocabulary_sits_below_the_actors() {
    let graph = module_graph();
    for low in BELOW_ACTORS {
        let deps = graph.get(*low).unwrap_or_else(|| panic!("module {low} exists"));
        let up: Vec<&String> = deps.iter().filter(|d| ACTORS.contains(&d.as_str())).collect();
        assert!(up.is_empty(), "{low} imports actor modules {up:?}");
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), ["a".to_string()].into());
    assert_eq!(find_cycle(&g).map(|c| c.len()), Some(4));
    g.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&g), None);
}
