//! Access tests on real SQLite files: imports, per-door lists, the audit,
//! and the gateway's sync against the door's own list store.

use std::path::{Path, PathBuf};

use firmware::door::{Credentials, StoredList};
use protocol::access::{CredKind, DenyReason, ListAck, ListError, decide};

use super::sync::{DoorSync, Phase};
use super::{db, import, lists};
use crate::registry::{ImportError, Profiles, Registry, import_devices, import_sites};
use crate::store::Store;

const NOW_MS: u64 = 1_796_113_800_000; // 2026-12-01T08:30Z, a Tuesday
const NOW_S: u64 = NOW_MS / 1_000;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

/// The example compound in a fresh store.
fn compound() -> (tempfile::TempDir, Store, Registry, Profiles) {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("gs.db")).expect("open");
    let profiles = Profiles::load(None).expect("profiles");
    import_sites(&mut store, &deploy("site.csv")).expect("sites");
    let creds = dir.path().join("creds.csv");
    import_devices(
        &mut store,
        &deploy("devices.csv"),
        &profiles,
        &creds,
        NOW_MS,
    )
    .expect("devices");
    let reg = Registry::load(&store).expect("registry");
    (dir, store, reg, profiles)
}

fn csv(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("access.csv");
    std::fs::write(&p, text).expect("write");
    p
}

fn count(store: &Store, sql: &str) -> i64 {
    store
        .conn()
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

const GOOD: &str = "\
credential,kind,holder,opens,valid_from,valid_until,days,hours,visitor
card-0001,card,Flat 1-201,b1,,,,,
card-0002,,Flat 2-101,b2;lock-b1-u2-lobby,,,,,
4711,pin,Cleaner,b1-u2,,,mon-fri,07:00-09:00,
v-17,qr,Visitor of 1-201,lock-b1-u2-lobby,2026-12-01T08:00Z,2026-12-01T12:00Z,,,yes
";

#[test]
fn import_errors_are_line_numbered_and_nothing_is_written() {
    let (dir, mut store, reg, profiles) = compound();
    let bad = "\
credential,kind,holder,opens,valid_from,valid_until,days,hours,visitor
card-0001,card,Flat 1-201,b1,,,,,
card-0002,iris,Flat 2-101,b2,,,,,
card-0003,card,Flat 2-102,door-nowhere,,,,,
12,pin,Cleaner,b1,,,,,
card-0001,card,Again,b1,,,,,
v-1,qr,Visitor,lock-b2-stair,2026-12-01T08:00Z,,,,yes
card 9,card,Flat,b1,,,,,
card-0004,card,Flat,smoke-b1-101a,,,,,
card-0005,card,Flat,b1,2026-12-02T00:00Z,2026-12-01T00:00Z,,,
card-0006,card,Flat,b1,,,mon-someday,,
card-0007,card,,,,,,,
";
    let path = csv(&dir, bad);
    let errs = match import::import(&mut store, &path, &reg, &profiles, NOW_MS, "test") {
        Err(ImportError::Invalid(list)) => list.iter().map(ToString::to_string).collect::<Vec<_>>(),
        other => panic!("expected row errors, got {other:?}"),
    };
    let f = path.display().to_string();
    let want = [
        format!("{f}:3: column kind"),
        format!("{f}:4: column opens"),
        format!("{f}:5: column credential"),
        format!("{f}:6: column credential"),
        format!("{f}:7: column valid_until"),
        format!("{f}:8: column credential"),
        format!("{f}:9: column opens"),
        format!("{f}:10: column valid_until"),
        format!("{f}:11: column days/hours"),
        format!("{f}:12: column holder"),
        format!("{f}:12: column opens"),
    ];
    for w in &want {
        assert!(
            errs.iter().any(|e| e.starts_with(w.as_str())),
            "no {w:?} in {errs:#?}"
        );
    }
    assert!(
        errs.iter().any(|e| e.contains("appears already on line 2")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("not a door with a reader")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("a PIN is 4 to 8 digits")),
        "{errs:#?}"
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM access_credentials"),
        0,
        "all or nothing"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM audit WHERE kind LIKE 'access.%'"
        ),
        0
    );
    assert_eq!(db::generation(store.conn()).unwrap(), 0);
}

