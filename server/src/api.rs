//! The HTTP handlers, the application state (database and running pipelines), and the
//! OpenAPI document built from the handlers' types.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use laminar_kafka_client::admin::Admin;
use laminar_kafka_connector::ConfigError;
use laminar_kafka_connector::config::{
    ConnectionProfile, TableDefinition, parse_profile_json, parse_profile_request_json,
    parse_table_request_json, process_env,
};
use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions};
use laminar_kafka_runner::{PipelineStats, RunOptions, RunnerError, Script, run_pipeline};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa::{OpenApi, ToSchema};

use crate::db::{Db, DbError, Kind, Row};
use crate::mask::mask;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// An error answer: `{"error": …, "path": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong.
    pub error: String,
    /// The field it is about, when there is one.
    pub path: Option<String>,
}

struct ApiError(StatusCode, ErrorBody);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn err(status: StatusCode, error: impl Into<String>, path: Option<String>) -> ApiError {
    ApiError(
        status,
        ErrorBody {
            error: error.into(),
            path,
        },
    )
}

fn not_found(kind: Kind, id: &str) -> ApiError {
    err(
        StatusCode::NOT_FOUND,
        format!("no {} with id `{id}`", kind.noun()),
        None,
    )
}

fn config_path(e: &ConfigError) -> Option<String> {
    match e {
        ConfigError::WrongType { path, .. }
        | ConfigError::Unknown { path, .. }
        | ConfigError::Missing { path, .. }
        | ConfigError::InvalidEnum { path, .. }
        | ConfigError::InvalidValue { path, .. }
        | ConfigError::WrongTableKind { path, .. }
        | ConfigError::MissingEnvVar { path, .. } => Some(path.clone()),
        _ => None,
    }
}

/// 400 for text that is not JSON, 422 for a configuration the connector refuses.
fn config_error(e: ConfigError) -> ApiError {
    let status = match e {
        ConfigError::Json { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let path = config_path(&e);
    err(status, e.to_string(), path)
}

fn db_error(e: DbError) -> ApiError {
    match e {
        DbError::NameTaken(..) => err(StatusCode::CONFLICT, e.to_string(), Some("name".into())),
        DbError::Sqlite(_) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None),
    }
}

/// A pipeline running in the server.
struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), RunnerError>>>,
    stats: Vec<(String, Arc<PipelineStats>)>,
}

/// The database and the running pipelines.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    token: Option<String>,
    running: Mutex<HashMap<String, Running>>,
    /// Serializes creations and deletions that check links between rows.
    links: tokio::sync::Mutex<()>,
}

