//! One simulated node: a real firmware state machine wired to simulated
//! hardware ([`crate::hal`]), and the stimuli a scenario applies to it.

use firmware::{
    AllowList, CameraConfig, CameraSource, DoorConfig, DoorController, GasConfig, GasDetector,
    Node, Outbound, SmokeConfig, SmokeDetector, SmokePins,
};
use protocol::{Command, EvtAck};

use crate::hal::{SimAdc, SimFlash, SimPin, SimSerial};

/// Which firmware a profile runs in the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimKind {
    /// `SmokeDetector` (profile `smoke`).
    Smoke,
    /// `DoorController` (profiles `lock`, `card-reader`, `door-contact`).
    Door,
    /// `GasDetector` (profiles `gas`, `gas-modbus`).
    Gas,
    /// `CameraSource` (profile `camera`).
    Camera,
}

impl SimKind {
    /// The firmware for a device profile; `None` for kinds not simulated yet.
    pub fn from_profile(profile: &str) -> Option<Self> {
        match profile {
            "smoke" => Some(Self::Smoke),
            "lock" | "card-reader" | "door-contact" => Some(Self::Door),
            "gas" | "gas-modbus" => Some(Self::Gas),
            "camera" => Some(Self::Camera),
            _ => None,
        }
    }
}

/// Cards every simulated door allows: `card-0001` to `card-0030`.
pub const ALLOWED_CARDS: usize = 30;

/// The name of allowed card `i` (0-based).
pub fn card_name(i: usize) -> String {
    format!("card-{:04}", i + 1)
}

/// Something that happens to a node's hardware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stimulus {
    /// Smoke chamber reads this raw value (normal ≈ 40, alarm ≥ 200).
    Chamber(u16),
    /// Gas cell reads this raw value (40 counts per %LEL).
    Gas(u16),
    /// Battery divider reads this raw value (2300 empty, 3300 full).
    Battery(u16),
    /// Smoke detector lifted off (true) or back on its base.
    Tamper(bool),
    /// Test button pressed or released.
    TestButton(bool),
    /// Door contact open (true) or closed.
    DoorOpen(bool),
    /// A card presented at the reader.
    Card(String),
    /// The camera's analytics see an intruder.
    Intrusion,
    /// The camera sees the fire lane blocked (true) or clear.
    FireLane(bool),
}

/// The smoke detector's inputs, kept across a reboot.
#[derive(Debug, Clone)]
struct SmokeHw {
    chamber: SimAdc,
    battery: SimAdc,
    tamper: SimPin,
    button: SimPin,
}

impl Default for SmokeHw {
    fn default() -> Self {
        Self {
            chamber: SimAdc::new(40),
            battery: SimAdc::new(3_300),
            tamper: SimPin::default(),
            button: SimPin::default(),
        }
    }
}

type Smoke = SmokeDetector<SimAdc, SimAdc, SimPin, SimPin, SimPin>;
type Door = DoorController<SimPin, SimPin, SimSerial>;
type Gas = GasDetector<SimAdc, SimPin>;

/// A firmware node with the simulated hardware handles the scenario drives.
#[derive(Debug)]
pub enum SimNode {
    /// Smoke detector.
    Smoke {
        /// The firmware.
        fw: Box<Smoke>,
        /// Chamber ADC.
        chamber: SimAdc,
        /// Battery divider ADC.
        battery: SimAdc,
        /// Base (tamper) switch.
        tamper: SimPin,
        /// Test button.
        button: SimPin,
    },
    /// Access-control door.
    Door {
        /// The firmware.
        fw: Box<Door>,
        /// Door contact.
        contact: SimPin,
        /// Card reader line.
        reader: SimSerial,
    },
    /// Gas detector.
    Gas {
        /// The firmware.
        fw: Box<Gas>,
        /// Gas cell ADC.
        cell: SimAdc,
    },
    /// Camera analytics.
    Camera {
        /// The firmware.
        fw: Box<CameraSource>,
        /// Whether the analytics currently see the fire lane blocked.
        lane_blocked: bool,
        /// Frame counter, for snapshot references.
        frame: u32,
    },
}

