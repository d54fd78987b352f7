//! The command line against the broker, side by side with kcat and the Java tools where they
//! overlap: the same records shown the same way with the same `-f` format string, `groups lag`
//! agreeing with `kafka-consumer-groups --describe`; and the exit codes, one-line errors,
//! profiles, completions and man page.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_tests::{Broker, unique_topic};

fn broker() -> &'static Broker {
    Broker::from_env()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn create(topic: &str, partitions: i32) {
    runtime().block_on(async {
        let admin = Admin::new(ClientConfig::new(&broker().plaintext).unwrap()).unwrap();
        admin
            .create_topics(&[NewTopic::new(topic, partitions, 1)])
            .await
            .unwrap();
        admin.close().await;
    });
}

/// The binary with `-b` on the PLAINTEXT listener.
fn laminar(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
    c.env_remove("KAFKA_BOOTSTRAP")
        .env_remove("LAMINAR_KAFKA_SASL_PASSWORD")
        .arg("-b")
        .arg(&broker().plaintext)
        .args(args);
    c
}

fn run(mut c: Command, stdin: &[u8]) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "panicked: {}",
        text(&out.stderr)
    );
    out
}

fn ok(c: Command, stdin: &[u8]) -> String {
    let out = run(c, stdin);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

fn kcat(args: &[&str]) -> String {
    let mut c = Command::new("kcat");
    c.arg("-b").arg(&broker().plaintext).args(args);
    ok(c, b"")
}

/// Two partitions with keyed records and headers, produced by our `produce`.
fn keyed_topic(prefix: &str) -> String {
    let topic = unique_topic(prefix);
    create(&topic, 2);
    ok(
        laminar(&[
            "produce", "-t", &topic, "-p", "0", "-K", ":", "-H", "h1=v1", "-H", "h2=v2",
        ]),
        b"k1:one\nk2:two\nno key here\n",
    );
    ok(
        laminar(&["produce", "-t", &topic, "-p", "1", "-K", ":"]),
        b"k3:three\nk4:f:o:u:r\n",
    );
    topic
}

#[test]
fn format_string_shows_records_as_kcat_does() {
    let topic = keyed_topic("kcat-format");
    let fmt = "%t|%p|%o|%k|%s|%K|%S|%T|%h\\n";
    let ours = ok(laminar(&["consume", "-t", &topic, "-e", "-f", fmt]), b"");
    let theirs = kcat(&["-C", "-t", &topic, "-e", "-q", "-f", fmt]);
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));
    assert_eq!(ours.lines().count(), 5);
    assert!(ours.contains("|0|0|k1|one|2|3|"), "{ours}");
    assert!(ours.contains("h1=v1,h2=v2"), "{ours}");

    // -K: key, delimiter, value.
    let ours = ok(laminar(&["consume", "-t", &topic, "-e", "-K", "="]), b"");
    let theirs = kcat(&["-C", "-t", &topic, "-e", "-q", "-K", "="]);
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));
    assert!(ours.contains("k4=f:o:u:r"));

    // The default: values only.
    let ours = ok(laminar(&["consume", "-t", &topic, "-e"]), b"");
    let theirs = kcat(&["-C", "-t", &topic, "-e", "-q"]);
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));
}

#[test]
fn kcat_writes_and_we_read_the_same_records() {
    let topic = unique_topic("kcat-produce");
    create(&topic, 1);
    let mut c = Command::new("kcat");
    c.arg("-b")
        .arg(&broker().plaintext)
        .args(["-P", "-t", &topic, "-K", ":", "-H", "a=b"]);
    ok(c, b"x:1\ny:2\n");
    let fmt = "%k %s %h %o\\n";
    let ours = ok(laminar(&["consume", "-t", &topic, "-e", "-f", fmt]), b"");
    assert_eq!(ours, "x 1 a=b 0\ny 2 a=b 1\n");
}

