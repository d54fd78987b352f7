//! The member's own connection to its group coordinator.
//!
//! JoinGroup may legitimately wait up to the rebalance timeout (`max.poll.interval.ms`) for the
//! other members, longer than `request.timeout.ms`; a shared connection would be closed by that
//! timeout. So the member keeps a dedicated connection whose timeout exceeds the rebalance
//! timeout, and bounds every other request on it by `request.timeout.ms` itself. Group traffic
//! also never waits behind fetches this way.

use std::sync::Mutex;
use std::time::Duration;

use laminar_kafka_protocol::messages::messages::ApiKey;
use laminar_kafka_protocol::messages::protocol::Request;

use crate::cluster::{Cluster, CoordinatorType};
use crate::connection::{Connection, ConnectionConfig};
use crate::error::{Error, Result};

/// Extra time JoinGroup gets beyond the rebalance timeout, as the Java client allows.
const JOIN_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct CoordinatorLink {
    cluster: Cluster,
    group_id: String,
    conn_config: ConnectionConfig,
    request_timeout: Duration,
    conn: Mutex<Option<Connection>>,
    connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CoordinatorLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorLink")
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

impl CoordinatorLink {
    pub(crate) fn new(
        cluster: Cluster,
        group_id: String,
        rebalance_timeout: Duration,
    ) -> Result<Self> {
        let config = cluster.config();
        let request_timeout = config.common.request_timeout;
        let mut conn_config = ConnectionConfig::from_client_config(config)?;
        conn_config.request_timeout = request_timeout.max(rebalance_timeout + JOIN_GRACE);
        Ok(Self {
            cluster,
            group_id,
            conn_config,
            request_timeout,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub(crate) fn group_id(&self) -> &str {
        &self.group_id
    }

    fn current(&self) -> Option<Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|c| !c.is_closed())
    }

    /// The coordinator connection, found (FindCoordinator) and opened when there is none.
    pub(crate) async fn connection(&self) -> Result<Connection> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let found = self
            .cluster
            .coordinator(CoordinatorType::Group, &self.group_id)
            .await?;
        let conn = Connection::connect_counted(
            found.broker(),
            &self.conn_config,
            self.cluster.broker_counters(found.broker()),
        )
        .await?;
        *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    /// Forgets the coordinator (after NOT_COORDINATOR and the like); the next call looks it up.
    pub(crate) fn invalidate(&self) {
        if let Some(c) = self.conn.lock().unwrap_or_else(|e| e.into_inner()).take() {
            c.close();
        }
    }

    /// The version to send `R` at: the negotiated one, capped at what the message codec
    /// encodes (the API table can list a newer version than the generated message knows).
    pub(crate) fn version_of<R: Request>(conn: &Connection) -> Result<i16> {
        let protocol = |source| Error::Protocol {
            broker: conn.broker().to_owned(),
            source,
        };
        let key = ApiKey::try_from(R::KEY).map_err(|()| {
            protocol(laminar_kafka_protocol::Error::UnsupportedApi { api: "unknown API" })
        })?;
        conn.versions()
            .version_at_most(key, R::VERSIONS.max)
            .map_err(protocol)
    }

    /// Sends a request bounded by `request.timeout.ms`.
    pub(crate) async fn send<R: Request>(
        &self,
        conn: &Connection,
        request: &R,
    ) -> Result<R::Response> {
        let version = Self::version_of::<R>(conn)?;
        self.send_at(conn, request, version).await
    }

    /// Sends a request at `version`, bounded by `request.timeout.ms`.
    pub(crate) async fn send_at<R: Request>(
        &self,
        conn: &Connection,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        self.bounded(conn, self.request_timeout, request, version)
            .await
    }

    /// Sends JoinGroup, which may wait for the whole rebalance.
    pub(crate) async fn send_long<R: Request>(
        &self,
        conn: &Connection,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        self.bounded(conn, self.conn_config.request_timeout, request, version)
            .await
    }

    async fn bounded<R: Request>(
        &self,
        conn: &Connection,
        timeout: Duration,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        match tokio::time::timeout(timeout, conn.send_at(request, version)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                if e.is_retriable() {
                    self.invalidate();
                }
                Err(e)
            }
            Err(_) => {
                self.invalidate();
                Err(Error::RequestTimeout {
                    broker: conn.broker().to_owned(),
                    api: ApiKey::try_from(R::KEY)
                        .map(laminar_kafka_protocol::frame::api_key_name)
                        .unwrap_or("unknown API"),
                    timeout,
                })
            }
        }
    }

    /// Closes the connection for good.
    pub(crate) fn close(&self) {
        self.invalidate();
    }
}
