//! Access control: the credentials on a door's allow-list, the list's
//! chunked sync over the door's command topic, the door's sync answers, and
//! the access events a door reports.
//!
//! - **Sync** (gateway → door, on `gs/v1/dev/{id}/cmd`): a list version is
//!   sent as [`ListChunk`]s `0..parts`, each carrying up to
//!   [`CHUNK_ENTRIES`] entries, the list's entry count and its
//!   [`ListHash`]. A chunk is told from a [`crate::Command`] by its `list`
//!   field (a command has `id` and `cmd`).
//! - **Answers** (door → gateway, on `gs/v1/dev/{id}/cmd/ack`): a [`ListAck`]
//!   names the list and the next part the door wants. A door that already
//!   holds part `k` answers a repeat with `next = k + 1` without re-storing
//!   it, so after a reconnect the gateway re-sends part 0 and the answer
//!   tells it where to resume. `next == parts` with `ok` means the list
//!   passed its hash check and is the one the door now decides with.
//! - **Events** (door → gateway, on `gs/v1/dev/{id}/acc`): [`AccessEvent`],
//!   numbered like node events (`boot`, `seq`) and acknowledged on
//!   `gs/v1/dev/{id}/acc/ack` with an [`crate::EvtAck`] once stored.
//!
//! [`decide`] is the one rule every party applies to an entry: the door
//! offline, the gateway when it explains a list, the simulator.

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Message};
use crate::ident::Ident;
use crate::kinds::wire_enum;

/// Longest credential id, in bytes.
pub const CRED_ID_LEN: usize = 20;
/// Most entries in one [`ListChunk`] (keeps a chunk under 1 KiB).
pub const CHUNK_ENTRIES: usize = 8;
/// Most parts of one list (65,535 × 8 entries: more than any door holds).
pub const MAX_PARTS: u16 = u16::MAX;
/// Minutes in a day: the end of a [`Window`] that runs to midnight.
pub const DAY_MIN: u16 = 1_440;

/// A credential id as a reader delivers it: a card's number, a PIN, or the
/// token of a QR code (`[A-Za-z0-9_-]`, at most [`CRED_ID_LEN`] bytes).
pub type CredId = Ident<CRED_ID_LEN>;

wire_enum! {
    /// What a credential is; a reader supports some of these (its profile says which).
    #[derive(Default)]
    pub enum CredKind {
        /// A proximity card.
        #[default]
        Card = "card",
        /// A PIN typed on the reader's keypad.
        Pin = "pin",
        /// A QR code shown to the reader's camera (visitor passes).
        Qr = "qr",
    }
}

wire_enum! {
    /// Why a door refused a credential.
    pub enum DenyReason {
        /// Not on the door's list (or garbled by the reader).
        Unknown = "unknown",
        /// Past the credential's `until`.
        Expired = "expired",
        /// Before the credential's `from`, or outside its time window.
        OutsideWindow = "outside-window",
        /// Revoked; the list keeps revoked ids so the door can say so.
        Revoked = "revoked",
    }
}

wire_enum! {
    /// What an [`AccessEvent`] reports.
    pub enum AccessKind {
        /// A credential opened the door.
        Granted = "granted",
        /// A credential was refused (`reason` says why).
        Denied = "denied",
        /// The door was opened while locked.
        ForcedOpen = "forced-open",
        /// The door stood open past its limit.
        HeldOpen = "held-open",
    }
}

wire_enum! {
    /// Why a door did not take a list chunk.
    pub enum ListError {
        /// The list has more entries than the door's capacity.
        TooLarge = "too-large",
        /// All parts arrived but their hash is not the announced one.
        Hash = "hash",
        /// A part arrived out of order (`next` says which one is wanted).
        Gap = "gap",
        /// The door's storage failed to write or read back.
        Storage = "storage",
    }
}

/// A weekly time window in the door's local time: the days it applies and
/// the minutes of the day, `from_min` inclusive to `to_min` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Days, bit 0 = Monday … bit 6 = Sunday.
    pub days: u8,
    /// First minute of the day the window is open (0..1440).
    pub from_min: u16,
    /// Minute the window closes (1..=1440, after `from_min`).
    pub to_min: u16,
}

impl Window {
    /// Every day, all day.
    pub const ALWAYS: Self = Self {
        days: 0x7F,
        from_min: 0,
        to_min: DAY_MIN,
    };

    /// Whether the local time `local_s` (seconds since the epoch, already
    /// shifted by the door's UTC offset) falls in the window.
    pub const fn contains(&self, local_s: i64) -> bool {
        let days = local_s.div_euclid(86_400);
        // 1970-01-01 was a Thursday: day 0 is weekday 3 (Monday = 0).
        let weekday = (days + 3).rem_euclid(7);
        let minute = local_s.rem_euclid(86_400) / 60;
        (self.days >> weekday) & 1 == 1
            && minute >= self.from_min as i64
            && minute < self.to_min as i64
    }

