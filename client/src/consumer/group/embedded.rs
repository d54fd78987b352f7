//! The consumer protocol embedded in the classic group protocol: the subscription a member
//! puts in JoinGroup and the assignment the leader hands out in SyncGroup.
//!
//! Both are an int16 version followed by a non-flexible body, byte for byte what the Java
//! client writes (`ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` v0–v3). A
//! newer version from another client is read with the newest schema we know (its extra
//! trailing fields are ignored), as the Java client does.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes, BytesMut};
use laminar_kafka_protocol::messages::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use laminar_kafka_protocol::messages::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use laminar_kafka_protocol::messages::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use laminar_kafka_protocol::messages::protocol::{Decodable, Encodable, StrBytes};

use crate::consumer::assignor::MemberSubscription;
use crate::offsets::TopicPartition;

/// The newest version of both messages that we read and write.
pub(crate) const VERSION: i16 = 3;

fn decode_error(what: &'static str, version: i16, reason: String) -> laminar_kafka_protocol::Error {
    laminar_kafka_protocol::Error::Decode {
        api: what,
        version,
        reason,
    }
}

fn encode_error(what: &'static str, reason: String) -> laminar_kafka_protocol::Error {
    laminar_kafka_protocol::Error::Encode {
        api: what,
        version: VERSION,
        reason,
    }
}

fn grouped(parts: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in parts {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    for ps in by_topic.values_mut() {
        ps.sort_unstable();
        ps.dedup();
    }
    by_topic
}

fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// The version prefix, clamped to what we can read. An empty buffer has no version.
fn read_version(
    what: &'static str,
    bytes: &mut Bytes,
) -> Result<Option<i16>, laminar_kafka_protocol::Error> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() < 2 {
        return Err(decode_error(what, -1, "shorter than its version".into()));
    }
    let version = bytes.get_i16();
    if version < 0 {
        return Err(decode_error(what, version, "negative version".into()));
    }
    Ok(Some(version.min(VERSION)))
}

/// Encodes a member's subscription (topics, owned partitions, generation, rack).
pub(crate) fn encode_subscription(
    topics: &[String],
    user_data: Option<Bytes>,
    owned: &[TopicPartition],
    generation: i32,
    rack: Option<&str>,
) -> Result<Bytes, laminar_kafka_protocol::Error> {
    let what = "ConsumerProtocolSubscription";
    let message = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| name(t)).collect())
        .with_user_data(user_data)
        .with_owned_partitions(
            grouped(owned)
                .into_iter()
                .map(|(t, ps)| {
                    OwnedTopic::default()
                        .with_topic(TopicName(name(t)))
                        .with_partitions(ps)
                })
                .collect(),
        )
        .with_generation_id(generation)
        .with_rack_id(rack.map(name));
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&VERSION.to_be_bytes());
    message
        .encode(&mut buf, VERSION)
        .map_err(|e| encode_error(what, e.to_string()))?;
    Ok(buf.freeze())
}

/// Decodes a member's subscription as the leader receives it in JoinGroup.
pub(crate) fn decode_subscription(
    member_id: &str,
    instance_id: Option<&str>,
    mut bytes: Bytes,
) -> Result<MemberSubscription, laminar_kafka_protocol::Error> {
    let what = "ConsumerProtocolSubscription";
    let Some(version) = read_version(what, &mut bytes)? else {
        return Err(decode_error(what, -1, "empty subscription".into()));
    };
    let message = ConsumerProtocolSubscription::decode(&mut bytes, version)
        .map_err(|e| decode_error(what, version, e.to_string()))?;
    let mut generation = if version >= 2 {
        message.generation_id
    } else {
        -1
    };
    // Older cooperative-sticky members carry their generation as 4 bytes of user data.
    if generation < 0 {
        if let Some(ud) = message.user_data.as_ref().filter(|u| u.len() == 4) {
            generation = i32::from_be_bytes([ud[0], ud[1], ud[2], ud[3]]);
        }
    }
    Ok(MemberSubscription {
        member_id: member_id.to_owned(),
        instance_id: instance_id.map(str::to_owned),
        topics: message.topics.iter().map(|t| t.to_string()).collect(),
        owned: message
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
            .collect(),
        generation,
        rack: message.rack_id.map(|r| r.to_string()),
    })
}

