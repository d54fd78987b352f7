//! The client on a real cluster: three brokers (racks rack-a, rack-b, rack-c), topics replicated
//! three times with `min.insync.replicas=2`, and brokers killed (SIGKILL) and started again in
//! the middle of the work:
//!
//! - idempotent produce of 200 000 records while a partition's leader dies and comes back:
//!   every record once, in order;
//! - a transaction across the same: all of it visible to read_committed, or none;
//! - group consumption with manual commits while the group coordinator and a partition leader
//!   die and come back: nothing skipped, every replay starts at or after the last commit;
//! - `client.rack`: records come from the follower in the client's rack (the brokers' request
//!   logs show who served them), and from the leader once that follower is dead.
//!
//! The cluster is `scripts/kafka.sh start --brokers 3`; its variables come from
//! `scripts/kafka.sh env --brokers 3` (or that command is run when none is set). Without it
//! every test fails with the command that starts it. The target needs the `multi-broker`
//! feature (`cargo test -p laminar-kafka-tests --features multi-broker --test multi_broker`), so
//! `cargo test --workspace` against the single broker neither runs nor skips these. The tests
//! kill brokers, so they take turns (one lock per process), and a test that fails while a broker
//! is down starts it again on the way out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::cluster::{Cluster, CoordinatorType};
use laminar_kafka_client::config::{ClientConfig, IsolationLevel};
use laminar_kafka_client::consumer::{Consumer, GroupConsumer, SeekTo, Subscription};
use laminar_kafka_client::metadata::TopicInfo;
use laminar_kafka_client::offsets::OffsetSpec;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::broker::parse_exports;
use laminar_kafka_tests::{run, unique_topic};
use tokio::sync::Notify;

/// How to bring up the cluster; part of every "no cluster" failure.
const HOW_TO_START: &str = "start the 3-broker test cluster from the repository root with \
     `scripts/kafka.sh start --brokers 3 && eval \"$(scripts/kafka.sh env --brokers 3)\"`, then \
     run `cargo test -p laminar-kafka-tests --features multi-broker --test multi_broker` in that \
     shell (or run `scripts/test.sh`, which starts it)";

/// The 3-broker cluster, as `scripts/kafka.sh env --brokers 3` describes it.
#[derive(Debug)]
struct TestCluster {
    version: String,
    bootstrap: String,
    /// Broker node id to `host:port`.
    addresses: BTreeMap<i32, String>,
    /// Broker node id to `broker.rack`.
    racks: BTreeMap<i32, String>,
    port: String,
    run_dir: PathBuf,
    harness: PathBuf,
}

/// The cluster, checked once per process: every broker accepts a connection.
///
/// # Panics
/// When the cluster is not running, with the command that starts it.
fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<Result<TestCluster, String>> = OnceLock::new();
    let found = CLUSTER.get_or_init(|| {
        let cluster = TestCluster::from_env()?;
        for (id, address) in &cluster.addresses {
            if !reachable(address) {
                return Err(format!(
                    "broker {id} of the cluster does not answer on {address}"
                ));
            }
        }
        Ok(cluster)
    });
    match found {
        Ok(cluster) => cluster,
        Err(message) => panic!("no 3-broker test cluster: {message}; {HOW_TO_START}"),
    }
}

fn reachable(address: &str) -> bool {
    address.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
    })
}

