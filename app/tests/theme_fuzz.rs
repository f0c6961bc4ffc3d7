//! The page-file loader never panics, whatever a page file holds: seeded
//! random mutations of the shipped pages, byte-level and structural.
//! `THEME_FUZZ_ITERATIONS=1000000 cargo test -p app --features ssr --test theme_fuzz`
//! runs longer than the CI default.

#![cfg(feature = "ssr")]

use std::path::Path;

use app::theme::load::parse_page;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

fn iterations() -> usize {
    std::env::var("THEME_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

fn seeds() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../theme/pages");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

/// Bytes flipped, cut, repeated or spliced in.
fn mutate_bytes(rng: &mut StdRng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..8) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..5) {
            0 => bytes[at] = rng.random(),
            1 => {
                let end = (at + rng.random_range(1..32)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                let slice = bytes[at..end].to_vec();
                bytes.splice(at..at, slice);
            }
            3 => bytes.insert(
                at,
                *b"{}[]\",:\\0-e9"
                    .get(rng.random_range(0..13))
                    .unwrap_or(&b'x'),
            ),
            _ => bytes.truncate(at),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>()),
        4 => json!(
            [
                "",
                "hero",
                "faq",
                "header",
                "javascript:x",
                "/",
                "#login",
                "一",
                "\u{0}"
            ][rng.random_range(0..9)]
        ),
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "type", "settings", "blocks", "id", "headline", "items", "columns", "title",
                "href", "label",
            ];
            Value::Object(
                (0..rng.random_range(0..4))
                    .map(|_| {
                        (
                            keys[rng.random_range(0..keys.len())].to_string(),
                            random_value(rng, depth + 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// A value somewhere in the tree replaced by a random one.
fn mutate_tree(rng: &mut StdRng, value: &mut Value) {
    let mut node = value;
    loop {
        let children = match node {
            Value::Array(items) if !items.is_empty() => items.len(),
            Value::Object(map) if !map.is_empty() => map.len(),
            _ => 0,
        };
        if children == 0 || rng.random_range(0..4) == 0 {
            *node = random_value(rng, 0);
            return;
        }
        let pick = rng.random_range(0..children);
        node = match node {
            Value::Array(items) => &mut items[pick],
            Value::Object(map) => map.values_mut().nth(pick).unwrap(),
            _ => unreachable!(),
        };
    }
}

#[test]
fn the_loader_answers_every_mutated_page_without_panicking() {
    let seeds = seeds();
    let mut rng = StdRng::seed_from_u64(0x5eed_7e11);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for i in 0..iterations() {
        let (name, text) = &seeds[i % seeds.len()];
        let mutated = if rng.random::<bool>() {
            mutate_bytes(&mut rng, text)
        } else {
            let mut tree: Value = serde_json::from_str(text).unwrap();
            for _ in 0..rng.random_range(1..4) {
                mutate_tree(&mut rng, &mut tree);
            }
            tree.to_string()
        };
        match parse_page(Path::new(name), &mutated) {
            Ok(_) => accepted += 1,
            Err(err) => {
                assert!(!err.reason.is_empty(), "an error says why: {err:?}");
                refused += 1;
            }
        }
    }
    println!("theme fuzz: {accepted} accepted, {refused} refused");
    assert!(
        refused > 0 && accepted > 0,
        "the mutations reach both outcomes"
    );
}
