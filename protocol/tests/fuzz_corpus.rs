//! Runs every checked-in fuzz corpus file through its target's function, so that a regression on
//! an input the fuzzer once found (or a seed) fails on stable Rust, without libFuzzer.

use std::path::PathBuf;

use laminar_kafka_protocol::fuzzing;

fn run_corpus(target: &str, f: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).expect("corpus file");
        // A panic names the file that caused it.
        let result = std::panic::catch_unwind(|| f(&data));
        assert!(result.is_ok(), "{target}: {} panicked", path.display());
        count += 1;
    }
    assert!(count > 0, "corpus directory {} is empty", dir.display());
}

#[test]
fn frame_corpus() {
    run_corpus("frame", fuzzing::frame);
}

#[test]
fn response_corpus() {
    run_corpus("response", |data| {
        fuzzing::response(data);
    });
}

#[test]
fn response_seeds_are_valid_responses_of_their_type_and_version() {
    // Seeds named `<Api>-v<N>` are whole responses; they must decode, or the fuzzer starts
    // from nothing useful.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/response");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("response corpus") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some((api, version)) = name.split_once("-v") else {
            continue;
        };
        if version.parse::<i16>().is_err() {
            continue;
        }
        let data = std::fs::read(&path).expect("seed");
        let (expected_api, _) =
            fuzzing::RESPONSE_DECODERS[usize::from(data[0]) % fuzzing::RESPONSE_DECODERS.len()];
        assert_eq!(api, expected_api, "{name}: selector byte");
        assert!(fuzzing::response(&data), "{name} does not decode");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} whole-response seeds");
}

#[test]
fn record_batch_corpus() {
    run_corpus("record_batch", fuzzing::record_batch);
}
