//! The schema registry client against a running Confluent-compatible registry: start it with
//! `connector/tests/registry.sh start` (the address and credentials come from
//! `eval "$(connector/tests/registry.sh env)"`, or default to what that script uses).
//!
//! These tests fail, saying how to start the registry, when none answers.

use std::sync::atomic::{AtomicU32, Ordering};

use laminar_kafka_connector::config::Secret;
use laminar_kafka_connector::schema_registry::{RegistryError, SchemaRegistryClient, SchemaType};

const DEFAULT_URL: &str = "http://127.0.0.1:18081/apis/ccompat/v7";
const DEFAULT_KEY: &str = "laminar-key";
const DEFAULT_SECRET: &str = "laminar-registry-secret";

fn settings() -> (String, String, String) {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    (
        var("LAMINAR_SCHEMA_REGISTRY_URL", DEFAULT_URL),
        var("LAMINAR_SCHEMA_REGISTRY_KEY", DEFAULT_KEY),
        var("LAMINAR_SCHEMA_REGISTRY_SECRET", DEFAULT_SECRET),
    )
}

/// A client of the test registry; panics with instructions when it does not answer.
async fn registry() -> SchemaRegistryClient {
    let (url, key, secret) = settings();
    let client =
        SchemaRegistryClient::new(&url, Some((Secret::new(key), Secret::new(secret)))).unwrap();
    if let Err(e @ RegistryError::Unreachable { .. }) = client.subjects().await {
        panic!(
            "no schema registry answers at {url} ({e}). Start one with \
             `connector/tests/registry.sh start` (then `eval \"$(connector/tests/registry.sh env)\"` \
             if it is not on the default address)"
        );
    }
    client
}

/// A subject no other test (nor an earlier run against the same registry) uses.
fn subject(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{name}-{}-{nanos}-{}-value",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const ORDER_V1: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"}]}"#;
const ORDER_V2: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"},
    {"name": "qty", "type": "int", "default": 1}]}"#;
const ORDER_BAD: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"},
    {"name": "qty", "type": "int"}]}"#;
/// ORDER_V1 without `note`, which has no default: an old reader cannot fill it in.
const ORDER_NO_NOTE: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}]}"#;

#[tokio::test]
async fn registered_schemas_are_found_by_id_once_and_by_subject() {
    let registry = registry().await;
    let subject = subject("orders");
    let id = registry
        .register(&subject, SchemaType::Avro, ORDER_V1, &[])
        .await
        .unwrap();
    // The same schema again is the same id and no new version.
    assert_eq!(
        registry
            .register(&subject, SchemaType::Avro, ORDER_V1, &[])
            .await
            .unwrap(),
        id
    );
    let id2 = registry
        .register(&subject, SchemaType::Avro, ORDER_V2, &[])
        .await
        .unwrap();
    assert_ne!(id, id2);
    assert_eq!(
        registry.subject_versions(&subject).await.unwrap(),
        vec![1, 2]
    );
    let latest = registry.latest(&subject).await.unwrap();
    assert_eq!((latest.version, latest.schema.id), (2, id2));
    // A registry may hand the schema back in another layout (Confluent and Apicurio drop the
    // whitespace): the same JSON, not the same text.
    assert_eq!(json(&latest.schema.schema), json(ORDER_V2));
    let first = registry.version(&subject, 1).await.unwrap();
    assert_eq!(first.schema.id, id);
    assert!(registry.subjects().await.unwrap().contains(&subject));

    // A fresh client asks the registry once per id, however many callers ask at once.
    let (url, key, secret) = settings();
    let fresh =
        SchemaRegistryClient::new(&url, Some((Secret::new(key), Secret::new(secret)))).unwrap();
    let (a, b, c, d) = tokio::join!(
        fresh.schema_by_id(id),
        fresh.schema_by_id(id),
        fresh.schema_by_id(id),
        fresh.schema_by_id(id)
    );
    for s in [&a, &b, &c, &d] {
        let s = s.as_ref().unwrap();
        assert_eq!((s.id, s.schema_type), (id, SchemaType::Avro));
        assert_eq!(json(&s.schema), json(ORDER_V1));
    }
    fresh.schema_by_id(id).await.unwrap();
    assert_eq!(fresh.requests_sent(), 1);
    assert!(fresh.cached(id).is_some());
}