#[test]
fn json_lines_and_from_positions() {
    let topic = keyed_topic("json");
    let out = ok(
        laminar(&["consume", "-t", &topic, "-p", "0", "-e", "--json"]),
        b"",
    );
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["key"], "k1");
    assert_eq!(rows[0]["value"], "one");
    assert_eq!(rows[0]["headers"][1]["key"], "h2");
    assert_eq!(rows[2]["key"], serde_json::Value::Null);

    // -1: the last record; an offset; latest with -e prints nothing.
    let last = ok(
        laminar(&["consume", "-t", &topic, "-p", "0", "-e", "--from", "-1"]),
        b"",
    );
    assert_eq!(last, "no key here\n");
    let from1 = ok(
        laminar(&["consume", "-t", &topic, "-p", "0", "-e", "-o", "1"]),
        b"",
    );
    assert_eq!(from1, "two\nno key here\n");
    let none = ok(
        laminar(&["consume", "-t", &topic, "-e", "--from", "latest"]),
        b"",
    );
    assert_eq!(none, "");
    // A timestamp before everything reads everything.
    let all = ok(
        laminar(&["consume", "-t", &topic, "-e", "--from", "s@0"]),
        b"",
    );
    assert_eq!(all.lines().count(), 5);
    // A group member stops at the end of its partitions too.
    let group = unique_topic("until-end");
    let all = ok(laminar(&["consume", "-G", &group, "-t", &topic, "-e"]), b"");
    assert_eq!(all.lines().count(), 5);
}

#[test]
fn file_whole_file_and_transactional_produce() {
    let topic = unique_topic("txn-file");
    create(&topic, 1);
    let dir = std::env::temp_dir().join(unique_topic("cli-file"));
    std::fs::create_dir_all(&dir).unwrap();
    let lines = dir.join("lines.txt");
    std::fs::write(&lines, "a,1\nb,2\nc,3\n").unwrap();
    let out = run(
        laminar(&[
            "produce",
            "-t",
            &topic,
            "--file",
            lines.to_str().unwrap(),
            "-K",
            ",",
            "--transactional",
        ]),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr);
    assert!(summary.contains("produced 3 records"), "{summary}");
    assert!(summary.contains("records/s"), "{summary}");
    ok(
        laminar(&[
            "produce",
            "-t",
            &topic,
            "--file",
            lines.to_str().unwrap(),
            "--whole-file",
        ]),
        b"",
    );
    // The broker answers the commit before it writes the markers, so the last stable offset
    // (where `-e` stops under read_committed) can trail the commit for a moment: ask again.
    let want = "a=1;b=2;c=3;=a,1\nb,2\nc,3\n;";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = ok(
            laminar(&[
                "consume",
                "-t",
                &topic,
                "-e",
                "--isolation",
                "read_committed",
                "-f",
                "%k=%s;",
            ]),
            b"",
        );
        if got == want || std::time::Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(got, want);
    let missing = run(
        laminar(&["produce", "-t", &topic, "--file", "/nonexistent/file"]),
        b"",
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("check the path"));
}

/// `kafka-consumer-groups --describe` rows: (topic, partition) -> (current, end, lag).
fn java_lag(group: &str) -> BTreeMap<(String, i32), (String, String, String)> {
    let out = broker()
        .run_tool(
            "consumer-groups",
            &[
                "--bootstrap-server",
                &broker().plaintext,
                "--describe",
                "--group",
                group,
            ],
            None,
            Duration::from_secs(60),
        )
        .unwrap();
    parse_lag(&out.stdout, 1)
}

/// Rows of a lag table whose TOPIC column is `first` (0 for ours without GROUP, 1 with it).
fn parse_lag(s: &str, first: usize) -> BTreeMap<(String, i32), (String, String, String)> {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() > first + 4 && w[first + 1].parse::<i32>().is_ok())
        .map(|w| {
            (
                (w[first].to_owned(), w[first + 1].parse().unwrap()),
                (
                    w[first + 2].to_owned(),
                    w[first + 3].to_owned(),
                    w[first + 4].to_owned(),
                ),
            )
        })
        .collect()
}

