//! Migrations, numbered by `PRAGMA user_version`. Each one runs once, in its
//! own transaction together with the version bump, so a crash mid-migration
//! leaves the previous version intact. Append new migrations; never edit one
//! that has shipped.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: events, telemetry, quarantine, presence, registry.
    r"
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        cause TEXT,
        value REAL,
        node_ts INTEGER,
        received_ms INTEGER NOT NULL,
        payload BLOB NOT NULL,
        UNIQUE (device, seq)
    );
    CREATE TABLE telemetry (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        field TEXT NOT NULL,
        value REAL NOT NULL
    );
    CREATE INDEX telemetry_received ON telemetry (received_ms);
    CREATE TABLE quarantine (
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        last_topic TEXT NOT NULL,
        last_detail TEXT NOT NULL,
        PRIMARY KEY (source, reason)
    );
    CREATE INDEX quarantine_last_seen ON quarantine (last_seen_ms);
    CREATE TABLE presence (
        device TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE TABLE site_nodes (
        id TEXT PRIMARY KEY,
        parent TEXT REFERENCES site_nodes (id),
        level TEXT NOT NULL,
        name TEXT NOT NULL,
        city TEXT,
        district TEXT,
        street TEXT,
        community TEXT,
        cell TEXT,
        fire_zone TEXT
    );
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        location TEXT NOT NULL REFERENCES site_nodes (id),
        fire_zone TEXT,
        escape_route INTEGER NOT NULL,
        installed TEXT NOT NULL
    );
    CREATE TABLE credentials (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        salt BLOB NOT NULL,
        hash BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    );
    ",
    // 2: alarms as they stand, and linkage commands.
    r"
    CREATE TABLE alarms (
        id TEXT PRIMARY KEY,
        number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        final INTEGER NOT NULL,
        raised_ms INTEGER NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX alarms_open ON alarms (final);
    CREATE TABLE linkage (
        id INTEGER PRIMARY KEY,
        alarm TEXT NOT NULL,
        device TEXT NOT NULL,
        cmd TEXT NOT NULL,
        sent_ms INTEGER NOT NULL,
        acked_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        ok INTEGER NOT NULL
    );
    ",
    // 3: windowed aggregates per building and grid cell.
    r"
    CREATE TABLE aggregates (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        field TEXT NOT NULL,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        avg REAL NOT NULL,
        count INTEGER NOT NULL
    );
    CREATE INDEX aggregates_scope ON aggregates (scope, scope_id, to_ms);
    ",
    // 4: work orders, their KPIs, the outbox and the audit chain. Gateways
    // before this migration created these tables outside the migration chain
    // when the order engine first ran, so each is created only if missing and
    // keeps its rows.
    r"
    CREATE TABLE IF NOT EXISTS orders (
        order_id TEXT PRIMARY KEY,
        alarm_id TEXT NOT NULL UNIQUE,
        cell TEXT NOT NULL,
        state TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        acked_at INTEGER,
        ended_at INTEGER,
        yellow INTEGER NOT NULL,
        red INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS orders_state ON orders (state);
    CREATE INDEX IF NOT EXISTS orders_cell ON orders (cell);
    CREATE TABLE IF NOT EXISTS order_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS kpi (cell TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        class INTEGER NOT NULL,
        key TEXT NOT NULL,
        revision INTEGER NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_drain ON outbox (class, seq);
    CREATE INDEX IF NOT EXISTS outbox_key ON outbox (key, revision);
    CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        prev BLOB NOT NULL,
        hash BLOB NOT NULL
    );
    ",
    // 5: which committed events analysis has evaluated. An event is stored
    // unevaluated and marked in the transaction that stores its
    // consequences (the alarm changes it caused), so a crash between the
    // two leaves it unevaluated and it is replayed at start-up. Events
    // stored before this migration were evaluated by the gateway of their day.
    r"
    ALTER TABLE events ADD COLUMN evaluated INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX events_unevaluated ON events (id) WHERE evaluated = 0;
    ",
    // 6: the boot identity. Events are unique on (device, boot, seq): `boot`
    // is the node's boot counter (from 1), or for a node that sends none the
    // gateway's sequence epoch for the device (0, then -1, -2 ... one down per
    // sequence reset seen). SQLite cannot drop a table constraint in place, so
    // the table is rebuilt; earlier rows keep their ids and evaluation mark,
    // with boot 0.
    r"
    CREATE TABLE events_boot (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        boot INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        cause TEXT,
        value REAL,
        node_ts INTEGER,
        received_ms INTEGER NOT NULL,
        payload BLOB NOT NULL,
        evaluated INTEGER NOT NULL DEFAULT 1,
        UNIQUE (device, boot, seq)
    );
    INSERT INTO events_boot (id, device, boot, seq, kind, cause, value, node_ts, received_ms, payload, evaluated)
        SELECT id, device, 0, seq, kind, cause, value, node_ts, received_ms, payload, evaluated FROM events;
    DROP TABLE events;
    ALTER TABLE events_boot RENAME TO events;
    CREATE INDEX events_unevaluated ON events (id) WHERE evaluated = 0;
    ",
    // 7: maintenance (test mode) windows: who set each, why, until when,
    // and how it ended. Windows in force are those not ended whose
    // `until_ms` is still ahead.
    r"
    CREATE TABLE maintenance (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        scope TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,
        set_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        ended_ms INTEGER,
        ended_by TEXT,
        end_reason TEXT
    );
    CREATE INDEX maintenance_open ON maintenance (target, ended_ms);
    ",
    // 8: whether the order engine has seen an alarm as it now stands. Every
    // alarm change clears `handed`; the engine sets it once it has acted on
    // that very change, so a crash between the two commits leaves the alarm
    // unhanded, and it is handed again at the next start. Of the alarms
    // stored before, the open ones are handed again once (as every start
    // did until then).
    r"
    ALTER TABLE alarms ADD COLUMN handed INTEGER NOT NULL DEFAULT 1;
    UPDATE alarms SET handed = 0 WHERE final = 0;
    CREATE INDEX alarms_unhanded ON alarms (number) WHERE handed = 0;
    ",
    // 9: the HTTP API's users (argon2 password hashes, a role each) and the
    // bearer tokens of machines (SHA-256 of the token; the token itself is
    // shown once). No row is created here: there are no default credentials.
    r"
    CREATE TABLE api_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES api_users (name),
        hash BLOB NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL,
        revoked_ms INTEGER
    );
    ",
    // 10: residents' reports from the public form: where, what, and the
    // phone number for the call back (optional; kept here, not in the audit
    // chain). Each becomes a work order through the `help-call` alarm `alarm_id`.
    r"
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        alarm_id TEXT NOT NULL UNIQUE,
        site TEXT NOT NULL,
        place TEXT NOT NULL,
        text TEXT NOT NULL,
        phone TEXT,
        at_ms INTEGER NOT NULL
    );
    ",
    // 11: the fire remote-monitoring centre's queue (GB/T 26875.3): one row
    // per application data unit until the centre confirms it; class 0
    // (fire) is sent before class 1 (everything else), each class in seq order.
    "
    CREATE TABLE fire_centre_queue (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        class INTEGER NOT NULL,
        data BLOB NOT NULL,
        queued_ms INTEGER NOT NULL,
        alarm TEXT NOT NULL
    );
    CREATE INDEX fire_centre_queue_order ON fire_centre_queue (class, seq);
    ALTER TABLE devices ADD COLUMN gbt_system_type INTEGER;
    ALTER TABLE devices ADD COLUMN gbt_system_addr INTEGER;
    ALTER TABLE devices ADD COLUMN gbt_component_type INTEGER;
    ALTER TABLE devices ADD COLUMN gbt_component_addr INTEGER;
    ",
    // 12: access control. Credentials (a card, PIN or QR token, keyed by
    // kind and id) with their holder, validity period (seconds since the
    // epoch; visitor passes have both ends) and revocation; what each opens
    // (a door or a site node, with an optional weekly window); each door's
    // computed list and what the door confirmed; the access events doors
    // report (kept for `[access] keep_days`); the key of the integrator
    // feed's pseudonyms; a change counter the running gateway polls.
    r"
    CREATE TABLE access_credentials (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        holder TEXT NOT NULL,
        visitor INTEGER NOT NULL DEFAULT 0,
        valid_from INTEGER,
        valid_until INTEGER,
        revoked_ms INTEGER,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE access_grants (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        target TEXT NOT NULL,
        days INTEGER,
        from_min INTEGER,
        to_min INTEGER,
        PRIMARY KEY (kind, id, target),
        FOREIGN KEY (kind, id) REFERENCES access_credentials (kind, id) ON DELETE CASCADE
    );
    CREATE INDEX access_grants_target ON access_grants (target);
    CREATE TABLE access_lists (
        door TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        hash TEXT NOT NULL,
        entries INTEGER NOT NULL,
        computed_ms INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        synced_ms INTEGER,
        error TEXT
    );
    CREATE TABLE access_events (
        id INTEGER PRIMARY KEY,
        door TEXT NOT NULL,
        boot INTEGER,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT,
        cred TEXT,
        cred_kind TEXT,
        list INTEGER NOT NULL,
        node_ts INTEGER,
        received_ms INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX access_events_once ON access_events (door, IFNULL(boot, 0), seq);
    CREATE INDEX access_events_door ON access_events (door, received_ms);
    CREATE INDEX access_events_cred ON access_events (cred, received_ms);
    CREATE TABLE access_meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    ",
    // 13: a change counter of the registry (site nodes, devices,
    // credentials), bumped by triggers whoever writes (the CLI in another
    // process included): the running gateway re-reads the registry only
    // when it moved, instead of rebuilding the whole snapshot every 5 s.
    "
    CREATE TABLE registry_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n INTEGER NOT NULL
    );
    INSERT INTO registry_version (id, n) VALUES (1, 0);
    CREATE TRIGGER registry_site_insert AFTER INSERT ON site_nodes
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_site_update AFTER UPDATE ON site_nodes
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_site_delete AFTER DELETE ON site_nodes
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_device_insert AFTER INSERT ON devices
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_device_update AFTER UPDATE ON devices
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_device_delete AFTER DELETE ON devices
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_credential_insert AFTER INSERT ON credentials
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_credential_update AFTER UPDATE ON credentials
        BEGIN UPDATE registry_version SET n = n + 1; END;
    CREATE TRIGGER registry_credential_delete AFTER DELETE ON credentials
        BEGIN UPDATE registry_version SET n = n + 1; END;
    ",
];

/// The schema version this build writes.
#[allow(
    clippy::cast_possible_wrap,
    reason = "a handful of migrations, far below i64::MAX"
)]
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The file's schema version.
pub(super) fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; a no-op when it is there.
///
/// # Errors
/// [`StoreError::TooNew`] for a file from a newer gateway; SQLite errors.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip_while(|(i, _)| i64::try_from(*i).is_ok_and(|i| i < found))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store schema migrated");
    }
    Ok(())
}
