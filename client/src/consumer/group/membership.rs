//! Group membership as a state machine: what each response means for the member.
//!
//! The classic protocol's member goes `Unjoined → Joining → Syncing → Stable`, back to
//! `Joining` when a rebalance starts, to `Left` on close and to `Failed` on an error that no
//! retry fixes (a fenced static instance, missing authorization, an invalid configuration).
//! [`ClassicState::handle`] takes the state and one event and returns the next state and the
//! one action the driver must perform; it does no I/O, so every transition is tested here. The
//! consumer protocol (KIP-848) has a single request, and [`consumer_verdict`] says what each of
//! its error codes means.

use crate::kafka_error::KafkaCode;

/// A generation the member joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generation {
    pub(crate) id: i32,
    pub(crate) member_id: String,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: bool,
}

/// Where a classic-protocol member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClassicState {
    /// Not a member; `member_id` is kept for the next JoinGroup (empty when it has none).
    Unjoined { member_id: String },
    /// A JoinGroup is due or in flight.
    Joining { member_id: String },
    /// Joined `generation`; the SyncGroup is due or in flight.
    Syncing { generation: Generation },
    /// Member of `generation` with its assignment.
    Stable { generation: Generation },
    /// Left the group (closed).
    Left,
    /// Cannot continue; the error was reported.
    Failed,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClassicEvent {
    /// The member must (re)join: subscription set or changed, metadata changed, partitions
    /// revoked in a cooperative rebalance, or the poll interval was exceeded.
    Join,
    /// A JoinGroup response.
    Joined {
        code: i16,
        member_id: String,
        generation: i32,
        leader_id: String,
        protocol: Option<String>,
    },
    /// A SyncGroup response.
    Synced { code: i16 },
    /// A Heartbeat response.
    Heartbeat { code: i16 },
    /// The member is closing.
    Leave,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClassicAction {
    /// Nothing.
    None,
    /// Prepare (eager: revoke everything) and send JoinGroup.
    Join,
    /// Send JoinGroup again at once (with the member id the broker just gave).
    JoinAgain,
    /// Wait the retry backoff, then send JoinGroup again.
    JoinAfterBackoff,
    /// The owned partitions are lost (the generation is gone): tell the listener, then join.
    LoseAndJoin,
    /// Look the coordinator up again, wait the backoff, and repeat the step.
    FindCoordinator,
    /// Send SyncGroup (with the assignment if leader).
    Sync { leader: bool },
    /// Apply the assignment SyncGroup returned.
    Assign,
    /// Send LeaveGroup.
    Leave,
    /// Stop with this error.
    Fatal(KafkaCode),
}

impl ClassicState {
    /// The member id this state knows, if any.
    pub(crate) fn member_id(&self) -> &str {
        match self {
            ClassicState::Unjoined { member_id } | ClassicState::Joining { member_id } => member_id,
            ClassicState::Syncing { generation } | ClassicState::Stable { generation } => {
                &generation.member_id
            }
            ClassicState::Left | ClassicState::Failed => "",
        }
    }

    /// The next state and action for `event`.
    pub(crate) fn handle(self, event: ClassicEvent) -> (ClassicState, ClassicAction) {
        use ClassicAction as A;
        use ClassicEvent as E;
        use ClassicState as S;
        match (self, event) {
            (S::Left, _) => (S::Left, A::None),
            (S::Failed, _) => (S::Failed, A::None),
            (state, E::Leave) => {
                let has_id = !state.member_id().is_empty();
                (S::Left, if has_id { A::Leave } else { A::None })
            }
            (state @ (S::Unjoined { .. } | S::Stable { .. }), E::Join) => (
                S::Joining {
                    member_id: state.member_id().to_owned(),
                },
                A::Join,
            ),
            (
                S::Joining { member_id },
                E::Joined {
                    code,
                    member_id: given,
                    generation,
                    leader_id,
                    protocol,
                },
            ) => match KafkaCode::check(code) {
                Ok(()) => {
                    let leader = leader_id == given;
                    (
                        S::Syncing {
                            generation: Generation {
                                id: generation,
                                member_id: given,
                                protocol,
                                leader,
                            },
                        },
                        A::Sync { leader },
                    )
                }
                Err(KafkaCode::MEMBER_ID_REQUIRED) => {
                    (S::Joining { member_id: given }, A::JoinAgain)
                }
                Err(KafkaCode::UNKNOWN_MEMBER_ID) => (
                    S::Joining {
                        member_id: String::new(),
                    },
                    A::LoseAndJoin,
                ),
                Err(KafkaCode::ILLEGAL_GENERATION) => (S::Joining { member_id }, A::LoseAndJoin),
                Err(KafkaCode::REBALANCE_IN_PROGRESS) => {
                    (S::Joining { member_id }, A::JoinAfterBackoff)
                }
                Err(c) if c.is_coordinator_error() => {
                    (S::Joining { member_id }, A::FindCoordinator)
                }
                Err(c) if c.is_retriable() => (S::Joining { member_id }, A::JoinAfterBackoff),
                Err(c) => (S::Failed, A::Fatal(c)),
            },
            (S::Syncing { generation }, E::Synced { code }) => match KafkaCode::check(code) {
                Ok(()) => (S::Stable { generation }, A::Assign),
                Err(KafkaCode::REBALANCE_IN_PROGRESS) => (
                    S::Joining {
                        member_id: generation.member_id,
                    },
                    A::JoinAgain,
                ),
                Err(KafkaCode::UNKNOWN_MEMBER_ID) => (
                    S::Joining {
                        member_id: String::new(),
                    },
                    A::LoseAndJoin,
                ),
                Err(KafkaCode::ILLEGAL_GENERATION) => (
                    S::Joining {
                        member_id: generation.member_id,
                    },
                    A::LoseAndJoin,
                ),
                Err(c) if c.is_coordinator_error() || c.is_retriable() => (
                    S::Joining {
                        member_id: generation.member_id,
                    },
                    A::FindCoordinator,
                ),
                Err(c) => (S::Failed, A::Fatal(c)),
            },
            (S::Stable { generation }, E::Heartbeat { code }) => match KafkaCode::check(code) {
                Ok(()) => (S::Stable { generation }, A::None),
                Err(KafkaCode::REBALANCE_IN_PROGRESS) => (
                    S::Joining {
                        member_id: generation.member_id,
                    },
                    A::Join,
                ),
                Err(KafkaCode::UNKNOWN_MEMBER_ID) => (
                    S::Joining {
                        member_id: String::new(),
                    },
                    A::LoseAndJoin,
                ),
                Err(KafkaCode::ILLEGAL_GENERATION) => (
                    S::Joining {
                        member_id: generation.member_id,
                    },
                    A::LoseAndJoin,
                ),
                Err(c) if c.is_coordinator_error() => {
                    (S::Stable { generation }, A::FindCoordinator)
                }
                Err(c) if c.is_retriable() => (S::Stable { generation }, A::None),
                Err(c) => (S::Failed, A::Fatal(c)),
            },
            // A late response for a step the member already left behind.
            (state, _) => (state, A::None),
        }
    }
}

/// What a ConsumerGroupHeartbeat error code means (KIP-848).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsumerVerdict {
    /// Success.
    Ok,
    /// FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: partitions lost, rejoin with epoch 0.
    Fenced,
    /// The coordinator moved or is loading: find it again, then resend everything.
    FindCoordinator,
    /// Transient: resend after the backoff.
    Retry,
    /// No retry helps.
    Fatal(KafkaCode),
}

