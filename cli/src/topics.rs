//! `laminar-kafka topics`.

use std::io::Write;

use anyhow::{Result, bail};
use laminar_kafka_client::admin::{Admin, ConfigResource, NewTopic};
use laminar_kafka_client::config::ClientConfig;

use crate::args::{TopicsArgs, TopicsCommand, split_pair};

pub(crate) async fn run(config: ClientConfig, args: TopicsArgs) -> Result<()> {
    let admin = Admin::new(config)?;
    let result = command(&admin, args).await;
    admin.close().await;
    result
}

async fn command(admin: &Admin, args: TopicsArgs) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.command {
        TopicsCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => {
            let mut topic = NewTopic::new(&name, partitions, replication_factor);
            for c in &configs {
                let (k, v) = split_pair(c, "--config")?;
                topic = topic.with_config(k, v);
            }
            admin.create_topics(&[topic]).await?;
            writeln!(
                out,
                "created topic {name} ({partitions} partitions, replication factor {replication_factor})"
            )?;
        }
        TopicsCommand::List => {
            for name in admin.list_topics().await? {
                writeln!(out, "{name}")?;
            }
        }
        TopicsCommand::Alter {
            name,
            configs,
            delete,
        } => {
            if configs.is_empty() && delete.is_empty() {
                bail!("nothing to alter: give --config NAME=VALUE or --delete-config NAME");
            }
            admin.describe_topics(&[name.as_str()]).await?;
            let mut changes = Vec::new();
            for c in &configs {
                let (k, v) = split_pair(c, "--config")?;
                changes.push((k, Some(v)));
            }
            changes.extend(delete.iter().map(|k| (k.clone(), None)));
            admin
                .alter_configs(ConfigResource::Topic, &name, &changes)
                .await?;
            for (k, v) in &changes {
                match v {
                    Some(v) => writeln!(out, "altered {name}: {k}={v}")?,
                    None => writeln!(out, "altered {name}: {k} back to its default")?,
                }
            }
        }
        TopicsCommand::Describe { names } => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            for topic in admin.describe_topics(&refs).await? {
                writeln!(
                    out,
                    "topic {} id {} partitions {}",
                    topic.name,
                    topic.id,
                    topic.partitions.len()
                )?;
                for p in &topic.partitions {
                    writeln!(
                        out,
                        "  partition {} leader {} epoch {} replicas {:?} isr {:?}",
                        p.partition, p.leader, p.leader_epoch, p.replicas, p.isr
                    )?;
                }
                let configs = admin
                    .describe_configs(ConfigResource::Topic, &topic.name)
                    .await?;
                // Source 1: set on this topic (DYNAMIC_TOPIC_CONFIG).
                for c in configs.iter().filter(|c| c.source == 1) {
                    let value = if c.is_sensitive {
                        "***"
                    } else {
                        c.value.as_deref().unwrap_or("")
                    };
                    writeln!(out, "  config {}={}", c.name, value)?;
                }
            }
        }
        TopicsCommand::Delete { names } => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            admin.delete_topics(&refs).await?;
            writeln!(out, "deleted {}", names.join(", "))?;
        }
    }
    out.flush()?;
    Ok(())
}