/// Encodes the partitions the leader assigns to one member.
pub(crate) fn encode_assignment(
    parts: &[TopicPartition],
) -> Result<Bytes, laminar_kafka_protocol::Error> {
    let what = "ConsumerProtocolAssignment";
    let message = ConsumerProtocolAssignment::default().with_assigned_partitions(
        grouped(parts)
            .into_iter()
            .map(|(t, ps)| {
                AssignedTopic::default()
                    .with_topic(TopicName(name(t)))
                    .with_partitions(ps)
            })
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&VERSION.to_be_bytes());
    message
        .encode(&mut buf, VERSION)
        .map_err(|e| encode_error(what, e.to_string()))?;
    Ok(buf.freeze())
}

/// Decodes this member's assignment from SyncGroup. An empty buffer is an empty assignment
/// (what the coordinator sends a member the leader left out).
pub(crate) fn decode_assignment(
    mut bytes: Bytes,
) -> Result<Vec<TopicPartition>, laminar_kafka_protocol::Error> {
    let what = "ConsumerProtocolAssignment";
    let Some(version) = read_version(what, &mut bytes)? else {
        return Ok(Vec::new());
    };
    let message = ConsumerProtocolAssignment::decode(&mut bytes, version)
        .map_err(|e| decode_error(what, version, e.to_string()))?;
    let mut parts: Vec<TopicPartition> = message
        .assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
        .collect();
    parts.sort();
    parts.dedup();
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_bytes_are_the_java_clients() {
        // Java's ConsumerProtocol.serializeAssignment(t: [0, 1]) at version 0 is:
        // version, [topic "t", [0, 1]], null user data.
        let java_v0: &[u8] = &[
            0, 0, // version 0
            0, 0, 0, 1, // one topic
            0, 1, b't', // "t"
            0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, // partitions 0, 1
            0xff, 0xff, 0xff, 0xff, // null user data
        ];
        assert_eq!(
            decode_assignment(Bytes::from_static(java_v0)).unwrap(),
            vec![("t".to_owned(), 0), ("t".to_owned(), 1)]
        );
        let ours = encode_assignment(&[("t".to_owned(), 1), ("t".to_owned(), 0)]).unwrap();
        assert_eq!(&ours[..2], &[0, 3], "written at version 3");
        assert_eq!(&ours[2..], &java_v0[2..], "v1–v3 add no assignment fields");
    }

    #[test]
    fn subscription_round_trips_with_owned_partitions_and_generation() {
        let bytes = encode_subscription(
            &["a".to_owned(), "b".to_owned()],
            Some(Bytes::from_static(&[0, 0, 0, 7])),
            &[
                ("b".to_owned(), 2),
                ("a".to_owned(), 0),
                ("b".to_owned(), 1),
            ],
            7,
            Some("rack-1"),
        )
        .unwrap();
        let m = decode_subscription("m-1", Some("i-1"), bytes).unwrap();
        assert_eq!(m.topics, vec!["a", "b"]);
        assert_eq!(
            m.owned,
            vec![("a".into(), 0), ("b".into(), 1), ("b".into(), 2)]
        );
        assert_eq!(m.generation, 7);
        assert_eq!(m.rack.as_deref(), Some("rack-1"));
        assert_eq!(m.instance_id.as_deref(), Some("i-1"));
    }

    #[test]
    fn an_old_subscription_takes_its_generation_from_user_data() {
        // v1: topics ["t"], user data = generation 5, owned [t-0].
        let v1: &[u8] = &[
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0,
            1, 0, 0, 0, 0,
        ];
        let m = decode_subscription("m", None, Bytes::from_static(v1)).unwrap();
        assert_eq!(m.generation, 5);
        assert_eq!(m.owned, vec![("t".to_owned(), 0)]);
    }

    #[test]
    fn a_newer_version_is_read_with_the_newest_schema() {
        let mut bytes = encode_subscription(&["t".to_owned()], None, &[], 3, None)
            .unwrap()
            .to_vec();
        bytes[1] = 9; // a future version with a trailing field we do not know
        bytes.extend_from_slice(&[0, 0, 0, 42]);
        let m = decode_subscription("m", None, Bytes::from(bytes)).unwrap();
        assert_eq!(m.topics, vec!["t"]);
        assert_eq!(m.generation, 3);
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        for bad in [
            &[0u8][..],
            &[0xff, 0xff][..],
            &[0, 0, 0x7f, 0xff, 0xff, 0xff][..], // two billion topics announced
            &[0, 0, 0, 0, 0, 1, 0, 9, b'x'][..], // a string longer than the buffer
        ] {
            assert!(decode_subscription("m", None, Bytes::copy_from_slice(bad)).is_err());
            assert!(decode_assignment(Bytes::copy_from_slice(bad)).is_err());
        }
        assert_eq!(decode_assignment(Bytes::new()).unwrap(), vec![]);
    }
}