/// The meaning of a ConsumerGroupHeartbeat error code.
pub(crate) fn consumer_verdict(code: i16) -> ConsumerVerdict {
    match KafkaCode::check(code) {
        Ok(()) => ConsumerVerdict::Ok,
        Err(KafkaCode::FENCED_MEMBER_EPOCH | KafkaCode::UNKNOWN_MEMBER_ID) => {
            ConsumerVerdict::Fenced
        }
        Err(c) if c.is_coordinator_error() => ConsumerVerdict::FindCoordinator,
        // UNRELEASED_INSTANCE_ID: the previous holder of the instance id is still leaving.
        Err(c) if c.is_retriable() || c == KafkaCode::UNRELEASED_INSTANCE_ID => {
            ConsumerVerdict::Retry
        }
        Err(c) => ConsumerVerdict::Fatal(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(code: i16, member: &str, leader: &str) -> ClassicEvent {
        ClassicEvent::Joined {
            code,
            member_id: member.into(),
            generation: 4,
            leader_id: leader.into(),
            protocol: Some("range".into()),
        }
    }

    fn stable(member: &str) -> ClassicState {
        ClassicState::Stable {
            generation: Generation {
                id: 4,
                member_id: member.into(),
                protocol: Some("range".into()),
                leader: false,
            },
        }
    }

    #[test]
    fn first_join_gets_a_member_id_and_rejoins_with_it_at_once() {
        let s = ClassicState::Unjoined {
            member_id: String::new(),
        };
        let (s, a) = s.handle(ClassicEvent::Join);
        assert_eq!(a, ClassicAction::Join);
        let (s, a) = s.handle(joined(KafkaCode::MEMBER_ID_REQUIRED.code(), "m-1", ""));
        assert_eq!(a, ClassicAction::JoinAgain);
        assert_eq!(s.member_id(), "m-1");
        let (s, a) = s.handle(joined(0, "m-1", "m-1"));
        assert_eq!(a, ClassicAction::Sync { leader: true });
        let (s, a) = s.handle(ClassicEvent::Synced { code: 0 });
        assert_eq!(a, ClassicAction::Assign);
        assert_eq!(s, {
            let mut g = stable("m-1");
            if let ClassicState::Stable { generation } = &mut g {
                generation.leader = true;
            }
            g
        });
    }

    #[test]
    fn heartbeat_errors_follow_the_java_client() {
        let (s, a) = stable("m").handle(ClassicEvent::Heartbeat { code: 27 });
        assert_eq!(
            (s.member_id(), a),
            ("m", ClassicAction::Join),
            "a rebalance keeps the member id and (cooperatively) the partitions"
        );
        let (s, a) = stable("m").handle(ClassicEvent::Heartbeat { code: 25 });
        assert_eq!((s.member_id(), a), ("", ClassicAction::LoseAndJoin));
        let (s, a) = stable("m").handle(ClassicEvent::Heartbeat { code: 22 });
        assert_eq!((s.member_id(), a), ("m", ClassicAction::LoseAndJoin));
        let (s, a) = stable("m").handle(ClassicEvent::Heartbeat { code: 16 });
        assert_eq!((s, a), (stable("m"), ClassicAction::FindCoordinator));
        let (s, a) = stable("m").handle(ClassicEvent::Heartbeat { code: 82 });
        assert_eq!(s, ClassicState::Failed);
        assert_eq!(a, ClassicAction::Fatal(KafkaCode::FENCED_INSTANCE_ID));
    }

    #[test]
    fn sync_errors_rejoin_or_lose_the_generation() {
        let syncing = |m: &str| ClassicState::Syncing {
            generation: Generation {
                id: 1,
                member_id: m.into(),
                protocol: None,
                leader: false,
            },
        };
        assert_eq!(
            syncing("m").handle(ClassicEvent::Synced { code: 27 }).1,
            ClassicAction::JoinAgain
        );
        assert_eq!(
            syncing("m").handle(ClassicEvent::Synced { code: 25 }),
            (
                ClassicState::Joining {
                    member_id: String::new()
                },
                ClassicAction::LoseAndJoin
            )
        );
        assert_eq!(
            syncing("m").handle(ClassicEvent::Synced { code: 15 }).1,
            ClassicAction::FindCoordinator
        );
    }

    #[test]
    fn fatal_join_errors_stop_the_member() {
        let joining = ClassicState::Joining {
            member_id: String::new(),
        };
        for code in [30, 26, 23, 81, 82] {
            let (s, a) = joining.clone().handle(joined(code, "", ""));
            assert_eq!(s, ClassicState::Failed, "{code}");
            assert!(matches!(a, ClassicAction::Fatal(c) if c.code() == code));
        }
        let (s, a) = joining.clone().handle(joined(14, "", ""));
        assert_eq!((s, a), (joining, ClassicAction::FindCoordinator));
    }

    #[test]
    fn leaving_sends_leave_only_with_a_member_id_and_late_responses_are_ignored() {
        assert_eq!(
            stable("m").handle(ClassicEvent::Leave).1,
            ClassicAction::Leave
        );
        let unjoined = ClassicState::Unjoined {
            member_id: String::new(),
        };
        assert_eq!(unjoined.handle(ClassicEvent::Leave).1, ClassicAction::None);
        let (s, a) = ClassicState::Left.handle(ClassicEvent::Join);
        assert_eq!((s, a), (ClassicState::Left, ClassicAction::None));
        let (s, a) = stable("m").handle(ClassicEvent::Synced { code: 0 });
        assert_eq!((s, a), (stable("m"), ClassicAction::None));
    }

    #[test]
    fn consumer_protocol_errors() {
        assert_eq!(consumer_verdict(0), ConsumerVerdict::Ok);
        assert_eq!(consumer_verdict(110), ConsumerVerdict::Fenced);
        assert_eq!(consumer_verdict(25), ConsumerVerdict::Fenced);
        assert_eq!(consumer_verdict(16), ConsumerVerdict::FindCoordinator);
        assert_eq!(consumer_verdict(111), ConsumerVerdict::Retry);
        assert!(matches!(consumer_verdict(82), ConsumerVerdict::Fatal(_)));
        assert!(matches!(consumer_verdict(35), ConsumerVerdict::Fatal(_)));
    }
}
