//! Consumer-group features against the harness broker: pattern subscriptions that pick up new
//! topics and partitions, static membership, and the consumer protocol of KIP-848.

use std::collections::BTreeSet;
use std::time::Duration;

use laminar_kafka_client::Error;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{GroupConsumer, RebalanceEvent, Subscription};
use laminar_kafka_tests::group::*;
use laminar_kafka_tests::{Broker, unique_topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_picks_up_topics_and_partitions_created_after_the_start() {
    let base = unique_topic("rx");
    let first = format!("{base}-a");
    create(&first, 2).await;
    create(&format!("{base}x-other"), 1).await;
    produce(&first, 2, "a", 20).await;
    let pattern = format!("{}-.*", base.replace('.', "\\."));
    let member = Member::start(
        config(&unique_topic("g"), &[]),
        Subscription::pattern(&pattern).unwrap(),
    );
    assert!(
        wait_until(Duration::from_secs(20), || member.values().len() == 20).await,
        "{:?}",
        member.values()
    );

    // A matching topic created now is consumed without a restart; a non-matching one is not.
    let second = format!("{base}-b");
    create(&second, 1).await;
    produce(&second, 1, "b", 10).await;
    produce(&format!("{base}x-other"), 1, "other", 5).await;
    let want = values("b", 10);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let got: BTreeSet<String> = member.values().into_iter().collect();
            want.is_subset(&got)
        })
        .await,
        "records of the new topic: {:?}",
        member.values()
    );

    // New partitions of a subscribed topic, too.
    let broker = Broker::from_env();
    broker
        .run_tool(
            "topics",
            &[
                "--bootstrap-server",
                &broker.plaintext,
                "--alter",
                "--topic",
                &first,
                "--partitions",
                "3",
            ],
            None,
            Duration::from_secs(60),
        )
        .expect("add a partition");
    let producer_cfg = producer_config();
    let producer = laminar_kafka_client::producer::Producer::new(producer_cfg).unwrap();
    // Retry until the producer sees the new partition.
    let mut sent = false;
    for _ in 0..50 {
        let record = laminar_kafka_client::producer::ProducerRecord::new(first.as_str(), "c-new")
            .with_partition(2);
        if let Ok(d) = producer.send(record).await
            && d.await.is_ok()
        {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sent, "wrote to the new partition");
    assert!(
        wait_until(Duration::from_secs(20), || member
            .values()
            .contains(&"c-new".to_owned()))
        .await,
        "the new partition is consumed: {:?}",
        member.assignment()
    );
    assert!(
        member.values().iter().all(|v| !v.starts_with("other")),
        "a topic the pattern does not match is not consumed"
    );
    assert_eq!(member.assignment().len(), 4);
    member.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_that_restarts_within_the_session_gets_its_partitions_back_without_a_rebalance()
 {
    let topic = topic("grp-static", 4).await;
    let group = unique_topic("g");
    let sub = || Subscription::topics([&topic]);
    let a = Member::start(config(&group, &[("group.instance.id", "a")]), sub());
    let b = Member::start(config(&group, &[("group.instance.id", "b")]), sub());
    let all = all_partitions(&topic, 4);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let s = [a.assignment(), b.assignment()];
            is_partition_of(&s, &all) && s.iter().all(|x| x.len() == 2)
        })
        .await
    );
    let a_had = a.assignment();
    let b_events = b.seen.lock().unwrap().events.len();
    assert_eq!(
        a.consumer.group_metadata().group_instance_id.as_deref(),
        Some("a")
    );
    // A static member's close does not leave the group...
    a.close().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // ...so its replacement, with the same instance id, takes its place at once.
    let a2 = Member::start(config(&group, &[("group.instance.id", "a")]), sub());
    assert!(
        wait_until(Duration::from_secs(5), || a2.assignment() == a_had).await,
        "the restarted member owns {:?}, not {a_had:?}",
        a2.assignment()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        b.seen.lock().unwrap().events.len(),
        b_events,
        "the other member saw no rebalance: {:?}",
        b.seen.lock().unwrap().events
    );
    a2.close().await;
    b.close().await;
}

