//! The recorded runs in tests/fixtures/*.inputs (what the sources gave the
//! model in a real run), for the test binaries that replay them. Included
//! with `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use synack::event::Event;
use synack::model::Input;

/// Every recorded run, in name order.
pub fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "inputs"))
        .collect();
    v.sort();
    assert!(v.len() >= 15, "fixtures missing in {}", dir.display());
    v
}

/// A recorded run replayed through the model: its events.
pub fn replay(path: &Path) -> Vec<Event> {
    synack::run::replay(path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

/// The events of tests/fixtures/NAME.inputs.
pub fn replayed(name: &str) -> Vec<Event> {
    replay(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{name}.inputs")),
    )
}

/// A recorded run's inputs, in the order the model took them.
pub fn inputs(path: &Path) -> Vec<Input> {
    std::fs::read_to_string(path)
        .expect("fixture")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("an input"))
        .collect()
}
