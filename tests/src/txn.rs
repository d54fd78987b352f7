//! The cluster's `transaction.version` feature, which the transaction tests switch: the tests of
//! one binary hold [`tv_lock`] shared, the one that switches it holds it exclusively, so that no
//! other transaction of the binary sees the switch.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::RwLock;

use crate::Broker;

/// The lock of the transaction version within one test binary.
pub fn tv_lock() -> &'static RwLock<()> {
    static LOCK: OnceLock<RwLock<()>> = OnceLock::new();
    LOCK.get_or_init(|| RwLock::new(()))
}

/// Sets the cluster's `transaction.version` to `level` with the broker's features tool.
pub fn set_transaction_version(level: u32) {
    let broker = Broker::from_env();
    let verb = if level >= 2 { "upgrade" } else { "downgrade" };
    broker
        .run_tool(
            "features",
            &[
                "--bootstrap-server",
                &broker.plaintext,
                verb,
                "--feature",
                &format!("transaction.version={level}"),
            ],
            None,
            Duration::from_secs(60),
        )
        .expect("features tool");
}

/// Puts transaction.version back to 2 when dropped, even when the test fails.
#[derive(Debug)]
pub struct RestoreTransactionVersion;

impl Drop for RestoreTransactionVersion {
    fn drop(&mut self) {
        set_transaction_version(2);
    }
}
