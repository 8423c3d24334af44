//! One simulated node: a real firmware state machine wired to simulated
//! hardware ([`crate::hal`]), and the stimuli a scenario applies to it.

use firmware::door::{Credentials, Lookup, StoredList, Unreadable};
use firmware::{
    AllowList, CameraConfig, CameraSource, DoorConfig, DoorController, GasConfig, GasDetector,
    LockMode, Node, Outbound, SmokeConfig, SmokeDetector, SmokePins,
};
use protocol::access::{CredKind, ListAck, ListChunk};
use protocol::{Command, DecodeError, DeviceChannel, EvtAck};

use crate::hal::{SimAdc, SimFlash, SimListFlash, SimPin, SimSerial};

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

/// Credentials a simulated door's list store holds (the lock and
/// card-reader profiles' `[access] capacity`).
pub const DOOR_CAPACITY: u32 = 10_000;

/// A simulated door's credentials: the list the gateway synced, kept in the
/// door's own (simulated) flash; until a list arrives, the 30 demo cards.
#[derive(Debug)]
pub struct SimCredentials {
    stored: StoredList<SimListFlash>,
    demo: AllowList<32>,
}

impl SimCredentials {
    fn open(flash: SimListFlash) -> Self {
        let names: Vec<String> = (0..ALLOWED_CARDS).map(card_name).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        // 30 well-formed ids fit the allow-list capacity of 32, and the
        // flash is sized for the store, so neither can fail.
        let demo = AllowList::from_ids(&refs).expect("allow-list of 30 valid cards");
        let stored =
            StoredList::open(flash, 0, DOOR_CAPACITY).expect("the list flash fits the store");
        Self { stored, demo }
    }

    /// The reader line for the `pick`-th credential of the synced list
    /// (`P:` for a PIN, `Q:` for a QR code), or a demo card before any sync.
    pub fn line_for(&mut self, pick: u32) -> String {
        let n = self.stored.len();
        if n == 0 {
            return card_name(pick as usize % ALLOWED_CARDS);
        }
        match self.stored.entry(pick % n) {
            Ok(Some(e)) => match e.kind {
                CredKind::Card => e.id.to_string(),
                CredKind::Pin => format!("P:{}", e.id.as_str()),
                CredKind::Qr => format!("Q:{}", e.id.as_str()),
            },
            _ => card_name(0),
        }
    }

    /// Whether a list was ever synced.
    pub fn synced(&self) -> u32 {
        self.stored.active()
    }
}

impl Credentials for SimCredentials {
    fn lookup(&mut self, kind: CredKind, id: &str) -> Result<Lookup, Unreadable> {
        if self.stored.active() == 0 {
            return self.demo.lookup(kind, id);
        }
        self.stored.lookup(kind, id)
    }

    fn sync(&mut self, chunk: &ListChunk) -> ListAck {
        self.stored.sync(chunk)
    }

    fn active(&self) -> u32 {
        self.stored.active()
    }
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
    /// A credential from the door's synced list presented at the reader
    /// (the `n`-th, modulo its length; a demo card before any sync).
    SyncedCard(u32),
    /// Someone pulls the door: it opens only if the lock is released.
    Pass,
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
type Door = DoorController<SimPin, SimPin, SimSerial, SimCredentials>;
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
        /// The list store (survives a reboot).
        list: SimListFlash,
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
            SimKind::Door => Self::door(
                heartbeat_ms,
                epoch_ms,
                (SimPin::default(), SimSerial::default()),
                SimListFlash::erased(StoredList::<SimListFlash>::footprint(DOOR_CAPACITY) as usize),
            ),
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
                contact,
                reader,
                list,
                ..
            } => Self::door(
                heartbeat_ms,
                epoch_ms,
                (contact.clone(), reader.clone()),
                list.clone(),
            ),
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

    fn door(
        heartbeat_ms: u32,
        epoch_ms: u64,
        (contact, reader): (SimPin, SimSerial),
        list: SimListFlash,
    ) -> Self {
        let allow = SimCredentials::open(list.clone());
        let cfg = DoorConfig {
            heartbeat_ms,
            ..DoorConfig::default()
        };
        let lock = SimPin::default();
        let mut fw = Box::new(DoorController::new(
            contact.clone(),
            lock,
            reader.clone(),
            allow,
            cfg,
        ));
        fw.core_mut().set_clock(0, epoch_ms);
        Self::Door {
            fw,
            contact,
            reader,
            list,
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
            (Self::Door { fw, reader, .. }, Stimulus::SyncedCard(n)) => {
                let line = fw.credentials_mut().line_for(*n);
                reader.send(format!("{line}\n").as_bytes());
            }
            (Self::Door { fw, contact, .. }, Stimulus::Pass) => {
                if fw.status().mode != LockMode::Locked {
                    contact.set(true);
                }
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

    /// A door takes its list chunks and access acks itself; the others as
    /// [`Node::receive`] does.
    fn receive(
        &mut self,
        now_ms: u64,
        channel: DeviceChannel,
        payload: &[u8],
    ) -> Result<Outbound, DecodeError> {
        use protocol::codec::decode_core;
        if let Self::Door { fw, .. } = self {
            return fw.receive(now_ms, channel, payload);
        }
        match channel {
            DeviceChannel::Cmd => Ok(self.command(now_ms, &decode_core::<Command>(payload)?)),
            DeviceChannel::EvtAck => {
                self.evt_ack(decode_core::<EvtAck>(payload)?);
                Ok(Outbound::new())
            }
            _ => Ok(Outbound::new()),
        }
    }
}

#[cfg(test)]
mod tests;
