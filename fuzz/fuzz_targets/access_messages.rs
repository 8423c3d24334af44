//! Access control (protocol/src/access.rs): allow-list chunks, the doors'
//! list acks, access events and the integrator's access notices, each
//! through both JSON decoders (the gateway's and the doors') and back.
//! A chunk that decodes is also:
//! - split again as the gateway splits a list (`split`): one chunk with
//!   the same entries, count and hash, which the doors' decoder takes back
//!   unchanged and which fits the message's limit;
//! - judged entry by entry (`decide`) at the edges of each entry's validity
//!   and at a time from the input, in the chunk's time zone: a revoked
//!   entry is refused as revoked, then an expired one as expired, then one
//!   not yet valid as outside its window, in that order.
#![no_main]

use gridsense_fuzz::json_message;
use libfuzzer_sys::fuzz_target;
use protocol::Message;
use protocol::access::{
    self, AccessEvent, AccessNotice, DenyReason, Entry, ListAck, ListChunk, ListHash,
};
use protocol::codec;

fn judged(e: &Entry, now: u64, tz_min: i16) {
    let verdict = access::decide(Some(e), now, tz_min);
    let expired = e.until.is_some_and(|u| now >= u64::from(u));
    let early = e.from.is_some_and(|f| now < u64::from(f));
    if e.revoked {
        assert_eq!(verdict, Err(DenyReason::Revoked), "{e:?} at {now}");
    } else if expired {
        assert_eq!(verdict, Err(DenyReason::Expired), "{e:?} at {now}");
    } else if early {
        assert_eq!(verdict, Err(DenyReason::OutsideWindow), "{e:?} at {now}");
    } else if e.win.is_none() {
        assert_eq!(verdict, Ok(()), "{e:?} at {now}");
    }
}

fn chunk(c: &ListChunk, seed: u64) {
    for e in &c.entries {
        let mut times = vec![seed, 0, u64::from(u32::MAX)];
        for t in [e.from, e.until].into_iter().flatten() {
            let t = u64::from(t);
            times.extend([t.saturating_sub(1), t, t + 1]);
        }
        for now in times {
            judged(e, now, c.tz_min);
        }
    }
    assert_eq!(
        access::decide(None, seed, c.tz_min),
        Err(DenyReason::Unknown)
    );
    let entries: Vec<Entry> = c.entries.iter().cloned().collect();
    let again: Vec<ListChunk> = access::split(c.list, &entries, c.tz_min)
        .expect("one chunk's entries split")
        .collect();
    assert_eq!(
        again.len(),
        1,
        "one chunk's entries split into {}",
        again.len()
    );
    let a = &again[0];
    assert_eq!((a.part, a.parts), (0, 1));
    assert_eq!(a.entries, c.entries);
    assert_eq!(a.total as usize, entries.len());
    assert_eq!(a.hash, ListHash::of(&entries));
    let mut buf = [0u8; 4096];
    let n = codec::encode_core(a, &mut buf).expect("a split chunk encodes");
    assert!(
        n <= ListChunk::MAX_LEN,
        "a split chunk of {n} bytes is over the limit"
    );
    let door: ListChunk = codec::decode_core(&buf[..n]).expect("the door takes a split chunk");
    assert_eq!(&door, a, "a split chunk changed on its way to the door");
}

fuzz_target!(|data: &[u8]| {
    json_message::<ListChunk>(data);
    json_message::<ListAck>(data);
    json_message::<AccessEvent>(data);
    json_message::<AccessNotice>(data);
    if let Ok(c) = codec::decode::<ListChunk>(data) {
        // A time from the input: within the years doors are used.
        let seed = 1_700_000_000 + (data.len() as u64 * 7_919 % 400_000_000);
        chunk(&c, seed);
    }
});
