//! `-v` and `--debug AREA,...`: the client's events on stderr.
//!
//! The client writes `tracing` events under one target per area (`laminar_kafka::connection`,
//! `laminar_kafka::group`, …; see `laminar_kafka_client::log_targets`). By default only
//! warnings are shown. `-v` shows every area at info (what an operator acts on), `-vv` at
//! debug, `-vvv` at trace (one event per request); `--debug connection,group` shows those areas
//! at debug, as librdkafka's `debug=` property does (`all` for every area). Each area gets the
//! more verbose of the two. Secrets never appear in an event, at any level.

use clap::ValueEnum;
use laminar_kafka_client::log_targets;
use tracing_subscriber::filter::{LevelFilter, Targets};

/// An area of `--debug`, named as in librdkafka where the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Area {
    /// Connections: connect, disconnect (with the reason), request timeouts.
    #[value(alias = "broker", alias = "protocol")]
    Connection,
    /// Authentication: SASL, re-authentication, TLS handshakes.
    #[value(alias = "security")]
    Sasl,
    /// Metadata refreshes, leader moves, brokers added or removed.
    Metadata,
    /// The producer.
    #[value(alias = "msg")]
    Producer,
    /// Transactions.
    #[value(alias = "eos")]
    Txn,
    /// The consumer: offset resets, fetch errors, truncation.
    #[value(alias = "fetch")]
    Consumer,
    /// Consumer groups: joins, rebalances, assignments, commits.
    #[value(alias = "cgrp")]
    Group,
    /// The admin client.
    Admin,
    /// Every area.
    All,
}

impl Area {
    /// The `tracing` targets of this area.
    fn targets(self) -> &'static [&'static str] {
        match self {
            Area::Connection => &[log_targets::CONNECTION],
            Area::Sasl => &[log_targets::SASL],
            Area::Metadata => &[log_targets::METADATA],
            Area::Producer => &[log_targets::PRODUCER],
            Area::Txn => &[log_targets::TXN],
            Area::Consumer => &[log_targets::CONSUMER],
            Area::Group => &[log_targets::GROUP],
            Area::Admin => &[log_targets::ADMIN],
            Area::All => &log_targets::ALL,
        }
    }
}

/// The level `-v` repeated `verbose` times gives every area (warnings only without it).
fn verbosity_level(verbose: u8) -> LevelFilter {
    match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The filter for `-v` given `verbose` times and `--debug` with `areas`: warnings from
/// everything, and our areas at the more verbose of the two flags.
pub(crate) fn filter(verbose: u8, areas: &[Area]) -> Targets {
    let base = verbosity_level(verbose);
    let mut targets = Targets::new().with_default(LevelFilter::WARN);
    for target in log_targets::ALL {
        let debug = areas.iter().any(|a| a.targets().contains(&target));
        // LevelFilter orders OFF < ERROR < … < TRACE: the greater is the more verbose.
        let level = if debug {
            base.max(LevelFilter::DEBUG)
        } else {
            base
        };
        targets = targets.with_target(target, level);
    }
    targets
}

/// Installs the stderr subscriber for these flags. Called once, before any client is made.
pub(crate) fn install(verbose: u8, areas: &[Area]) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true);
    // Fails only when a subscriber is already installed: that one stays.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter(verbose, areas))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The levels by their `LevelFilter` names (they are the same).
    struct Level;

    impl Level {
        const WARN: LevelFilter = LevelFilter::WARN;
        const INFO: LevelFilter = LevelFilter::INFO;
        const DEBUG: LevelFilter = LevelFilter::DEBUG;
        const TRACE: LevelFilter = LevelFilter::TRACE;
    }

    fn enabled(filter: &Targets, target: &str, level: LevelFilter) -> bool {
        filter.would_enable(target, &level.into_level().expect("a level, not OFF"))
    }

    #[test]
    fn warnings_only_by_default() {
        let f = filter(0, &[]);
        assert!(enabled(&f, log_targets::GROUP, Level::WARN));
        assert!(!enabled(&f, log_targets::GROUP, Level::INFO));
        assert!(enabled(&f, "rustls::client", Level::WARN));
        assert!(!enabled(&f, "rustls::client", Level::INFO));
    }

    #[test]
    fn each_v_is_one_level_more_for_every_area() {
        for target in log_targets::ALL {
            let info = filter(1, &[]);
            assert!(enabled(&info, target, Level::INFO) && !enabled(&info, target, Level::DEBUG));
            let debug = filter(2, &[]);
            assert!(enabled(&debug, target, Level::DEBUG));
            assert!(!enabled(&debug, target, Level::TRACE));
            assert!(enabled(&filter(3, &[]), target, Level::TRACE));
            assert!(enabled(&filter(7, &[]), target, Level::TRACE));
        }
        // Other crates stay at warnings.
        assert!(!enabled(&filter(3, &[]), "h2::codec", Level::INFO));
    }

    #[test]
    fn debug_areas_are_at_debug_and_the_others_unchanged() {
        let f = filter(0, &[Area::Connection, Area::Group]);
        assert!(enabled(&f, log_targets::CONNECTION, Level::DEBUG));
        assert!(enabled(&f, log_targets::GROUP, Level::DEBUG));
        assert!(!enabled(&f, log_targets::CONNECTION, Level::TRACE));
        assert!(!enabled(&f, log_targets::METADATA, Level::INFO));
        let all = filter(0, &[Area::All]);
        for target in log_targets::ALL {
            assert!(enabled(&all, target, Level::DEBUG), "{target}");
        }
        // -vvv wins over --debug for the areas it names.
        let f = filter(3, &[Area::Sasl]);
        assert!(enabled(&f, log_targets::SASL, Level::TRACE));
    }

    #[test]
    fn every_area_but_all_names_one_target_of_the_client() {
        let mut seen = Vec::new();
        for area in Area::value_variants() {
            if *area != Area::All {
                assert_eq!(area.targets().len(), 1, "{area:?}");
                seen.extend_from_slice(area.targets());
            }
        }
        seen.sort();
        let mut all = log_targets::ALL.to_vec();
        all.sort();
        assert_eq!(seen, all);
    }
}
