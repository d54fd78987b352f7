//! The Confluent wire format's header, shared by the registry-framed formats: a magic byte 0,
//! then the schema id as a big-endian `u32`.

/// The first byte of a Confluent-framed record.
#[cfg_attr(not(feature = "avro"), allow(unreachable_pub))]
pub const CONFLUENT_MAGIC: u8 = 0;

/// The schema id of a Confluent-framed payload.
#[cfg_attr(not(feature = "avro"), allow(unreachable_pub))]
pub fn confluent_schema_id(payload: &[u8]) -> Result<(u32, &[u8]), String> {
    match payload {
        [CONFLUENT_MAGIC, a, b, c, d, rest @ ..] => {
            Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest))
        }
        [CONFLUENT_MAGIC, ..] => {
            Err("value is shorter than the 5-byte schema registry header".into())
        }
        [m, ..] => Err(format!(
            "value does not start with the schema registry magic byte 0 (found {m})"
        )),
        [] => Err("empty value where a schema registry header was expected".into()),
    }
}