impl SimNode {
    /// A node of `kind` in its normal state, heartbeating every `heartbeat_s`,
    /// whose events carry wall-clock time where the firmware supports it.
    pub fn new(kind: SimKind, heartbeat_s: u32, epoch_ms: u64) -> Self {
        let heartbeat_ms = heartbeat_s.saturating_mul(1_000);
        match kind {
            SimKind::Smoke => Self::smoke(heartbeat_ms, epoch_ms, SmokeHw::default()),
            SimKind::Door => Self::door(heartbeat_ms, SimPin::default(), SimSerial::default()),
            SimKind::Gas => Self::gas(heartbeat_ms, SimAdc::new(40)),
            SimKind::Camera => {
                let cfg = CameraConfig {
                    heartbeat_ms,
                    ..CameraConfig::default()
                };
                let fw = Box::new(CameraSource::new(cfg));
                Self::Camera {
                    fw,
                    lane_blocked: false,
                    frame: 0,
                }
            }
        }
    }

    /// Restarts the firmware on the same hardware, as after a reset or a
    /// battery change: everything in RAM is gone (outbox, latched alarm,
    /// `seq` counts from 1 again), what the sensors see stays, and the boot
    /// counter advances in `flash` ([`SimNode::start`]). Returns the new boot.
    pub fn reboot(&mut self, heartbeat_s: u32, epoch_ms: u64, flash: &mut SimFlash) -> Option<u32> {
        let heartbeat_ms = heartbeat_s.saturating_mul(1_000);
        let fresh = match self {
            Self::Smoke {
                chamber,
                battery,
                tamper,
                button,
                ..
            } => {
                let hw = SmokeHw {
                    chamber: chamber.clone(),
                    battery: battery.clone(),
                    tamper: tamper.clone(),
                    button: button.clone(),
                };
                Self::smoke(heartbeat_ms, epoch_ms, hw)
            }
            Self::Door {
                contact, reader, ..
            } => Self::door(heartbeat_ms, contact.clone(), reader.clone()),
            Self::Gas { cell, .. } => Self::gas(heartbeat_ms, cell.clone()),
            Self::Camera { lane_blocked, .. } => {
                let blocked = *lane_blocked;
                let mut c = Self::new(SimKind::Camera, heartbeat_s, epoch_ms);
                if let Self::Camera { lane_blocked, .. } = &mut c {
                    *lane_blocked = blocked;
                }
                c
            }
        };
        *self = fresh;
        self.start(flash)
    }

    /// Start-up: advances the boot counter in `flash` and stamps it on every
    /// later event; returns it (`None` if the storage failed: the node then
    /// runs without a boot identity).
    pub fn start(&mut self, flash: &mut SimFlash) -> Option<u32> {
        let boot = firmware::boot::advance(flash, 0).ok();
        match self {
            Self::Smoke { fw, .. } => fw.core_mut().set_boot(boot),
            Self::Door { fw, .. } => fw.core_mut().set_boot(boot),
            Self::Gas { fw, .. } => fw.core_mut().set_boot(boot),
            Self::Camera { fw, .. } => fw.core_mut().set_boot(boot),
        }
        boot
    }

    fn gas(heartbeat_ms: u32, cell: SimAdc) -> Self {
        let cfg = GasConfig {
            heartbeat_ms,
            ..GasConfig::default()
        };
        let fw = Box::new(GasDetector::new(cell.clone(), SimPin::default(), cfg));
        Self::Gas { fw, cell }
    }

    fn smoke(heartbeat_ms: u32, epoch_ms: u64, hw: SmokeHw) -> Self {
        let SmokeHw {
            chamber,
            battery,
            tamper,
            button,
        } = hw;
        let pins = SmokePins {
            chamber: chamber.clone(),
            battery: battery.clone(),
            tamper: tamper.clone(),
            test_button: button.clone(),
            sounder: SimPin::default(),
        };
        let cfg = SmokeConfig {
            heartbeat_ms,
            ..SmokeConfig::default()
        };
        let mut fw = Box::new(SmokeDetector::new(pins, cfg));
        fw.core_mut().set_clock(0, epoch_ms);
        Self::Smoke {
            fw,
            chamber,
            battery,
            tamper,
            button,
        }
    }

