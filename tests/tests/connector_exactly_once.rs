//! The connector's delivery guarantees under kills: the engine driver (a child process running
//! three source and sink subtasks) copies 200,000 records from a 6-partition topic to another
//! while it is killed with SIGKILL at random moments and restarted. Read back with
//! `read_committed`, every input record appears exactly once (`exactly_once`, with the
//! engine's checkpoints or with offsets in Kafka transactions), or at least once
//! (`at_least_once`).
//!
//! The kill moments come from a seeded generator; the seed is printed, and
//! `LAMINAR_TEST_SEED=N` (or the older `KILL_SEED=N`) replays a run.

mod connector_support;

use std::collections::BTreeMap;
use std::time::Duration;

use connector_support::*;
use laminar_kafka_tests::{Seed, test_seed, unique_topic};

const RECORDS: usize = 200_000;
const PARTITIONS: i32 = 6;
const KILLS: usize = 10;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the copy with `mode` under kills at moments drawn from `seed`; returns how many times
/// each input value appears in the committed output.
async fn copy_under_kills(mode: &str, seed: &Seed) -> BTreeMap<Vec<u8>, usize> {
    // One kill test at a time: three drivers of three subtasks each would share two cores.
    let _serial = SERIAL.lock().await;
    let mut rng = seed.rng();
    let input = topic(&format!("eo-in-{mode}"), PARTITIONS).await;
    let output = topic(&format!("eo-out-{mode}"), PARTITIONS).await;
    let group = unique_topic(&format!("eo-{mode}"));
    let dir = std::env::temp_dir().join(unique_topic(&format!("eo-state-{mode}")));

    // Input arrives while the driver runs and dies: 20 slices of 10,000 records.
    let writer = {
        let input = input.clone();
        tokio::spawn(async move {
            for slice in 0..20 {
                let from = slice * (RECORDS / 20);
                produce(
                    &input,
                    PARTITIONS,
                    (from..from + RECORDS / 20).map(|i| (None, format!("rec-{i:06}"))),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let mut driver = spawn_driver(&input, &output, &group, mode, 3, &dir, 100, 0);
    for _ in 0..KILLS {
        let wait = 300 + rng.next_u64() % 900;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        driver.kill().expect("SIGKILL");
        driver.wait().expect("reaped");
        driver = spawn_driver(&input, &output, &group, mode, 3, &dir, 100, 0);
    }
    writer.await.expect("input written");
    driver.kill().expect("SIGKILL");
    driver.wait().expect("reaped");
    // A last run from the last checkpoint, to the end of the input.
    let mut last = spawn_driver(&input, &output, &group, mode, 3, &dir, 100, 2_000);
    let status =
        tokio::task::spawn_blocking(move || wait_exit(&mut last, Duration::from_secs(300)))
            .await
            .unwrap();
    assert!(status.success(), "the last driver run failed: {status}");

    let mut counts: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (_, _, _, value) in read_all(&output, PARTITIONS, true).await {
        *counts.entry(value).or_default() += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    counts
}

fn expected(value: usize) -> Vec<u8> {
    format!("rec-{value:06}").into_bytes()
}

fn check_complete(mode: &str, counts: &BTreeMap<Vec<u8>, usize>) {
    let missing: Vec<usize> = (0..RECORDS)
        .filter(|i| !counts.contains_key(&expected(*i)))
        .collect();
    assert!(
        missing.is_empty(),
        "{mode}: {} input records missing from the output, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(
        counts.len(),
        RECORDS,
        "{mode}: values that were never input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_with_checkpoints_survives_kills() {
    let seed = test_seed("exactly_once_with_checkpoints_survives_kills");
    let counts = copy_under_kills("eos", &seed).await;
    check_complete("eos", &counts);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "records written twice: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_with_offsets_in_kafka_transactions_survives_kills() {
    let seed = test_seed("exactly_once_with_offsets_in_kafka_transactions_survives_kills");
    let counts = copy_under_kills("native", &seed).await;
    check_complete("native", &counts);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "records written twice: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_loses_nothing_under_kills() {
    let seed = test_seed("at_least_once_loses_nothing_under_kills");
    let counts = copy_under_kills("alo", &seed).await;
    check_complete("alo", &counts);
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    eprintln!("alo: {duplicates} records written more than once");
}
