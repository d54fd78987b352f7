//! The schema registry client against a running Confluent-compatible registry: start it with
//! `connector/tests/registry.sh start` (the address and credentials come from
//! `eval "$(connector/tests/registry.sh env)"`, or default to what that script uses).
//!
//! These tests fail, saying how to start the registry, when none answers.

use std::sync::atomic::{AtomicU32, Ordering};

use laminar_kafka_connector::config::Secret;
use laminar_kafka_connector::schema_registry::{RegistryError, SchemaRegistryClient, SchemaType};

const DEFAULT_URL: &str = "http://127.0.0.1:18081";
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

const ORDER_V1: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"}]}"#;
const ORDER_V2: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"},
    {"name": "qty", "type": "int", "default": 1}]}"#;
const ORDER_BAD: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"},
    {"name": "qty", "type": "int"}]}"#;

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
    assert_eq!(latest.schema.schema, ORDER_V2);
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
        assert_eq!(
            (s.id, s.schema_type, s.schema.as_str()),
            (id, SchemaType::Avro, ORDER_V1)
        );
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
