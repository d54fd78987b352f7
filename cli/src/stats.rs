//! `--stats SECONDS` of `produce` and `consume`: the client's statistics snapshot, one JSON
//! line on stderr every SECONDS (the names are the Java client's metric names, see
//! `laminar_kafka_client::stats`).

use std::io::Write;
use std::sync::Arc;

use anyhow::{Result, bail};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::stats::Statistics;

/// Sets `statistics.interval.ms` and a callback that prints each snapshot as one JSON line
/// to stderr; nothing without `--stats`.
pub(crate) fn print_to_stderr(config: &mut ClientConfig, seconds: Option<f64>) -> Result<()> {
    let Some(seconds) = seconds else {
        return Ok(());
    };
    let ms = seconds * 1000.0;
    if !ms.is_finite() || ms < 1.0 || ms > f64::from(i32::MAX) {
        bail!("--stats takes a number of seconds, at least 0.001: got {seconds}");
    }
    config.set("statistics.interval.ms", &format!("{}", ms.round() as u64))?;
    *config = std::mem::take(config).with_statistics_callback(Arc::new(|s: &Statistics| {
        if let Ok(line) = serde_json::to_string(s) {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_the_interval_and_a_callback() {
        let mut config = ClientConfig::default();
        print_to_stderr(&mut config, None).unwrap();
        assert!(config.common.statistics_callback.is_none());
        print_to_stderr(&mut config, Some(2.5)).unwrap();
        assert_eq!(config.common.statistics_interval.as_millis(), 2500);
        assert!(config.common.statistics_callback.is_some());
        assert!(print_to_stderr(&mut config, Some(0.0)).is_err());
        assert!(print_to_stderr(&mut config, Some(f64::NAN)).is_err());
    }
}
