//! API version negotiation.
//!
//! A connection starts with ApiVersions; the broker answers with the range it speaks for each
//! API. [`NegotiatedVersions`] intersects those ranges with what this client speaks and picks
//! the highest common version per API. What this client speaks is the generated codec's range,
//! raised to the minimums Kafka 4 accepts (KIP-896): an old version that a broker advertises is
//! never chosen just because it is listed.
//!
//! ```
//! use laminar_kafka_protocol::messages::messages::{ApiKey, ApiVersionsResponse};
//! use laminar_kafka_protocol::messages::messages::api_versions_response::ApiVersion;
//! use laminar_kafka_protocol::versions::NegotiatedVersions;
//!
//! let response = ApiVersionsResponse::default().with_api_keys(vec![
//!     ApiVersion::default().with_api_key(ApiKey::Metadata as i16).with_min_version(0).with_max_version(12),
//! ]);
//! let versions = NegotiatedVersions::from_response(&response);
//! assert_eq!(versions.version(ApiKey::Metadata)?, 12);
//! assert!(versions.version(ApiKey::Produce).is_err()); // the broker did not list it
//! # Ok::<(), laminar_kafka_protocol::Error>(())
//! ```

use std::collections::BTreeMap;

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::error::{Error, Result};
use crate::frame::api_key_name;

/// An inclusive range of versions of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

/// The error code a broker answers with when it does not speak the ApiVersions version asked.
pub const UNSUPPORTED_VERSION: i16 = 35;

/// The lowest version of each API that this client sends.
///
/// Kafka 4.0 removed the versions below these (KIP-896); Produce v0–v2 are still advertised by
/// 4.x brokers but rejected, so v3 (the first that carries magic-2 batches) is the floor.
pub fn client_min_version(key: ApiKey) -> i16 {
    match key {
        ApiKey::Produce => 3,
        ApiKey::Fetch => 4,
        ApiKey::ListOffsets => 1,
        ApiKey::OffsetCommit => 2,
        ApiKey::OffsetFetch => 1,
        ApiKey::OffsetForLeaderEpoch => 2,
        ApiKey::CreateTopics => 2,
        ApiKey::DeleteTopics => 1,
        ApiKey::DescribeConfigs => 1,
        _ => key.valid_versions().min,
    }
}

/// The highest version the generated codec can encode a request of `key` at.
///
/// The generated API table (`ApiKey::valid_versions`) can run ahead of a request's own codec
/// (it lists OffsetCommit and OffsetFetch v10 while their request codecs stop at v9): the
/// request's own range is what counts.
fn request_codec_max(key: ApiKey) -> i16 {
    use kafka_protocol::messages as m;
    use kafka_protocol::protocol::Message;
    macro_rules! codec_max {
        ($($api:ident => $request:ty),* $(,)?) => {
            match key {
                $(ApiKey::$api => <$request as Message>::VERSIONS.max,)*
                _ => key.valid_versions().max,
            }
        };
    }
    codec_max!(
        Produce => m::ProduceRequest,
        Fetch => m::FetchRequest,
        ListOffsets => m::ListOffsetsRequest,
        Metadata => m::MetadataRequest,
        OffsetCommit => m::OffsetCommitRequest,
        OffsetFetch => m::OffsetFetchRequest,
        FindCoordinator => m::FindCoordinatorRequest,
        JoinGroup => m::JoinGroupRequest,
        Heartbeat => m::HeartbeatRequest,
        LeaveGroup => m::LeaveGroupRequest,
        SyncGroup => m::SyncGroupRequest,
        SaslHandshake => m::SaslHandshakeRequest,
        ApiVersions => m::ApiVersionsRequest,
        CreateTopics => m::CreateTopicsRequest,
        DeleteTopics => m::DeleteTopicsRequest,
        InitProducerId => m::InitProducerIdRequest,
        AddPartitionsToTxn => m::AddPartitionsToTxnRequest,
        AddOffsetsToTxn => m::AddOffsetsToTxnRequest,
        EndTxn => m::EndTxnRequest,
        TxnOffsetCommit => m::TxnOffsetCommitRequest,
        DescribeConfigs => m::DescribeConfigsRequest,
        SaslAuthenticate => m::SaslAuthenticateRequest,
        DescribeCluster => m::DescribeClusterRequest,
        ConsumerGroupHeartbeat => m::ConsumerGroupHeartbeatRequest,
        OffsetForLeaderEpoch => m::OffsetForLeaderEpochRequest,
    )
}

