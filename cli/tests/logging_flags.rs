//! `-v` and `--debug AREA,...` against the harness broker: the client's events appear on stderr
//! by area and level, only warnings without them, never a password, and an unknown area is a
//! usage error that lists the valid ones.

use std::process::{Command, Output, Stdio};

use laminar_kafka_tests::Broker;

fn broker() -> &'static Broker {
    Broker::from_env()
}

/// `laminar-kafka -b <PLAINTEXT listener> ARGS…`, with nothing taken from the environment.
fn laminar(args: &[&str]) -> Command {
    laminar_at(&broker().plaintext, args)
}

/// `laminar-kafka -b BOOTSTRAP ARGS…`, with nothing taken from the environment.
fn laminar_at(bootstrap: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
    c.env_remove("KAFKA_BOOTSTRAP")
        .env_remove("LAMINAR_KAFKA_SASL_PASSWORD")
        .arg("-b")
        .arg(bootstrap)
        .args(args)
        .stdin(Stdio::null());
    c
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("the binary runs");
    assert_ne!(
        out.status.code(),
        Some(101),
        "panicked: {}",
        text(&out.stderr)
    );
    out
}

/// Runs `c`, which must succeed, and returns its stderr.
fn stderr_of_success(c: Command) -> String {
    let out = run(c);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stderr)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn debug_connection_shows_connect_events_and_nothing_else_of_ours() {
    let stderr = stderr_of_success(laminar(&["--debug", "connection", "metadata"]));
    assert!(
        stderr.lines().any(|l| l.contains("DEBUG")
            && l.contains("laminar_kafka::connection")
            && l.contains("connected")
            && l.contains(&broker().plaintext)),
        "no connect event on stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("laminar_kafka::metadata"),
        "an area that was not asked for:\n{stderr}"
    );
    assert!(
        !stderr.contains("TRACE"),
        "--debug is debug, not trace:\n{stderr}"
    );
}

#[test]
fn without_flags_only_warnings_reach_stderr() {
    let stderr = stderr_of_success(laminar(&["metadata"]));
    assert!(
        !stderr.contains("laminar_kafka::"),
        "events without -v or --debug:\n{stderr}"
    );
}

#[test]
fn each_v_adds_a_level_and_vvv_shows_every_request() {
    let info = stderr_of_success(laminar(&["-v", "metadata"]));
    assert!(!info.contains(" DEBUG "), "-v is info:\n{info}");
    let debug = stderr_of_success(laminar(&["-vv", "metadata"]));
    assert!(
        debug.contains("laminar_kafka::metadata") && debug.contains("metadata refreshed"),
        "-vv shows every area at debug:\n{debug}"
    );
    assert!(!debug.contains("TRACE"), "-vv is debug:\n{debug}");
    let trace = stderr_of_success(laminar(&["-vvv", "metadata"]));
    assert!(
        trace.lines().any(|l| l.contains("TRACE")
            && l.contains("api=\"Metadata\"")
            && l.contains("correlation_id=")),
        "-vvv shows each request:\n{trace}"
    );
}

#[test]
fn debug_all_over_sasl_never_shows_the_password() {
    let b = broker();
    let mut c = laminar_at(
        &b.sasl_plaintext,
        &[
            "-vvv",
            "--debug",
            "all",
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--sasl-mechanism",
            "PLAIN",
            "--sasl-username",
            &b.username,
            "metadata",
        ],
    );
    c.env("LAMINAR_KAFKA_SASL_PASSWORD", b.password());
    let stderr = stderr_of_success(c);
    assert!(
        stderr.contains("laminar_kafka::sasl") && stderr.contains("authenticated"),
        "no authentication event:\n{stderr}"
    );
    assert!(
        !stderr.contains(b.password()),
        "the password is on stderr ({} bytes)",
        stderr.len()
    );
}

#[test]
fn an_unknown_area_is_refused_with_the_valid_ones() {
    let out = run(laminar(&["--debug", "connection,nosuch", "metadata"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nosuch"), "{stderr}");
    for area in [
        "connection",
        "sasl",
        "metadata",
        "producer",
        "txn",
        "consumer",
        "group",
        "admin",
        "all",
    ] {
        assert!(stderr.contains(area), "`{area}` is not listed:\n{stderr}");
    }
}

#[test]
fn librdkafka_area_names_are_accepted() {
    let stderr = stderr_of_success(laminar(&["--debug", "broker,cgrp", "metadata"]));
    assert!(
        stderr.contains("laminar_kafka::connection"),
        "`broker` is the connection area:\n{stderr}"
    );
}
