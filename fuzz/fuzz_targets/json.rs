#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| laminar_kafka_connector::fuzz::fuzz_json(data));