    fn door(heartbeat_ms: u32, contact: SimPin, reader: SimSerial) -> Self {
        let names: Vec<String> = (0..ALLOWED_CARDS).map(card_name).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        // 30 well-formed ids fit the default allow-list capacity of 32.
        let allow = AllowList::from_ids(&refs).expect("allow-list of 30 valid cards");
        let cfg = DoorConfig {
            heartbeat_ms,
            ..DoorConfig::default()
        };
        let lock = SimPin::default();
        let fw = Box::new(DoorController::new(
            contact.clone(),
            lock,
            reader.clone(),
            allow,
            cfg,
        ));
        Self::Door {
            fw,
            contact,
            reader,
        }
    }

    /// Applies `s` at uptime `now`; returns false when it does not fit this kind.
    pub fn apply(&mut self, now: u64, s: &Stimulus) -> bool {
        match (self, s) {
            (Self::Smoke { chamber, .. }, Stimulus::Chamber(r)) => chamber.set(*r),
            (Self::Smoke { battery, .. }, Stimulus::Battery(r)) => battery.set(*r),
            (Self::Smoke { tamper, .. }, Stimulus::Tamper(t)) => tamper.set(*t),
            (Self::Smoke { button, .. }, Stimulus::TestButton(b)) => button.set(*b),
            (Self::Gas { cell, .. }, Stimulus::Gas(r)) => cell.set(*r),
            (Self::Door { contact, .. }, Stimulus::DoorOpen(o)) => contact.set(*o),
            (Self::Door { reader, .. }, Stimulus::Card(c)) => {
                reader.send(format!("{c}\n").as_bytes())
            }
            (Self::Camera { lane_blocked, .. }, Stimulus::FireLane(b)) => *lane_blocked = *b,
            (Self::Camera { fw, frame, .. }, Stimulus::Intrusion) => {
                *frame += 1;
                // Frame references are `frame-N`, always a valid snapshot id.
                let _ = fw.intrusion(now, &format!("frame-{frame}"));
            }
            _ => return false,
        }
        true
    }
}

impl Node for SimNode {
    fn tick(&mut self, now_ms: u64) -> Outbound {
        match self {
            Self::Smoke { fw, .. } => fw.tick(now_ms),
            Self::Door { fw, .. } => fw.tick(now_ms),
            Self::Gas { fw, .. } => fw.tick(now_ms),
            Self::Camera {
                fw,
                lane_blocked,
                frame,
            } => {
                *frame += 1;
                // Frame references are `frame-N`, always a valid snapshot id.
                let _ = fw.fire_lane(now_ms, *lane_blocked, &format!("frame-{frame}"));
                fw.tick(now_ms)
            }
        }
    }

    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound {
        match self {
            Self::Smoke { fw, .. } => fw.command(now_ms, cmd),
            Self::Door { fw, .. } => fw.command(now_ms, cmd),
            Self::Gas { fw, .. } => fw.command(now_ms, cmd),
            Self::Camera { fw, .. } => fw.command(now_ms, cmd),
        }
    }

    fn evt_ack(&mut self, ack: EvtAck) -> bool {
        match self {
            Self::Smoke { fw, .. } => fw.evt_ack(ack),
            Self::Door { fw, .. } => fw.evt_ack(ack),
            Self::Gas { fw, .. } => fw.evt_ack(ack),
            Self::Camera { fw, .. } => fw.evt_ack(ack),
        }
    }

    fn reconnected(&mut self, now_ms: u64) {
        match self {
            Self::Smoke { fw, .. } => fw.reconnected(now_ms),
            Self::Door { fw, .. } => fw.reconnected(now_ms),
            Self::Gas { fw, .. } => fw.reconnected(now_ms),
            Self::Camera { fw, .. } => fw.reconnected(now_ms),
        }
    }
}

#[cfg(test)]
mod tests;
