//! Runs every checked-in corpus file of the connector's fuzz targets (`fuzz/corpus/<target>/`)
//! through its entry point in `laminar_kafka_connector::fuzz`, so that a regression on a seed, or
//! on an input the fuzzer once found, fails on stable Rust without libFuzzer. The seeds named
//! `valid-*` must also decode to rows, so that the fuzzer starts from records that reach past
//! the decoders' first checks.
//!
//! The corpora are written by `fuzz/src/write_seeds.rs`; files the fuzzer finds can be added to
//! them as they are.

use std::path::{Path, PathBuf};

use laminar_kafka_connector::config::{BadDataPolicy, Format};
use laminar_kafka_connector::format::{Decoder, RecordMetadata};
use laminar_kafka_connector::fuzz;
use laminar_kafka_connector::schema_registry::{RegisteredSchema, SchemaType};

/// A fuzz entry point.
type Target = fn(&[u8]);

/// The connector's fuzz targets: the name of each (of its `fuzz/fuzz_targets/<name>.rs` and its
/// corpus directory) and its entry point.
const TARGETS: [(&str, Target); 6] = [
    ("json", fuzz::fuzz_json),
    ("debezium_json", fuzz::fuzz_debezium_json),
    ("avro", fuzz::fuzz_avro),
    ("protobuf", fuzz::fuzz_protobuf),
    ("raw", fuzz::fuzz_raw),
    ("avro_schema", fuzz::fuzz_avro_schema),
];

/// The `fuzz/` crate of the repository.
fn fuzz_crate() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `target`'s corpus as `(name, bytes)`, sorted by name. Fails if the directory is
/// missing or holds no file, so that a corpus cannot disappear unnoticed.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_crate().join("corpus").join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let data =
            std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()));
        files.push((name, data));
    }
    assert!(
        !files.is_empty(),
        "corpus directory {} is empty",
        dir.display()
    );
    files.sort();
    files
}

/// Feeds every file of `target`'s corpus to `f`; returns how many there were.
fn run_corpus(target: &str, f: Target) -> usize {
    let files = corpus(target);
    for (name, data) in &files {
        // A panic names the file that caused it.
        let result = std::panic::catch_unwind(|| f(data));
        assert!(
            result.is_ok(),
            "{target}: fuzz/corpus/{target}/{name} panicked"
        );
    }
    files.len()
}

#[test]
fn json_corpus() {
    run_corpus("json", fuzz::fuzz_json);
}

#[test]
fn debezium_json_corpus() {
    run_corpus("debezium_json", fuzz::fuzz_debezium_json);
}

#[test]
fn avro_corpus() {
    run_corpus("avro", fuzz::fuzz_avro);
}

#[test]
fn protobuf_corpus() {
    run_corpus("protobuf", fuzz::fuzz_protobuf);
}

#[test]
fn raw_corpus() {
    run_corpus("raw", fuzz::fuzz_raw);
}

#[test]
fn avro_schema_corpus() {
    run_corpus("avro_schema", fuzz::fuzz_avro_schema);
}

#[test]
fn every_connector_fuzz_target_has_its_corpus_run_here() {
    // Each target file that calls into the connector must be one of `TARGETS`, calling the
    // entry point of its own name, and each of `TARGETS` must have its target file.
    let dir = fuzz_crate().join("fuzz_targets");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fuzz/fuzz_targets") {
        let path = entry.expect("directory entry").path();
        let text = std::fs::read_to_string(&path).expect("fuzz target source");
        if !text.contains("laminar_kafka_connector::") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz target {name} is not run by this test: add it to TARGETS"
        );
        assert!(
            text.contains(&format!("laminar_kafka_connector::fuzz::fuzz_{name}(")),
            "fuzz target {name} does not call fuzz::fuzz_{name}"
        );
        found.push(name);
    }
    for (target, _) in TARGETS {
        assert!(
            found.iter().any(|n| n == target),
            "no fuzz/fuzz_targets/{target}.rs"
        );
    }
}

/// How many rows `decoder` makes of `data`, or why it cannot.
fn rows(mut decoder: Decoder, data: &[u8]) -> Result<usize, String> {
    let meta = RecordMetadata {
        topic: "fuzz",
        partition: 0,
        offset: 0,
        timestamp_ms: 0,
        key: None,
        headers: &[],
    };
    decoder
        .decode(Some(data), &meta)
        .map_err(|e| e.to_string())?;
    Ok(decoder.flush().map_err(|e| e.to_string())?.num_rows())
}

/// A decoder of Confluent-framed records of schema id 1.
fn registry_decoder(format: Format, kind: SchemaType, text: &str) -> Decoder {
    let mut decoder = Decoder::new(fuzz::table(), format, BadDataPolicy::Fail).expect("decoder");
    decoder.add_schema(&RegisteredSchema::new(1, kind, text.to_owned()), &[]);
    decoder
}

#[test]
fn valid_seeds_decode_to_rows() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for target in ["json", "debezium_json", "avro", "protobuf"] {
        for (name, data) in corpus(target) {
            if !name.starts_with("valid") {
                continue;
            }
            let decoder = match target {
                "json" => Decoder::new(fuzz::table(), Format::Json, BadDataPolicy::Fail),
                "debezium_json" => {
                    Decoder::new(fuzz::table(), Format::DebeziumJson, BadDataPolicy::Fail)
                }
                "avro" if name.contains("framed") => Ok(registry_decoder(
                    Format::Avro,
                    SchemaType::Avro,
                    fuzz::AVRO_WRITER,
                )),
                "avro" => {
                    Decoder::plain_avro(fuzz::table(), fuzz::AVRO_WRITER, BadDataPolicy::Fail)
                }
                _ => Ok(registry_decoder(
                    Format::Protobuf,
                    SchemaType::Protobuf,
                    fuzz::PROTO,
                )),
            }
            .expect("decoder");
            match rows(decoder, &data) {
                Ok(0) => failures.push(format!("{target}/{name} makes no row")),
                Ok(_) => {}
                Err(e) => failures.push(format!("{target}/{name} does not decode: {e}")),
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 12, "only {checked} valid seeds");
}
