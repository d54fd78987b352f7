//! `laminar-kafka serve` over HTTP: the reference page's three curl commands (verbatim but for
//! the port and the profile id the tables refer to), secrets masked, persistence across
//! restarts, a pipeline created over HTTP running against the broker, bad requests with their
//! codes, and concurrent creates.

#![cfg(feature = "server")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use laminar_kafka_tests::{Broker, unique_topic};
use serde_json::Value;

const TOKEN: &str = "YOUR_TOKEN";

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn start(dir: &Path, port: u16) -> Server {
        let token_file = dir.with_extension("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"))
            .args([
                "serve",
                "--data-dir",
                dir.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--token-file",
                token_file.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    fn fresh() -> Server {
        let dir = std::env::temp_dir().join(unique_topic("serve"));
        Server::start(&dir, free_port())
    }

    /// SIGTERM, wait, and start again on the same data directory and port.
    fn restart(mut self) -> Server {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server::start(&self.dir.clone(), self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// (status, body) of a curl request.
    fn curl(&self, args: &[&str]) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
            .args(args)
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_owned())
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (code, body) = self.curl(&[
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            &self.url(path),
        ]);
        (code, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let (code, text) = self.curl(&[
            "-X",
            "POST",
            &self.url(path),
            "-H",
            "Content-Type: application/json",
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            "-d",
            body,
        ]);
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn delete(&self, path: &str) -> u16 {
        self.curl(&[
            "-X",
            "DELETE",
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            &self.url(path),
        ])
        .0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PAGE_PROFILE: &str = r#"{
    "name": "production_kafka",
    "connector": "kafka",
    "config": {
      "bootstrapServers": "broker1:9092,broker2:9092,broker3:9092",
      "authentication": {
        "protocol": "SASL_SSL",
        "mechanism": "SCRAM-SHA-256",
        "username": "app_user",
        "password": "{{ KAFKA_PASSWORD }}"
      },
      "schemaRegistryEnum": {
        "endpoint": "http://schema-registry:8081",
        "apiKey": "{{ REGISTRY_KEY }}",
        "apiSecret": "{{ REGISTRY_SECRET }}"
      },
      "connectionProperties": {
        "socket.timeout.ms": "60000",
        "session.timeout.ms": "30000"
      }
    }
  }"#;

const PAGE_SOURCE: &str = r#"{
    "name": "events_source",
    "connector": "kafka",
    "connectionProfileId": "prof_abc123",
    "config": {
      "topic": "events",
      "type": {
        "offset": "earliest",
        "read_mode": "read_committed",
        "group_id": "event_processor"
      },
      "client_configs": {
        "max.poll.records": "1000"
      }
    },
    "schema": {
      "format": {
        "json": {}
      }
    }
  }"#;

const PAGE_SINK: &str = r#"{
    "name": "events_sink",
    "connector": "kafka",
    "connectionProfileId": "prof_abc123",
    "config": {
      "topic": "processed_events",
      "type": {
        "commit_mode": "exactly_once",
        "key_field": "user_id",
        "timestamp_field": "event_time"
      }
    },
    "schema": {
      "format": {
        "json": {}
      }
    }
  }"#;

#[test]
fn the_pages_curl_commands_create_what_get_returns_masked_and_a_restart_keeps() {
    let server = Server::fresh();
    let (code, profile) = server.post("/v1/connection_profiles", PAGE_PROFILE);
    assert_eq!(code, 201, "{profile}");
    let id = profile["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("prof_"));
    for body in [PAGE_SOURCE, PAGE_SINK] {
        let (code, table) = server.post("/v1/connection_tables", &body.replace("prof_abc123", &id));
        assert_eq!(code, 201, "{table}");
        assert_eq!(table["connectionProfileId"], id.as_str());
    }
    let server = server.restart();
    let (code, got) = server.get(&format!("/v1/connection_profiles/{id}"));
    assert_eq!(code, 200);
    let text = got.to_string();
    for secret in ["KAFKA_PASSWORD", "REGISTRY_KEY", "REGISTRY_SECRET"] {
        assert!(!text.contains(secret), "{secret} returned: {text}");
    }
    assert_eq!(got["config"]["authentication"]["username"], "app_user");
    assert_eq!(
        got["config"]["connectionProperties"]["session.timeout.ms"],
        "30000"
    );
    let (_, tables) = server.get("/v1/connection_tables");
    let names: Vec<_> = tables
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["events_source", "events_sink"]);
    // Stored as sent: the placeholder is kept in the database, unresolved.
    let db = std::fs::read(server.dir.join("laminar.db")).unwrap();
    assert!(String::from_utf8_lossy(&db).contains("{{ KAFKA_PASSWORD }}"));
    // The profile is in use: it cannot go while its tables exist.
    assert_eq!(server.delete(&format!("/v1/connection_profiles/{id}")), 409);
    let (code, doc) = server.get("/v1/openapi.json");
    assert_eq!(code, 200);
    assert!(
        doc["paths"]["/v1/connection_tables"]["post"].is_object(),
        "{doc}"
    );
}

#[test]
fn bad_requests_get_their_codes_and_change_nothing() {
    let server = Server::fresh();
    let (code, profile) = server.post(
        "/v1/connection_profiles",
        r#"{"name": "p", "connector": "kafka", "config": {"bootstrapServers": "b:9092", "authentication": {}}}"#,
    );
    assert_eq!(code, 201);
    let id = profile["id"].as_str().unwrap().to_owned();
    let table = |offset: &str, profile: &str| {
        format!(
            r#"{{"name": "t", "connector": "kafka", "connectionProfileId": "{profile}",
                 "config": {{"topic": "t", "type": {{"offset": "{offset}"}}}},
                 "schema": {{"format": {{"json": {{}}}}}}}}"#
        )
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/v1/connection_profiles", "{not json".into(), 400, "invalid JSON"),
        ("/v1/connection_profiles", r#"{"name": "p", "connector": "kafka", "config": {"bootstrapServers": "b:9092", "authentication": {}}}"#.into(), 409, "already exists"),
        ("/v1/connection_profiles", r#"{"name": "q", "connector": "kafka", "config": {"bootstrapServer": "b:9092", "authentication": {}}}"#.into(), 422, "unknown field `config.bootstrapServer`"),
        ("/v1/connection_tables", table("newest", &id), 422, "invalid value `newest` for `config.type.offset`"),
        ("/v1/connection_tables", table("earliest", "prof_nope"), 404, "names no stored profile"),
        ("/v1/pipelines", r#"{"name": "x", "query": "INSERT INTO nowhere SELECT 1 FROM t"}"#.into(), 422, "statement 1"),
    ];
    for (path, body, status, message) in &cases {
        let (code, answer) = server.post(path, body);
        assert_eq!(code, *status, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(message),
            "{answer}"
        );
    }
    let (code, answer) = server.post("/v1/connection_tables", &table("newest", &id));
    assert_eq!(
        (code, answer["path"].as_str()),
        (422, Some("config.type.offset"))
    );
    // Token missing or wrong.
    let (code, _) = server.curl(&[&server.url("/v1/connection_profiles")]);
    assert_eq!(code, 401);
    let (code, _) = server.curl(&[
        "-H",
        "Authorization: Bearer wrong",
        &server.url("/v1/connection_profiles"),
    ]);
    assert_eq!(code, 401);
    // Oversized body.
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 << 20));
    let path = std::env::temp_dir().join(unique_topic("big"));
    std::fs::write(&path, big).unwrap();
    let (code, _) = server.curl(&[
        "-X",
        "POST",
        &server.url("/v1/connection_profiles"),
        "-H",
        &format!("Authorization: Bearer {TOKEN}"),
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", path.display()),
    ]);
    assert_eq!(code, 413);
    assert_eq!(server.get("/v1/connection_profiles/prof_nope").0, 404);
    // Nothing but the first profile was stored.
    let (_, all) = server.get("/v1/connection_profiles");
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (_, tables) = server.get("/v1/connection_tables");
    assert!(tables.as_array().unwrap().is_empty());
}

#[test]
fn fifty_concurrent_creates_lose_nothing_and_duplicate_nothing() {
    let server = Server::fresh();
    let body = |name: &str| {
        format!(
            r#"{{"name": "{name}", "connector": "kafka", "config": {{"bootstrapServers": "b:9092", "authentication": {{}}}}}}"#
        )
    };
    let codes: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let server = &server;
                let body = body(&format!("p{i}"));
                s.spawn(move || server.post("/v1/connection_profiles", &body).0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
    let same: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let server = &server;
                let body = body("same");
                s.spawn(move || server.post("/v1/connection_profiles", &body).0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(same.iter().filter(|c| **c == 201).count(), 1, "{same:?}");
    assert_eq!(same.iter().filter(|c| **c == 409).count(), 19, "{same:?}");
    let (_, all) = server.get("/v1/connection_profiles");
    assert_eq!(all.as_array().unwrap().len(), 51);
}

fn produce_events(topic: &str, from: usize, n: usize) {
    let broker = Broker::from_env();
    let lines: String = (from..from + n)
        .map(|i| {
            format!("{{\"event_id\": {i}, \"user_id\": \"u{i}\", \"event_type\": \"view_{i}\"}}\n")
        })
        .collect();
    let kcat = broker.kcat(laminar_kafka_tests::Security::Plaintext);
    let values: Vec<&str> = lines.lines().collect();
    kcat.produce(topic, &values).unwrap();
}

fn count_committed(topic: &str) -> usize {
    let broker = Broker::from_env();
    let out = Command::new("kcat")
        .args([
            "-C",
            "-b",
            &broker.plaintext,
            "-t",
            topic,
            "-e",
            "-q",
            "-X",
            "isolation.level=read_committed",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn a_pipeline_created_over_http_runs_stops_and_resumes_after_a_restart() {
    let broker = Broker::from_env();
    let input = unique_topic("events");
    let output = unique_topic("processed_events");
    broker.create_topic(&input, 2).unwrap();
    broker.create_topic(&output, 2).unwrap();
    produce_events(&input, 0, 20);
    let server = Server::fresh();
    let (code, profile) = server.post(
        "/v1/connection_profiles",
        &format!(r#"{{"name": "local", "connector": "kafka", "config": {{"bootstrapServers": "{}", "authentication": {{}}}}}}"#, broker.plaintext),
    );
    assert_eq!(code, 201, "{profile}");
    let id = profile["id"].as_str().unwrap();
    let source = PAGE_SOURCE
        .replace("prof_abc123", id)
        .replace(r#""topic": "events""#, &format!(r#""topic": "{input}""#))
        .replace("event_processor", &unique_topic("g"));
    let sink = PAGE_SINK.replace("prof_abc123", id).replace(
        r#""topic": "processed_events""#,
        &format!(r#""topic": "{output}""#),
    );
    assert_eq!(server.post("/v1/connection_tables", &source).0, 201);
    assert_eq!(server.post("/v1/connection_tables", &sink).0, 201);
    let query = "INSERT INTO events_sink SELECT CAST(JSON_VALUE(value, '$.event_id') AS BIGINT) AS event_id, \
                 JSON_VALUE(value, '$.user_id') AS user_id, NOW() AS event_time FROM events_source";
    let (code, pipeline) = server.post(
        "/v1/pipelines",
        &serde_json::json!({"name": "copy", "query": query}).to_string(),
    );
    assert_eq!(code, 201, "{pipeline}");
    let pid = pipeline["id"].as_str().unwrap().to_owned();
    let wait_for = |server: &Server, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if count_committed(&output) >= n {
                break;
            }
            let (_, p) = server.get(&format!("/v1/pipelines/{pid}"));
            assert!(Instant::now() < deadline, "{n} records not written: {p}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    wait_for(&server, 20);
    let (_, p) = server.get(&format!("/v1/pipelines/{pid}"));
    assert_eq!(p["state"], "running");
    assert!(p["metrics"][0]["records_in"].as_u64().unwrap() >= 20, "{p}");
    // The tables are in use.
    let (_, tables) = server.get("/v1/connection_tables");
    let table_id = tables[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server.delete(&format!("/v1/connection_tables/{table_id}")),
        409
    );
    // A restart resumes the pipeline: records written meanwhile get processed.
    let server = server.restart();
    produce_events(&input, 20, 10);
    wait_for(&server, 30);
    assert_eq!(count_committed(&output), 30, "nothing processed twice");
    assert_eq!(server.delete(&format!("/v1/pipelines/{pid}")), 204);
    assert_eq!(server.get(&format!("/v1/pipelines/{pid}")).0, 404);
    produce_events(&input, 30, 5);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        count_committed(&output),
        30,
        "a deleted pipeline does not run"
    );
    assert_eq!(
        server.delete(&format!("/v1/connection_tables/{table_id}")),
        204
    );
}

#[test]
fn connection_tests_name_the_step_that_failed() {
    let broker = Broker::from_env();
    let server = Server::fresh();
    let profile = |servers: &str, auth: &str| {
        format!(
            r#"{{"name": "t", "connector": "kafka", "config": {{"bootstrapServers": "{servers}", "authentication": {auth}}}}}"#
        )
    };
    let sasl = |password: &str| {
        format!(
            r#"{{"protocol": "SASL_PLAINTEXT", "mechanism": "SCRAM-SHA-512", "username": "{}", "password": "{password}"}}"#,
            broker.username
        )
    };
    // Reachable and authenticated.
    let (code, report) = server.post(
        "/v1/connection_profiles/test",
        &profile(&broker.sasl_plaintext, &sasl(broker.password())),
    );
    assert_eq!(code, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["passed"][1], "connect and authenticate");
    // Wrong password: authentication fails, and the answer does not repeat the password.
    let (_, report) = server.post(
        "/v1/connection_profiles/test",
        &profile(&broker.sasl_plaintext, &sasl("not-the-password")),
    );
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["failed_step"], "connect and authenticate");
    assert!(!report.to_string().contains("not-the-password"), "{report}");
    // Nothing listening.
    let port = free_port();
    let (_, report) = server.post(
        "/v1/connection_profiles/test",
        &profile(&format!("127.0.0.1:{port}"), "{}"),
    );
    assert_eq!(
        report["failed_step"], "connect and authenticate",
        "{report}"
    );
    // A table whose topic does not exist.
    let (_, stored) = server.post(
        "/v1/connection_profiles",
        &profile(&broker.plaintext, "{}").replace(r#""name": "t""#, r#""name": "local""#),
    );
    let id = stored["id"].as_str().unwrap();
    let table = |topic: &str| {
        format!(
            r#"{{"name": "x", "connector": "kafka", "connectionProfileId": "{id}",
                 "config": {{"topic": "{topic}", "type": {{"offset": "earliest"}}}},
                 "schema": {{"format": {{"json": {{}}}}}}}}"#
        )
    };
    let (_, report) = server.post(
        "/v1/connection_tables/test",
        &table(&unique_topic("absent")),
    );
    assert_eq!(report["failed_step"], "topic", "{report}");
    // An existing topic whose first record decodes.
    let topic = unique_topic("present");
    broker.create_topic(&topic, 1).unwrap();
    produce_events(&topic, 0, 1);
    let (_, report) = server.post("/v1/connection_tables/test", &table(&topic));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        report["passed"].as_array().unwrap().last().unwrap(),
        "decode first record"
    );
}
