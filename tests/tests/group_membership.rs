//! Classic-protocol consumer groups against the harness broker: assignment across members,
//! members leaving and joining, incremental (cooperative) rebalances, committed offsets, lag.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use laminar_kafka_client::consumer::{GroupConsumer, RebalanceEvent, Subscription};
use laminar_kafka_tests::group::*;
use laminar_kafka_tests::unique_topic;

async fn three_members_then_one_leaves(assignor: &str) {
    let topic = topic(&format!("grp-{assignor}"), 6).await;
    let group = unique_topic("g");
    let strategy = [("partition.assignment.strategy", assignor)];
    let members: Vec<Member> = (0..3)
        .map(|_| Member::start(config(&group, &strategy), Subscription::topics([&topic])))
        .collect();
    let all = all_partitions(&topic, 6);
    let split = |ms: &[Member]| {
        let a: Vec<_> = ms.iter().map(Member::assignment).collect();
        is_partition_of(&a, &all) && a.iter().all(|x| x.len() == 2)
    };
    assert!(
        wait_until(Duration::from_secs(20), || split(&members)).await,
        "each of 3 members owns 2 of the 6 partitions: {:?}",
        members.iter().map(Member::assignment).collect::<Vec<_>>()
    );
    produce(&topic, 6, "a", 600).await;
    let expected = values("a", 600);
    let done = |ms: &[Member]| {
        let counts = read_counts(&ms.iter().collect::<Vec<_>>());
        counts.keys().cloned().collect::<BTreeSet<_>>() == expected
    };
    assert!(wait_until(Duration::from_secs(20), || done(&members)).await);
    let counts = read_counts(&members.iter().collect::<Vec<_>>());
    assert!(
        counts.values().all(|c| *c == 1),
        "a stable group reads every record once"
    );

    // One leaves: the two others take its partitions well within the session timeout.
    let mut members = members;
    let leaver = members.pop().unwrap();
    let left_at = Instant::now();
    leaver.close().await;
    let a = |ms: &[Member]| {
        let a: Vec<_> = ms.iter().map(Member::assignment).collect();
        is_partition_of(&a, &all) && a.iter().all(|x| x.len() == 3)
    };
    assert!(
        wait_until(Duration::from_secs(6), || a(&members)).await,
        "the leaver's partitions moved: {:?}",
        members.iter().map(Member::assignment).collect::<Vec<_>>()
    );
    let moved_in = left_at.elapsed();
    produce(&topic, 6, "b", 60).await;
    let expected_b = values("b", 60);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let counts = read_counts(&members.iter().collect::<Vec<_>>());
            expected_b.iter().all(|v| counts.contains_key(v))
        })
        .await
    );
    eprintln!("{assignor}: partitions moved {moved_in:?} after the leave");
    for m in members {
        m.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_members_split_partitions_and_a_leavers_partitions_move() {
    three_members_then_one_leaves("range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_members_split_partitions_and_a_leavers_partitions_move() {
    three_members_then_one_leaves("roundrobin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_join_moves_only_what_it_must_after_the_owner_checkpoints() {
    let topic = topic("grp-coop", 6).await;
    let group = unique_topic("g");
    let strategy = [("partition.assignment.strategy", "cooperative-sticky")];
    // Revocations take a while (an engine checkpointing): the new owner must not read a
    // partition before its old owner committed it.
    let slow = Duration::from_millis(700);
    let first: Vec<Member> = (0..3)
        .map(|_| {
            Member::start_with(
                config(&group, &strategy),
                Subscription::topics([&topic]),
                slow,
            )
        })
        .collect();
    let all = all_partitions(&topic, 6);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let a: Vec<_> = first.iter().map(Member::assignment).collect();
            is_partition_of(&a, &all) && a.iter().all(|x| x.len() == 2)
        })
        .await
    );
    produce(&topic, 6, "a", 300).await;
    assert!(
        wait_until(Duration::from_secs(20), || read_counts(
            &first.iter().collect::<Vec<_>>()
        )
        .len()
            == 300)
        .await
    );
    let before: Vec<BTreeSet<Tp>> = first.iter().map(Member::assignment).collect();
    let events_before: Vec<usize> = first
        .iter()
        .map(|m| m.seen.lock().unwrap().events.len())
        .collect();

    // Keep records flowing while the fourth member joins.
    let topic2 = topic.clone();
    let writer = tokio::spawn(async move { produce(&topic2, 6, "b", 600).await });
    let fourth = Member::start(config(&group, &strategy), Subscription::topics([&topic]));
    let mut members = first;
    members.push(fourth);
    assert!(
        wait_until(Duration::from_secs(30), || {
            let a: Vec<_> = members.iter().map(Member::assignment).collect();
            is_partition_of(&a, &all) && a.iter().all(|x| !x.is_empty() && x.len() <= 2)
        })
        .await,
        "four members share six partitions: {:?}",
        members.iter().map(Member::assignment).collect::<Vec<_>>()
    );
    writer.await.unwrap();
    let after: Vec<BTreeSet<Tp>> = members.iter().map(Member::assignment).collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(
            a.is_subset(b),
            "member {i} kept its partitions ({b:?} → {a:?})"
        );
        // It revoked exactly what it gave up, and never all of its partitions.
        let revoked: BTreeSet<Tp> = members[i].seen.lock().unwrap().events[events_before[i]..]
            .iter()
            .filter_map(|e| match e {
                RebalanceEvent::Revoked(p) => Some(p.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(&revoked, &(b - a), "member {i} revoked only what moved");
    }
    // 2,2,2 → 2,2,1,1: balance requires one partition to move, and only one did.
    assert_eq!(
        after[3].len(),
        1,
        "the newcomer got exactly what balance requires"
    );
    let moved: usize = before
        .iter()
        .zip(&after)
        .map(|(b, a)| b.len() - a.len())
        .sum();
    assert_eq!(moved, 1);

    let expected = values("b", 600);
    assert!(
        wait_until(Duration::from_secs(30), || {
            let c = read_counts(&members.iter().collect::<Vec<_>>());
            expected.iter().all(|v| c.contains_key(v))
        })
        .await
    );
    // The moved partitions were committed by their old owners before the newcomer started:
    // nothing was read twice.
    let counts = read_counts(&members.iter().collect::<Vec<_>>());
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "read twice: {twice:?}");
    for m in members {
        m.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_set_the_start_and_lag_follows_fetches() {
    let topic = topic("grp-commit", 1).await;
    let group = unique_topic("g");
    produce(&topic, 1, "a", 100).await;
    let tp = (topic.clone(), 0);

    let c = GroupConsumer::new(config(
        &group,
        &[("enable.auto.commit", "false"), ("max.poll.records", "10")],
    ))
    .unwrap();
    c.subscribe(Subscription::topics([&topic])).unwrap();
    let mut read = 0;
    while read < 30 {
        read += c
            .poll(Duration::from_secs(10))
            .await
            .unwrap()
            .iter()
            .count();
    }
    assert_eq!(read, 30);
    let lag = c.lag()[&tp];
    assert_eq!(lag.position, Some(30));
    assert_eq!(lag.high_watermark, Some(100));
    assert_eq!(lag.last_stable_offset, Some(100));
    assert_eq!(lag.lag, Some(70));
    c.commit_sync().await.unwrap();
    assert_eq!(
        c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp],
        30
    );
    let meta = c.group_metadata();
    assert_eq!(meta.group_id, group);
    assert!(meta.generation_id >= 1 && !meta.member_id.is_empty());
    // A commit of explicit offsets, then one in the background.
    c.commit_offsets_sync(&[(tp.clone(), 25)]).await.unwrap();
    assert_eq!(
        c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp],
        25
    );
    c.commit_offsets_async(&[(tp.clone(), 27)]).await.unwrap();
    c.close().await;

    // The next member starts at the committed offset, and auto commit records its progress.
    let c = GroupConsumer::new(config(
        &group,
        &[
            ("enable.auto.commit", "true"),
            ("auto.commit.interval.ms", "200"),
        ],
    ))
    .unwrap();
    c.subscribe(Subscription::topics([&topic])).unwrap();
    let mut offsets = Vec::new();
    while offsets.len() < 73 {
        for r in c.poll(Duration::from_secs(10)).await.unwrap().iter() {
            offsets.push(r.unwrap().offset());
        }
    }
    assert_eq!(offsets, (27..100).collect::<Vec<_>>());
    assert!(
        wait_until(Duration::from_secs(5), || c.lag()[&tp].lag == Some(0)).await,
        "{:?}",
        c.lag()
    );
    let mut committed = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while committed != 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        committed = c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp];
    }
    assert_eq!(committed, 100, "auto commit caught up with the position");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_consumer_without_group_id_or_with_a_bad_assignor_is_refused() {
    let mut c = config("x", &[]);
    c.consumer.group_id = None;
    assert!(
        GroupConsumer::new(c)
            .unwrap_err()
            .to_string()
            .contains("group.id")
    );
    let c = config("x", &[("partition.assignment.strategy", "sticky-ish")]);
    assert!(
        GroupConsumer::new(c)
            .unwrap_err()
            .to_string()
            .contains("partition.assignment.strategy")
    );
}