    fn validate(&self) -> Result<(), DecodeError> {
        if self.days == 0 || self.days > 0x7F {
            return Err(DecodeError::range(
                "list-chunk",
                "win.days",
                format_args!("{} is not a set of days 1..=127", self.days),
            ));
        }
        if self.from_min >= self.to_min || self.to_min > DAY_MIN {
            return Err(DecodeError::range(
                "list-chunk",
                "win",
                format_args!(
                    "{}..{} is not a window of minutes within 0..=1440",
                    self.from_min, self.to_min
                ),
            ));
        }
        Ok(())
    }
}

/// One credential on a door's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The id the reader delivers.
    pub id: CredId,
    /// Card, PIN or QR code (default: card).
    #[serde(default, skip_serializing_if = "is_card")]
    pub kind: CredKind,
    /// Valid from, in seconds since the epoch (visitor passes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    /// Valid until (exclusive), in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u32>,
    /// When in the week it opens (absent: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub win: Option<Window>,
    /// Revoked: kept on the list so the door refuses it as `revoked`.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub revoked: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if takes a reference
fn is_card(k: &CredKind) -> bool {
    *k == CredKind::Card
}

impl Entry {
    /// A card that always opens.
    pub const fn card(id: CredId) -> Self {
        Self {
            id,
            kind: CredKind::Card,
            from: None,
            until: None,
            win: None,
            revoked: false,
        }
    }
}

/// Whether `entry` opens the door at `now_s` (seconds since the epoch) for a
/// door whose local time is UTC + `tz_min` minutes.
///
/// # Errors
/// The [`DenyReason`]: unknown (no entry), revoked, expired, outside window
/// (before `from`, or outside `win`), checked in that order.
pub fn decide(entry: Option<&Entry>, now_s: u64, tz_min: i16) -> Result<(), DenyReason> {
    let e = entry.ok_or(DenyReason::Unknown)?;
    if e.revoked {
        return Err(DenyReason::Revoked);
    }
    if e.until.is_some_and(|u| now_s >= u64::from(u)) {
        return Err(DenyReason::Expired);
    }
    if e.from.is_some_and(|f| now_s < u64::from(f)) {
        return Err(DenyReason::OutsideWindow);
    }
    let local = i64::try_from(now_s).unwrap_or(i64::MAX) + i64::from(tz_min) * 60;
    match e.win {
        Some(w) if !w.contains(local) => Err(DenyReason::OutsideWindow),
        _ => Ok(()),
    }
}

/// The hash of a list (FNV-1a, 64 bit) over its entries in list order; the
/// gateway announces it in every chunk and the door checks it at the end.
/// Not a security measure (the link is authenticated), a check that the
/// parts stored are the parts sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListHash(u64);

impl Default for ListHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl ListHash {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Adds one entry (its canonical bytes: id, 0, kind, from, until, window, revoked).
    pub fn add(&mut self, e: &Entry) {
        self.bytes(e.id.as_bytes());
        self.bytes(&[0, e.kind as u8]);
        for v in [e.from, e.until] {
            self.bytes(&v.map_or([0xFF; 5], |x| {
                let b = x.to_le_bytes();
                [1, b[0], b[1], b[2], b[3]]
            }));
        }
        match e.win {
            Some(w) => {
                self.bytes(&[1, w.days]);
                self.bytes(&w.from_min.to_le_bytes());
                self.bytes(&w.to_min.to_le_bytes());
            }
            None => self.bytes(&[0]),
        }
        self.bytes(&[u8::from(e.revoked)]);
    }

    /// The hash so far.
    pub const fn value(&self) -> u64 {
        self.0
    }

    /// The hash of `entries`.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> u64 {
        let mut h = Self::default();
        for e in entries {
            h.add(e);
        }
        h.value()
    }
}

/// One part of a door's allow-list, on the door's command topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChunk {
    /// The list's version (from 1, rising with every change for this door).
    pub list: u32,
    /// This part's index, from 0.
    pub part: u16,
    /// How many parts the list has (an empty list has one, with no entries).
    pub parts: u16,
    /// Entries in the whole list.
    pub total: u32,
    /// [`ListHash`] of the whole list.
    pub hash: u64,
    /// The door's offset from UTC in minutes, for time windows.
    #[serde(default)]
    pub tz_min: i16,
    /// This part's entries.
    pub entries: heapless::Vec<Entry, CHUNK_ENTRIES>,
}

impl Message for ListChunk {
    const NAME: &'static str = "list-chunk";
    const MAX_LEN: usize = 1_536;

