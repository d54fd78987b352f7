//! At-least-once processing under kills: members in child processes consume, process and
//! commit; some are killed (SIGKILL, no leave) at random points and replaced. Every record is
//! processed at least once, and the records processed twice are bounded by what the killed
//! members had processed but not committed (one poll each).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use laminar_kafka_client::backoff::Jitter;
use laminar_kafka_tests::group::*;
use laminar_kafka_tests::{Broker, test_seed, unique_topic};

const MAX_POLL_RECORDS: usize = 50;

fn spawn(topic: &str, group: &str, out: &Path) -> Child {
    let broker = Broker::from_env();
    Command::new(env!("CARGO_BIN_EXE_group_member"))
        .args([
            broker.plaintext.as_str(),
            topic,
            group,
            out.to_str().unwrap(),
            &MAX_POLL_RECORDS.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn group_member")
}

/// How many times each (partition, offset) was processed, over every output file.
fn processed(files: &[PathBuf]) -> BTreeMap<(i32, i64), usize> {
    let mut counts = BTreeMap::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for line in text.lines() {
            let mut it = line.split(' ');
            if let (Some(p), Some(o)) = (it.next(), it.next())
                && let (Ok(p), Ok(o)) = (p.parse(), o.parse())
            {
                *counts.entry((p, o)).or_default() += 1;
            }
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_processed_at_least_once_when_members_are_killed() {
    // When the kills come and whom they hit; printed, and again on failure.
    let seed = test_seed("every_record_is_processed_at_least_once_when_members_are_killed");
    const N: usize = 3000;
    const KILLS: usize = 3;
    let topic = topic("grp-kill", 6).await;
    let group = unique_topic("g");
    produce(&topic, 6, "v", N).await;
    let dir = std::env::temp_dir().join(unique_topic("group-kill"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let mut children = Vec::new();
    for i in 0..3 {
        let f = dir.join(format!("member-{i}"));
        children.push(spawn(&topic, &group, &f));
        files.push(f);
    }
    let mut rng = seed.rng();
    let mut done_at_kills = Vec::new();
    for k in 0..KILLS {
        let wait = 200 + (rng.next_unit() * 600.0) as u64;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        done_at_kills.push(processed(&files).len());
        let victim = (rng.next_unit() * children.len() as f64) as usize % children.len();
        children[victim].kill().unwrap();
        children[victim].wait().unwrap();
        let f = dir.join(format!("replacement-{k}"));
        children[victim] = spawn(&topic, &group, &f);
        files.push(f);
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut counts = processed(&files);
    while counts.len() < N && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        counts = processed(&files);
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let per_partition = N as i64 / 6;
    let missing: Vec<_> = (0..6)
        .flat_map(|p| (0..per_partition).map(move |o| (p, o)))
        .filter(|k| !counts.contains_key(k))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "never processed (first 10): {missing:?}"
    );
    assert!(
        done_at_kills.iter().all(|d| *d < N),
        "every kill landed while records were still being processed: {done_at_kills:?}"
    );
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    eprintln!(
        "{N} records, {KILLS} kills after {done_at_kills:?} were processed: {duplicates} processed twice"
    );
    assert!(
        duplicates <= KILLS * MAX_POLL_RECORDS,
        "{duplicates} duplicates exceed {KILLS} kills × {MAX_POLL_RECORDS} uncommitted records"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
