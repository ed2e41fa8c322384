//! Compiles the provider catalog (`data/providers.json`, the one source of truth) into a sorted
//! static table of `(name, entry JSON)` pairs, so no process parses the whole file at start:
//! `providers::catalog` deserializes an entry the first time it is asked for.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let source = Path::new("data/providers.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(source).expect("data/providers.json is readable");
    let file: serde_json::Value = serde_json::from_str(&text).expect("data/providers.json is JSON");
    let licence = file["source"].as_str().expect("the catalog names its source");
    let mut entries: Vec<(String, String)> = file["providers"]
        .as_array()
        .expect("the catalog has a providers array")
        .iter()
        .map(|p| {
            let name = p["name"].as_str().expect("every entry has a name").to_owned();
            (name, serde_json::to_string(p).expect("a JSON value serializes"))
        })
        .collect();
    // Byte order, the order `str::cmp` and so the lookup's binary search use.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in entries.windows(2) {
        assert!(pair[0].0 != pair[1].0, "the catalog names '{}' twice", pair[0].0);
    }
    let mut out = String::new();
    writeln!(out, "/// Where the data comes from (`source` of the catalog file).").unwrap();
    writeln!(out, "pub const SOURCE: &str = {licence:?};").unwrap();
    writeln!(out, "/// How many entries the catalog has.").unwrap();
    writeln!(out, "pub const COUNT: usize = {};", entries.len()).unwrap();
    writeln!(out, "/// Every entry as `(name, compact JSON)`, sorted by name.").unwrap();
    writeln!(out, "pub static ENTRIES: [(&str, &str); COUNT] = [").unwrap();
    for (name, json) in &entries {
        writeln!(out, "    ({name:?}, {json:?}),").unwrap();
    }
    writeln!(out, "];").unwrap();
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalog_entries.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