/// The versions of an API this client speaks: the generated codec's range, raised to
/// [`client_min_version`] and capped at what the request's codec encodes.
pub fn client_range(key: ApiKey) -> VersionRange {
    let codec = key.valid_versions();
    VersionRange {
        min: client_min_version(key).max(codec.min),
        max: codec.max.min(request_codec_max(key)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Use(i16),
    NoOverlap {
        broker: VersionRange,
        client: VersionRange,
    },
}

/// The result of negotiating with one broker: for each API it listed, the version to use or why
/// there is none.
#[derive(Debug, Clone, Default)]
pub struct NegotiatedVersions {
    choices: BTreeMap<i16, Choice>,
    broker: BTreeMap<i16, VersionRange>,
    finalized_features: BTreeMap<String, VersionRange>,
}

impl NegotiatedVersions {
    /// Negotiates with this client's own ranges ([`client_range`]).
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        Self::from_response_with(response, |key| Some(client_range(key)))
    }

    /// Negotiates with the client ranges given by `ours`; `None` means we never use that API.
    /// A caller that needs a cap (for example transactional Produce ≤ v11 without transaction
    /// version 2) passes a narrower range here or uses [`NegotiatedVersions::version_at_most`].
    pub fn from_response_with(
        response: &ApiVersionsResponse,
        ours: impl Fn(ApiKey) -> Option<VersionRange>,
    ) -> Self {
        let mut negotiated = Self::default();
        for api in &response.api_keys {
            let broker = VersionRange {
                min: api.min_version,
                max: api.max_version,
            };
            negotiated.broker.insert(api.api_key, broker);
            let Ok(key) = ApiKey::try_from(api.api_key) else {
                continue; // an API the codec does not know: never used
            };
            let Some(client) = ours(key) else { continue };
            let lo = broker.min.max(client.min);
            let hi = broker.max.min(client.max);
            let choice = if lo <= hi {
                Choice::Use(hi)
            } else {
                Choice::NoOverlap { broker, client }
            };
            negotiated.choices.insert(api.api_key, choice);
        }
        for feature in &response.finalized_features {
            negotiated.finalized_features.insert(
                feature.name.to_string(),
                VersionRange {
                    min: feature.min_version_level,
                    max: feature.max_version_level,
                },
            );
        }
        negotiated
    }

    /// The version to send `key` at.
    pub fn version(&self, key: ApiKey) -> Result<i16> {
        match self.choices.get(&(key as i16)) {
            Some(Choice::Use(v)) => Ok(*v),
            Some(Choice::NoOverlap { broker, client }) => Err(Error::NoCommonVersion {
                api: api_key_name(key),
                broker_min: broker.min,
                broker_max: broker.max,
                client_min: client.min,
                client_max: client.max,
            }),
            None => Err(Error::UnsupportedApi {
                api: api_key_name(key),
            }),
        }
    }

    /// The version to send request type `R` at.
    pub fn version_for<R: Request>(&self) -> Result<i16> {
        let key =
            ApiKey::try_from(R::KEY).map_err(|()| Error::UnsupportedApi { api: "unknown API" })?;
        self.version(key)
    }

    /// The highest common version of `key` that is at most `cap`.
    pub fn version_at_most(&self, key: ApiKey, cap: i16) -> Result<i16> {
        let v = self.version(key)?;
        if v <= cap {
            return Ok(v);
        }
        let broker = self.broker[&(key as i16)];
        let client = client_range(key);
        let lo = broker.min.max(client.min);
        if lo <= cap {
            Ok(cap)
        } else {
            Err(Error::NoCommonVersion {
                api: api_key_name(key),
                broker_min: broker.min,
                broker_max: broker.max,
                client_min: client.min,
                client_max: cap,
            })
        }
    }

    /// The range the broker advertised for `key`, if it listed it.
    pub fn broker_range(&self, key: ApiKey) -> Option<VersionRange> {
        self.broker.get(&(key as i16)).copied()
    }

    /// The finalized level range of a cluster feature (`transaction.version`,
    /// `metadata.version`, …), if the broker reported it. Features are what decide behaviour
    /// such as transaction protocol v2, not API versions alone.
    pub fn finalized_feature(&self, name: &str) -> Option<VersionRange> {
        self.finalized_features.get(name).copied()
    }
}

/// Whether `name` is acceptable as ApiVersions' ClientSoftwareName or ClientSoftwareVersion:
/// `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` (KIP-511). A broker answers INVALID_REQUEST to
/// anything else.
pub fn is_valid_software_token(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-' || *c == b'.')
        }
        _ => false,
    }
}

/// Replaces the characters KIP-511 does not allow with `-` and trims what may not stand at the
/// ends, so that any configured name yields a request the broker accepts.
pub fn sanitize_software_token(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The ApiVersions request this client sends, with its software name and version made valid.
pub fn api_versions_request(software_name: &str, software_version: &str) -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_string(sanitize_software_token(
            software_name,
        )))
        .with_client_software_version(StrBytes::from_string(sanitize_software_token(
            software_version,
        )))
}

