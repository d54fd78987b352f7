//! `laminar-kafka metadata` (kcat -L): brokers, controller, topics, partitions, leaders,
//! replicas and ISR, as text in kcat's layout or as JSON.

use std::io::Write;

use anyhow::Result;
use laminar_kafka_client::admin::Admin;
use laminar_kafka_client::config::ClientConfig;
use serde_json::json;

use crate::args::MetadataArgs;

pub(crate) async fn run(config: ClientConfig, args: MetadataArgs) -> Result<()> {
    let admin = Admin::new(config)?;
    let result = show(&admin, &args).await;
    admin.close().await;
    result
}

fn list(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

async fn show(admin: &Admin, args: &MetadataArgs) -> Result<()> {
    let cluster = admin.describe_cluster().await?;
    let names = if args.topic.is_empty() {
        admin.list_topics().await?
    } else {
        args.topic.clone()
    };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let topics = if refs.is_empty() {
        Vec::new()
    } else {
        admin.describe_topics(&refs).await?
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let value = json!({
            "cluster_id": cluster.cluster_id,
            "controller": cluster.controller,
            "brokers": cluster.brokers.iter().map(|b| json!({
                "id": b.id, "address": b.address, "rack": b.rack,
            })).collect::<Vec<_>>(),
            "topics": topics.iter().map(|t| json!({
                "topic": t.name,
                "id": t.id.to_string(),
                "internal": t.is_internal,
                "partitions": t.partitions.iter().map(|p| json!({
                    "partition": p.partition,
                    "leader": p.leader,
                    "leader_epoch": p.leader_epoch,
                    "replicas": p.replicas,
                    "isrs": p.isr,
                    "offline_replicas": p.offline_replicas,
                    "error": p.error.map(|e| e.name()),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "Metadata for {} (cluster id {}, controller {}):",
            if args.topic.is_empty() {
                "all topics".to_owned()
            } else {
                names.join(", ")
            },
            cluster.cluster_id.as_deref().unwrap_or("unknown"),
            cluster
                .controller
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
        )?;
        writeln!(out, " {} brokers:", cluster.brokers.len())?;
        for b in &cluster.brokers {
            let rack = b
                .rack
                .as_deref()
                .map(|r| format!(" rack {r}"))
                .unwrap_or_default();
            let controller = if cluster.controller == Some(b.id) {
                " (controller)"
            } else {
                ""
            };
            writeln!(out, "  broker {} at {}{rack}{controller}", b.id, b.address)?;
        }
        writeln!(out, " {} topics:", topics.len())?;
        for t in &topics {
            writeln!(
                out,
                "  topic \"{}\" with {} partitions:",
                t.name,
                t.partitions.len()
            )?;
            for p in &t.partitions {
                let err = p
                    .error
                    .map(|e| format!(", error {}", e.name()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    partition {}, leader {}, replicas: {}, isrs: {}{err}",
                    p.partition,
                    p.leader,
                    list(&p.replicas),
                    list(&p.isr)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