#[test]
fn group_consume_commits_and_lag_agrees_with_the_java_tool() {
    let topic = keyed_topic("group-lag");
    let group = unique_topic("cli-group");
    // Read three of the five records as a group member; the group commits what it printed.
    let out = ok(
        laminar(&["consume", "-G", &group, "-t", &topic, "-c", "3"]),
        b"",
    );
    assert_eq!(out.lines().count(), 3);

    let ours = ok(laminar(&["groups", "lag", &group]), b"");
    let ours = parse_lag(&ours, 1);
    assert_eq!(ours, java_lag(&group));
    let committed: i64 = ours.values().map(|v| v.0.parse::<i64>().unwrap()).sum();
    assert_eq!(committed, 3);

    let list = ok(laminar(&["groups", "list"]), b"");
    assert!(
        list.lines().any(|l| l.starts_with(&format!("{group}\t"))),
        "{list}"
    );
    let describe = ok(laminar(&["groups", "describe", &group, "--json"]), b"");
    let d: serde_json::Value = serde_json::from_str(&describe).unwrap();
    assert_eq!(d["state"], "Empty");

    // A dry run changes nothing; --execute moves the group back to the start.
    let dry = run(
        laminar(&["groups", "reset-offsets", &group, "--to", "earliest"]),
        b"",
    );
    assert!(dry.status.success());
    assert!(text(&dry.stderr).contains("dry run"));
    assert_eq!(
        parse_lag(&ok(laminar(&["groups", "lag", &group]), b""), 1),
        ours
    );
    ok(
        laminar(&[
            "groups",
            "reset-offsets",
            &group,
            "--to",
            "earliest",
            "-t",
            &topic,
            "--execute",
        ]),
        b"",
    );
    let after = parse_lag(&ok(laminar(&["groups", "lag", &group]), b""), 1);
    assert_eq!(after, java_lag(&group));
    let lag: i64 = after.values().map(|v| v.2.parse::<i64>().unwrap()).sum();
    assert_eq!(lag, 5);

    // The group reads on from the committed offsets: everything again after the reset.
    let again = ok(
        laminar(&["consume", "-G", &group, "-t", &topic, "-c", "5"]),
        b"",
    );
    assert_eq!(again.lines().count(), 5);
    // reset-offsets --topic starts a group that does not exist yet (as the Java tool).
    let fresh = unique_topic("fresh-group");
    ok(
        laminar(&[
            "groups",
            "reset-offsets",
            &fresh,
            "--to",
            "-1",
            "-t",
            &topic,
            "--execute",
        ]),
        b"",
    );
    let fresh_lag = parse_lag(&ok(laminar(&["groups", "lag", &fresh]), b""), 1);
    assert_eq!(fresh_lag, java_lag(&fresh));
    assert!(fresh_lag.values().all(|v| v.2 == "1"), "{fresh_lag:?}");
    let unknown = run(
        laminar(&["groups", "lag", &unique_topic("no-such-group")]),
        b"",
    );
    assert_eq!(unknown.status.code(), Some(3), "{}", text(&unknown.stderr));
}

