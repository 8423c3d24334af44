use protocol::{Cause, EventKind, NodeEvent};

use super::{Outbox, OutboxFull, Rank, RetryPolicy};
use crate::node::draft;

fn ev(kind: EventKind) -> NodeEvent {
    draft(kind, Some(Cause::Smoke))
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        initial_ms: 1_000,
        max_ms: 4_000,
    }
}

#[test]
fn seq_starts_at_one_and_counts_only_acked_kinds() {
    let mut ob: Outbox<4> = Outbox::new(policy());
    assert_eq!(ob.push(0, ev(EventKind::Heartbeat)), Ok(1));
    assert_eq!(ob.push(0, ev(EventKind::Alarm)), Ok(1));
    assert_eq!(ob.push(0, ev(EventKind::Test)), Ok(2));
    assert_eq!(ob.push(0, ev(EventKind::Heartbeat)), Ok(2));
    assert_eq!(ob.last_seq(), 2);
}

#[test]
fn resume_continues_after_persisted_seq() {
    let mut ob: Outbox<2> = Outbox::resume(policy(), 41);
    assert_eq!(ob.push(0, ev(EventKind::Fault)), Ok(42));
}

#[test]
fn repeats_with_doubling_backoff_until_acked() {
    let mut ob: Outbox<2> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Alarm)).unwrap();
    let sent_at: Vec<u64> = (0..=20_000)
        .step_by(100)
        .filter(|&t| ob.poll(t).is_some())
        .take(5)
        .collect();
    // 1 s, 2 s, 4 s, then capped at 4 s.
    assert_eq!(sent_at, vec![0, 1_000, 3_000, 7_000, 11_000]);
    assert!(ob.ack(1));
    assert!(ob.is_empty());
    assert_eq!(ob.poll(100_000), None);
    assert!(!ob.ack(1), "a second ack is a no-op");
}

#[test]
fn ack_of_unknown_seq_changes_nothing() {
    let mut ob: Outbox<2> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Alarm)).unwrap();
    assert!(!ob.ack(7));
    assert_eq!(ob.len(), 1);
}

#[test]
fn heartbeat_is_sent_once_and_newest_replaces_older() {
    let mut ob: Outbox<4> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Heartbeat)).unwrap();
    ob.push(5, ev(EventKind::Heartbeat)).unwrap();
    assert_eq!(ob.len(), 1);
    assert_eq!(ob.poll(5).map(|e| e.kind), Some(EventKind::Heartbeat));
    assert!(ob.is_empty());
}

#[test]
fn reconnect_makes_everything_due_and_resets_backoff() {
    let mut ob: Outbox<4> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Alarm)).unwrap();
    ob.push(0, ev(EventKind::Fault)).unwrap();
    assert!(ob.poll(0).is_some() && ob.poll(0).is_some());
    assert_eq!(ob.poll(500), None);
    ob.reconnected(600);
    let seqs: Vec<u32> = core::iter::from_fn(|| ob.poll(600))
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2]);
    assert_eq!(ob.next_due(), Some(1_600));
}

#[test]
fn poll_sends_higher_rank_first_then_oldest() {
    let mut ob: Outbox<4> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Test)).unwrap();
    ob.push(0, ev(EventKind::Fault)).unwrap();
    ob.push(0, ev(EventKind::Alarm)).unwrap();
    ob.push(0, ev(EventKind::Tamper)).unwrap();
    let kinds: Vec<EventKind> = core::iter::from_fn(|| ob.poll(0)).map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(kinds, vec![Alarm, Fault, Tamper, Test]);
}

#[test]
fn full_outbox_evicts_oldest_lowest_rank_first() {
    let mut ob: Outbox<3> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Alarm)).unwrap();
    ob.push(0, ev(EventKind::Test)).unwrap(); // seq 2
    ob.push(0, ev(EventKind::Test)).unwrap(); // seq 3
    assert_eq!(ob.push(0, ev(EventKind::Fault)), Ok(4));
    assert_eq!(ob.evicted(), 1);
    assert!(!ob.ack(2), "oldest test was evicted");
    assert!(ob.ack(3) && ob.ack(1) && ob.ack(4));
}

#[test]
fn alarms_are_never_evicted_and_newer_alarm_is_refused() {
    let mut ob: Outbox<2> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Alarm)).unwrap();
    ob.push(0, ev(EventKind::PreAlarm)).unwrap();
    let refused = ob.push(0, ev(EventKind::Alarm));
    assert!(matches!(refused, Err(OutboxFull(e)) if e.kind == EventKind::Alarm));
    assert_eq!(
        ob.push(0, ev(EventKind::Test)).map_err(|e| e.0.kind),
        Err(EventKind::Test)
    );
    assert_eq!(ob.refused(), 2);
    assert_eq!(ob.last_seq(), 2, "refused events take no seq");
}

#[test]
fn lesser_event_never_evicts_a_greater_one() {
    let mut ob: Outbox<1> = Outbox::new(policy());
    ob.push(0, ev(EventKind::Fault)).unwrap();
    assert!(ob.push(0, ev(EventKind::Restore)).is_err());
    assert!(
        ob.push(0, ev(EventKind::Tamper)).is_ok(),
        "equal rank: newest wins"
    );
    assert_eq!(ob.evicted(), 1);
}

#[test]
fn ranks_are_ordered_for_life_safety() {
    assert!(Rank::of(EventKind::Alarm) > Rank::of(EventKind::Fault));
    assert!(Rank::of(EventKind::Tamper) > Rank::of(EventKind::LowBattery));
    assert!(Rank::of(EventKind::Restore) > Rank::of(EventKind::Test));
    assert_eq!(Rank::of(EventKind::PreAlarm), Rank::LifeSafety);
    assert_eq!(Rank::of(EventKind::Heartbeat), Rank::Routine);
}

#[test]
fn seq_wraps_past_u32_max_to_one() {
    let mut ob: Outbox<2> = Outbox::resume(policy(), u32::MAX);
    assert_eq!(ob.push(0, ev(EventKind::Alarm)), Ok(1));
}
