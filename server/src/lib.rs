//! `laminar-kafka serve`: the connector's REST API on an embedded SQLite database.
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/connection_profiles` | store a profile (`{name, connector, config}`), answer its id |
//! | `GET /v1/connection_profiles[/{id}]` | profiles, secrets masked |
//! | `DELETE /v1/connection_profiles/{id}` | refused (409) while a table uses it |
//! | `POST /v1/connection_profiles/test` | connect, authenticate, read metadata, reach the registry |
//! | `POST /v1/connection_tables` | store a table (`connectionProfileId` names a stored profile) |
//! | `GET /v1/connection_tables[/{id}]`, `DELETE …/{id}` | tables; delete refused while a pipeline uses one |
//! | `POST /v1/connection_tables/test` | the profile's checks, then the topic exists and its first record decodes |
//! | `POST /v1/pipelines` | `{name, query}`: SQL over stored tables by name (or whole scripts), run in the server |
//! | `GET /v1/pipelines[/{id}]` | state and counters (records in and out, lag, commits) |
//! | `DELETE /v1/pipelines/{id}` | stop gracefully (commit) and forget |
//! | `GET /v1/openapi.json` | the OpenAPI document, generated from the handlers' types |
//!
//! Errors are `{"error": message, "path": field-or-null}`: 400 for a body that is not JSON, 401
//! without the right bearer token, 404 for an unknown id, 409 for a name taken or a thing in
//! use, 413 for a body over 1 MiB, 422 for an invalid configuration (the connector's exact
//! message). Profiles and tables are stored as sent (`{{ VAR }}` placeholders unresolved);
//! `GET` masks passwords, API keys and secrets. Pipelines that were running start again
//! when the server restarts.

mod api;
mod db;
mod mask;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use api::{
    ApiDoc, AppState, ErrorBody, PipelineBody, PipelineMetrics, PipelineView, ProfileBody, Stored,
    TableBody, TestReport, router,
};

/// How the server runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where the database lives (created on first start).
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The bearer token clients must send; `None` serves without authentication, on the
    /// loopback address only.
    pub token: Option<String>,
}

impl ServerConfig {
    /// A configuration with these settings.
    pub fn new(data_dir: PathBuf, listen: SocketAddr, token: Option<String>) -> Self {
        Self {
            data_dir,
            listen,
            token,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database could not be opened or migrated.
    #[error("database in {dir}: {message}")]
    Database {
        /// The data directory.
        dir: PathBuf,
        /// What failed.
        message: String,
    },
    /// Without a token, only a loopback address may be used.
    #[error(
        "refusing to listen on {0} without a token: set --token-file or LAMINAR_API_TOKEN, or listen on 127.0.0.1"
    )]
    OpenWithoutToken(SocketAddr),
    /// The address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Opens the database, resumes the pipelines that were running, and serves until `stop`
/// resolves; then stops the pipelines gracefully.
pub async fn serve(
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if config.token.is_none() && !config.listen.ip().is_loopback() {
        return Err(ServerError::OpenWithoutToken(config.listen));
    }
    let state = api::AppState::open(&config.data_dir, config.token.clone()).map_err(|e| {
        ServerError::Database {
            dir: config.data_dir.clone(),
            message: e.to_string(),
        }
    })?;
    state.resume_pipelines().await;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    if config.token.is_none() {
        eprintln!(
            "laminar-kafka serve: no token configured: serving without authentication on {} only",
            config.listen
        );
    }
    eprintln!(
        "laminar-kafka serve: listening on http://{}, data in {}",
        listener.local_addr().map_or(config.listen, |a| a),
        config.data_dir.display()
    );
    let app = router(state.clone());
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    state.stop_all().await;
    result.map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })
}
