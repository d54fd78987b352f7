//! Fresh topics: names no other test uses, and topics created under them so that tests run in
//! parallel without seeing each other's records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use laminar_kafka_client::admin::{Admin, NewTopic};

use crate::plain;

/// A topic name no other test (in this or a parallel test binary) uses: `prefix` with characters
/// that Kafka does not allow replaced by `-`, then the process id, the time and a counter.
pub fn unique_topic(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix: String = prefix
        .chars()
        .take(150)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// Creates a topic named [`unique_topic`]`(prefix)` with `partitions` partitions (one replica)
/// and returns its name.
pub async fn topic(prefix: &str, partitions: i32) -> String {
    create_topic(prefix, partitions, &[]).await
}

/// Like [`topic`], with topic configs.
pub async fn create_topic(prefix: &str, partitions: i32, configs: &[(&str, &str)]) -> String {
    let name = unique_topic(prefix);
    let mut topic = NewTopic::new(&name, partitions, 1);
    for (k, v) in configs {
        topic = topic.with_config(*k, *v);
    }
    Admin::new(plain(&[]))
        .unwrap()
        .create_topics(&[topic])
        .await
        .expect("create topic");
    name
}

/// Creates the topic `name` with `partitions` partitions (one replica).
pub async fn create(name: &str, partitions: i32) {
    Admin::new(plain(&[]))
        .unwrap()
        .create_topics(&[NewTopic::new(name, partitions, 1)])
        .await
        .expect("create topic");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_topics_differ_and_are_valid_kafka_names() {
        let names: HashSet<String> = (0..1000).map(|_| unique_topic("a test/name é")).collect();
        assert_eq!(names.len(), 1000);
        for name in &names {
            assert!(name.starts_with("a-test-name--"), "{name}");
            assert!(name.len() <= 249, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
                "{name}"
            );
        }
        assert!(unique_topic(&"x".repeat(1000)).len() <= 249);
    }
}
