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

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
                format!("{l}:{c}: ")
            })
            .unwrap_or_default();
        LoadError(format!("{origin}:{place}{}", one_line(e.message())))
    })?;
    check(origin, scenario)
}

/// Parses JSON scenario text.
pub fn parse_json(origin: &str, text: &str) -> Result<Scenario, LoadError> {
    let scenario: Scenario = serde_json::from_str(text).map_err(|e| {
        let msg = one_line(&e.to_string());
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
        return Err(LoadError(format!(
            "unknown scenario {arg:?}: not a built-in ({}) and no such file",
            builtin::names().join(", ")
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| LoadError(format!("{arg}: cannot read: {e}")))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => parse_json(arg, &text),
        _ => parse_toml(arg, &text),
    }
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
    fn unknown_scenario() {
        let e = scenario("demo9").unwrap_err();
        assert!(e.0.contains("unknown scenario \"demo9\""), "{e}");
    }
}