#[tokio::test]
async fn compatibility_is_checked_against_the_latest_version() {
    let registry = registry().await;
    let subject = subject("compat");
    // Nothing registered: anything is compatible.
    assert!(
        registry
            .is_compatible(&subject, SchemaType::Avro, ORDER_V1, &[])
            .await
            .unwrap()
    );
    registry
        .register(&subject, SchemaType::Avro, ORDER_V1, &[])
        .await
        .unwrap();
    assert!(
        registry
            .is_compatible(&subject, SchemaType::Avro, ORDER_V2, &[])
            .await
            .unwrap()
    );
    assert!(
        !registry
            .is_compatible(&subject, SchemaType::Avro, ORDER_BAD, &[])
            .await
            .unwrap()
    );
    let e = registry
        .register(&subject, SchemaType::Avro, ORDER_BAD, &[])
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::Incompatible { .. }), "{e}");
}

#[tokio::test]
async fn missing_things_and_bad_schemas_are_typed_errors() {
    let registry = registry().await;
    let subject = subject("missing");
    match registry.latest(&subject).await.unwrap_err() {
        RegistryError::NotFound { url, code, .. } => {
            assert_eq!(code, Some(40401));
            assert!(
                url.ends_with(&format!("/subjects/{subject}/versions/latest")),
                "{url}"
            );
        }
        other => panic!("{other}"),
    }
    match registry.schema_by_id(u32::MAX).await.unwrap_err() {
        RegistryError::NotFound { code, .. } => assert_eq!(code, Some(40403)),
        other => panic!("{other}"),
    }
    registry
        .register(&subject, SchemaType::Avro, ORDER_V1, &[])
        .await
        .unwrap();
    match registry.version(&subject, 7).await.unwrap_err() {
        RegistryError::NotFound { code, .. } => assert_eq!(code, Some(40402)),
        other => panic!("{other}"),
    }
    match registry
        .register(&subject, SchemaType::Avro, "{not json", &[])
        .await
        .unwrap_err()
    {
        RegistryError::Rejected { code, .. } => assert_eq!(code, Some(42201)),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn wrong_credentials_are_refused_without_showing_the_secret() {
    registry().await;
    let (url, key, _) = settings();
    let client = SchemaRegistryClient::new(
        &url,
        Some((Secret::new(key), Secret::new("not-the-secret-7f3a".into()))),
    )
    .unwrap();
    let e = client.subjects().await.unwrap_err();
    assert!(
        matches!(e, RegistryError::Unauthorized { status: 401, .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "schema registry refused the credentials for {url}/subjects (HTTP 401); check \
             `apiKey` / `apiSecret`"
        )
    );
    assert!(!format!("{e:?}").contains("7f3a"));
    let anonymous = SchemaRegistryClient::new(&url, None).unwrap();
    assert!(matches!(
        anonymous.schema_by_id(1).await.unwrap_err(),
        RegistryError::Unauthorized { .. }
    ));
}

/// Sets `subject`'s compatibility level (`PUT /config/{subject}`), which the client has no call
/// for, with a plain HTTP/1.1 request.
fn set_compatibility(subject: &str, level: &str) {
    let (url, key, secret) = settings();
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("the test registry must be plain http, got {url}"));
    let (authority, base) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let body = format!(r#"{{"compatibility": "{level}"}}"#);
    let request = format!(
        "PUT {base}/config/{subject} HTTP/1.1\r\nHost: {authority}\r\n\
         Authorization: Basic {}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
         Accept: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        base64(format!("{key}:{secret}").as_bytes()),
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains(level),
        "PUT /config/{subject} {level}: {answer}"
    );
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Under `level`, on a fresh subject holding `first`: every schema of `refused` is reported
/// incompatible and refused by `register` with [`RegistryError::Incompatible`]; `accepted` is
/// reported compatible and registered as version 2.
async fn check_level(
    level: &str,
    schema_type: SchemaType,
    first: &str,
    accepted: &str,
    refused: &[&str],
) {
    let registry = registry().await;
    let subject = subject(&format!(
        "{}-{}",
        level.to_lowercase(),
        schema_type.as_str()
    ));
    set_compatibility(&subject, level);
    registry
        .register(&subject, schema_type, first, &[])
        .await
        .unwrap();
    for schema in refused {
        assert!(
            !registry
                .is_compatible(&subject, schema_type, schema, &[])
                .await
                .unwrap(),
            "{level} should refuse {schema}"
        );
        let e = registry
            .register(&subject, schema_type, schema, &[])
            .await
            .unwrap_err();
        assert!(matches!(e, RegistryError::Incompatible { .. }), "{e}");
    }
    assert!(
        registry
            .is_compatible(&subject, schema_type, accepted, &[])
            .await
            .unwrap(),
        "{level} should accept {accepted}"
    );
    registry
        .register(&subject, schema_type, accepted, &[])
        .await
        .unwrap();
    assert_eq!(
        registry.subject_versions(&subject).await.unwrap(),
        vec![1, 2]
    );
}

// Avro: BACKWARD lets a new reader read old data (an added field needs a default), FORWARD lets
// an old reader read new data (a removed field needs a default in the old schema), FULL is both.

#[tokio::test]
async fn avro_backward_needs_defaults_for_added_fields() {
    check_level(
        "BACKWARD",
        SchemaType::Avro,
        ORDER_V1,
        ORDER_V2,
        &[ORDER_BAD],
    )
    .await;
}

#[tokio::test]
async fn avro_forward_keeps_the_fields_old_readers_need() {
    check_level(
        "FORWARD",
        SchemaType::Avro,
        ORDER_V1,
        ORDER_BAD,
        &[ORDER_NO_NOTE],
    )
    .await;
}

#[tokio::test]
async fn avro_full_is_backward_and_forward() {
    check_level(
        "FULL",
        SchemaType::Avro,
        ORDER_V1,
        ORDER_V2,
        &[ORDER_BAD, ORDER_NO_NOTE],
    )
    .await;
}

// Protobuf, as Apicurio checks it: a field's number, name and type never change; BACKWARD
// refuses a removed field (even with its number reserved) and accepts an added one, FORWARD the
// other way round, FULL refuses both and accepts what leaves the fields alone (here an option).

const PROTO_V1: &str = "syntax = \"proto3\";\npackage laminar.test;\n\n\
                        message Order {\n  int64 id = 1;\n  string note = 2;\n}\n";
const PROTO_ADDED: &str = "syntax = \"proto3\";\npackage laminar.test;\n\n\
                           message Order {\n  int64 id = 1;\n  string note = 2;\n  int32 qty = 3;\n}\n";
const PROTO_REMOVED: &str =
    "syntax = \"proto3\";\npackage laminar.test;\n\nmessage Order {\n  int64 id = 1;\n}\n";
const PROTO_RETYPED: &str = "syntax = \"proto3\";\npackage laminar.test;\n\n\
                             message Order {\n  string id = 1;\n  string note = 2;\n}\n";
const PROTO_DEPRECATED: &str = "syntax = \"proto3\";\npackage laminar.test;\n\n\
                                message Order {\n  int64 id = 1;\n  string note = 2 [deprecated = true];\n}\n";

#[tokio::test]
async fn protobuf_backward_refuses_removed_and_retyped_fields() {
    check_level(
        "BACKWARD",
        SchemaType::Protobuf,
        PROTO_V1,
        PROTO_ADDED,
        &[PROTO_REMOVED, PROTO_RETYPED],
    )
    .await;
}

#[tokio::test]
async fn protobuf_forward_refuses_added_and_retyped_fields() {
    check_level(
        "FORWARD",
        SchemaType::Protobuf,
        PROTO_V1,
        PROTO_REMOVED,
        &[PROTO_ADDED, PROTO_RETYPED],
    )
    .await;
}

#[tokio::test]
async fn protobuf_full_refuses_any_change_to_the_fields() {
    check_level(
        "FULL",
        SchemaType::Protobuf,
        PROTO_V1,
        PROTO_DEPRECATED,
        &[PROTO_ADDED, PROTO_REMOVED, PROTO_RETYPED],
    )
    .await;
}
