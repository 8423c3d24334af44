//! GridSense smoke detector on a Cortex-M4F (QEMU `mps2-an386`).
//!
//! Runs [`firmware::SmokeDetector`] against a scripted chamber, battery, base
//! switch and test button, one tick per simulated second, and prints over
//! semihosting what a real node would publish:
//!
//! ```text
//! boot
//! evt {"seq":1,"type":"heartbeat","battery":100}
//! ...
//! done
//! ```
//!
//! Each line is `boot`, `done`, `sounder on|off`, `status ...`, or a channel
//! (`evt`, `cmd/ack`) followed by the JSON payload. A simulated gateway
//! acknowledges every event and, at the end, sends a `reset` command; both go
//! through the node's real decoder ([`firmware::Node::receive`]).
#![no_std]
#![no_main]

mod sim;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use firmware::{Node, Outbound, SmokeConfig, SmokeDetector, SmokePins};
use panic_semihosting as _;
use protocol::codec::encode_core;
use protocol::{DeviceChannel, EvtAck};

use sim::{Scene, ScriptAdc, ScriptPin, Sounder};

/// Chamber readings per step: clean, smoke rises (alarm), falls (still latched).
const CHAMBER: &[u16] = &[50, 60, 250, 260, 120, 100, 90, 80, 80];
/// Battery divider: full.
const BATTERY: &[u16] = &[3_300];
/// The test button is pressed at step 6.
const BUTTON: &[usize] = &[6];
/// The gateway resets the alarm at this step.
const RESET_AT: usize = 8;

#[entry]
fn main() -> ! {
    hprintln!("boot");
    let scene = Scene::default();
    let pins = SmokePins {
        chamber: ScriptAdc {
            scene: &scene,
            values: CHAMBER,
        },
        battery: ScriptAdc {
            scene: &scene,
            values: BATTERY,
        },
        tamper: ScriptPin {
            scene: &scene,
            high_at: &[],
        },
        test_button: ScriptPin {
            scene: &scene,
            high_at: BUTTON,
        },
        sounder: Sounder,
    };
    let mut node: SmokeDetector<_, _, _, _, _, 8> =
        SmokeDetector::new(pins, SmokeConfig::default());
    for step in 0..=RESET_AT {
        scene.at(step);
        let now = step as u64 * 1_000;
        let out = node.tick(now);
        publish(&mut node, now, &out);
        if step == 5 {
            let s = node.status();
            hprintln!(
                "status latched={} sounding={} reading={:?}",
                s.latched,
                s.sounding,
                s.reading
            );
        }
    }
    let reset = br#"{"id":1,"cmd":"reset","reason":"operator"}"#;
    match node.receive(RESET_AT as u64 * 1_000, DeviceChannel::Cmd, reset) {
        Ok(out) => publish(&mut node, RESET_AT as u64 * 1_000, &out),
        Err(e) => hprintln!("bad command: {}", e),
    }
    let s = node.status();
    hprintln!(
        "status latched={} sounding={} reading={:?}",
        s.latched,
        s.sounding,
        s.reading
    );
    hprintln!("done");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Prints each message and plays a gateway that commits every event at once.
fn publish<N: Node>(node: &mut N, now: u64, out: &Outbound) {
    let mut buf = [0u8; 512];
    for msg in out {
        let Ok(n) = msg.encode(&mut buf) else {
            hprintln!("encode failed");
            continue;
        };
        let json = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
        hprintln!("{} {}", msg.channel(), json);
        if let firmware::Outgoing::Event(e) = msg
            && e.kind.needs_ack()
        {
            let mut ack = [0u8; 32];
            if let Ok(n) = encode_core(&EvtAck::of(e), &mut ack) {
                let _ = node.receive(now, DeviceChannel::EvtAck, &ack[..n]);
            }
        }
    }
}
