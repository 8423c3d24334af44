//! The door's allow-list in non-volatile storage, and its chunked sync.
//!
//! # Storage layout
//! Two banks at `offset`, each a 32-byte header followed by `capacity`
//! records of [`RECORD_LEN`] bytes. The header holds a magic, a bank
//! generation, the list version, its entry count, its hash and the UTC
//! offset, closed by a check word; a header that does not check (erased,
//! zeroed, torn by a power cut) marks an empty bank. The valid bank with the
//! higher generation is the active list. A sync writes into the other bank:
//! it first spoils that bank's header, writes the records part by part,
//! reads them back to check the announced hash, and only then writes the
//! header, so a reset at any point leaves the previous list in force.
//!
//! # Sync
//! Parts are taken in order (`0..parts`); a repeat of a part already taken
//! is answered with the next one wanted, so the gateway resumes after a
//! reconnect by sending part 0 again. Progress is kept in RAM: after a
//! reboot a half-received list starts again from part 0, while the last
//! complete list keeps deciding.

use embedded_storage::Storage;
use protocol::access::{
    CHUNK_ENTRIES, CredId, CredKind, Entry, ListAck, ListChunk, ListError, ListHash, Window,
};

/// Bytes of one stored entry.
pub const RECORD_LEN: u32 = 40;
/// Bytes of a bank header.
pub const HEADER_LEN: u32 = 32;
const MAGIC: [u8; 4] = *b"GSAL";

/// What a credential lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The entry, if the credential is on the list.
    pub entry: Option<Entry>,
    /// The list version looked in (0: no list).
    pub list: u32,
    /// The list's UTC offset in minutes, for time windows.
    pub tz_min: i16,
}

/// The list store could not be read (the door refuses: fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// Where a door looks its credentials up, and how its list is replaced.
pub trait Credentials {
    /// Finds `id` of `kind`.
    ///
    /// # Errors
    /// When the store cannot be read (the door then refuses: fail closed).
    fn lookup(&mut self, kind: CredKind, id: &str) -> Result<Lookup, Unreadable>;
    /// Takes one part of a list sync and says what to send next.
    fn sync(&mut self, chunk: &ListChunk) -> ListAck;
    /// The list version in force (0: none).
    fn active(&self) -> u32;
}

/// A fixed list cannot be synced: every chunk is refused as
/// [`ListError::Storage`] (the node has no store for one).
impl<const N: usize> Credentials for super::AllowList<N> {
    fn lookup(&mut self, kind: CredKind, id: &str) -> Result<Lookup, Unreadable> {
        let entry = (kind == CredKind::Card && self.allows(id))
            .then(|| CredId::new(id).ok().map(Entry::card))
            .flatten();
        Ok(Lookup {
            entry,
            list: 0,
            tz_min: 0,
        })
    }

    fn sync(&mut self, chunk: &ListChunk) -> ListAck {
        refuse(chunk, 0, ListError::Storage, 0)
    }

    fn active(&self) -> u32 {
        0
    }
}

const fn refuse(chunk: &ListChunk, next: u16, error: ListError, active: u32) -> ListAck {
    ListAck {
        list: chunk.list,
        next,
        ok: false,
        error: Some(error),
        active,
    }
}

/// Why a [`StoredList`] could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStoreError<E> {
    /// The storage failed to read.
    Storage(E),
    /// The storage is smaller than `offset` + [`StoredList::footprint`].
    TooSmall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    generation: u32,
    list: u32,
    count: u32,
    hash: u64,
    tz_min: i16,
}

fn check_word(b: &[u8]) -> u32 {
    let mut h = 0x811c_9dc5_u32;
    for &x in b {
        h = (h ^ u32::from(x)).wrapping_mul(0x0100_0193);
    }
    h
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[..4].copy_from_slice(&MAGIC);
        b[4..8].copy_from_slice(&self.generation.to_le_bytes());
        b[8..12].copy_from_slice(&self.list.to_le_bytes());
        b[12..16].copy_from_slice(&self.count.to_le_bytes());
        b[16..24].copy_from_slice(&self.hash.to_le_bytes());
        b[24..26].copy_from_slice(&self.tz_min.to_le_bytes());
        let c = check_word(&b[..28]);
        b[28..].copy_from_slice(&c.to_le_bytes());
        b
    }

    fn decode(b: &[u8; HEADER_LEN as usize]) -> Option<Self> {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if b[..4] != MAGIC || word(28) != check_word(&b[..28]) {
            return None;
        }
        let mut hash = [0u8; 8];
        hash.copy_from_slice(&b[16..24]);
        Some(Self {
            generation: word(4),
            list: word(8),
            count: word(12),
            hash: u64::from_le_bytes(hash),
            tz_min: i16::from_le_bytes([b[24], b[25]]),
        })
    }
}

