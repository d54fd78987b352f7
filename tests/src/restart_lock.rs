//! The harness broker as the client suites take it: [`broker`] holds the shared side of the
//! restart lock, so the broker-restart test (which takes it exclusively) never stops the broker
//! under a running test binary; and [`blocking`] for the peer tools called from async tests.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::Broker;

/// The harness broker. Also takes the shared side of the restart lock for the rest of the
/// process, so that the broker-restart test (which takes it exclusively) never stops the broker
/// under a running test binary.
pub fn broker() -> &'static Broker {
    let broker = Broker::from_env();
    hold_shared_restart_lock();
    broker
}

/// `target/kafka-run/.restart.lock`: the directory above the broker's run directory
/// (`KAFKA_RUN_DIR`), or the repository's `target/kafka-run` when that is not set.
pub fn restart_lock_path() -> PathBuf {
    let run_root = std::env::var_os("KAFKA_RUN_DIR")
        .map(PathBuf::from)
        .and_then(|dir| dir.parent().map(PathBuf::from))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("kafka-run")
        });
    run_root.join(".restart.lock")
}

fn open_restart_lock() -> File {
    let path = restart_lock_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the restart lock {}: {e}", path.display()))
}

// `File::lock*` are newer than the workspace's rust-version; this crate is test-only and never
// published, and the machines that run it have a current toolchain.
#[allow(clippy::incompatible_msrv)]
fn hold_shared_restart_lock() {
    static SHARED: OnceLock<File> = OnceLock::new();
    SHARED.get_or_init(|| {
        let file = open_restart_lock();
        file.lock_shared()
            .unwrap_or_else(|e| panic!("cannot take the restart lock shared: {e}"));
        file
    });
}

/// Takes the restart lock exclusively: returns once no other test binary holds it shared, and
/// keeps the others out until the returned file is dropped.
#[allow(clippy::incompatible_msrv)]
pub fn exclusive_restart_lock() -> File {
    let file = open_restart_lock();
    file.lock()
        .unwrap_or_else(|e| panic!("cannot take the restart lock exclusively: {e}"));
    file
}

/// Runs blocking work (a JVM tool, kcat) from an async test without stalling the runtime's
/// other tasks.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