impl AppState {
    pub(crate) fn open(dir: &Path, token: Option<String>) -> Result<Self, DbError> {
        Ok(AppState {
            inner: Arc::new(Inner {
                db: Db::open(dir)?,
                token,
                running: Mutex::new(HashMap::new()),
                links: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn db(&self) -> &Db {
        &self.inner.db
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts again every stored pipeline whose state is `running`.
    pub(crate) async fn resume_pipelines(&self) {
        let Ok(rows) = self.db().list(Kind::Pipeline) else {
            return;
        };
        for row in rows.into_iter().filter(|r| r.state == "running") {
            match self.plan(&row.body).await {
                Ok(script) => self.start(&row.id, script),
                Err(e) => {
                    let _ = self
                        .db()
                        .set_state(&row.id, &format!("failed: {}", e.1.error));
                }
            }
        }
    }

    /// Stops every pipeline (commit, close), keeping their stored state for the next start.
    pub(crate) async fn stop_all(&self) {
        let all: Vec<Running> = self.running().drain().map(|(_, r)| r).collect();
        for r in all {
            let _ = r.stop.send(true);
            for t in r.tasks {
                let _ = t.await;
            }
        }
    }

    /// The stored tables as definitions, by name.
    fn stored_tables(&self) -> Result<BTreeMap<String, TableDefinition>, ApiError> {
        let profiles: HashMap<String, ConnectionProfile> = self
            .db()
            .list(Kind::Profile)
            .map_err(db_error)?
            .into_iter()
            .filter_map(|p| parse_profile_json(&p.body).ok().map(|c| (p.id, c)))
            .collect();
        let mut out = BTreeMap::new();
        for t in self.db().list(Kind::Table).map_err(db_error)? {
            let (Ok(request), Some(profile)) =
                (parse_table_request_json(&t.body), profiles.get(&t.link))
            else {
                continue;
            };
            if let Ok(def) = TableDefinition::new(
                t.name.clone(),
                profile.clone(),
                request.config,
                request.format,
                None,
            ) {
                out.insert(t.name, def);
            }
        }
        Ok(out)
    }

    async fn plan(&self, query: &str) -> Result<Script, ApiError> {
        let tables = self.stored_tables()?;
        Script::parse_with_tables(query, None, tables.into_values().collect())
            .await
            .map_err(|e| match e {
                RunnerError::Config(c) => config_error(*c),
                other => err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    other.to_string(),
                    Some("query".into()),
                ),
            })
    }

    fn start(&self, id: &str, script: Script) {
        let (stop, rx) = watch::channel(false);
        let script = Arc::new(script);
        let mut tasks = Vec::new();
        let mut stats = Vec::new();
        for i in 0..script.pipelines.len() {
            let s = Arc::new(PipelineStats::default());
            stats.push((script.pipelines[i].sink.name.clone(), s.clone()));
            let (script, rx, db_state, id) =
                (script.clone(), rx.clone(), self.clone(), id.to_owned());
            tasks.push(tokio::spawn(async move {
                let result = run_pipeline(
                    &script.pipelines[i],
                    &process_env,
                    &RunOptions::default(),
                    s,
                    rx,
                )
                .await;
                if let Err(e) = &result {
                    let _ = db_state.db().set_state(&id, &format!("failed: {e}"));
                }
                result
            }));
        }
        self.running()
            .insert(id.to_owned(), Running { stop, tasks, stats });
    }
}

async fn auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.inner.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let ok: bool = given.as_bytes().ct_eq(token.as_bytes()).into();
        if !ok {
            return err(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (Authorization: Bearer …)",
                None,
            )
            .into_response();
        }
    }
    // A body announced larger than the limit is refused before it is read: the client gets the
    // 413 at once, instead of an interim `100 Continue` and a connection closed mid-upload.
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > MAX_BODY as u64) {
        return err(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over the limit of {MAX_BODY} bytes"),
            None,
        )
        .into_response();
    }
    next.run(request).await
}

/// A stored profile or table, as answered (secrets masked).
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Always `kafka`.
    pub connector: String,
    /// The profile a table uses.
    #[serde(
        rename = "connectionProfileId",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_profile_id: Option<String>,
    /// The configuration as sent, secrets masked.
    #[schema(value_type = Object)]
    pub config: Value,
    /// A table's `schema` as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub schema: Option<Value>,
}

/// A profile creation request, as the reference page writes it.
///
/// It describes the body in the OpenAPI document; the handler reads the text itself, so that
/// a bad body gets the connector's exact message.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileBody {
    /// A unique name.
    pub name: String,
    /// `kafka`.
    pub connector: String,
    /// `bootstrapServers`, `authentication`, `schemaRegistryEnum`, `connectionProperties`.
    #[schema(value_type = Object)]
    pub config: Value,
}

/// A table creation request, as the reference page writes it.
///
/// It describes the body in the OpenAPI document; the handler reads the text itself, so that
/// a bad body gets the connector's exact message.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct TableBody {
    /// A unique name (what pipelines call it).
    pub name: String,
    /// `kafka`.
    pub connector: String,
    /// The id of a stored profile.
    #[serde(rename = "connectionProfileId")]
    pub connection_profile_id: String,
    /// `topic`, `type`, `client_configs`, `value_subject`, `bad_data`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// `{"format": {…}}`.
    #[schema(value_type = Object)]
    pub schema: Value,
}

