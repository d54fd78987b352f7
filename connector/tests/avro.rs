//! Avro records written by the Java Avro library (see `data/README.md`) decode to the right
//! rows, with the writer schema given directly and through the schema registry
//! (`connector/tests/registry.sh start`).

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use laminar_kafka_connector::config::{BadDataPolicy, Secret};
use laminar_kafka_connector::format::{Decoder, RecordMetadata};
use laminar_kafka_connector::schema_registry::{
    RegisteredSchema, RegistryError, SchemaRegistryClient, SchemaType,
};
use laminar_kafka_connector::sql::parse_create_table;

const WRITER: &str = include_str!("data/orders.avsc");
const RECORD_1: &[u8] = include_bytes!("data/orders-1.confluent-avro");
const RECORD_2: &[u8] = include_bytes!("data/orders-2.confluent-avro");

fn table() -> laminar_kafka_connector::config::TableDefinition {
    parse_create_table(
        "CREATE TABLE orders (id BIGINT NOT NULL, customer TEXT, amount DECIMAL(10,2), \
         created TIMESTAMP(3) WITH TIME ZONE, status TEXT, tags JSON, note TEXT, qty INT) \
         WITH (connector = 'kafka', bootstrap_servers = 'localhost:9092', topic = 'orders', \
         type = 'source', format = 'avro', 'schema_registry.endpoint' = 'http://127.0.0.1:18081', \
         'source.offset' = 'earliest')",
    )
    .unwrap()
}

fn meta(offset: i64) -> RecordMetadata<'static> {
    RecordMetadata {
        topic: "orders",
        partition: 0,
        offset,
        timestamp_ms: 0,
        key: None,
        headers: &[],
    }
}

fn check_rows(batch: &RecordBatch) {
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(
        batch.column(0).as_primitive::<Int64Type>().values(),
        &[1001, -7]
    );
    let customer = batch.column(1).as_string::<i32>();
    assert_eq!((customer.value(0), customer.value(1)), ("Zoë", ""));
    assert_eq!(
        batch.column(2).as_primitive::<Decimal128Type>().values(),
        &[123_450, -5]
    );
    assert_eq!(
        batch
            .column(3)
            .as_primitive::<TimestampMillisecondType>()
            .values(),
        &[1_700_000_000_123, 0]
    );
    let status = batch.column(4).as_string::<i32>();
    assert_eq!((status.value(0), status.value(1)), ("SHIPPED", "NEW"));
    let tags = batch.column(5).as_string::<i32>();
    assert_eq!(
        (tags.value(0), tags.value(1)),
        (r#"["gift","express"]"#, "[]")
    );
    let note = batch.column(6).as_string::<i32>();
    assert!(note.is_null(0));
    assert_eq!(note.value(1), "leave at door");
    assert_eq!(
        batch.column(7).as_primitive::<Int32Type>().values(),
        &[3, i32::MAX]
    );
}

#[test]
fn java_written_confluent_avro_decodes_with_its_writer_schema() {
    let t = table();
    let mut d = Decoder::new(t.schema.clone().unwrap(), t.format, BadDataPolicy::Fail).unwrap();
    assert_eq!(d.missing_schema(Some(RECORD_1)), Some(7));
    d.add_schema(
        &RegisteredSchema::new(7, SchemaType::Avro, WRITER.to_owned()),
        &[],
    );
    d.decode(Some(RECORD_1), &meta(0)).unwrap();
    d.decode(Some(RECORD_2), &meta(1)).unwrap();
    check_rows(&d.flush().unwrap());
}

#[tokio::test]
async fn java_written_confluent_avro_decodes_with_schemas_from_the_registry() {
    let url = std::env::var("LAMINAR_SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:18081/apis/ccompat/v7".into());
    let key = std::env::var("LAMINAR_SCHEMA_REGISTRY_KEY").unwrap_or_else(|_| "laminar-key".into());
    let secret = std::env::var("LAMINAR_SCHEMA_REGISTRY_SECRET")
        .unwrap_or_else(|_| "laminar-registry-secret".into());
    let registry =
        SchemaRegistryClient::new(&url, Some((Secret::new(key), Secret::new(secret)))).unwrap();
    let subject = format!(
        "orders-{}-{}-value",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let id = match registry
        .register(&subject, SchemaType::Avro, WRITER, &[])
        .await
    {
        Ok(id) => id,
        Err(e @ RegistryError::Unreachable { .. }) => panic!(
            "no schema registry answers at {url} ({e}). Start one with \
             `connector/tests/registry.sh start`"
        ),
        Err(e) => panic!("{e}"),
    };
    // The registry assigned its own id: frame the Java-written data with it.
    let reframe = |record: &[u8]| {
        let mut v = vec![0];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&record[5..]);
        v
    };
    let (r1, r2) = (reframe(RECORD_1), reframe(RECORD_2));
    let fresh = SchemaRegistryClient::new(
        &url,
        Some((
            Secret::new("laminar-key".into()),
            Secret::new("laminar-registry-secret".into()),
        )),
    )
    .unwrap();
    let t = table();
    let mut d = Decoder::new(t.schema.clone().unwrap(), t.format, BadDataPolicy::Fail).unwrap();
    for (i, r) in [&r1, &r2, &r1].iter().enumerate() {
        d.decode_with_registry(&fresh, Some(r), &meta(i as i64))
            .await
            .unwrap();
    }
    assert_eq!(
        fresh.requests_sent(),
        1,
        "one request for the one schema id"
    );
    let batch = d.flush().unwrap();
    check_rows(&batch.slice(0, 2));

    // An id the registry does not know makes a bad record, not a stuck source.
    let mut unknown = r1.clone();
    unknown[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = d
        .decode_with_registry(&fresh, Some(&unknown), &meta(9))
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(
            "record at orders/0@9: writer schema 4294967295: the registry does not know it"
        ),
        "{e}"
    );
}
