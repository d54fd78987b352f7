//! `laminar-kafka topics`.

use anyhow::Result;
use laminar_kafka_client::admin::{Admin, ConfigResource, NewTopic};
use laminar_kafka_client::config::ClientConfig;

use crate::args::{TopicsArgs, TopicsCommand, split_pair};

pub(crate) async fn run(config: ClientConfig, args: TopicsArgs) -> Result<()> {
    let admin = Admin::new(config)?;
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
            println!(
                "created topic {name} ({partitions} partitions, replication factor {replication_factor})"
            );
        }
        TopicsCommand::List => {
            for name in admin.list_topics().await? {
                println!("{name}");
            }
        }
        TopicsCommand::Describe { names } => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            for topic in admin.describe_topics(&refs).await? {
                println!(
                    "topic {} id {} partitions {}",
                    topic.name,
                    topic.id,
                    topic.partitions.len()
                );
                for p in &topic.partitions {
                    println!(
                        "  partition {} leader {} epoch {} replicas {:?} isr {:?}",
                        p.partition, p.leader, p.leader_epoch, p.replicas, p.isr
                    );
                }
                let configs = admin
                    .describe_configs(ConfigResource::Topic, &topic.name)
                    .await?;
                for c in configs.iter().filter(|c| c.source == 1) {
                    println!("  config {}={}", c.name, c.value.as_deref().unwrap_or(""));
                }
            }
        }
        TopicsCommand::Delete { names } => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            admin.delete_topics(&refs).await?;
            println!("deleted {}", names.join(", "));
        }
    }
    admin.close().await;
    Ok(())
}
