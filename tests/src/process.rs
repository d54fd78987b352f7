//! Subprocesses with a deadline: output captured, the process group killed past the deadline,
//! secrets redacted from every message.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{HarnessError, Result};

/// What a finished subprocess printed (secrets redacted).
#[derive(Debug, Clone)]
pub struct Output {
    /// Standard output, lossily decoded as UTF-8.
    pub stdout: String,
    /// Standard error, lossily decoded as UTF-8.
    pub stderr: String,
}

/// Runs `command` with `stdin` fed to it, killing it after `timeout`. Output is captured; every
/// string in `secrets` is replaced by `<redacted>` in the command line and the output that errors
/// and the returned [`Output`] carry. Fails on a non-zero exit.
pub fn run(
    mut command: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
    secrets: &[String],
) -> Result<Output> {
    let description = redact(&describe(&command), secrets);
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout ends whatever the command started too (a
        // grandchild holding the output pipes would otherwise keep the readers waiting).
        .process_group(0);
    let mut child = command.spawn().map_err(|source| HarnessError::Spawn {
        command: description.clone(),
        source,
    })?;

    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            // A child that exits early closes the pipe: its exit status tells what happened.
            Some(thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let stdout = child.stdout.take().map(spawn_reader);
    let stderr = child.stderr.take().map(spawn_reader);

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_process_group(&mut child);
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                kill_process_group(&mut child);
                return Err(HarnessError::Spawn {
                    command: description,
                    source,
                });
            }
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let collect = |reader: Option<thread::JoinHandle<Vec<u8>>>| {
        let bytes = reader.and_then(|r| r.join().ok()).unwrap_or_default();
        redact(&String::from_utf8_lossy(&bytes), secrets)
    };
    let output = Output {
        stdout: collect(stdout),
        stderr: collect(stderr),
    };
    match status {
        None => Err(HarnessError::Timeout {
            command: description,
            timeout,
            stdout: output.stdout,
            stderr: output.stderr,
        }),
        Some(status) if !status.success() => Err(HarnessError::Failed {
            command: description,
            status,
            stdout: output.stdout,
            stderr: output.stderr,
        }),
        Some(_) => Ok(output),
    }
}

/// Kills the process group led by `child` (not yet reaped, so its id still names the group), then
/// reaps the child.
fn kill_process_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !killed {
        let _ = child.kill();
    }
    let _ = child.wait();
}

fn spawn_reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buffer = Vec::new();
        // A read error (the child was killed) keeps what was read so far.
        let _ = pipe.read_to_end(&mut buffer);
        buffer
    })
}

fn describe(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |acc, secret| {
            acc.replace(secret.as_str(), "<redacted>")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_returns_output_and_feeds_stdin() {
        let output = run(
            Command::new("cat"),
            Some(b"one\ntwo\n"),
            Duration::from_secs(10),
            &[],
        )
        .unwrap();
        assert_eq!(output.stdout, "one\ntwo\n");
    }

    #[test]
    fn run_kills_a_command_past_its_deadline() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; sleep 30"]);
        let started = Instant::now();
        let error = run(command, None, Duration::from_millis(300), &[]).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        match error {
            HarnessError::Timeout { stdout, .. } => assert_eq!(stdout, "started\n"),
            other => panic!("expected a timeout, got {other}"),
        }
    }

    #[test]
    fn run_reports_failure_without_leaking_secrets() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo \"bad password hunter2\" >&2; exit 3", "hunter2"]);
        let error = run(
            command,
            None,
            Duration::from_secs(10),
            &["hunter2".to_owned()],
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, HarnessError::Failed { .. }));
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("bad password <redacted>"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
    }

    #[test]
    fn run_reports_a_missing_program() {
        let error = run(
            Command::new("/nonexistent/laminar-no-such-tool"),
            None,
            Duration::from_secs(5),
            &[],
        )
        .unwrap_err();
        assert!(matches!(error, HarnessError::Spawn { .. }));
    }
}
