//! `laminar-kafka serve`: the REST API of connection profiles, tables and pipelines.

use anyhow::Context;
use laminar_kafka_server::{ServerConfig, serve};

use crate::args::ServeArgs;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let token = match (&args.token_file, std::env::var("LAMINAR_API_TOKEN").ok()) {
        (Some(path), _) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--token-file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        (None, Some(t)) if !t.is_empty() => Some(t),
        _ => None,
    };
    if token.as_deref() == Some("") {
        anyhow::bail!("the token file is empty");
    }
    let stop = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        eprintln!("laminar-kafka serve: stopping pipelines and the server");
    };
    serve(ServerConfig::new(args.data_dir, args.listen, token), stop).await?;
    Ok(())
}