#[test]
fn lists_follow_doors_and_site_subtrees_with_windows_and_periods() {
    let (dir, mut store, reg, profiles) = compound();
    let n = import::import(
        &mut store,
        &csv(&dir, GOOD),
        &reg,
        &profiles,
        NOW_MS,
        "test",
    )
    .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM audit WHERE kind = 'access.credential'"
        ),
        4,
        "every credential audited"
    );
    let creds = db::load(store.conn()).unwrap();
    let lobby = reg.device("lock-b1-u2-lobby").unwrap();
    let stair = reg.device("lock-b2-stair").unwrap();
    let ids = |door| -> Vec<String> {
        lists::compute(&creds, door, NOW_S, 86_400)
            .iter()
            .map(|e| format!("{}:{}", e.kind, e.id.as_str()))
            .collect()
    };
    assert_eq!(
        ids(lobby),
        ["card:card-0001", "card:card-0002", "pin:4711", "qr:v-17"]
    );
    assert_eq!(ids(stair), ["card:card-0002"], "b2 only");
    let entries = lists::compute(&creds, lobby, NOW_S, 86_400);
    let pin = entries.iter().find(|e| e.kind == CredKind::Pin).unwrap();
    let w = pin.win.expect("window");
    assert_eq!((w.days, w.from_min, w.to_min), (0b1_1111, 420, 540));
    assert_eq!(decide(Some(pin), NOW_S, 0), Ok(()), "08:30 local at UTC");
    assert_eq!(
        decide(Some(pin), NOW_S, 480),
        Err(DenyReason::OutsideWindow),
        "16:30 in UTC+8"
    );
    let pass = entries.iter().find(|e| e.kind == CredKind::Qr).unwrap();
    assert_eq!(decide(Some(pass), NOW_S, 480), Ok(()));
    assert_eq!(
        decide(Some(pass), NOW_S + 4 * 3_600, 480),
        Err(DenyReason::Expired)
    );
    let doors = lists::doors(&reg, &profiles);
    assert!(
        doors
            .iter()
            .any(|d| d.info.id.as_str() == "lock-b2-stair" && d.capacity == 10_000)
    );
    assert!(doors.iter().all(|d| !d.info.id.starts_with("smoke")));
}

#[test]
fn a_revoked_credential_is_a_tombstone_then_leaves_the_list() {
    let (dir, mut store, reg, profiles) = compound();
    import::import(
        &mut store,
        &csv(&dir, GOOD),
        &reg,
        &profiles,
        NOW_MS,
        "test",
    )
    .unwrap();
    assert!(
        db::revoke(
            store.conn_mut(),
            CredKind::Card,
            "card-0002",
            NOW_MS,
            "test"
        )
        .unwrap()
    );
    assert!(
        !db::revoke(
            store.conn_mut(),
            CredKind::Card,
            "card-0002",
            NOW_MS,
            "test"
        )
        .unwrap()
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM audit WHERE kind = 'access.revoke'"
        ),
        1
    );
    let creds = db::load(store.conn()).unwrap();
    let stair = reg.device("lock-b2-stair").unwrap();
    let list = lists::compute(&creds, stair, NOW_S, 86_400);
    assert_eq!(decide(list.first(), NOW_S, 0), Err(DenyReason::Revoked));
    assert!(lists::compute(&creds, stair, NOW_S + 2 * 86_400, 86_400).is_empty());
    // The visitor pass leaves the list a day after its end.
    let lobby = reg.device("lock-b1-u2-lobby").unwrap();
    let later = lists::compute(&creds, lobby, NOW_S + 2 * 86_400, 86_400);
    assert!(later.iter().all(|e| e.kind != CredKind::Qr));
    // Re-importing a revoked credential reinstates it (audited again).
    import::import(
        &mut store,
        &csv(&dir, GOOD),
        &reg,
        &profiles,
        NOW_MS,
        "test",
    )
    .unwrap();
    let creds = db::load(store.conn()).unwrap();
    assert!(creds.iter().all(|c| c.revoked_ms.is_none()));
}

/// A door's list store in RAM (erased flash).
#[derive(Debug, Clone)]
struct Flash(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl embedded_storage::ReadStorage for Flash {
    type Error = ();
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), ()> {
        let at = offset as usize;
        out.copy_from_slice(self.0.borrow().get(at..at + out.len()).ok_or(())?);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.0.borrow().len()
    }
}

impl embedded_storage::Storage for Flash {
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), ()> {
        let at = offset as usize;
        self.0
            .borrow_mut()
            .get_mut(at..at + data.len())
            .ok_or(())?
            .copy_from_slice(data);
        Ok(())
    }
}

fn door(cap: u32) -> StoredList<Flash> {
    let len = StoredList::<Flash>::footprint(cap) as usize;
    StoredList::open(
        Flash(std::rc::Rc::new(std::cell::RefCell::new(vec![0xFF; len]))),
        0,
        cap,
    )
    .unwrap()
}

