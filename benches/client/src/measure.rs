//! Runs one client process and measures it: wall time, and the CPU time (user + system) the
//! kernel charged to it and to everything it waited for.
//!
//! The CPU time is the difference of `getrusage(RUSAGE_CHILDREN)` across the wait for the child,
//! so only one measured child may run at a time (the harness runs them one after the other).
//! A child that outlives its time limit is killed and reported, never waited for forever.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde::{Deserialize, Serialize};

/// Why a measured run gave no measurement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum MeasureError {
    /// The program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Waiting for the program failed.
    #[error("cannot wait for `{program}`: {source}")]
    Wait {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program ran past its time limit and was killed.
    #[error("`{program}` still running after {limit:?}: killed; its last output:\n{tail}")]
    Timeout {
        /// The program.
        program: String,
        /// The limit.
        limit: Duration,
        /// The end of its standard error.
        tail: String,
    },
    /// The program exited unsuccessfully.
    #[error("`{program}` failed ({status}); its last output:\n{tail}")]
    Failed {
        /// The program.
        program: String,
        /// How it ended.
        status: ExitStatus,
        /// The end of its standard error and output.
        tail: String,
    },
    /// The kernel did not report resource usage.
    #[error("getrusage: {0}")]
    Rusage(#[from] nix::Error),
}

/// CPU seconds charged to a process.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct CpuTime {
    /// User-mode seconds.
    pub(crate) user: f64,
    /// Kernel-mode seconds.
    pub(crate) sys: f64,
}

impl CpuTime {
    /// User plus system seconds.
    pub(crate) fn total(&self) -> f64 {
        self.user + self.sys
    }

    fn of_children() -> Result<Self, MeasureError> {
        let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        Ok(Self {
            user: secs(usage.user_time()),
            sys: secs(usage.system_time()),
        })
    }
}

/// A finished, successful process and what it cost.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    /// Its standard output.
    pub(crate) stdout: String,
    /// From spawn to exit.
    pub(crate) wall: Duration,
    /// CPU time of the process and of the processes it waited for.
    pub(crate) cpu: CpuTime,
}

/// Runs `command` to completion (killing it after `limit`) and measures it.
pub(crate) fn run_measured(
    command: &mut Command,
    limit: Duration,
) -> Result<Finished, MeasureError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let before = CpuTime::of_children()?;
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| MeasureError::Spawn {
            program: program.clone(),
            source,
        })?;
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(());
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(MeasureError::Wait { program, source });
            }
        }
    };
    let wall = start.elapsed();
    let after = CpuTime::of_children()?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let status = match status {
        Ok(status) => status,
        Err(()) => {
            return Err(MeasureError::Timeout {
                program,
                limit,
                tail: tail(&stderr, 2000),
            });
        }
    };
    if !status.success() {
        return Err(MeasureError::Failed {
            program,
            status,
            tail: format!("{}{}", tail(&stderr, 3000), tail(&stdout, 1000)),
        });
    }
    Ok(Finished {
        stdout,
        wall,
        cpu: CpuTime {
            user: (after.user - before.user).max(0.0),
            sys: (after.sys - before.sys).max(0.0),
        },
    })
}

fn reader(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The last `max` bytes of `text` (cut at a character boundary).
pub(crate) fn tail(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// `RUSAGE_CHILDREN` is per process: measured children of parallel tests would be charged
    /// to each other.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
        assert_eq!(tail("aé", 1), "");
    }

    #[test]
    fn a_busy_child_is_charged_its_cpu_and_output_is_captured() {
        let _serial = serial();
        // About 0.1-0.5 CPU-s of shell arithmetic, on any machine this runs on.
        let finished = run_measured(
            Command::new("sh").args([
                "-c",
                "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done",
            ]),
            Duration::from_secs(120),
        )
        .expect("run");
        assert_eq!(finished.stdout.trim(), "done");
        assert!(finished.cpu.total() > 0.02, "{:?}", finished.cpu);
        // CPU of one single-threaded child cannot exceed its wall time by much.
        assert!(
            finished.cpu.total() <= finished.wall.as_secs_f64() * 1.1 + 0.01,
            "{:?} in {:?}",
            finished.cpu,
            finished.wall
        );
    }

    #[test]
    fn a_sleeping_child_costs_almost_no_cpu() {
        let _serial = serial();
        let finished =
            run_measured(Command::new("sleep").arg("0.3"), Duration::from_secs(30)).expect("run");
        assert!(finished.wall >= Duration::from_millis(300));
        assert!(finished.cpu.total() < 0.1, "{:?}", finished.cpu);
    }

    #[test]
    fn failures_and_timeouts_are_reported_with_output() {
        let _serial = serial();
        let err = run_measured(
            Command::new("sh").args(["-c", "echo broken >&2; exit 3"]),
            Duration::from_secs(30),
        )
        .unwrap_err();
        assert!(matches!(err, MeasureError::Failed { .. }), "{err}");
        assert!(err.to_string().contains("broken"), "{err}");

        let start = Instant::now();
        let err =
            run_measured(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, MeasureError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));

        let err = run_measured(
            &mut Command::new("/nonexistent/program"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err, MeasureError::Spawn { .. }), "{err}");
    }
}
