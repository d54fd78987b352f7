//! What a group member subscribes to: a list of topics or a regular expression, resolved
//! against cluster metadata into topics and their partition counts.

use std::collections::BTreeMap;

use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// The topics a [`GroupConsumer`](super::GroupConsumer) subscribes to.
///
/// A pattern must match a topic's whole name (as Java's `Pattern.matches`); it is matched
/// against every topic in the cluster's metadata, internal topics excepted, at each metadata
/// refresh (`metadata.max.age.ms`), so topics created later are picked up without a restart.
///
/// ```
/// use laminar_kafka_client::consumer::Subscription;
///
/// let s = Subscription::pattern("events-.*")?;
/// assert!(s.matches("events-eu"));
/// assert!(!s.matches("old-events-eu"));
/// assert!(Subscription::pattern("events-(").is_err());
/// # Ok::<(), laminar_kafka_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub enum Subscription {
    /// These topics (those that exist).
    Topics(Vec<String>),
    /// Every topic whose whole name matches.
    Pattern(regex::Regex),
}

impl Subscription {
    /// A subscription to these topics.
    pub fn topics<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        let mut t: Vec<String> = topics.into_iter().map(Into::into).collect();
        t.sort();
        t.dedup();
        Subscription::Topics(t)
    }

    /// A subscription to every topic whose whole name matches `pattern` (`regex` syntax).
    pub fn pattern(pattern: &str) -> Result<Self> {
        let anchored = format!("^(?:{pattern})$");
        regex::Regex::new(&anchored)
            .map(Subscription::Pattern)
            .map_err(|e| Error::InvalidProperty {
                name: "subscription pattern".to_owned(),
                reason: format!("`{pattern}` is not a valid regular expression: {e}"),
            })
    }

    /// Whether `topic` is subscribed.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Subscription::Topics(t) => t.iter().any(|x| x == topic),
            Subscription::Pattern(r) => r.is_match(topic),
        }
    }

    /// Refreshes metadata and returns the subscribed topics that exist, with their partition
    /// counts.
    pub(crate) async fn resolve(&self, cluster: &Cluster) -> Result<BTreeMap<String, i32>> {
        match self {
            Subscription::Topics(topics) => {
                if topics.is_empty() {
                    return Ok(BTreeMap::new());
                }
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                cluster.refresh_metadata(&names).await?;
            }
            Subscription::Pattern(_) => cluster.refresh_metadata(&[]).await?,
        }
        let md = cluster.metadata();
        let mut out = BTreeMap::new();
        for name in md.topic_names() {
            if !self.matches(name) {
                continue;
            }
            if let Some(t) = md.known_topic(name).filter(|t| !t.is_internal) {
                out.insert(name.to_owned(), t.partitions.len() as i32);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_only() {
        let s = Subscription::pattern("events-[0-9]+").unwrap();
        assert!(s.matches("events-12"));
        assert!(!s.matches("events-12x"));
        assert!(!s.matches("xevents-12"));
        let alt = Subscription::pattern("a|b").unwrap();
        assert!(alt.matches("a") && alt.matches("b") && !alt.matches("ab"));
    }

    #[test]
    fn topic_lists_are_exact_and_deduplicated() {
        let s = Subscription::topics(["b", "a", "b"]);
        assert!(matches!(&s, Subscription::Topics(t) if t == &["a", "b"]));
        assert!(s.matches("a") && !s.matches("a.*"));
    }
}
