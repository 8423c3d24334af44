use protocol::{Command, CommandKind, CommandReason, DeviceChannel, EventKind, EvtAck};

use super::{Node, NodeCore, Outbound, Outgoing, ack_err, ack_ok, draft};
use crate::outbox::RetryPolicy;

fn core() -> NodeCore<4> {
    NodeCore::with_policy(RetryPolicy::default(), 60_000)
}

fn events(out: &Outbound) -> Vec<(EventKind, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Outgoing::Event(e) => Some((e.kind, e.seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn heartbeat_at_first_tick_then_every_interval() {
    let mut c = core();
    c.heartbeat(0);
    assert_eq!(events(&c.finish(0, None)), vec![(EventKind::Heartbeat, 1)]);
    c.heartbeat(59_999);
    assert!(c.finish(59_999, None).is_empty());
    c.heartbeat(60_000);
    assert_eq!(c.finish(60_000, None).len(), 1);
}

#[test]
fn events_carry_clock_and_battery_once_known() {
    let mut c = core();
    c.emit(10, draft(EventKind::Test, None));
    c.set_clock(1_000, 1_763_900_000_000);
    c.set_battery(Some(87));
    c.emit(2_000, draft(EventKind::Tamper, None));
    let out = c.finish(2_000, None);
    // The tamper ranks above the test, so it is sent first.
    let Outgoing::Event(second) = &out[0] else {
        panic!("{out:?}")
    };
    let Outgoing::Event(first) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (first.kind, second.kind),
        (EventKind::Test, EventKind::Tamper)
    );
    assert_eq!((first.ts, first.battery), (None, None));
    assert_eq!(second.ts, Some(1_763_900_001_000));
    assert_eq!(second.battery, Some(87));
    assert_eq!(c.battery(), Some(87));
}

#[test]
fn finish_puts_the_ack_first_and_caps_the_batch() {
    let mut c: NodeCore<16> = NodeCore::with_policy(RetryPolicy::default(), 60_000);
    for _ in 0..10 {
        c.emit(0, draft(EventKind::Test, None));
    }
    let cmd = cmd(CommandKind::Reset);
    let out = c.finish(0, Some(ack_ok(&cmd)));
    assert_eq!(out.len(), super::MAX_OUT);
    assert_eq!(out[0], Outgoing::CommandAck(ack_ok(&cmd)));
    assert_eq!(
        c.finish(0, None).len(),
        3,
        "the rest follow at the next call"
    );
}

#[test]
fn outgoing_encodes_to_the_protocol_json_on_its_channel() {
    let mut e = draft(EventKind::Alarm, Some(protocol::Cause::Smoke));
    e.seq = 1;
    let ev = Outgoing::Event(e);
    let mut buf = [0u8; 512];
    let n = ev.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], br#"{"seq":1,"type":"alarm","cause":"smoke"}"#);
    assert_eq!(ev.channel(), DeviceChannel::Evt);
    let nack = Outgoing::CommandAck(ack_err(
        &cmd(CommandKind::Hush),
        protocol::CommandError::Refused,
    ));
    let n = nack.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], br#"{"id":9,"ok":false,"error":"refused"}"#);
    assert_eq!(nack.channel(), DeviceChannel::CmdAck);
    assert!(nack.encode(&mut [0u8; 4]).is_err());
}

fn cmd(kind: CommandKind) -> Command {
    Command {
        id: 9,
        cmd: kind,
        reason: CommandReason::Operator,
        duration_s: None,
    }
}

/// A node that records what it was handed.
#[derive(Default)]
struct Recorder {
    commands: Vec<Command>,
    acks: Vec<u32>,
}

impl Node for Recorder {
    fn tick(&mut self, _now_ms: u64) -> Outbound {
        Outbound::new()
    }
    fn command(&mut self, _now_ms: u64, cmd: &Command) -> Outbound {
        self.commands.push(*cmd);
        let mut out = Outbound::new();
        out.push(Outgoing::CommandAck(ack_ok(cmd))).unwrap();
        out
    }
    fn evt_ack(&mut self, ack: EvtAck) -> bool {
        self.acks.push(ack.seq);
        true
    }
    fn reconnected(&mut self, _now_ms: u64) {}
}

#[test]
fn receive_decodes_commands_and_acks_and_rejects_garbage() {
    let mut n = Recorder::default();
    let out = n
        .receive(
            0,
            DeviceChannel::Cmd,
            br#"{"id":4,"cmd":"reset","reason":"operator"}"#,
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(n.commands[0].cmd, CommandKind::Reset);
    assert!(
        n.receive(0, DeviceChannel::EvtAck, br#"{"seq":3}"#)
            .unwrap()
            .is_empty()
    );
    assert_eq!(n.acks, vec![3]);
    assert!(
        n.receive(0, DeviceChannel::EvtAck, br#"{"seq":0}"#)
            .is_err()
    );
    assert!(n.receive(0, DeviceChannel::Cmd, b"{\"id\":").is_err());
    assert!(
        n.receive(0, DeviceChannel::Tel, b"ignored")
            .unwrap()
            .is_empty()
    );
    assert_eq!(n.commands.len(), 1);
}

/// A node "reset": RAM state is new, the storage is the same one.
fn boot_core(flash: &mut crate::test_support::MemStorage) -> NodeCore<4> {
    let mut c = core();
    c.set_boot(crate::boot::advance(flash, 0).ok());
    c
}

#[test]
fn after_a_reset_seq_starts_again_under_the_next_boot() {
    let mut flash = crate::test_support::MemStorage::erased(32);
    let mut first = boot_core(&mut flash);
    first.emit(0, draft(EventKind::Alarm, Some(protocol::Cause::Smoke)));
    let Some(Outgoing::Event(before)) = first.finish(0, None).first().cloned() else {
        panic!("no event")
    };
    assert_eq!((before.boot, before.seq), (Some(1), 1));
    drop(first);
    let mut second = boot_core(&mut flash);
    assert_eq!(second.boot(), Some(2));
    second.emit(0, draft(EventKind::Alarm, Some(protocol::Cause::Smoke)));
    let Some(Outgoing::Event(after)) = second.finish(0, None).first().cloned() else {
        panic!("no event")
    };
    assert_eq!((after.boot, after.seq), (Some(2), 1), "same seq, new boot");
    // A late ack of the old boot's seq 1 does not clear the new alarm.
    assert!(!second.evt_ack(EvtAck::of(&before)));
    assert_eq!(second.outbox().len(), 1);
    assert!(second.evt_ack(EvtAck::of(&after)));
    assert!(second.outbox().is_empty());
}

#[test]
fn a_node_whose_storage_fails_runs_without_a_boot_identity() {
    let mut flash = crate::test_support::MemStorage::erased(32);
    flash.fail(true);
    let mut c = boot_core(&mut flash);
    assert_eq!(c.boot(), None);
    c.emit(0, draft(EventKind::Test, None));
    let Some(Outgoing::Event(e)) = c.finish(0, None).first().cloned() else {
        panic!("no event")
    };
    assert_eq!(e.boot, None);
    // Acks with or without a boot clear it (the gateway echoes none).
    assert!(c.evt_ack(EvtAck { seq: 1, boot: None }));
}