/// The profile a table names by `connectionProfileId`, as its configuration.
fn stored_profile_config(
    state: &AppState,
    profile_id: &str,
) -> Result<ConnectionProfile, ApiError> {
    let Some(row) = state
        .db()
        .get(Kind::Profile, profile_id)
        .map_err(db_error)?
    else {
        return Err(err(
            StatusCode::NOT_FOUND,
            format!("connectionProfileId `{profile_id}` names no stored profile"),
            Some("connectionProfileId".into()),
        ));
    };
    parse_profile_json(&row.body).map_err(config_error)
}

fn stored_profile(row: &Row) -> Stored {
    Stored {
        id: row.id.clone(),
        name: row.name.clone(),
        connector: "kafka".into(),
        connection_profile_id: None,
        config: mask(serde_json::from_str(&row.body).unwrap_or(Value::Null)),
        schema: None,
    }
}

fn stored_table(row: &Row) -> Stored {
    let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    Stored {
        id: row.id.clone(),
        name: row.name.clone(),
        connector: "kafka".into(),
        connection_profile_id: Some(row.link.clone()),
        config: mask(body.get("config").cloned().unwrap_or(Value::Null)),
        schema: body.get("schema").cloned(),
    }
}

#[utoipa::path(post, path = "/v1/connection_profiles", request_body = ProfileBody,
    responses((status = 201, body = Stored), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_profile(
    State(state): State<AppState>,
    body: String,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let request = parse_profile_request_json(&body).map_err(config_error)?;
    let value: Value = serde_json::from_str(&body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, e.to_string(), None))?;
    let config = value
        .get("config")
        .cloned()
        .unwrap_or(Value::Null)
        .to_string();
    let _guard = state.inner.links.lock().await;
    let row = state
        .db()
        .insert(Kind::Profile, &request.name, &config, "", "")
        .map_err(db_error)?;
    Ok((StatusCode::CREATED, Json(stored_profile(&row))))
}

#[utoipa::path(get, path = "/v1/connection_profiles", responses((status = 200, body = Vec<Stored>)))]
async fn list_profiles(State(state): State<AppState>) -> Result<Json<Vec<Stored>>, ApiError> {
    let rows = state.db().list(Kind::Profile).map_err(db_error)?;
    Ok(Json(rows.iter().map(stored_profile).collect()))
}

#[utoipa::path(get, path = "/v1/connection_profiles/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Stored), (status = 404, body = ErrorBody)))]
async fn get_profile(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Stored>, ApiError> {
    let row = state.db().get(Kind::Profile, &id).map_err(db_error)?;
    row.map(|r| Json(stored_profile(&r)))
        .ok_or_else(|| not_found(Kind::Profile, &id))
}

#[utoipa::path(delete, path = "/v1/connection_profiles/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_profile(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    let _guard = state.inner.links.lock().await;
    let users: Vec<String> = state
        .db()
        .list(Kind::Table)
        .map_err(db_error)?
        .into_iter()
        .filter(|t| t.link == id)
        .map(|t| t.name)
        .collect();
    if !users.is_empty() {
        return Err(err(
            StatusCode::CONFLICT,
            format!("the profile is used by table(s) {}", users.join(", ")),
            None,
        ));
    }
    if state.db().delete(Kind::Profile, &id).map_err(db_error)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(Kind::Profile, &id))
    }
}

#[utoipa::path(post, path = "/v1/connection_tables", request_body = TableBody,
    responses((status = 201, body = Stored), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_table(
    State(state): State<AppState>,
    body: String,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let request = parse_table_request_json(&body).map_err(config_error)?;
    let Some(profile_id) = request.connection_profile_id.clone() else {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing required field `connectionProfileId`",
            Some("connectionProfileId".into()),
        ));
    };
    let _guard = state.inner.links.lock().await;
    let profile = stored_profile_config(&state, &profile_id)?;
    TableDefinition::new(
        request.name.clone(),
        profile,
        request.config,
        request.format,
        None,
    )
    .map_err(config_error)?;
    let row = state
        .db()
        .insert(Kind::Table, &request.name, &body, &profile_id, "")
        .map_err(db_error)?;
    Ok((StatusCode::CREATED, Json(stored_table(&row))))
}

