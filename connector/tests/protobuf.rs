//! Protobuf records whose schema imports another registered schema (a reference), decoded
//! with both fetched from the registry (`connector/tests/registry.sh start`).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_schema::{DataType, Field, Schema};
use laminar_kafka_connector::config::{BadDataPolicy, Format, Secret};
use laminar_kafka_connector::format::{Decoder, RecordMetadata};
use laminar_kafka_connector::schema::json_field;
use laminar_kafka_connector::schema_registry::{
    RegistryError, SchemaReference, SchemaRegistryClient, SchemaType,
};

const COMMON: &str = "syntax = \"proto3\";\npackage common;\nmessage Money { string currency = 1; int64 units = 2; }\n";
const ORDER: &str = "syntax = \"proto3\";\npackage shop;\nimport \"common/money.proto\";\n\
                     message Order { int64 id = 1; common.Money amount = 8; }\n";

#[tokio::test]
async fn imports_are_fetched_as_references_and_compiled_together() {
    let var = |n: &str, d: &str| std::env::var(n).unwrap_or_else(|_| d.into());
    let url = var(
        "LAMINAR_SCHEMA_REGISTRY_URL",
        "http://127.0.0.1:18081/apis/ccompat/v7",
    );
    let registry = SchemaRegistryClient::new(
        &url,
        Some((
            Secret::new(var("LAMINAR_SCHEMA_REGISTRY_KEY", "laminar-key")),
            Secret::new(var(
                "LAMINAR_SCHEMA_REGISTRY_SECRET",
                "laminar-registry-secret",
            )),
        )),
    )
    .unwrap();
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let common_subject = format!("common-money-{suffix}");
    match registry
        .register(&common_subject, SchemaType::Protobuf, COMMON, &[])
        .await
    {
        Ok(_) => {}
        Err(e @ RegistryError::Unreachable { .. }) => panic!(
            "no schema registry answers at {url} ({e}). Start one with \
             `connector/tests/registry.sh start`"
        ),
        Err(e) => panic!("{e}"),
    }
    let reference = SchemaReference {
        name: "common/money.proto".into(),
        subject: common_subject,
        version: 1,
    };
    let id = registry
        .register(
            &format!("orders-{suffix}-value"),
            SchemaType::Protobuf,
            ORDER,
            &[reference],
        )
        .await
        .unwrap();

    // Order { id: 5, amount: Money { currency: "EUR" } }, message index path [0].
    let mut record = vec![0];
    record.extend_from_slice(&id.to_be_bytes());
    record.extend_from_slice(&[0, 0x08, 0x05, 0x42, 0x05, 0x0a, 0x03, b'E', b'U', b'R']);

    let table = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        json_field("amount", true),
    ]));
    let mut d = Decoder::new(table, Format::Protobuf, BadDataPolicy::Fail).unwrap();
    let meta = RecordMetadata {
        topic: "orders",
        partition: 0,
        offset: 0,
        timestamp_ms: 0,
        key: None,
        headers: &[],
    };
    d.decode_with_registry(&registry, Some(&record), &meta)
        .await
        .unwrap();
    let b = d.flush().unwrap();
    assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 5);
    assert_eq!(
        b.column(1).as_string::<i32>().value(0),
        r#"{"currency":"EUR"}"#
    );
}