fn encode_entry(e: &Entry) -> [u8; RECORD_LEN as usize] {
    let mut b = [0u8; RECORD_LEN as usize];
    let id = e.id.as_bytes();
    // An id is at most CRED_ID_LEN (20) bytes: the length fits a byte.
    b[0] = id.len() as u8;
    b[1..=id.len()].copy_from_slice(id);
    b[21] = e.kind as u8;
    let mut flags = u8::from(e.revoked);
    if let Some(f) = e.from {
        flags |= 2;
        b[23..27].copy_from_slice(&f.to_le_bytes());
    }
    if let Some(u) = e.until {
        flags |= 4;
        b[27..31].copy_from_slice(&u.to_le_bytes());
    }
    if let Some(w) = e.win {
        flags |= 8;
        b[31] = w.days;
        b[32..34].copy_from_slice(&w.from_min.to_le_bytes());
        b[34..36].copy_from_slice(&w.to_min.to_le_bytes());
    }
    b[22] = flags;
    b
}

fn decode_kind(b: u8) -> Option<CredKind> {
    CredKind::ALL.iter().copied().find(|k| *k as u8 == b)
}

fn decode_entry(b: &[u8; RECORD_LEN as usize]) -> Option<Entry> {
    let len = usize::from(b[0]);
    let id = core::str::from_utf8(b.get(1..=len)?).ok()?;
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let half = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let flags = b[22];
    Some(Entry {
        id: CredId::new(id).ok()?,
        kind: decode_kind(b[21])?,
        from: (flags & 2 != 0).then(|| word(23)),
        until: (flags & 4 != 0).then(|| word(27)),
        win: (flags & 8 != 0).then(|| Window {
            days: b[31],
            from_min: half(32),
            to_min: half(34),
        }),
        revoked: flags & 1 != 0,
    })
}

/// A list being received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Staging {
    list: u32,
    parts: u16,
    total: u32,
    hash: u64,
    tz_min: i16,
    /// The next part wanted.
    next: u16,
    /// Entries written so far.
    written: u32,
}

/// A door's allow-list in `S`, holding at most `capacity` entries.
#[derive(Debug)]
pub struct StoredList<S> {
    storage: S,
    offset: u32,
    capacity: u32,
    /// The bank in force and its header.
    active: Option<(u8, Header)>,
    staging: Option<Staging>,
}

impl<S: Storage> StoredList<S> {
    /// Bytes a list of `capacity` entries needs in storage (two banks).
    pub const fn footprint(capacity: u32) -> u32 {
        2 * (HEADER_LEN + capacity * RECORD_LEN)
    }

    /// Opens the list stored at `offset` (after a reboot: the last complete one).
    ///
    /// # Errors
    /// [`ListStoreError`] when the storage fails or is too small.
    pub fn open(
        mut storage: S,
        offset: u32,
        capacity: u32,
    ) -> Result<Self, ListStoreError<S::Error>> {
        let end = u64::from(offset) + u64::from(Self::footprint(capacity));
        if end > storage.capacity() as u64 {
            return Err(ListStoreError::TooSmall);
        }
        let mut best: Option<(u8, Header)> = None;
        for bank in 0..2u8 {
            let mut b = [0u8; HEADER_LEN as usize];
            let at = offset + u32::from(bank) * (HEADER_LEN + capacity * RECORD_LEN);
            storage.read(at, &mut b).map_err(ListStoreError::Storage)?;
            if let Some(h) = Header::decode(&b).filter(|h| h.count <= capacity)
                && best.is_none_or(|(_, o)| h.generation > o.generation)
            {
                best = Some((bank, h));
            }
        }
        Ok(Self {
            storage,
            offset,
            capacity,
            active: best,
            staging: None,
        })
    }

    /// Most entries the store holds.
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Entries in the list in force.
    pub fn len(&self) -> u32 {
        self.active.map_or(0, |(_, h)| h.count)
    }

    /// Whether no list is in force, or it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` of the list in force (in list order), for a simulator that
    /// presents the cards a door was given.
    ///
    /// # Errors
    /// The storage's error.
    pub fn entry(&mut self, i: u32) -> Result<Option<Entry>, S::Error> {
        match self.active {
            Some((bank, h)) if i < h.count => self.read_entry(bank, i),
            _ => Ok(None),
        }
    }

    /// The storage, back (a test's "power cut").
    pub fn into_storage(self) -> S {
        self.storage
    }

    const fn bank_at(&self, bank: u8) -> u32 {
        self.offset + bank as u32 * (HEADER_LEN + self.capacity * RECORD_LEN)
    }

    const fn record_at(&self, bank: u8, i: u32) -> u32 {
        self.bank_at(bank) + HEADER_LEN + i * RECORD_LEN
    }

    const fn staging_bank(&self) -> u8 {
        match self.active {
            Some((0, _)) => 1,
            _ => 0,
        }
    }