impl TestCluster {
    fn from_env() -> Result<TestCluster, String> {
        let vars: HashMap<String, String> = if std::env::var_os("KAFKA_CLUSTER_BOOTSTRAP").is_some()
        {
            std::env::vars().collect()
        } else {
            // Not in the environment: ask the harness of this checkout, if its cluster runs.
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka.sh");
            let mut status = Command::new(&script);
            status.args(["status", "--brokers", "3"]);
            run(status, None, Duration::from_secs(30), &[]).map_err(|e| {
                format!("KAFKA_CLUSTER_BOOTSTRAP is not set and the cluster is not running ({e})")
            })?;
            let mut env = Command::new(&script);
            env.args(["env", "--brokers", "3"]);
            let output = run(env, None, Duration::from_secs(30), &[]).map_err(|e| e.to_string())?;
            parse_exports(&output.stdout)
        };
        let get = |name: &str| -> Result<String, String> {
            vars.get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| format!("{name} is not set"))
        };
        let bootstrap = get("KAFKA_CLUSTER_BOOTSTRAP")?;
        let racks: BTreeMap<i32, String> = get("KAFKA_CLUSTER_RACKS")?
            .split_whitespace()
            .map(|entry| {
                let (id, rack) = entry
                    .split_once('=')
                    .ok_or_else(|| format!("KAFKA_CLUSTER_RACKS: `{entry}` is not id=rack"))?;
                let id = id
                    .parse()
                    .map_err(|_| format!("KAFKA_CLUSTER_RACKS: `{id}` is not a node id"))?;
                Ok((id, rack.to_owned()))
            })
            .collect::<Result<_, String>>()?;
        let port = get("KAFKA_CLUSTER_PORT")?;
        let base: i32 = port
            .parse()
            .map_err(|_| format!("KAFKA_CLUSTER_PORT={port} is not a port"))?;
        let addresses: BTreeMap<i32, String> = bootstrap
            .split(',')
            .map(|address| {
                let p: i32 = address
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse().ok())
                    .ok_or_else(|| {
                        format!("KAFKA_CLUSTER_BOOTSTRAP: `{address}` is not host:port")
                    })?;
                Ok((p - base, address.to_owned()))
            })
            .collect::<Result<_, String>>()?;
        if addresses.len() < 3 || addresses.keys().ne(racks.keys()) {
            return Err(format!(
                "the cluster must have 3 brokers with racks, got {bootstrap} and {racks:?}"
            ));
        }
        Ok(TestCluster {
            version: get("KAFKA_CLUSTER_VERSION")?,
            bootstrap,
            addresses,
            racks,
            port,
            run_dir: PathBuf::from(get("KAFKA_CLUSTER_RUN_DIR")?),
            harness: PathBuf::from(get("KAFKA_CLUSTER_HARNESS")?),
        })
    }

    /// Runs `scripts/kafka.sh ARGS` for this cluster.
    fn harness(&self, args: &[&str]) -> Result<(), String> {
        let mut command = Command::new(&self.harness);
        command
            .args(args)
            .env("KAFKA_CLUSTER_PORT", &self.port)
            .env("KAFKA_VERSION", &self.version);
        run(command, None, Duration::from_secs(180), &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The node id of the broker at `host:port`.
    fn node_at(&self, address: &str) -> i32 {
        *self
            .addresses
            .iter()
            .find(|(_, a)| a.as_str() == address)
            .unwrap_or_else(|| panic!("{address} is none of the cluster's brokers"))
            .0
    }

    fn request_log(&self, node: i32) -> PathBuf {
        self.run_dir
            .join(format!("broker-{node}"))
            .join("logs")
            .join("kafka-request.log")
    }

    /// A client configuration for the cluster, plus extra properties.
    fn config(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new(&self.bootstrap).expect("bootstrap address");
        for (name, value) in [
            ("request.timeout.ms", "10000"),
            ("socket.connection.setup.timeout.ms", "2000"),
            ("reconnect.backoff.max.ms", "500"),
            ("retry.backoff.max.ms", "500"),
            ("max.block.ms", "120000"),
        ]
        .iter()
        .chain(extra)
        {
            config
                .set(name, value)
                .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        }
        config
    }
}

/// One test at a time: each kills brokers under the cluster the others use.
async fn take_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// Kills and starts brokers, and starts again on drop whatever it killed and did not start, so
/// that a failing test leaves the cluster whole for the next one.
#[derive(Clone)]
struct Brokers {
    cluster: &'static TestCluster,
    down: Arc<Mutex<BTreeSet<i32>>>,
}

impl Brokers {
    fn new(cluster: &'static TestCluster) -> Brokers {
        Brokers {
            cluster,
            down: Arc::default(),
        }
    }

    /// SIGKILL broker `node`; returns once the process is gone.
    async fn kill(&self, node: i32) {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.down.lock().unwrap().insert(node);
            this.cluster
                .harness(&["kill-broker", &node.to_string()])
                .unwrap_or_else(|e| panic!("kill broker {node}: {e}"));
        })
        .await
        .expect("kill task");
    }

    /// Starts broker `node` again; returns once it answers Metadata.
    async fn start(&self, node: i32) -> Duration {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            this.cluster
                .harness(&["start-broker", &node.to_string()])
                .unwrap_or_else(|e| panic!("start broker {node}: {e}"));
            this.down.lock().unwrap().remove(&node);
            started.elapsed()
        })
        .await
        .expect("start task")
    }
}