fn cards(n: usize) -> Vec<protocol::access::Entry> {
    (0..n)
        .map(|i| {
            protocol::access::Entry::card(
                protocol::access::CredId::new(&format!("c{i:05}")).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_sync_cut_by_a_disconnect_resumes_where_it_stopped() {
    let entries = cards(200); // 25 parts
    let mut node = door(500);
    let mut sync = DoorSync::new(3, &entries, 480, 4).unwrap();
    let mut inflight = sync.start(0);
    let mut delivered = 0;
    // Deliver 11 parts, then the link drops: the rest in flight are lost.
    while delivered < 11 {
        let part = inflight.remove(0);
        let ack = node.sync(&part);
        delivered += 1;
        inflight.extend(sync.on_ack(&ack, 0));
    }
    inflight.clear();
    assert_eq!(node.active(), 0);
    // The door is back: the gateway offers part 0, the door says where to go on.
    let offer = sync.restart(10_000);
    assert_eq!(offer.iter().map(|p| p.part).collect::<Vec<_>>(), [0]);
    let answer: ListAck = node.sync(&offer[0]);
    assert_eq!(answer.next, 11, "resume at part 11, not 0");
    let mut sent = 1;
    let mut inflight = sync.on_ack(&answer, 10_000);
    assert_eq!(inflight.first().map(|p| p.part), Some(11));
    while let Some(part) = (!inflight.is_empty()).then(|| inflight.remove(0)) {
        sent += 1;
        let ack = node.sync(&part);
        inflight.extend(sync.on_ack(&ack, 10_000));
    }
    assert_eq!(*sync.phase(), Phase::Done);
    assert_eq!(sent, 1 + 14, "only the missing parts were sent again");
    assert_eq!(node.active(), 3);
    assert!(
        node.lookup(CredKind::Card, "c00199")
            .unwrap()
            .entry
            .is_some()
    );
}

#[test]
fn unanswered_parts_are_resent_and_a_list_too_large_fails_the_sync() {
    let entries = cards(40);
    let mut node = door(500);
    let mut sync = DoorSync::new(1, &entries, 0, 2).unwrap();
    let first = sync.start(0);
    let ack = node.sync(&first[0]);
    let window = sync.on_ack(&ack, 0);
    assert_eq!(window.iter().map(|p| p.part).collect::<Vec<_>>(), [1, 2]);
    assert!(sync.on_timer(1_000, 2_000).is_empty(), "not yet");
    let again = sync.on_timer(2_000, 2_000);
    assert_eq!(
        again.iter().map(|p| p.part).collect::<Vec<_>>(),
        [1, 2],
        "resent"
    );
    let mut small = door(10);
    let mut sync = DoorSync::new(1, &entries, 0, 2).unwrap();
    let offer = sync.start(0);
    let ack = small.sync(&offer[0]);
    assert_eq!(ack.error, Some(ListError::TooLarge));
    assert!(sync.on_ack(&ack, 0).is_empty());
    assert_eq!(*sync.phase(), Phase::Failed(ListError::TooLarge));
    assert!(
        sync.restart(1).is_empty(),
        "a reconnect does not retry a list that cannot fit"
    );
}

#[test]
fn events_are_stored_once_and_pruned_after_the_retention() {
    let (_dir, store, _, _) = compound();
    let ev: protocol::access::AccessEvent = protocol::codec::decode(
        br#"{"boot":2,"seq":5,"type":"denied","reason":"revoked","cred":"card-0002","list":4}"#,
    )
    .unwrap();
    assert!(db::insert_event(store.conn(), "lock-b2-stair", &ev, NOW_MS).unwrap());
    assert!(
        !db::insert_event(store.conn(), "lock-b2-stair", &ev, NOW_MS + 1).unwrap(),
        "a repeat"
    );
    let by_cred = db::events(
        store.conn(),
        &db::EventFilter {
            cred: Some("card-0002".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(by_cred.len(), 1);
    assert_eq!(by_cred[0].reason.as_deref(), Some("revoked"));
    let other_door = db::events(
        store.conn(),
        &db::EventFilter {
            door: Some("lock-b1-u2-lobby".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(other_door.is_empty());
    assert_eq!(db::prune(store.conn(), NOW_MS).unwrap(), 0);
    assert_eq!(db::prune(store.conn(), NOW_MS + 1).unwrap(), 1);
    let key = db::pseudonym_key(store.conn()).unwrap();
    assert_eq!(
        key.of("card", "x"),
        db::pseudonym_key(store.conn()).unwrap().of("card", "x"),
        "the key is kept"
    );
}