    fn validate(&self) -> Result<(), DecodeError> {
        if self.list == 0 {
            return Err(DecodeError::range(
                Self::NAME,
                "list",
                format_args!("0 is reserved; list versions start at 1"),
            ));
        }
        if self.parts == 0 || self.part >= self.parts {
            return Err(DecodeError::range(
                Self::NAME,
                "part",
                format_args!("part {} of {} parts", self.part, self.parts),
            ));
        }
        if !(-840..=840).contains(&self.tz_min) {
            return Err(DecodeError::range(
                Self::NAME,
                "tz_min",
                format_args!("{} is not a UTC offset within ±14 h", self.tz_min),
            ));
        }
        let room = u64::from(self.parts) * CHUNK_ENTRIES as u64;
        if u64::from(self.total) > room {
            return Err(DecodeError::range(
                Self::NAME,
                "total",
                format_args!("{} entries do not fit in {} parts", self.total, self.parts),
            ));
        }
        for e in &self.entries {
            if let Some(w) = &e.win {
                w.validate()?;
            }
        }
        Ok(())
    }
}

/// Splits a list into its chunks, in order (an empty list is one empty chunk).
///
/// # Errors
/// The entry count when the list needs more than [`MAX_PARTS`] parts or
/// more than `u32::MAX` entries.
pub fn split(
    list: u32,
    entries: &[Entry],
    tz_min: i16,
) -> Result<impl Iterator<Item = ListChunk> + '_, usize> {
    let parts = entries.len().div_ceil(CHUNK_ENTRIES).max(1);
    let parts = u16::try_from(parts).map_err(|_| entries.len())?;
    let total = u32::try_from(entries.len()).map_err(|_| entries.len())?;
    let hash = ListHash::of(entries);
    Ok((0..parts).map(move |part| {
        let from = usize::from(part) * CHUNK_ENTRIES;
        let to = (from + CHUNK_ENTRIES).min(entries.len());
        ListChunk {
            list,
            part,
            parts,
            total,
            hash,
            tz_min,
            // At most CHUNK_ENTRIES entries by construction.
            entries: entries[from..to].iter().cloned().collect(),
        }
    }))
}

/// A door's answer to a [`ListChunk`], on its `cmd/ack` topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAck {
    /// The list version the chunk belonged to.
    pub list: u32,
    /// The next part the door wants (`parts` when the list is complete).
    pub next: u16,
    /// Whether the chunk was taken (or already held).
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ListError>,
    /// The list version the door decides with now (0: none yet).
    #[serde(default)]
    pub active: u32,
}

impl Message for ListAck {
    const NAME: &'static str = "list-ack";
    const MAX_LEN: usize = 128;

    fn validate(&self) -> Result<(), DecodeError> {
        if !self.ok && self.error.is_none() {
            return Err(DecodeError::MissingField {
                message: Self::NAME,
                field: crate::codec::text("error` (required when `ok` is false"),
                path: crate::codec::Text::new(),
            });
        }
        Ok(())
    }
}

/// Something that happened at a door's access point, on its `acc` topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEvent {
    /// The node's boot counter (absent: a node without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<u32>,
    /// Sequence number of access events within the boot, from 1.
    pub seq: u32,
    /// Node time in ms since the epoch, if the node has a clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: AccessKind,
    /// Why a credential was refused (required for `denied`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DenyReason>,
    /// The credential presented (absent for forced/held doors and garbled reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred: Option<CredId>,
    /// Its kind, as the reader saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_kind: Option<CredKind>,
    /// The list version the decision was made with (0: none).
    #[serde(default)]
    pub list: u32,
}

impl Message for AccessEvent {
    const NAME: &'static str = "access-event";
    const MAX_LEN: usize = 256;

    fn validate(&self) -> Result<(), DecodeError> {
        if self.seq == 0 {
            return Err(DecodeError::range(
                Self::NAME,
                "seq",
                format_args!("0 is reserved; sequence numbers start at 1"),
            ));
        }
        if self.boot == Some(0) {
            return Err(DecodeError::range(
                Self::NAME,
                "boot",
                format_args!("0 is reserved; boot counters start at 1"),
            ));
        }
        match (self.kind, self.reason) {
            (AccessKind::Denied, None) => Err(DecodeError::MissingField {
                message: Self::NAME,
                field: crate::codec::text("reason` (required for type `denied"),
                path: crate::codec::Text::new(),
            }),
            (AccessKind::Denied, Some(_)) | (_, None) => Ok(()),
            (k, Some(_)) => Err(DecodeError::range(
                Self::NAME,
                "reason",
                format_args!("only a denied event has a reason, not `{k}`"),
            )),
        }
    }
}

/// A pseudonym of a credential on the integrator feed: a keyed hash of its
/// id, in hex, stable for one gateway key (so an integrator can count a
/// holder's entries without learning the card number).
pub type Pseudonym = Ident<32>;

/// An access event on the integrator feed `gs/v1/site/{site}/access/{door}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessNotice {
    /// The door.
    pub door: crate::DeviceId,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: AccessKind,
    /// Why a credential was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DenyReason>,
    /// The credential's pseudonym (never its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Pseudonym>,
    /// The credential's kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_kind: Option<CredKind>,
    /// When it happened (ms since the epoch; the gateway's time if the door had none).
    pub ts: u64,
}

impl Message for AccessNotice {
    const NAME: &'static str = "access-notice";
    const MAX_LEN: usize = 256;
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