#[test]
fn lag_of_a_running_member_agrees_with_the_java_tool() {
    let topic = keyed_topic("member-lag");
    let group = unique_topic("cli-member");
    let mut member = laminar(&[
        "consume",
        "-G",
        &group,
        "-t",
        &topic,
        "--idle-timeout-ms",
        "30000",
        "-f",
        "none",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // The member commits what it read about once a second: wait for all five records.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ours = loop {
        // Until the member has joined, the group does not exist (exit 3).
        let out = run(laminar(&["groups", "lag", &group]), b"");
        let lag = parse_lag(&text(&out.stdout), 1);
        let current: i64 = lag.values().filter_map(|v| v.0.parse::<i64>().ok()).sum();
        if current == 5 {
            break lag;
        }
        assert!(std::time::Instant::now() < deadline, "no commits: {lag:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ours, java_lag(&group));
    let d: serde_json::Value =
        serde_json::from_str(&ok(laminar(&["groups", "describe", &group, "--json"]), b"")).unwrap();
    assert_eq!(d["state"], "Stable");
    assert_eq!(d["members"][0]["assignment"].as_array().unwrap().len(), 2);
    // Offsets of a group with members are not reset.
    let refused = run(
        laminar(&[
            "groups",
            "reset-offsets",
            &group,
            "--to",
            "earliest",
            "--execute",
        ]),
        b"",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("active members"));
    member.kill().unwrap();
    member.wait().unwrap();
}

#[test]
fn metadata_and_offsets() {
    let topic = keyed_topic("metadata");
    let json = ok(laminar(&["metadata", "-t", &topic, "--json"]), b"");
    let ours: serde_json::Value = serde_json::from_str(&json).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&kcat(&["-L", "-J", "-t", &topic])).unwrap();
    let ours_parts = &ours["topics"][0]["partitions"];
    let theirs_parts = &theirs["topics"][0]["partitions"];
    assert_eq!(ours_parts.as_array().unwrap().len(), 2);
    for i in 0..2 {
        assert_eq!(ours_parts[i]["leader"], theirs_parts[i]["leader"]);
        assert_eq!(ours_parts[i]["partition"], theirs_parts[i]["partition"]);
    }
    assert_eq!(
        ours["brokers"].as_array().unwrap().len(),
        theirs["brokers"].as_array().unwrap().len()
    );
    let text_out = ok(laminar(&["metadata", "-t", &topic]), b"");
    assert!(
        text_out.contains(&format!("topic \"{topic}\" with 2 partitions")),
        "{text_out}"
    );

    let offsets = ok(laminar(&["offsets", &topic, "--json"]), b"");
    let rows: serde_json::Value = serde_json::from_str(&offsets).unwrap();
    assert_eq!(rows[0]["earliest"], 0);
    assert_eq!(rows[0]["latest"], 3);
    assert_eq!(rows[1]["latest"], 2);
}

#[test]
fn topics_create_alter_and_describe_configs() {
    let topic = unique_topic("configs");
    ok(
        laminar(&[
            "topics",
            "create",
            &topic,
            "-p",
            "2",
            "--config",
            "retention.ms=123456",
        ]),
        b"",
    );
    let d = ok(laminar(&["topics", "describe", &topic]), b"");
    assert!(d.contains("config retention.ms=123456"), "{d}");
    ok(
        laminar(&[
            "topics",
            "alter",
            &topic,
            "--config",
            "retention.ms=654321",
            "--config",
            "cleanup.policy=compact",
        ]),
        b"",
    );
    let d = ok(laminar(&["topics", "describe", &topic]), b"");
    assert!(d.contains("config retention.ms=654321"), "{d}");
    assert!(d.contains("config cleanup.policy=compact"), "{d}");
    ok(
        laminar(&[
            "topics",
            "alter",
            &topic,
            "--delete-config",
            "cleanup.policy",
        ]),
        b"",
    );
    let d = ok(laminar(&["topics", "describe", &topic]), b"");
    assert!(!d.contains("cleanup.policy"), "{d}");
    let missing = run(
        laminar(&[
            "topics",
            "alter",
            &unique_topic("none"),
            "--config",
            "retention.ms=1",
        ]),
        b"",
    );
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing.stderr));
}