#[utoipa::path(get, path = "/v1/connection_tables", responses((status = 200, body = Vec<Stored>)))]
async fn list_tables(State(state): State<AppState>) -> Result<Json<Vec<Stored>>, ApiError> {
    let rows = state.db().list(Kind::Table).map_err(db_error)?;
    Ok(Json(rows.iter().map(stored_table).collect()))
}

#[utoipa::path(get, path = "/v1/connection_tables/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Stored), (status = 404, body = ErrorBody)))]
async fn get_table(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Stored>, ApiError> {
    let row = state.db().get(Kind::Table, &id).map_err(db_error)?;
    row.map(|r| Json(stored_table(&r)))
        .ok_or_else(|| not_found(Kind::Table, &id))
}

#[utoipa::path(delete, path = "/v1/connection_tables/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_table(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    let _guard = state.inner.links.lock().await;
    let Some(table) = state.db().get(Kind::Table, &id).map_err(db_error)? else {
        return Err(not_found(Kind::Table, &id));
    };
    let users: Vec<String> = state
        .db()
        .list(Kind::Pipeline)
        .map_err(db_error)?
        .into_iter()
        .filter(|p| p.link.split(',').any(|t| t == table.name))
        .map(|p| p.name)
        .collect();
    if !users.is_empty() {
        return Err(err(
            StatusCode::CONFLICT,
            format!("the table is used by pipeline(s) {}", users.join(", ")),
            None,
        ));
    }
    state.db().delete(Kind::Table, &id).map_err(db_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The outcome of a connection test: the steps that passed, and the one that failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestReport {
    /// Whether every step passed.
    pub ok: bool,
    /// Steps that passed, in order.
    pub passed: Vec<String>,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

fn report(passed: Vec<String>, failed: Option<(&str, String)>) -> Json<TestReport> {
    Json(TestReport {
        ok: failed.is_none(),
        passed,
        failed_step: failed.as_ref().map(|f| f.0.to_owned()),
        error: failed.map(|f| f.1),
    })
}

/// Connect + authenticate + metadata, and the registry when there is one.
async fn test_profile_steps(
    profile: &ConnectionProfile,
    passed: &mut Vec<String>,
) -> Result<(), (&'static str, String)> {
    let resolved = profile
        .resolve(&process_env)
        .map_err(|e| ("configuration", e.to_string()))?;
    let config =
        laminar_kafka_client::config::ClientConfig::from_properties(resolved.properties.iter())
            .map_err(|e| ("configuration", e.to_string()))?;
    passed.push("configuration".into());
    let admin = Admin::new(config).map_err(|e| ("configuration", e.to_string()))?;
    let described = admin.describe_cluster().await;
    admin.close().await;
    described.map_err(|e| ("connect and authenticate", e.to_string()))?;
    passed.push("connect and authenticate".into());
    passed.push("metadata".into());
    if let Some(registry) = &resolved.schema_registry {
        let client =
            laminar_kafka_connector::schema_registry::SchemaRegistryClient::from_config(registry)
                .map_err(|e| ("schema registry", e.to_string()))?;
        client
            .subjects()
            .await
            .map_err(|e| ("schema registry", e.to_string()))?;
        passed.push("schema registry".into());
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/connection_profiles/test", request_body = ProfileBody,
    responses((status = 200, body = TestReport), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_profile(body: String) -> Result<Json<TestReport>, ApiError> {
    let request = parse_profile_request_json(&body).map_err(config_error)?;
    let mut passed = Vec::new();
    let failed = test_profile_steps(&request.config, &mut passed).await.err();
    Ok(report(
        passed,
        failed.as_ref().map(|(s, e)| (*s, e.clone())),
    ))
}

#[utoipa::path(post, path = "/v1/connection_tables/test", request_body = TableBody,
    responses((status = 200, body = TestReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_table(
    State(state): State<AppState>,
    body: String,
) -> Result<Json<TestReport>, ApiError> {
    let request = parse_table_request_json(&body).map_err(config_error)?;
    let profile_id = request.connection_profile_id.clone().unwrap_or_default();
    let profile = stored_profile_config(&state, &profile_id)?;
    let mut passed = Vec::new();
    if let Err((step, e)) = test_profile_steps(&profile, &mut passed).await {
        return Ok(report(passed, Some((step, e))));
    }
    let mut source_config = request.config.clone();
    if let laminar_kafka_connector::config::TableType::Sink(_) = source_config.kind {
        // A sink's topic is checked by reading it as a source would.
        let laminar_kafka_connector::config::Topic::Name(topic) = &request.config.topic else {
            return Err(err(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a sink writes one topic",
                Some("config.topic".into()),
            ));
        };
        source_config = laminar_kafka_connector::config::parse_table_json(&format!(
            r#"{{"topic": {}, "type": {{"offset": "earliest"}}}}"#,
            Value::String(topic.clone())
        ))
        .map_err(config_error)?;
    }
    let def = TableDefinition::new(
        request.name.clone(),
        profile,
        source_config,
        request.format,
        None,
    )
    .map_err(config_error)?;
    let source = KafkaSource::open(&def, &process_env, SourceOptions::subtask(0, 1), None).await;
    let mut source = match source {
        Ok(s) => s,
        Err(e) => return Ok(report(passed, Some(("topic", e.to_string())))),
    };
    passed.push("topic".into());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut outcome = None;
    while tokio::time::Instant::now() < deadline {
        match source.poll(Duration::from_millis(500)).await {
            Ok(SourceEvent::Batches(b)) if !b.is_empty() => {
                outcome = Some(Ok(()));
                break;
            }
            Ok(_) => {}
            Err(e) => {
                outcome = Some(Err(e.to_string()));
                break;
            }
        }
    }
    source.close().await;
    match outcome {
        Some(Ok(())) => passed.push("decode first record".into()),
        Some(Err(e)) => return Ok(report(passed, Some(("decode first record", e)))),
        None => passed.push("decode first record (the topic is empty)".into()),
    }
    Ok(report(passed, None))
}

/// A pipeline creation request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PipelineBody {
    /// A unique name.
    pub name: String,
    /// SQL: `INSERT INTO sink SELECT … FROM source` over stored tables (by name), optionally
    /// with its own `CREATE TABLE` statements.
    pub query: String,
}

/// A pipeline as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its SQL.
    pub query: String,
    /// `running`, `stopped`, or `failed: …`.
    pub state: String,
    /// Counters per INSERT (by sink table).
    pub metrics: Vec<PipelineMetrics>,
}

/// Counters of one INSERT of a pipeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineMetrics {
    /// The sink table.
    pub sink: String,
    /// Records read.
    pub records_in: u64,
    /// Records written.
    pub records_out: u64,
    /// Source lag in records.
    pub lag: i64,
    /// Commits done.
    pub commits: u64,
}

fn view(state: &AppState, row: &Row) -> PipelineView {
    let running = state.running();
    let metrics = running
        .get(&row.id)
        .map(|r| {
            r.stats
                .iter()
                .map(|(sink, s)| PipelineMetrics {
                    sink: sink.clone(),
                    records_in: s.rows_in.load(Ordering::Relaxed),
                    records_out: s.rows_out.load(Ordering::Relaxed),
                    lag: s.lag.load(Ordering::Relaxed),
                    commits: s.commits.load(Ordering::Relaxed),
                })
                .collect()
        })
        .unwrap_or_default();
    PipelineView {
        id: row.id.clone(),
        name: row.name.clone(),
        query: row.body.clone(),
        state: row.state.clone(),
        metrics,
    }
}

#[utoipa::path(post, path = "/v1/pipelines", request_body = PipelineBody,
    responses((status = 201, body = PipelineView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_pipeline(
    State(state): State<AppState>,
    body: String,
) -> Result<(StatusCode, Json<PipelineView>), ApiError> {
    let request: PipelineBody = serde_json::from_str(&body).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("invalid pipeline body: {e}"),
            None,
        )
    })?;
    if request.name.trim().is_empty() {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name is empty",
            Some("name".into()),
        ));
    }
    let _guard = state.inner.links.lock().await;
    let script = state.plan(&request.query).await?;
    let mut used: Vec<String> = script
        .pipelines
        .iter()
        .flat_map(|p| [p.source.name.clone(), p.sink.name.clone()])
        .collect();
    used.sort();
    used.dedup();
    if script.pipelines.is_empty() {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a pipeline needs an INSERT INTO … SELECT",
            Some("query".into()),
        ));
    }
    let row = state
        .db()
        .insert(
            Kind::Pipeline,
            &request.name,
            &request.query,
            &used.join(","),
            "running",
        )
        .map_err(db_error)?;
    state.start(&row.id, script);
    Ok((StatusCode::CREATED, Json(view(&state, &row))))
}