impl Drop for Brokers {
    fn drop(&mut self) {
        if Arc::strong_count(&self.down) > 1 {
            return;
        }
        let down: Vec<i32> =
            std::mem::take(&mut *self.down.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        for node in down {
            if let Err(e) = self.cluster.harness(&["start-broker", &node.to_string()]) {
                eprintln!("could not start broker {node} again: {e}");
            }
        }
    }
}

/// Polls `probe` every 100 ms until it gives a value; fails the test after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The topic's metadata as a broker sees it now, or `None` if no broker answered.
async fn describe(cluster: &TestCluster, topic: &str) -> Option<Arc<TopicInfo>> {
    let admin = Admin::new(cluster.config(&[])).ok()?;
    let info = admin.describe_topics(&[topic]).await.ok()?.pop();
    admin.close().await;
    info
}

/// Waits until every partition of the topics that exist among `topics` has a leader and all its
/// replicas in sync: a broker started again has caught up, so killing another one next cannot
/// take a partition below `min.insync.replicas`.
async fn wait_fully_replicated(cluster: &TestCluster, topics: &[&str]) {
    for topic in topics {
        eventually(
            &format!("every partition of {topic} has its 3 replicas in sync"),
            Duration::from_secs(120),
            || async {
                let Some(info) = describe(cluster, topic).await else {
                    // The internal topics exist only once a group or a transaction used them.
                    return topic.starts_with("__").then_some(());
                };
                info.partitions
                    .iter()
                    .all(|p| p.leader >= 0 && p.replicas.len() == 3 && p.isr.len() == 3)
                    .then_some(())
            },
        )
        .await;
    }
}

/// Every broker up (starting any that an earlier failure left down) and every partition of the
/// internal topics fully replicated.
async fn cluster_whole(cluster: &'static TestCluster) {
    for (node, address) in &cluster.addresses {
        if !reachable(address) {
            eprintln!("broker {node} is down: starting it");
            Brokers::new(cluster).start(*node).await;
        }
    }
    wait_fully_replicated(cluster, &["__consumer_offsets", "__transaction_state"]).await;
}

/// Creates a topic with 3 replicas and `min.insync.replicas=2` and waits until every partition
/// has a leader and a full ISR.
async fn create_topic(cluster: &TestCluster, prefix: &str, partitions: i32) -> String {
    let topic = unique_topic(prefix);
    let admin = Admin::new(cluster.config(&[])).unwrap();
    admin
        .create_topics(&[
            NewTopic::new(&topic, partitions, 3).with_config("min.insync.replicas", "2")
        ])
        .await
        .unwrap_or_else(|e| panic!("create {topic}: {e}"));
    admin.close().await;
    wait_fully_replicated(cluster, &[&topic]).await;
    topic
}

async fn leader_of(cluster: &TestCluster, topic: &str, partition: i32) -> i32 {
    eventually(
        &format!("{topic}-{partition} has a leader"),
        Duration::from_secs(60),
        || async {
            let info = describe(cluster, topic).await?;
            let leader = info.partition(partition)?.leader;
            (leader >= 0).then_some(leader)
        },
    )
    .await
}

/// Waits until a broker other than `old` leads the partition; returns it.
async fn wait_new_leader(cluster: &TestCluster, topic: &str, partition: i32, old: i32) -> i32 {
    eventually(
        &format!("{topic}-{partition} moves away from broker {old}"),
        Duration::from_secs(60),
        || async {
            let info = describe(cluster, topic).await?;
            let leader = info.partition(partition)?.leader;
            (leader >= 0 && leader != old).then_some(leader)
        },
    )
    .await
}

/// The broker that coordinates `key` (a group or a transactional id) now.
async fn coordinator_of(cluster: &TestCluster, kind: CoordinatorType, key: &str) -> Option<i32> {
    let client = Cluster::new(cluster.config(&[])).ok()?;
    let node = client
        .coordinator(kind, key)
        .await
        .ok()
        .map(|conn| cluster.node_at(conn.broker()));
    client.close().await;
    node
}

/// Log end offsets of every partition of `topic`.
async fn end_offsets(cluster: &TestCluster, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let admin = Admin::new(cluster.config(&[])).unwrap();
    let wanted: Vec<((String, i32), OffsetSpec)> = (0..partitions)
        .map(|p| ((topic.to_owned(), p), OffsetSpec::Latest))
        .collect();
    let ends = admin
        .list_offsets(&wanted, IsolationLevel::ReadUncommitted)
        .await
        .expect("log end offsets");
    admin.close().await;
    ends.into_iter().map(|((_, p), o)| (p, o.offset)).collect()
}

/// Reads every partition of `topic` from the start up to `ends` with an assigned consumer, and
/// returns each partition's values in log order.
async fn read_to_end(
    cluster: &TestCluster,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
    extra: &[(&str, &str)],
) -> BTreeMap<i32, Vec<String>> {
    let consumer = Consumer::new(cluster.config(extra)).expect("consumer");
    let tps: Vec<(String, i32)> = ends.keys().map(|p| (topic.to_owned(), *p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut out: BTreeMap<i32, Vec<String>> = ends.keys().map(|p| (*p, Vec::new())).collect();
    let mut next: BTreeMap<i32, i64> = ends.keys().map(|p| (*p, 0)).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while next.iter().any(|(p, n)| *n < ends[p]) {
        assert!(
            Instant::now() < deadline,
            "{topic}: read up to {next:?} of {ends:?} within 120 s"
        );
        let polled = consumer
            .poll(Duration::from_millis(500))
            .await
            .unwrap_or_else(|e| panic!("poll {topic}: {e}"));
        for r in polled.iter() {
            let r = r.unwrap_or_else(|e| panic!("malformed record in {topic}: {e}"));
            next.insert(r.partition, r.offset() + 1);
            out.entry(r.partition)
                .or_default()
                .push(String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned());
        }
    }
    consumer.close().await;
    out
}

/// Checks that each partition holds exactly the records sent to it, in the order sent:
/// `expected[p]` against `found[p]`, naming the first difference.
fn assert_exactly_in_order(
    what: &str,
    expected: &BTreeMap<i32, Vec<String>>,
    found: &BTreeMap<i32, Vec<String>>,
) {
    for (p, want) in expected {
        let got = found.get(p).map(Vec::as_slice).unwrap_or_default();
        if got == want.as_slice() {
            continue;
        }
        let distinct: BTreeSet<&String> = got.iter().collect();
        let wanted: BTreeSet<&String> = want.iter().collect();
        let missing = wanted.difference(&distinct).count();
        let extra = distinct.difference(&wanted).count();
        let duplicates = got.len() - distinct.len();
        let first = got
            .iter()
            .zip(want)
            .position(|(g, w)| g != w)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}, partition {p}: {} records where {} were sent: {missing} missing, \
             {duplicates} duplicated, {extra} never sent; first difference at index {first}: \
             {:?} where {:?} was sent",
            got.len(),
            want.len(),
            got.get(first),
            want.get(first)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_produce_survives_the_leader_being_killed_and_restarted_exactly_once_in_order() {
    const RECORDS: usize = 200_000;
    const PARTITIONS: i32 = 3;
    let cluster = cluster();
    let _turn = take_turn().await;
    cluster_whole(cluster).await;
    let brokers = Brokers::new(cluster);
    let topic = create_topic(cluster, "mb-idempotent", PARTITIONS).await;
    let victim = leader_of(cluster, &topic, 0).await;

    let producer = Producer::new(cluster.config(&[
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("linger.ms", "5"),
        ("delivery.timeout.ms", "180000"),
    ]))
    .unwrap();

    // Records before the kill, during the outage (sent while the leader is dead and its
    // partition has no leader yet, or a new one), and after the broker is back.
    let killed = Arc::new(Notify::new());
    let restarted = Arc::new(Notify::new());
    let go = Arc::new(Notify::new());
    let chaos = {
        let (brokers, topic) = (brokers.clone(), topic.clone());
        let (go, killed, restarted) = (go.clone(), killed.clone(), restarted.clone());
        tokio::spawn(async move {
            go.notified().await;
            let at = Instant::now();
            brokers.kill(victim).await;
            killed.notify_one();
            let new_leader = wait_new_leader(cluster, &topic, 0, victim).await;
            let failover = at.elapsed();
            let start = brokers.start(victim).await;
            restarted.notify_one();
            (new_leader, failover, start)
        })
    };

    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(RECORDS);
    for seq in 0..RECORDS {
        if seq == RECORDS * 3 / 10 {
            go.notify_one();
            tokio::time::timeout(Duration::from_secs(60), killed.notified())
                .await
                .expect("the leader killed within 60 s");
        }
        if seq == RECORDS * 65 / 100 {
            tokio::time::timeout(Duration::from_secs(180), restarted.notified())
                .await
                .expect("a new leader, and the old one started again, within 180 s");
        }
        let record = ProducerRecord::new(topic.clone(), format!("{seq:07}"))
            .with_key(format!("k{seq}"))
            .with_partition(seq as i32 % PARTITIONS);
        deliveries.push(
            producer
                .send(record)
                .await
                .unwrap_or_else(|e| panic!("send {seq}: {e}")),
        );
    }
    let (new_leader, failover, restart) = chaos.await.expect("kill and restart");
    let mut failed = Vec::new();
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (seq, delivery) in deliveries.into_iter().enumerate() {
        match tokio::time::timeout(Duration::from_secs(240), delivery).await {
            Err(_) => panic!("record {seq} neither delivered nor failed within 240 s"),
            Ok(Ok(metadata)) => {
                assert_eq!(metadata.partition, seq as i32 % PARTITIONS, "record {seq}");
                offsets
                    .entry(metadata.partition)
                    .or_default()
                    .push(metadata.offset);
            }
            Ok(Err(e)) => failed.push(format!("record {seq}: {e}")),
        }
    }
    let produced = started.elapsed();
    producer.close().await.expect("close the producer");
    assert!(
        failed.is_empty(),
        "{} of {RECORDS} records failed (acks=all, idempotent, delivery timeout 180 s), e.g. {:#?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    for (p, offs) in &offsets {
        assert!(
            offs.windows(2).all(|w| w[0] < w[1]),
            "partition {p}: the acknowledged offsets are not increasing in send order"
        );
    }

    let ends = end_offsets(cluster, &topic, PARTITIONS).await;
    let found = read_to_end(cluster, &topic, &ends, &[]).await;
    let expected: BTreeMap<i32, Vec<String>> = (0..PARTITIONS)
        .map(|p| {
            let seqs = (p as usize..RECORDS).step_by(PARTITIONS as usize);
            (p, seqs.map(|s| format!("{s:07}")).collect())
        })
        .collect();
    assert_exactly_in_order("idempotent produce across a leader kill", &expected, &found);
    eprintln!(
        "{RECORDS} records produced in {produced:?}; broker {victim} (leader of partition 0) killed \
         after {} records, broker {new_leader} led within {failover:?}, broker {victim} back \
         after {restart:?}; all read back once and in order",
        RECORDS * 3 / 10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_across_a_leader_kill_commits_whole_or_aborts_whole() {
    const PER_TXN: usize = 30_000;
    const PARTITIONS: i32 = 3;
    let cluster = cluster();
    let _turn = take_turn().await;
    cluster_whole(cluster).await;
    let brokers = Brokers::new(cluster);
    let topic = create_topic(cluster, "mb-txn", PARTITIONS).await;
    let victim = leader_of(cluster, &topic, 0).await;
    let txn_id = unique_topic("mb-txn-id");
    let config = cluster.config(&[
        ("transactional.id", &txn_id),
        ("linger.ms", "5"),
        ("delivery.timeout.ms", "120000"),
        ("transaction.timeout.ms", "120000"),
    ]);

    let producer = Producer::new(config.clone()).unwrap();
    producer
        .init_transactions()
        .await
        .expect("init_transactions");
    let coordinator = coordinator_of(cluster, CoordinatorType::Transaction, &txn_id).await;

    // Transaction 1: half its records, the kill of partition 0's leader, the other half, commit.
    producer.begin_transaction().expect("begin");
    let mut deliveries = Vec::new();
    for i in 0..PER_TXN {
        if i == PER_TXN / 2 {
            brokers.kill(victim).await;
        }
        let record = ProducerRecord::new(topic.clone(), format!("t1-{i:06}"))
            .with_partition(i as i32 % PARTITIONS);
        match producer.send(record).await {
            Ok(d) => deliveries.push(d),
            Err(e) => {
                eprintln!("send {i} of the first transaction failed: {e}");
                break;
            }
        }
    }
    let killed_at = Instant::now();
    let commit = tokio::time::timeout(Duration::from_secs(240), producer.commit_transaction())
        .await
        .expect("commit_transaction neither succeeded nor failed within 240 s");
    let committed = match &commit {
        Ok(()) => true,
        Err(e) => {
            eprintln!("the first transaction did not commit ({e}); aborting it");
            if let Err(e) = producer.abort_transaction().await {
                eprintln!("abort_transaction failed too ({e}); a new producer fences it");
            }
            false
        }
    };
    let outcome_after = killed_at.elapsed();
    let mut failed = 0usize;
    for d in deliveries {
        if tokio::time::timeout(Duration::from_secs(60), d)
            .await
            .expect("a delivery of the first transaction hangs")
            .is_err()
        {
            failed += 1;
        }
    }
    if committed {
        assert_eq!(
            failed, 0,
            "the transaction committed but {failed} of its records failed"
        );
    }
    let new_leader = wait_new_leader(cluster, &topic, 0, victim).await;
    let restart = brokers.start(victim).await;
    drop(producer);

    // Transaction 2, by a new producer of the same transactional id (which completes or aborts
    // whatever the first left open): it must commit.
    let producer = Producer::new(config).unwrap();
    producer
        .init_transactions()
        .await
        .expect("init_transactions after the restart");
    producer.begin_transaction().expect("begin");
    let mut deliveries = Vec::new();
    for i in 0..PER_TXN / 10 {
        let record = ProducerRecord::new(topic.clone(), format!("t2-{i:06}"))
            .with_partition(i as i32 % PARTITIONS);
        deliveries.push(producer.send(record).await.expect("send"));
    }
    producer
        .commit_transaction()
        .await
        .expect("the second transaction commits");
    for d in deliveries {
        d.await
            .expect("a record of the committed second transaction");
    }
    producer.close().await.expect("close");

    // read_committed, up to the end of the log: the second transaction is behind the first in
    // every partition, so reading all of it means every committed record of the first was read.
    let ends = end_offsets(cluster, &topic, PARTITIONS).await;
    let consumer = Consumer::new(cluster.config(&[("isolation.level", "read_committed")])).unwrap();
    let tps: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut found: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut t2 = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while t2 < PER_TXN / 10 {
        assert!(
            Instant::now() < deadline,
            "read_committed: {t2} of {} records of the committed second transaction within 120 s \
             (log ends {ends:?})",
            PER_TXN / 10
        );
        for r in consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .iter()
        {
            let r = r.expect("record");
            let value = String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned();
            if value.starts_with("t2-") {
                t2 += 1;
            }
            found.entry(r.partition).or_default().push(value);
        }
    }
    consumer.close().await;
    let t1: BTreeMap<i32, Vec<String>> = found
        .iter()
        .map(|(p, v)| {
            (
                *p,
                v.iter().filter(|s| s.starts_with("t1-")).cloned().collect(),
            )
        })
        .collect();
    let t1_count: usize = t1.values().map(Vec::len).sum();
    let expected = |prefix: &str, n: usize| -> BTreeMap<i32, Vec<String>> {
        (0..PARTITIONS)
            .map(|p| {
                let seqs = (p as usize..n).step_by(PARTITIONS as usize);
                (p, seqs.map(|i| format!("{prefix}-{i:06}")).collect())
            })
            .collect()
    };
    if committed {
        assert_exactly_in_order(
            "a committed transaction across a leader kill",
            &expected("t1", PER_TXN),
            &t1,
        );
    } else {
        assert_eq!(
            t1_count, 0,
            "the first transaction aborted, yet read_committed shows {t1_count} of its records"
        );
    }
    let t2_found: BTreeMap<i32, Vec<String>> = found
        .iter()
        .map(|(p, v)| {
            (
                *p,
                v.iter().filter(|s| s.starts_with("t2-")).cloned().collect(),
            )
        })
        .collect();
    assert_exactly_in_order(
        "the second transaction",
        &expected("t2", PER_TXN / 10),
        &t2_found,
    );
    eprintln!(
        "transaction of {PER_TXN} records across the kill of broker {victim} (partition 0's \
         leader; transaction coordinator: {coordinator:?}) {} after {outcome_after:?}; broker \
         {new_leader} took over, broker {victim} back after {restart:?}; read_committed saw \
         {t1_count} of its records",
        if committed { "committed" } else { "aborted" }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_consumption_with_manual_commits_skips_nothing_when_the_coordinator_and_a_leader_die()
{
    const RECORDS: usize = 30_000;
    const PARTITIONS: i32 = 3;
    let cluster = cluster();
    let _turn = take_turn().await;
    cluster_whole(cluster).await;
    let brokers = Brokers::new(cluster);
    let topic = create_topic(cluster, "mb-group", PARTITIONS).await;
    let producer = Producer::new(cluster.config(&[("acks", "all"), ("linger.ms", "5")])).unwrap();
    let mut deliveries = Vec::with_capacity(RECORDS);
    for seq in 0..RECORDS {
        let record = ProducerRecord::new(topic.clone(), format!("{seq:06}"))
            .with_partition(seq as i32 % PARTITIONS);
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer.close().await.expect("close the producer");
    let ends = end_offsets(cluster, &topic, PARTITIONS).await;

    let group = unique_topic("mb-group");
    let consumer = GroupConsumer::new(cluster.config(&[
        ("group.id", &group),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("max.poll.records", "100"),
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "1000"),
        ("metadata.max.age.ms", "2000"),
        ("fetch.max.wait.ms", "100"),
    ]))
    .unwrap();
    consumer
        .subscribe(Subscription::topics([topic.clone()]))
        .unwrap();

    // Once a fifth is processed: kill the group's coordinator, start it again once another
    // broker coordinates the group; then the same with a partition leader.
    let go = Arc::new(Notify::new());
    let chaos = {
        let (brokers, topic, group, go) =
            (brokers.clone(), topic.clone(), group.clone(), go.clone());
        tokio::spawn(async move {
            let mut log = Vec::new();
            let coordinator =
                eventually("the group's coordinator", Duration::from_secs(60), || {
                    coordinator_of(cluster, CoordinatorType::Group, &group)
                })
                .await;
            go.notified().await;
            brokers.kill(coordinator).await;
            let moved = eventually(
                "another broker coordinates the group",
                Duration::from_secs(60),
                || async {
                    coordinator_of(cluster, CoordinatorType::Group, &group)
                        .await
                        .filter(|c| *c != coordinator)
                },
            )
            .await;
            let back = brokers.start(coordinator).await;
            log.push(format!(
                "coordinator {coordinator} killed, broker {moved} took the group, {coordinator} back after {back:?}"
            ));
            wait_fully_replicated(cluster, &[&topic, "__consumer_offsets"]).await;
            let mut partition = 0;
            for p in 0..PARTITIONS {
                if leader_of(cluster, &topic, p).await != coordinator {
                    partition = p;
                    break;
                }
            }
            let leader = leader_of(cluster, &topic, partition).await;
            brokers.kill(leader).await;
            let new_leader = wait_new_leader(cluster, &topic, partition, leader).await;
            let back = brokers.start(leader).await;
            log.push(format!(
                "leader {leader} of partition {partition} killed, broker {new_leader} took over, {leader} back after {back:?}"
            ));
            log
        })
    };

    // Process (100 ms a poll of at most 100 records), commit what was processed after every
    // poll, and check every record against what came before: an offset past the next one is a
    // skip; an offset before it is a replay, which must start at or after the last commit the
    // coordinator acknowledged.
    let total: i64 = ends.values().sum();
    let mut next: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    let mut committed: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    let mut processed = 0i64;
    let mut duplicates = 0usize;
    let mut replays = Vec::new();
    let mut poll_errors = 0usize;
    let mut commit_errors = 0usize;
    let mut chaos = Some(chaos);
    let mut chaos_log = Vec::new();
    let mut signalled = false;
    let deadline = Instant::now() + Duration::from_secs(240);
    while processed < total {
        assert!(
            Instant::now() < deadline,
            "processed {processed} of {total} records within 240 s (next offsets {next:?})"
        );
        if !signalled && processed >= total / 5 {
            go.notify_one();
            signalled = true;
        }
        // The last records only once both brokers are back: the kills land mid-stream.
        if processed >= total * 9 / 10
            && let Some(chaos) = chaos.take()
        {
            chaos_log = chaos.await.expect("kills and restarts");
        }
        let polled = match consumer.poll(Duration::from_millis(200)).await {
            Ok(polled) => polled,
            Err(e) => {
                poll_errors += 1;
                eprintln!("poll: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut to_commit = Vec::new();
        for part in polled.partitions() {
            let p = part.partition();
            assert_eq!(part.topic(), topic);
            let mut last = None;
            for r in part.iter() {
                let offset = r.expect("record").offset();
                let expected = next[&p];
                assert!(
                    offset <= expected,
                    "partition {p}: offsets {expected}..{offset} were skipped"
                );
                if offset < expected {
                    if last.is_none() {
                        assert!(
                            offset >= committed[&p],
                            "partition {p}: replayed from {offset}, before the last \
                             acknowledged commit {}",
                            committed[&p]
                        );
                        replays.push((p, offset, expected));
                    }
                    duplicates += 1;
                } else {
                    next.insert(p, offset + 1);
                    processed += 1;
                }
                last = Some(offset);
            }
            if let Some(last) = last {
                to_commit.push(((topic.clone(), p), last + 1));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if to_commit.is_empty() {
            continue;
        }
        match consumer.commit_offsets_sync(&to_commit).await {
            Ok(()) => {
                for ((_, p), offset) in &to_commit {
                    committed.insert(*p, *offset);
                }
            }
            Err(e) => {
                // The outcome is unknown: the broker may hold this commit or the one before.
                commit_errors += 1;
                eprintln!("commit: {e}");
                for ((_, p), offset) in &to_commit {
                    let c = committed.get_mut(p).unwrap();
                    *c = (*c).min(*offset);
                }
            }
        }
    }
    if let Some(chaos) = chaos.take() {
        chaos_log = chaos.await.expect("kills and restarts");
    }
    assert_eq!(
        next, ends,
        "every record up to the end of each partition was processed"
    );
    let tps: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    let finals: Vec<((String, i32), i64)> =
        tps.iter().map(|tp| (tp.clone(), ends[&tp.1])).collect();
    consumer
        .commit_offsets_sync(&finals)
        .await
        .expect("the final commit, with every broker back");
    let stored = consumer.committed(&tps).await.expect("committed offsets");
    for (tp, end) in &finals {
        assert_eq!(
            stored.get(tp),
            Some(end),
            "the group's committed offset of {tp:?}"
        );
    }
    consumer.close().await;
    eprintln!(
        "{total} records processed by one member with manual commits; {}; {duplicates} \
         processed twice in {} replays {replays:?}, each from at or after the last acknowledged \
         commit; {poll_errors} poll errors, {commit_errors} commit errors",
        chaos_log.join("; "),
        replays.len()
    );
}

/// What a broker's request log says about the Fetch requests of one client id.
#[derive(Debug, Default)]
struct Fetches {
    /// Fetch requests completed.
    requests: usize,
    /// Record bytes sent back, over every partition.
    record_bytes: i64,
    /// `preferredReadReplica` values other than -1 in the responses.
    pointed_to: BTreeSet<i64>,
}

/// The byte length of broker `node`'s request log: where lines written from now on start.
fn request_log_mark(cluster: &TestCluster, node: i32) -> u64 {
    std::fs::metadata(cluster.request_log(node)).map_or(0, |m| m.len())
}

/// The Fetch requests of `client_id` that broker `node` completed since `mark`, from its request
/// log (`Completed request:{json}` lines, which `scripts/kafka.sh` writes at DEBUG). When the log
/// rolled over since the mark, the rest of the old file (`kafka-request.log.1`) comes first.
fn fetches_served(cluster: &TestCluster, node: i32, client_id: &str, mark: u64) -> Fetches {
    let path = cluster.request_log(node);
    let open = |path: &Path, from: u64| {
        let mut file = std::fs::File::open(path)
            .unwrap_or_else(|e| panic!("the request log {}: {e}", path.display()));
        file.seek(SeekFrom::Start(from))
            .expect("seek the request log");
        BufReader::new(file)
    };
    let mut readers = Vec::new();
    if request_log_mark(cluster, node) < mark {
        readers.push(open(&path.with_extension("log.1"), mark));
        readers.push(open(&path, 0));
    } else {
        readers.push(open(&path, mark));
    }
    let mut out = Fetches::default();
    let needle = format!("\"clientId\":{}", serde_json::Value::from(client_id));
    for line in readers.into_iter().flat_map(BufRead::lines) {
        let Ok(line) = line else { break };
        if !line.contains(&needle) || !line.contains("\"requestApiKeyName\":\"FETCH\"") {
            continue;
        }
        let Some((_, json)) = line.split_once("Completed request:") else {
            continue;
        };
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        out.requests += 1;
        let responses = entry["response"]["responses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for partition in responses
            .iter()
            .flat_map(|t| t["partitions"].as_array().cloned().unwrap_or_default())
        {
            out.record_bytes += partition["recordsSizeInBytes"].as_i64().unwrap_or(0);
            if let Some(replica) = partition["preferredReadReplica"].as_i64()
                && replica >= 0
            {
                out.pointed_to.insert(replica);
            }
        }
    }
    out
}

/// Polls `consumer` until `count` more records came; returns their values.
async fn consume_values(
    consumer: &Consumer,
    count: usize,
    timeout: Duration,
) -> Result<Vec<String>, Vec<String>> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count {
        if Instant::now() >= deadline {
            return Err(out);
        }
        let polled = consumer
            .poll(Duration::from_millis(300))
            .await
            .unwrap_or_else(|e| panic!("poll: {e}"));
        for r in polled.iter() {
            let r = r.expect("record");
            out.push(String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned());
        }
    }
    Ok(out)
}

async fn produce_values(cluster: &TestCluster, topic: &str, range: std::ops::Range<usize>) {
    let producer = Producer::new(cluster.config(&[("acks", "all"), ("linger.ms", "5")])).unwrap();
    let mut deliveries = Vec::new();
    for i in range {
        let record = ProducerRecord::new(topic.to_owned(), format!("{i:06}")).with_partition(0);
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer.close().await.expect("close the producer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_with_client_rack_reads_from_the_follower_in_its_rack_and_falls_back_to_the_leader()
 {
    const BATCH: usize = 5_000;
    let cluster = cluster();
    let _turn = take_turn().await;
    cluster_whole(cluster).await;
    let brokers = Brokers::new(cluster);
    let topic = create_topic(cluster, "mb-rack", 1).await;
    let info = describe(cluster, &topic)
        .await
        .expect("the topic's metadata");
    let leader = info.partitions[0].leader;
    let follower = *info.partitions[0]
        .replicas
        .iter()
        .find(|r| **r != leader)
        .expect("a follower");
    let rack = cluster.racks[&follower].clone();
    assert_ne!(
        cluster.racks[&leader], rack,
        "each broker has a rack of its own"
    );
    produce_values(cluster, &topic, 0..BATCH).await;

    let client_id = unique_topic("mb-rack-client");
    let consumer = Consumer::new(cluster.config(&[
        ("client.id", &client_id),
        ("client.rack", &rack),
        ("fetch.max.wait.ms", "100"),
    ]))
    .unwrap();
    let tp = (topic.clone(), 0);
    consumer.assign(std::slice::from_ref(&tp)).unwrap();
    consumer.seek(&tp, SeekTo::Earliest).unwrap();
    let marks: BTreeMap<i32, u64> = cluster
        .addresses
        .keys()
        .map(|n| (*n, request_log_mark(cluster, *n)))
        .collect();

    // With the follower up: every record from it, none from the leader, which only points there.
    let first = match consume_values(&consumer, BATCH, Duration::from_secs(60)).await {
        Ok(values) => values,
        Err(partial) => {
            let from_leader = fetches_served(cluster, leader, &client_id, marks[&leader]);
            panic!(
                "{} of {BATCH} records within 60 s with client.rack={rack}: the leader (broker \
                 {leader}) answered {} fetches pointing to {:?} (preferredReadReplica), the \
                 client must fetch from there (KIP-392)",
                partial.len(),
                from_leader.requests,
                from_leader.pointed_to
            )
        }
    };
    let expected: Vec<String> = (0..BATCH).map(|i| format!("{i:06}")).collect();
    assert_eq!(first, expected, "the records, once and in order");
    let from_leader = fetches_served(cluster, leader, &client_id, marks[&leader]);
    let from_follower = fetches_served(cluster, follower, &client_id, marks[&follower]);
    assert!(
        from_leader.pointed_to.contains(&i64::from(follower)),
        "the leader (broker {leader}) named broker {follower} ({rack}) as the preferred read \
         replica: {from_leader:?}"
    );
    assert!(
        from_follower.record_bytes > 0,
        "broker {follower} in {rack} served the client's records: {from_follower:?}"
    );
    assert_eq!(
        from_leader.record_bytes, 0,
        "the leader (broker {leader}) sent no records to a client in {rack}: {from_leader:?}"
    );

    // The follower dies: the consumer goes back to the leader.
    let marks: BTreeMap<i32, u64> = cluster
        .addresses
        .keys()
        .map(|n| (*n, request_log_mark(cluster, *n)))
        .collect();
    brokers.kill(follower).await;
    produce_values(cluster, &topic, BATCH..2 * BATCH).await;
    let second = consume_values(&consumer, BATCH, Duration::from_secs(90))
        .await
        .unwrap_or_else(|partial| {
            panic!(
                "{} of {BATCH} records within 90 s after broker {follower} (the client's rack's \
                 replica) was killed: the consumer must fall back to the leader",
                partial.len()
            )
        });
    let expected: Vec<String> = (BATCH..2 * BATCH).map(|i| format!("{i:06}")).collect();
    assert_eq!(
        second, expected,
        "the records after the kill, once and in order"
    );
    let after_leader = fetches_served(cluster, leader, &client_id, marks[&leader]);
    assert!(
        after_leader.record_bytes > 0,
        "the leader (broker {leader}) served the records once broker {follower} was dead: \
         {after_leader:?}"
    );
    consumer.close().await;
    let back = brokers.start(follower).await;
    eprintln!(
        "client.rack={rack}: broker {follower} served {} fetches with {} record bytes, the \
         leader {leader} {} fetches pointing to {:?} with {} record bytes; after broker \
         {follower} was killed the leader served {} fetches with {} record bytes; broker \
         {follower} back after {back:?}",
        from_follower.requests,
        from_follower.record_bytes,
        from_leader.requests,
        from_leader.pointed_to,
        from_leader.record_bytes,
        after_leader.requests,
        after_leader.record_bytes
    );
}
