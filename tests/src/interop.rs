//! The Java console tools and kcat with the options the codec and client interop tests need,
//! against the PLAINTEXT listener; each fails the test when the tool reports an error.

use std::process::Command;
use std::time::Duration;

use crate::{Broker, Output, run};

/// The Java console tools' flags: the names of Kafka 4.2+ (KIP-1147), or the older ones.
pub struct JavaFlags {
    /// Sets a client property.
    pub client_property: &'static str,
    /// Sets a property of the console producer's line reader.
    pub reader_property: &'static str,
    /// Sets a property of the console consumer's formatter.
    pub formatter_property: &'static str,
}

/// The flags of the broker's console producer (`producer`) or consumer.
pub fn java_flags(broker: &Broker, producer: bool) -> JavaFlags {
    if broker.version_at_least(4, 2) {
        JavaFlags {
            client_property: "--command-property",
            reader_property: "--reader-property",
            formatter_property: "--formatter-property",
        }
    } else {
        JavaFlags {
            client_property: if producer {
                "--producer-property"
            } else {
                "--consumer-property"
            },
            reader_property: "--property",
            formatter_property: "--property",
        }
    }
}

/// Runs the Java console producer against the PLAINTEXT listener, one record per input line.
/// `client` are producer configs, `reader` the line reader's properties (`parse.key`, …).
pub fn java_console_produce(
    broker: &Broker,
    topic: &str,
    input: &str,
    client: &[(&str, &str)],
    reader: &[(&str, &str)],
) -> Output {
    let flags = java_flags(broker, true);
    let mut args: Vec<String> = vec![
        "--bootstrap-server".into(),
        broker.plaintext.clone(),
        "--topic".into(),
        topic.into(),
    ];
    let client_defaults = [
        ("delivery.timeout.ms", "50000"),
        ("request.timeout.ms", "30000"),
    ];
    for (k, v) in client_defaults.iter().chain(client) {
        args.push(flags.client_property.into());
        args.push(format!("{k}={v}"));
        // The console producer sets compression.type from its own option (default `none`)
        // after the client properties, so a codec must be given there too.
        if *k == "compression.type" {
            args.push("--compression-codec".into());
            args.push((*v).into());
        }
    }
    for (k, v) in reader {
        args.push(flags.reader_property.into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = broker
        .run_tool(
            "console-producer",
            &args,
            Some(input.as_bytes()),
            Duration::from_secs(90),
        )
        .unwrap_or_else(|e| panic!("Java console producer: {e}"));
    assert!(
        !output.stderr.contains("ERROR"),
        "Java console producer reported errors: {}",
        output.stderr
    );
    output
}

/// Runs the Java console consumer from the beginning of `topic` (every partition) until `count`
/// records came, with formatter properties, and returns its output lines.
pub fn java_console_consume(
    broker: &Broker,
    topic: &str,
    count: usize,
    formatter: &[(&str, &str)],
) -> Vec<String> {
    let flags = java_flags(broker, false);
    let count_text = count.to_string();
    let mut args: Vec<String> = vec![
        "--bootstrap-server".into(),
        broker.plaintext.clone(),
        "--topic".into(),
        topic.into(),
        "--from-beginning".into(),
        "--max-messages".into(),
        count_text,
        // Generous: on a loaded 2-core machine the JVM's start and the group join alone have
        // taken over 40 s. A missing record still fails the test, only later.
        "--timeout-ms".into(),
        "90000".into(),
    ];
    for (k, v) in formatter {
        args.push(flags.formatter_property.into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = broker
        .run_tool("console-consumer", &args, None, Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("Java console consumer: {e}"));
    let lines: Vec<String> = output.stdout.lines().map(str::to_owned).collect();
    assert_eq!(
        lines.len(),
        count,
        "Java console consumer printed {} lines instead of {count}; stderr: {}",
        lines.len(),
        output.stderr
    );
    lines
}

/// Runs kcat against the PLAINTEXT listener with `args`, feeding `stdin`.
pub fn kcat(broker: &Broker, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new("kcat");
    command.args(["-b", &broker.plaintext]).args(args);
    let output = run(command, stdin, Duration::from_secs(120), &[])
        .unwrap_or_else(|e| panic!("kcat {args:?}: {e}"));
    assert!(
        !output.stderr.contains("ERROR") && !output.stderr.contains("Delivery failed"),
        "kcat {args:?} reported errors: {}",
        output.stderr
    );
    output
}