/// When a broker does not speak the ApiVersions version we sent, it answers a v0 body with
/// UNSUPPORTED_VERSION and (since Kafka 2.4) its own ApiVersions range. Returns the version to
/// retry with: the broker's highest, or 0 if it did not say.
pub fn api_versions_retry_version(response: &ApiVersionsResponse) -> Option<i16> {
    if response.error_code != UNSUPPORTED_VERSION {
        return None;
    }
    let advertised = response
        .api_keys
        .iter()
        .find(|a| a.api_key == ApiKey::ApiVersions as i16)
        .map(|a| a.max_version.min(ApiKey::ApiVersions.valid_versions().max))
        .unwrap_or(0);
    Some(advertised.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::{ApiVersion, FinalizedFeatureKey};

    fn broker(ranges: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse::default().with_api_keys(
            ranges
                .iter()
                .map(|(k, lo, hi)| {
                    ApiVersion::default()
                        .with_api_key(*k as i16)
                        .with_min_version(*lo)
                        .with_max_version(*hi)
                })
                .collect(),
        )
    }

    #[test]
    fn picks_the_highest_version_both_sides_speak() {
        let codec_max = ApiKey::Fetch.valid_versions().max;
        let v = NegotiatedVersions::from_response(&broker(&[
            (ApiKey::Fetch, 4, codec_max + 5),
            (ApiKey::Metadata, 0, 7),
        ]));
        assert_eq!(v.version(ApiKey::Fetch).unwrap(), codec_max);
        assert_eq!(v.version(ApiKey::Metadata).unwrap(), 7);
    }

    #[test]
    fn old_versions_a_broker_still_lists_are_never_chosen() {
        // A 4.x broker lists Produce v0..; we must not fall below v3.
        let v = NegotiatedVersions::from_response(&broker(&[(ApiKey::Produce, 0, 2)]));
        match v.version(ApiKey::Produce) {
            Err(Error::NoCommonVersion {
                api,
                broker_max: 2,
                client_min: 3,
                ..
            }) => assert_eq!(api, "Produce"),
            other => panic!("expected NoCommonVersion, got {other:?}"),
        }
        let msg = v.version(ApiKey::Produce).unwrap_err().to_string();
        assert!(msg.contains("Produce") && msg.contains("v0..=v2"), "{msg}");
    }

    #[test]
    fn an_api_the_broker_does_not_list_is_unsupported_by_name() {
        let v = NegotiatedVersions::from_response(&broker(&[]));
        let err = v.version(ApiKey::InitProducerId).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the broker does not support InitProducerId"
        );
    }

    #[test]
    fn caps_stay_within_the_broker_range() {
        let v = NegotiatedVersions::from_response(&broker(&[(ApiKey::Produce, 3, 12)]));
        assert_eq!(v.version_at_most(ApiKey::Produce, 11).unwrap(), 11);
        assert_eq!(v.version_at_most(ApiKey::Produce, 20).unwrap(), 12);
        assert!(v.version_at_most(ApiKey::Produce, 2).is_err());
    }

    #[test]
    fn versions_stop_where_the_request_codec_stops() {
        // The API table lists OffsetFetch v10, the request codec only v9.
        let v = NegotiatedVersions::from_response(&broker(&[
            (ApiKey::OffsetFetch, 1, 10),
            (ApiKey::OffsetCommit, 2, 10),
        ]));
        use kafka_protocol::protocol::Message;
        assert_eq!(
            v.version(ApiKey::OffsetFetch).unwrap(),
            kafka_protocol::messages::OffsetFetchRequest::VERSIONS
                .max
                .min(10)
        );
        assert!(v.version(ApiKey::OffsetCommit).unwrap() <= 9);
        for key in ApiKey::iter() {
            let r = client_range(key);
            assert!(r.max <= key.valid_versions().max, "{key:?}");
        }
    }

    #[test]
    fn finalized_features_are_read() {
        let mut r = broker(&[]);
        r.finalized_features = vec![
            FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str("transaction.version"))
                .with_min_version_level(2)
                .with_max_version_level(2),
        ];
        let v = NegotiatedVersions::from_response(&r);
        assert_eq!(
            v.finalized_feature("transaction.version"),
            Some(VersionRange { min: 2, max: 2 })
        );
        assert_eq!(v.finalized_feature("metadata.version"), None);
    }

    #[test]
    fn software_tokens_follow_kip_511() {
        assert!(is_valid_software_token("laminar-kafka"));
        assert!(is_valid_software_token("0.1.0"));
        assert!(!is_valid_software_token("-x"));
        assert!(!is_valid_software_token("a b"));
        assert!(!is_valid_software_token(""));
        assert_eq!(sanitize_software_token("my client/1"), "my-client-1");
        assert_eq!(sanitize_software_token("--"), "unknown");
        assert!(is_valid_software_token(&sanitize_software_token(
            " .weird_name. "
        )));
    }

    #[test]
    fn unsupported_api_versions_version_is_retried_at_the_broker_max() {
        let mut r = broker(&[(ApiKey::ApiVersions, 0, 2)]);
        r.error_code = UNSUPPORTED_VERSION;
        assert_eq!(api_versions_retry_version(&r), Some(2));
        r.api_keys.clear();
        assert_eq!(api_versions_retry_version(&r), Some(0));
        r.error_code = 0;
        assert_eq!(api_versions_retry_version(&r), None);
    }
}
