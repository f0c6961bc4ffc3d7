//! Every setting is documented twice: a line in the README's setting table
//! and a commented line in `packaging/env.example` (the `.env.example` of
//! the deployment tarball). These tests keep the two lists equal.

use std::collections::BTreeSet;

const README: &str = include_str!("../../../README.md");
const ENV_EXAMPLE: &str = include_str!("../../../packaging/env.example");

/// The names in the first column of the README's setting table (the table
/// under `## 配置`).
fn readme_settings() -> BTreeSet<&'static str> {
    let section = README
        .split("\n## 配置")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a section ## 配置");
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .flat_map(|cell| {
            let first = cell.split(" |").next().unwrap_or_default();
            // A row may name several settings: `A`, `B`.
            first
                .split(['`', ',', '，', ' '])
                .filter(|name| is_setting_name(name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The names `env.example` sets or shows commented out (`NAME=…`, `#NAME=…`).
fn env_example_settings() -> BTreeSet<&'static str> {
    ENV_EXAMPLE
        .lines()
        .map(|line| line.trim_start_matches('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| is_setting_name(name))
        .collect()
}

fn is_setting_name(text: &str) -> bool {
    text.len() > 2
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[test]
fn env_example_lists_every_setting_of_the_readme_and_no_other() {
    let readme = readme_settings();
    let example = env_example_settings();
    assert!(
        readme.len() > 20,
        "the README table was not found: {readme:?}"
    );
    let missing: Vec<_> = readme.difference(&example).collect();
    assert!(
        missing.is_empty(),
        "packaging/env.example lacks these settings of the README table: {missing:?}"
    );
    let unknown: Vec<_> = example.difference(&readme).collect();
    assert!(
        unknown.is_empty(),
        "packaging/env.example has settings the README table does not document: {unknown:?}"
    );
}

#[test]
fn env_example_uses_only_fake_values() {
    for line in ENV_EXAMPLE.lines().map(|l| l.trim_start_matches('#')) {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if ["SECRET", "KEY", "TOKEN"].iter().any(|s| name.ends_with(s)) {
            let lower = value.to_ascii_lowercase();
            assert!(
                lower.contains("fake") || value.chars().all(|c| c.is_ascii_digit()),
                "{name} in env.example must be an obviously fake value: {value}"
            );
        }
    }
}