/// A member of the consumer protocol: the broker decides heartbeats and session timeouts.
fn consumer_protocol_config(group: &str) -> ClientConfig {
    let broker = Broker::from_env();
    let mut c = ClientConfig::new(&broker.plaintext).expect("config");
    for (k, v) in [
        ("group.id", group),
        ("group.protocol", "consumer"),
        ("group.remote.assignor", "uniform"),
        ("auto.offset.reset", "earliest"),
        ("metadata.max.age.ms", "1000"),
        ("fetch.max.wait.ms", "100"),
    ] {
        c.set(k, v).unwrap();
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_members_join_split_partitions_and_leave() {
    let topic = topic("grp-848", 4).await;
    let group = unique_topic("g");
    produce(&topic, 4, "a", 40).await;
    let all = all_partitions(&topic, 4);
    if !broker_runs_the_consumer_protocol().await {
        // A 3.x broker: the first poll refuses, naming the feature and the way out, and the
        // member never sits without partitions in silence.
        let consumer = GroupConsumer::new(consumer_protocol_config(&group)).expect("consumer");
        consumer
            .subscribe(Subscription::topics([&topic]))
            .expect("subscribe");
        let started = std::time::Instant::now();
        let error = loop {
            match consumer.poll(Duration::from_millis(500)).await {
                Err(e) => break e,
                Ok(polled) => assert!(polled.is_empty(), "records without a group"),
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no refusal within 20 s"
            );
        };
        let Error::UnsupportedByBroker {
            feature, detail, ..
        } = &error
        else {
            panic!("expected UnsupportedByBroker, got {error:?}");
        };
        assert!(feature.contains("group.protocol=consumer"), "{error}");
        assert!(detail.contains("ConsumerGroupHeartbeat"), "{error}");
        assert!(
            error.to_string().contains("group.protocol=classic"),
            "{error}"
        );
        assert!(consumer.assignment().is_empty());
        // It stays refused: the next poll says the same.
        assert!(matches!(
            consumer.poll(Duration::from_millis(100)).await,
            Err(Error::UnsupportedByBroker { .. })
        ));
        consumer.close().await;
        return;
    }
    let a = Member::start(
        consumer_protocol_config(&group),
        Subscription::topics([&topic]),
    );
    assert!(
        wait_until(Duration::from_secs(20), || a.assignment() == all).await,
        "the first member owns every partition: {:?}",
        a.assignment()
    );
    assert!(wait_until(Duration::from_secs(20), || a.values().len() == 40).await);
    let meta = a.consumer.group_metadata();
    assert!(
        meta.generation_id > 0,
        "member epoch {}",
        meta.generation_id
    );
    assert_eq!(meta.member_id.len(), 22, "a client-generated member id");

    let b = Member::start(
        consumer_protocol_config(&group),
        Subscription::topics([&topic]),
    );
    assert!(
        wait_until(Duration::from_secs(30), || {
            let s = [a.assignment(), b.assignment()];
            is_partition_of(&s, &all) && s.iter().all(|x| x.len() == 2)
        })
        .await,
        "the broker split the partitions: {:?} {:?}",
        a.assignment(),
        b.assignment()
    );
    assert!(
        a.seen
            .lock()
            .unwrap()
            .events
            .iter()
            .any(|e| matches!(e, RebalanceEvent::Revoked(p) if p.len() == 2)),
        "the first member revoked what moved"
    );
    produce(&topic, 4, "b", 40).await;
    let want = values("b", 40);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let c = read_counts(&[&a, &b]);
            want.iter().all(|v| c.contains_key(v))
        })
        .await
    );
    let counts = read_counts(&[&a, &b]);
    assert!(counts.values().all(|c| *c == 1), "{counts:?}");

    // The leaver's partitions come back to the other member.
    b.close().await;
    assert!(
        wait_until(Duration::from_secs(20), || a.assignment() == all).await,
        "{:?}",
        a.assignment()
    );
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_leaves_and_the_next_poll_rejoins() {
    let topic = topic("grp-poll-interval", 2).await;
    let group = unique_topic("g");
    let all = all_partitions(&topic, 2);
    let b = Member::start(config(&group, &[]), Subscription::topics([&topic]));
    let a = laminar_kafka_client::consumer::GroupConsumer::new(config(
        &group,
        &[("max.poll.interval.ms", "2000")],
    ))
    .unwrap();
    a.subscribe(Subscription::topics([&topic])).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while a.assignment().len() != 1 && std::time::Instant::now() < deadline {
        a.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert_eq!(a.assignment().len(), 1, "{:?}", b.assignment());
    // No poll for longer than max.poll.interval.ms: the member leaves, its partition moves.
    assert!(
        wait_until(Duration::from_secs(10), || b.assignment() == all).await,
        "the other member took over: {:?}",
        b.assignment()
    );
    assert!(a.assignment().is_empty());
    // Polling again rejoins.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while a.assignment().len() != 1 && std::time::Instant::now() < deadline {
        a.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert_eq!(a.assignment().len(), 1);
    a.close().await;
    b.close().await;
}
