//! `laminar-kafka groups` (as `kafka-consumer-groups`) and `laminar-kafka offsets`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{Result, bail};
use laminar_kafka_client::admin::{Admin, GroupDescription};
use laminar_kafka_client::config::{ClientConfig, IsolationLevel};
use laminar_kafka_client::offsets::{OffsetSpec, TopicPartition};
use serde_json::json;

use crate::args::{From, GroupsArgs, GroupsCommand, OffsetsArgs};
use crate::exit::NotFound;

/// GROUP_ID_NOT_FOUND: DescribeGroups' answer for a group nobody has used (Kafka 4).
const GROUP_ID_NOT_FOUND: i16 = 69;

pub(crate) async fn run(config: ClientConfig, args: GroupsArgs) -> Result<()> {
    let admin = Admin::new(config)?;
    let result = command(&admin, args).await;
    admin.close().await;
    result
}

/// `offsets TOPIC`: earliest and latest offset per partition.
pub(crate) async fn offsets(config: ClientConfig, args: OffsetsArgs) -> Result<()> {
    let admin = Admin::new(config)?;
    let result = async {
        let topic = admin
            .describe_topics(&[args.topic.as_str()])
            .await?
            .into_iter()
            .next();
        let partitions: Vec<TopicPartition> = topic
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.partition)))
            .collect();
        let earliest = list(&admin, &partitions, OffsetSpec::Earliest).await?;
        let latest = list(&admin, &partitions, OffsetSpec::Latest).await?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if args.json {
            let rows: Vec<_> = partitions
                .iter()
                .map(|tp| {
                    json!({"topic": tp.0, "partition": tp.1,
                        "earliest": earliest.get(tp), "latest": latest.get(tp)})
                })
                .collect();
            serde_json::to_writer(&mut out, &rows)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:<30} {:>9} {:>15} {:>15}",
                "TOPIC", "PARTITION", "EARLIEST", "LATEST"
            )?;
            for tp in &partitions {
                writeln!(
                    out,
                    "{:<30} {:>9} {:>15} {:>15}",
                    tp.0,
                    tp.1,
                    show(earliest.get(tp)),
                    show(latest.get(tp))
                )?;
            }
        }
        out.flush()?;
        Ok(())
    }
    .await;
    admin.close().await;
    result
}

fn show(v: Option<&i64>) -> String {
    v.map_or_else(|| "-".to_owned(), i64::to_string)
}

async fn list(
    admin: &Admin,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<BTreeMap<TopicPartition, i64>> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let wanted: Vec<_> = partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    Ok(admin
        .list_offsets(&wanted, IsolationLevel::ReadUncommitted)
        .await?
        .into_iter()
        .map(|(tp, o)| (tp, o.offset))
        .collect())
}

/// The group's description, or "not found" when the coordinator knows nothing of it.
async fn describe(
    admin: &Admin,
    group: &str,
) -> Result<(GroupDescription, BTreeMap<TopicPartition, i64>)> {
    let description = admin.describe_group(group).await?;
    let committed = admin.group_offsets(group).await?;
    if description.state == "Dead" && committed.is_empty() {
        return Err(NotFound(format!(
            "consumer group `{group}` does not exist (`laminar-kafka groups list` shows the groups)"
        ))
        .into());
    }
    Ok((description, committed))
}