#[utoipa::path(get, path = "/v1/pipelines", responses((status = 200, body = Vec<PipelineView>)))]
async fn list_pipelines(
    State(state): State<AppState>,
) -> Result<Json<Vec<PipelineView>>, ApiError> {
    let rows = state.db().list(Kind::Pipeline).map_err(db_error)?;
    Ok(Json(rows.iter().map(|r| view(&state, r)).collect()))
}

#[utoipa::path(get, path = "/v1/pipelines/{id}", params(("id" = String, Path)),
    responses((status = 200, body = PipelineView), (status = 404, body = ErrorBody)))]
async fn get_pipeline(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<PipelineView>, ApiError> {
    let row = state.db().get(Kind::Pipeline, &id).map_err(db_error)?;
    row.map(|r| Json(view(&state, &r)))
        .ok_or_else(|| not_found(Kind::Pipeline, &id))
}

#[utoipa::path(delete, path = "/v1/pipelines/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_pipeline(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    let _guard = state.inner.links.lock().await;
    if state
        .db()
        .get(Kind::Pipeline, &id)
        .map_err(db_error)?
        .is_none()
    {
        return Err(not_found(Kind::Pipeline, &id));
    }
    let running = state.running().remove(&id);
    if let Some(r) = running {
        let _ = r.stop.send(true);
        for t in r.tasks {
            let _ = t.await;
        }
    }
    state.db().delete(Kind::Pipeline, &id).map_err(db_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "laminar-kafka",
        description = "Kafka connection profiles, tables and SQL pipelines"
    ),
    paths(
        create_profile,
        list_profiles,
        get_profile,
        delete_profile,
        test_profile,
        create_table,
        list_tables,
        get_table,
        delete_table,
        test_table,
        create_pipeline,
        list_pipelines,
        get_pipeline,
        delete_pipeline
    ),
    components(schemas(
        ErrorBody,
        Stored,
        ProfileBody,
        TableBody,
        TestReport,
        PipelineBody,
        PipelineView,
        PipelineMetrics
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn fallback(headers: HeaderMap) -> ApiError {
    let _ = headers;
    err(StatusCode::NOT_FOUND, "no such endpoint", None)
}

/// The API's routes over `state`, with authentication and the body limit.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/connection_profiles",
            post(create_profile).get(list_profiles),
        )
        .route("/v1/connection_profiles/test", post(test_profile))
        .route(
            "/v1/connection_profiles/{id}",
            get(get_profile).delete(delete_profile),
        )
        .route("/v1/connection_tables", post(create_table).get(list_tables))
        .route("/v1/connection_tables/test", post(test_table))
        .route(
            "/v1/connection_tables/{id}",
            get(get_table).delete(delete_table),
        )
        .route("/v1/pipelines", post(create_pipeline).get(list_pipelines))
        .route(
            "/v1/pipelines/{id}",
            get(get_pipeline).delete(delete_pipeline),
        )
        .route("/v1/openapi.json", get(openapi))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}