#[test]
fn profile_with_placeholders_authenticates() {
    let b = broker();
    let dir = std::env::temp_dir().join(unique_topic("cli-profile"));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"name": "local", "connector": "kafka", "config": {
            "bootstrapServers": "{{ CLI_TEST_BROKERS }}",
            "authentication": {"protocol": "SASL_PLAINTEXT", "mechanism": "PLAIN",
                "username": "{{ CLI_TEST_USER }}", "password": "{{ CLI_TEST_PASSWORD }}"}}}"#,
    )
    .unwrap();
    let topic = keyed_topic("profile");
    let with = |password: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
        c.env_remove("KAFKA_BOOTSTRAP")
            .env("CLI_TEST_BROKERS", &b.sasl_plaintext)
            .env("CLI_TEST_USER", &b.username)
            .env("CLI_TEST_PASSWORD", password)
            .args([
                "--profile",
                profile.to_str().unwrap(),
                "metadata",
                "-t",
                &topic,
            ]);
        c
    };
    let out = ok(with(b.password()), b"");
    assert!(out.contains("with 2 partitions"), "{out}");
    let wrong = run(with("not-the-password-xyz"), b"");
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    let err = text(&wrong.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("not-the-password-xyz"), "{err}");

    // A placeholder without its variable is named.
    let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
    c.env_remove("CLI_TEST_BROKERS")
        .args(["--profile", profile.to_str().unwrap(), "metadata"]);
    let out = run(c, b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("CLI_TEST_BROKERS"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exit_codes_and_one_line_errors() {
    let code = |c: Command| {
        let out = run(c, b"");
        let err = text(&out.stderr);
        (out.status.code(), err)
    };
    // Usage.
    let (c, _) = code(laminar(&["consume"]));
    assert_eq!(c, Some(1));
    let (c, e) = code(laminar(&["consume", "-t", "x", "-f", "%"]));
    assert_eq!(c, Some(1));
    assert!(e.contains("%%"), "{e}");
    let (c, _) = code(laminar(&["consume", "-t", "x", "--from", "yesterday"]));
    assert_eq!(c, Some(1));
    let (c, _) = code(laminar(&["--help"]));
    assert_eq!(c, Some(0));
    // Not found.
    let (c, e) = code(laminar(&["consume", "-t", &unique_topic("missing"), "-e"]));
    assert_eq!(c, Some(3), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    // Connection.
    let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
    c.args([
        "-b",
        "127.0.0.1:1",
        "-X",
        "socket.connection.setup.timeout.ms=2000",
        "metadata",
    ]);
    let (c, e) = code(c);
    assert_eq!(c, Some(2), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("--brokers"), "{e}");
}

#[test]
fn plaintext_client_on_a_tls_listener_is_told_so() {
    let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
    c.args(["-b", &broker().ssl, "metadata"]);
    let out = run(c, b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("security.protocol=SSL"), "{err}");
    assert!(!err.contains("352518912"), "{err}");

    // The library's error says the same.
    let e = runtime().block_on(async {
        let admin = Admin::new(ClientConfig::new(&broker().ssl).unwrap()).unwrap();
        let e = admin.list_topics().await.unwrap_err();
        admin.close().await;
        e
    });
    match &e {
        laminar_kafka_client::Error::ConnectionClosed {
            reason: Some(r), ..
        } => {
            assert!(r.contains("expects TLS"), "{r}")
        }
        other => panic!("expected ConnectionClosed with a TLS reason, got {other:?}"),
    }
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(laminar(&["completions", shell]), b"");
        assert!(out.contains("laminar-kafka"), "{shell}");
        assert!(out.contains("reset-offsets"), "{shell}");
    }
    let man = ok(laminar(&["man"]), b"");
    assert!(man.contains(".TH"), "{man}");
    let (code, _) = {
        let out = run(laminar(&["completions", "powershell-9"]), b"");
        (out.status.code(), ())
    };
    assert_eq!(code, Some(1));
}

#[test]
fn stats_print_a_json_line_to_stderr_every_interval() {
    let topic = unique_topic("cli-stats");
    create(&topic, 1);
    let input: String = (0..20).map(|i| format!("r{i}\n")).collect();
    ok(laminar(&["produce", "-t", &topic]), input.as_bytes());
    let out = run(
        laminar(&[
            "consume",
            "-t",
            &topic,
            "--idle-timeout-ms",
            "1500",
            "--stats",
            "0.25",
        ]),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 20);
    let stderr = text(&out.stderr);
    let snapshots: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(snapshots.len() >= 2, "{stderr}");
    let last = snapshots.last().unwrap();
    assert_eq!(last["type"], "consumer", "{last}");
    assert_eq!(last["totals"]["records-consumed-total"], 20, "{last}");
    assert_eq!(last["partitions"][0]["records-lag"], 0, "{last}");
    assert!(
        last["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["incoming-byte-total"].as_u64().unwrap_or(0) > 0),
        "{last}"
    );
}