async fn command(admin: &Admin, args: GroupsArgs) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.command {
        GroupsCommand::List { json } => {
            let groups = admin.list_groups().await?;
            if json {
                let rows: Vec<_> = groups
                    .iter()
                    .map(|g| {
                        json!({"group": g.group_id, "state": g.state,
                        "protocol_type": g.protocol_type, "type": g.group_type})
                    })
                    .collect();
                serde_json::to_writer(&mut out, &rows)?;
                writeln!(out)?;
            } else {
                for g in &groups {
                    writeln!(out, "{}\t{}\t{}", g.group_id, g.state, g.group_type)?;
                }
            }
        }
        GroupsCommand::Describe { group, json } => {
            let (d, _) = describe(admin, &group).await?;
            if json {
                let members: Vec<_> = d
                    .members
                    .iter()
                    .map(|m| json!({"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                        "client_id": m.client_id, "host": m.client_host,
                        "assignment": m.assignment.iter().map(|(t, p)| json!({"topic": t, "partition": p})).collect::<Vec<_>>()}))
                    .collect();
                serde_json::to_writer(
                    &mut out,
                    &json!({"group": d.group_id, "state": d.state, "protocol_type": d.protocol_type,
                        "assignor": d.protocol, "members": members}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "group {} state {} assignor {} members {}",
                    d.group_id,
                    d.state,
                    if d.protocol.is_empty() {
                        "-"
                    } else {
                        &d.protocol
                    },
                    d.members.len()
                )?;
                for m in &d.members {
                    let parts: Vec<String> = m
                        .assignment
                        .iter()
                        .map(|(t, p)| format!("{t}-{p}"))
                        .collect();
                    writeln!(
                        out,
                        "  member {} client {} host {} partitions {}",
                        m.member_id,
                        m.client_id,
                        m.client_host,
                        if parts.is_empty() {
                            "-".to_owned()
                        } else {
                            parts.join(",")
                        }
                    )?;
                }
            }
        }
        GroupsCommand::Lag { group, json } => {
            let (d, committed) = describe(admin, &group).await?;
            let mut owner: BTreeMap<TopicPartition, (&str, &str, &str)> = BTreeMap::new();
            for m in &d.members {
                for tp in &m.assignment {
                    owner.insert(
                        tp.clone(),
                        (
                            m.member_id.as_str(),
                            m.client_host.as_str(),
                            m.client_id.as_str(),
                        ),
                    );
                }
            }
            let partitions: Vec<TopicPartition> = committed
                .keys()
                .chain(owner.keys())
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let ends = list(admin, &partitions, OffsetSpec::Latest).await?;
            let rows: Vec<_> = partitions
                .iter()
                .map(|tp| {
                    let current = committed.get(tp).copied();
                    let end = ends.get(tp).copied();
                    let lag = match (current, end) {
                        (Some(c), Some(e)) => Some((e - c).max(0)),
                        _ => None,
                    };
                    (tp, current, end, lag, owner.get(tp).copied())
                })
                .collect();
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(tp, current, end, lag, o)| {
                        json!({"group": group, "topic": tp.0, "partition": tp.1,
                            "current_offset": current, "log_end_offset": end, "lag": lag,
                            "consumer_id": o.map(|o| o.0), "host": o.map(|o| o.1),
                            "client_id": o.map(|o| o.2)})
                    })
                    .collect();
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<20} {:<30} {:>9} {:>15} {:>15} {:>8} {:<20} {:<15} CLIENT-ID",
                    "GROUP",
                    "TOPIC",
                    "PARTITION",
                    "CURRENT-OFFSET",
                    "LOG-END-OFFSET",
                    "LAG",
                    "CONSUMER-ID",
                    "HOST",
                )?;
                for (tp, current, end, lag, o) in &rows {
                    writeln!(
                        out,
                        "{:<20} {:<30} {:>9} {:>15} {:>15} {:>8} {:<20} {:<15} {}",
                        group,
                        tp.0,
                        tp.1,
                        show(current.as_ref()),
                        show(end.as_ref()),
                        show(lag.as_ref()),
                        o.map_or("-", |o| o.0),
                        o.map_or("-", |o| o.1),
                        o.map_or("-", |o| o.2)
                    )?;
                }
            }
        }
        GroupsCommand::ResetOffsets {
            group,
            to,
            topic,
            execute,
        } => {
            // A group that does not exist yet is created by the commit, as the Java tool does.
            match admin.describe_group(&group).await {
                Ok(d) if !d.members.is_empty() => bail!(
                    "consumer group `{group}` has {} active members (state {}): stop them, then reset",
                    d.members.len(),
                    d.state
                ),
                Ok(_) => {}
                Err(laminar_kafka_client::Error::Broker { code, .. })
                    if code.code() == GROUP_ID_NOT_FOUND => {}
                Err(e) => return Err(e.into()),
            }
            let committed = admin.group_offsets(&group).await?;
            let partitions: Vec<TopicPartition> = match &topic {
                Some(t) => admin
                    .describe_topics(&[t.as_str()])
                    .await?
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.partition)))
                    .collect(),
                None if committed.is_empty() => {
                    return Err(NotFound(format!(
                        "consumer group `{group}` has no committed offsets: name the topic with --topic"
                    ))
                    .into());
                }
                None => committed.keys().cloned().collect(),
            };
            let earliest = list(admin, &partitions, OffsetSpec::Earliest).await?;
            let latest = list(admin, &partitions, OffsetSpec::Latest).await?;
            let by_time = match to {
                From::Timestamp(t) => list(admin, &partitions, OffsetSpec::Timestamp(t)).await?,
                _ => BTreeMap::new(),
            };
            let mut new = Vec::new();
            for tp in &partitions {
                let (lo, hi) = (
                    earliest.get(tp).copied().unwrap_or(0),
                    latest.get(tp).copied().unwrap_or(0),
                );
                let offset = match to {
                    From::Earliest => lo,
                    From::Latest => hi,
                    From::Offset(o) => o.clamp(lo, hi),
                    From::BeforeEnd(n) => (hi - n).max(lo),
                    From::Timestamp(_) => match by_time.get(tp) {
                        Some(o) if *o >= 0 => *o,
                        _ => hi,
                    },
                };
                new.push((tp.clone(), offset));
            }
            writeln!(
                out,
                "{:<20} {:<30} {:>9} {:>15}",
                "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
            )?;
            for (tp, o) in &new {
                writeln!(out, "{:<20} {:<30} {:>9} {:>15}", group, tp.0, tp.1, o)?;
            }
            if execute {
                admin.alter_group_offsets(&group, &new).await?;
            } else {
                out.flush()?;
                eprintln!("dry run: nothing committed (add --execute to commit these offsets)");
            }
        }
    }
    out.flush()?;
    Ok(())
}