    fn read_entry(&mut self, bank: u8, i: u32) -> Result<Option<Entry>, S::Error> {
        let mut b = [0u8; RECORD_LEN as usize];
        self.storage.read(self.record_at(bank, i), &mut b)?;
        Ok(decode_entry(&b))
    }

    fn ack(&self, list: u32, next: u16) -> ListAck {
        ListAck {
            list,
            next,
            ok: true,
            error: None,
            active: self.active(),
        }
    }

    fn begin(&mut self, c: &ListChunk) -> Result<(), ListError> {
        let bank = self.staging_bank();
        self.staging = None;
        self.storage
            .write(self.bank_at(bank), &[0u8; HEADER_LEN as usize])
            .map_err(|_| ListError::Storage)?;
        self.staging = Some(Staging {
            list: c.list,
            parts: c.parts,
            total: c.total,
            hash: c.hash,
            tz_min: c.tz_min,
            next: 0,
            written: 0,
        });
        Ok(())
    }

    fn store_part(&mut self, mut st: Staging, c: &ListChunk) -> Result<Staging, ListError> {
        let last = c.part + 1 == c.parts;
        let n = c.entries.len() as u32;
        let full = n == CHUNK_ENTRIES as u32;
        if st.written + n > st.total || (!last && !full) {
            return Err(ListError::Hash);
        }
        let bank = self.staging_bank();
        for e in &c.entries {
            let at = self.record_at(bank, st.written);
            self.storage
                .write(at, &encode_entry(e))
                .map_err(|_| ListError::Storage)?;
            st.written += 1;
        }
        st.next += 1;
        Ok(st)
    }

    fn commit(&mut self, st: &Staging) -> Result<(), ListError> {
        if st.written != st.total {
            return Err(ListError::Hash);
        }
        let bank = self.staging_bank();
        let mut hash = ListHash::default();
        for i in 0..st.written {
            let e = self
                .read_entry(bank, i)
                .map_err(|_| ListError::Storage)?
                .ok_or(ListError::Storage)?;
            hash.add(&e);
        }
        if hash.value() != st.hash {
            return Err(ListError::Hash);
        }
        let header = Header {
            generation: self.active.map_or(1, |(_, h)| h.generation.wrapping_add(1)),
            list: st.list,
            count: st.total,
            hash: st.hash,
            tz_min: st.tz_min,
        };
        self.storage
            .write(self.bank_at(bank), &header.encode())
            .map_err(|_| ListError::Storage)?;
        self.active = Some((bank, header));
        Ok(())
    }

    fn take(&mut self, c: &ListChunk) -> Result<u16, (u16, ListError)> {
        let same = |s: &Staging| s.list == c.list && s.hash == c.hash && s.parts == c.parts;
        let st = match self.staging.filter(same) {
            Some(st) => st,
            None if c.part == 0 => {
                self.begin(c).map_err(|e| (0, e))?;
                self.staging.ok_or((0, ListError::Storage))?
            }
            None => return Err((0, ListError::Gap)),
        };
        if c.part < st.next {
            return Ok(st.next);
        }
        if c.part > st.next {
            return Err((st.next, ListError::Gap));
        }
        let st = self.store_part(st, c).inspect_err(|_| self.staging = None);
        let st = st.map_err(|e| (0, e))?;
        self.staging = Some(st);
        if st.next == st.parts {
            self.staging = None;
            self.commit(&st).map_err(|e| (0, e))?;
        }
        Ok(st.next)
    }
}

impl<S: Storage> Credentials for StoredList<S> {
    fn lookup(&mut self, kind: CredKind, id: &str) -> Result<Lookup, Unreadable> {
        let Some((bank, h)) = self.active else {
            return Ok(Lookup {
                entry: None,
                list: 0,
                tz_min: 0,
            });
        };
        let mut entry = None;
        for i in 0..h.count {
            let e = self.read_entry(bank, i).map_err(|_| Unreadable)?;
            if let Some(e) = e.filter(|e| e.kind == kind && e.id.as_str() == id) {
                entry = Some(e);
                break;
            }
        }
        Ok(Lookup {
            entry,
            list: h.list,
            tz_min: h.tz_min,
        })
    }

    fn sync(&mut self, c: &ListChunk) -> ListAck {
        if let Some((_, h)) = self.active
            && h.list == c.list
            && h.hash == c.hash
        {
            return self.ack(c.list, c.parts);
        }
        if c.total > self.capacity {
            return refuse(c, 0, ListError::TooLarge, self.active());
        }
        match self.take(c) {
            Ok(next) => self.ack(c.list, next),
            Err((next, e)) => refuse(c, next, e, self.active()),
        }
    }

    fn active(&self) -> u32 {
        self.active.map_or(0, |(_, h)| h.list)
    }
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
