#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| laminar_kafka_protocol::fuzzing::frame(data));
