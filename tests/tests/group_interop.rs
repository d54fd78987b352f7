//! Mixed groups: our members and the Java client's in one group, with the same assignor. The
//! Java member is `tests/java/GroupConsumer.java`, compiled once per run; it prints what it is
//! assigned and what it reads.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use laminar_kafka_client::consumer::Subscription;
use laminar_kafka_tests::group::*;
use laminar_kafka_tests::{Broker, unique_topic};

fn java_classes() -> &'static PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let broker = Broker::from_env();
        let out = std::env::temp_dir().join(format!("laminar-java-group-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("java/GroupConsumer.java");
        let status = Command::new("javac")
            .arg("-cp")
            .arg(format!("{}/*", broker.libs.display()))
            .arg("-d")
            .arg(&out)
            .arg(&source)
            .status()
            .expect("javac (Java 17 is part of the harness' requirements)");
        assert!(status.success(), "javac failed for {}", source.display());
        out
    })
}

/// A Java member running in a child process.
struct JavaMember {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl JavaMember {
    fn start(topic: &str, group: &str, assignor_class: &str) -> JavaMember {
        let broker = Broker::from_env();
        let classpath = format!("{}:{}/*", java_classes().display(), broker.libs.display());
        let mut child = Command::new("java")
            .arg("-cp")
            .arg(classpath)
            .arg("GroupConsumer")
            .args([&broker.plaintext, topic, group, assignor_class, "classic"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("java");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        JavaMember { child, lines }
    }

    /// Its partitions, replayed from its assigned/revoked/lost lines.
    fn assignment(&self, topic: &str) -> BTreeSet<Tp> {
        let mut owned = BTreeSet::new();
        for line in self.lines.lock().unwrap().iter() {
            let Some((kind, rest)) = line.split_once(' ') else {
                continue;
            };
            let parts = rest
                .split(',')
                .filter_map(|p| p.trim().parse::<i32>().ok())
                .map(|p| (topic.to_owned(), p));
            match kind {
                "assigned" => owned.extend(parts),
                "revoked" | "lost" => {
                    for tp in parts {
                        owned.remove(&tp);
                    }
                }
                _ => {}
            }
        }
        owned
    }

    fn values(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.strip_prefix("record "))
            .filter_map(|r| r.splitn(3, ' ').nth(2).map(str::to_owned))
            .collect()
    }

    /// Closes its stdin: it leaves the group and exits.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for JavaMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Which member joins the group first and so leads it (computes the assignment).
#[derive(Clone, Copy, PartialEq)]
enum Leader {
    Ours,
    Java,
}

async fn mixed_group(ours: &str, java: &str, leader: Leader) {
    let topic = topic(&format!("grp-mixed-{ours}"), 6).await;
    let group = unique_topic("g");
    let strategy = [("partition.assignment.strategy", ours)];
    let (a, j) = if leader == Leader::Ours {
        let a = Member::start(config(&group, &strategy), Subscription::topics([&topic]));
        (a, JavaMember::start(&topic, &group, java))
    } else {
        let j = JavaMember::start(&topic, &group, java);
        let owns_all = || j.assignment(&topic).len() == 6;
        assert!(
            wait_until(Duration::from_secs(60), owns_all).await,
            "the Java member alone gets every partition: {:?}",
            j.lines.lock().unwrap()
        );
        let a = Member::start(config(&group, &strategy), Subscription::topics([&topic]));
        (a, j)
    };
    let b = Member::start(config(&group, &strategy), Subscription::topics([&topic]));
    let all = all_partitions(&topic, 6);
    let split = || {
        let s = [a.assignment(), b.assignment(), j.assignment(&topic)];
        is_partition_of(&s, &all) && s.iter().all(|x| x.len() == 2)
    };
    assert!(
        wait_until(Duration::from_secs(90), split).await,
        "ours {:?} {:?}, Java {:?}; Java said {:?}",
        a.assignment(),
        b.assignment(),
        j.assignment(&topic),
        j.lines.lock().unwrap(),
    );
    produce(&topic, 6, "a", 600).await;
    let want = values("a", 600);
    let union = || {
        let mut got: BTreeSet<String> = a.values().into_iter().collect();
        got.extend(b.values());
        got.extend(j.values());
        got
    };
    assert!(
        wait_until(Duration::from_secs(30), || union() == want).await,
        "{} of 600 read",
        union().len()
    );
    let total = a.values().len() + b.values().len() + j.values().len();
    assert_eq!(total, 600, "in a stable group every record is read once");
    assert!(!j.values().is_empty(), "the Java member read its share");

    // The Java member leaves: ours take its partitions.
    j.stop();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let s = [a.assignment(), b.assignment()];
            is_partition_of(&s, &all)
        })
        .await,
        "{:?} {:?}",
        a.assignment(),
        b.assignment()
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_members_and_java_members_share_a_range_group() {
    mixed_group(
        "range",
        "org.apache.kafka.clients.consumer.RangeAssignor",
        Leader::Ours,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_members_and_java_members_share_a_cooperative_sticky_group() {
    mixed_group(
        "cooperative-sticky",
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        Leader::Ours,
    )
    .await;
}

/// The Java member leads: its assignor takes partitions from itself in one rebalance and gives
/// them to ours in the next, as the cooperative protocol does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_leader_hands_partitions_to_our_members_in_two_cooperative_rounds() {
    mixed_group(
        "cooperative-sticky",
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        Leader::Java,
    )
    .await;
}
