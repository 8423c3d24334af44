#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/TARGET/.

Seeds come from the project's own files (protocol/vectors/*.toml, the
built-in and deployed profiles, deploy/*.toml and *.csv, the Modbus frames of
modbus/src/frame.rs's tests) and from the classic attack cases of each wire
format (SECURITY.md, "Fuzzing"): a zero-length or invalid-UTF-8 MQTT topic,
remaining lengths beyond the packet or above the limit, server-only packets
sent by a client, a Modbus byte count that disagrees with the quantity asked,
a truncated FC 23 reply. Regenerated on every run, so a new vector is a seed
at once; the files fuzz/regressions/TARGET/* (crashes found and fixed) are
seeds too. Usage: fuzz/seeds.py [CORPUS_DIR]
"""
import glob
import hashlib
import os
import shutil
import struct
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")

seeds: dict[str, list[bytes]] = {}


def add(target: str, data: bytes | str) -> None:
    seeds.setdefault(target, []).append(data.encode() if isinstance(data, str) else data)


def read(path: str) -> bytes:
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


# --- protocol payloads and topics -------------------------------------------
NODE = {"event", "telemetry", "state", "evt-ack", "command", "command-ack"}
for path in sorted(glob.glob(os.path.join(ROOT, "protocol/vectors/*.toml"))):
    v = tomllib.loads(read(path).decode())
    if os.path.basename(path) == "topics.toml":
        for t in v.get("valid", []):
            add("topic", t)
        for t in v.get("invalid", []):
            add("topic", t["topic"])
        continue
    stem = os.path.basename(path)[:-5]
    if stem.startswith("gbt26875"):
        # Binary frames, as hex: each alone, and all of them as one stream.
        frames = [bytes.fromhex(c["hex"]) for c in v.get("frame", []) + v.get("invalid", []) if "hex" in c]
        for f in frames:
            add("gbt26875", f)
        add("gbt26875", b"".join(frames))
        continue
    target = ("node_messages" if stem in NODE else
              "access_messages" if stem.startswith("access") else "upstream_messages")
    # A file holds its cases, or [[file]] tables of one message each.
    for f in [v] + v.get("file", []):
        for case in f.get("valid", []) + f.get("invalid", []):
            if "payload" in case:
                add(target, case["payload"])
for t in ["", "/", "gs/v1/dev//evt", "gs/v1/dev/a\u00e9/evt", "gs/v1/dev/" + "a" * 300 + "/evt"]:
    add("topic", t)
add("topic", b"gs/v1/dev/\xff\xfe/evt")
for p in ['{"seq":1,"type":"alarm","cause":"smoke","value":1e400}', '{"seq":1,"seq":2,"type":"heartbeat"}',
          '{"seq":1,"type":"heartbeat","battery":87', '{"seq":1,"type":"\\ud800"}', "\x00", "[" * 200]:
    add("node_messages", p)
    add("upstream_messages", p)

# --- GB/T 26875.3: what a centre sends (every request, confirm, deny) -------


def gbt_frame(serial: int, command: int, data: bytes, time: bytes = bytes([5, 4, 15, 1, 12, 26])) -> bytes:
    body = (struct.pack("<H", serial) + bytes([1, 1]) + time + (0x571).to_bytes(6, "little")
            + (0x26010001).to_bytes(6, "little") + struct.pack("<H", len(data)) + bytes([command]) + data)
    return b"@@" + body + bytes([sum(body) % 256]) + b"##"


centre = [gbt_frame(7, 4, bytes([k, 1, 0])) for k in (61, 62, 81, 85, 88)]
centre += [gbt_frame(8, 1, bytes([89, 1, 0])), gbt_frame(9, 1, bytes([91, 1, 10])),
           gbt_frame(10, 1, bytes([90, 1, 0, 30, 8, 1, 12, 26])),
           gbt_frame(11, 1, bytes([90, 1, 60, 30, 8, 1, 12, 26])),  # second 60
           gbt_frame(12, 4, bytes([99, 1])), gbt_frame(13, 4, b""), gbt_frame(1, 3, b""),
           gbt_frame(1, 6, b"")]
for f in centre:
    add("gbt26875", f)
add("gbt26875", b"xx@" + b"".join(centre[:3]) + b"@@\x00" + centre[6])  # garbage between frames
add("gbt26875", centre[6][:20])  # cut short

# --- the API's JSON bodies: route byte, then the body ------------------------
# Routes in gateway/src/api/bodies.rs's BodyRoute::ALL order.
ROUTES = ["login", "user", "maintenance", "alarm", "order", "report", "visitor", "revoke", "device"]


def body(route: str, text: str) -> None:
    add("api_bodies", bytes([ROUTES.index(route)]) + text.encode())


body("login", '{"user":"admin","password":"correct horse battery"}')
body("login", '{"user":"admin","password":"x","extra":1}')
body("user", '{"name":"guard-1","role":"operator","password":"long enough pw"}')
body("user", '{"name":"bad name","role":"root","password":"short"}')
body("maintenance", '{"target":"b1","on":true,"by":"Li Wei","reason":"detector service","for_s":3600}')
body("maintenance", '{"target":"smoke-b1-101a","on":true,"by":"Li","reason":"x","until":1764550800000}')
body("maintenance", '{"target":"b1","on":true,"by":"Li","reason":"x","until":1,"for_s":18446744073709551615}')
body("maintenance", '{"target":"b1","on":false,"by":"Li","reason":"done"}')
body("alarm", "")
body("alarm", '{"by":"Guard Zhang","reason":"checked on site"}')
body("order", "  ")
body("order", '{"by":"grid worker 7","note":"water shut off"}')
body("report", '{"place":"b1","text":"smoke smell on the stairs","phone":"+86 138-0000-0000"}')
body("report", '{"place":"nowhere","text":"","phone":"call me"}')
body("visitor", '{"holder":"flat 101","opens":["b1"],"from":"2025-12-01T14:00Z","until":"2025-12-01T18:00Z"}')
body("visitor", '{"holder":"x","opens":["b1"],"from":"1764597600","until":"1764612000","id":"v-guest-1"}')
body("visitor", '{"holder":"x","opens":[],"from":"2025-13-01T14:00Z","until":"99999999999-01-01T00:00Z"}')
body("revoke", '{"credential":"card:card-0001"}')
body("revoke", '{"credential":"iris:x"}')
body("device", '{"id":"smoke-new-1","profile":"smoke","location":"b1","escape_route":false,"installed":"2025-11-30"}')
body("device", '{"id":"smoke-b1-101a","profile":"nope","location":"b9","installed":"2025-02-30x"}')
for r in ROUTES:
    body(r, '{"' + "a" * 64 + '":' + "[" * 100)

# --- profiles (TOML text, then 8 bytes of register words) --------------------
WORDS = bytes([0x12, 0x34, 0x56, 0x78, 0x00, 0x01, 0xFF, 0xFF])
for path in sorted(glob.glob(os.path.join(ROOT, "protocol/profiles/*.toml"))
                   + glob.glob(os.path.join(ROOT, "deploy/profiles/*.toml"))):
    add("profile", read(os.path.relpath(path, ROOT)) + WORDS)

# --- configuration and CSV imports ------------------------------------------
for path in ["deploy/gridsense.toml", "deploy/compose/gridsense.toml"]:
    if os.path.exists(os.path.join(ROOT, path)):
        add("config", read(path))
add("config", '[gateway]\nid = "gw01"\nsite = "s"\n')
add("csv_import", b"\x00" + read("deploy/site.csv"))
add("csv_import", b"\x01" + read("deploy/devices.csv"))
add("csv_import", b"\x00id,level,name\nx,unit,\"unterminated\n")
add("csv_import", b"\x02credential,kind,holder,opens,valid_from,valid_until,days,hours,visitor\n"
    b"card-0001,card,flat 101,b1,,,mon-fri,07:00-20:00,no\n"
    b"4711,pin,guard,reader-b1-u2-lobby,2025-12-01T00:00Z,2026-12-01T00:00Z,,,no\n"
    b"v-1,qr,guest,b1;b2,1764597600,1764612000,sat,,yes\n")
add("csv_import", b"\x02credential,holder,opens\ncard-0001,a,smoke-b1-101a\ncard-0001,b,nowhere\n")
add("csv_import", b"\x01id,profile,location\n\xff\xfe,smoke,b1-u1\n")
add("creds", b"\x00device,profile,secret,fire_zone,location\nsmoke-1,smoke,s3cr3t-s3cr3t,fz1,b1-u1\n")
add("creds", b"\x00device,profile,secret\n\"a\"\"b\",smoke,\n")


def postcard_str(s: bytes) -> bytes:
    return bytes([len(s)]) + s


blob = (b"\x01" + postcard_str(b"smoke-1") + postcard_str(b"smoke") + postcard_str(b"x" * 24)
        + postcard_str(b"192.168.1.10:1883") + b"\x01" + postcard_str(b"fz1") + b"\x3c")
add("creds", b"\x02" + blob)
add("creds", b"\x02\x01\x40" + b"a" * 10)  # a string length beyond the blob
add("creds", b"\x01GSPB\x00\x00\x00\x00")

# --- Modbus RTU: unit, function selector, flags, two words, reply ------------
# Selector: 0 coil, 1 discrete, 2 holding, 3 input (reads of count), 4 write
# coil, 5 write register. Flag 1: the target appends the reply's CRC.


def rtu(unit: int, sel: int, a: int, b: int, reply: bytes, crc: bool = True) -> bytes:
    return bytes([unit, sel, 1 if crc else 0]) + struct.pack(">HH", a, b) + reply


add("modbus_rtu", rtu(7, 3, 4, 2, bytes([7, 4, 4, 0x1B, 0x5F, 0x1B, 0x60])))
add("modbus_rtu", rtu(2, 0, 0, 3, bytes([2, 1, 1, 0b101])))
add("modbus_rtu", rtu(2, 0, 0, 3, bytes([2, 0x81, 2])))
add("modbus_rtu", rtu(1, 4, 3, 1, bytes([1, 5, 0, 3, 0xFF, 0])))
add("modbus_rtu", rtu(1, 5, 3, 0x1234, bytes([1, 6, 0, 3, 0x12, 0x34])))
add("modbus_rtu", rtu(1, 2, 0, 10, bytes([1, 3, 4, 0, 1, 0, 2])))  # quantity 10, byte count 4
add("modbus_rtu", rtu(1, 2, 0, 0, bytes([1, 3, 0])))  # quantity 0
add("modbus_rtu", rtu(1, 2, 0, 0xFFFF, bytes([1, 3, 0xFE]) + b"\x00" * 254))  # quantity beyond a frame
add("modbus_rtu", rtu(1, 0, 0, 2000, bytes([1, 1, 250]) + b"\xAA" * 250))
add("modbus_rtu", rtu(1, 2, 0, 2, bytes([1, 0x17, 4, 0])))  # truncated FC 23 reply
add("modbus_rtu", rtu(1, 2, 0, 2, bytes([1, 0x17, 4, 0, 1, 0, 2])))
add("modbus_rtu", rtu(1, 2, 0, 2, bytes([1, 3, 4, 0, 1, 0, 2]), crc=False))

# --- MQTT ---------------------------------------------------------------------


def vbi(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def pkt(byte1: int, body: bytes) -> bytes:
    return bytes([byte1]) + vbi(len(body)) + body


def s(x: bytes | str) -> bytes:
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def connect(level: int, props: bytes = b"") -> bytes:
    flags = 0xC2 | 0x04 | 0x08  # user, password, clean, will qos 1
    body = s("MQTT") + bytes([level, flags]) + struct.pack(">H", 60)
    if level == 5:
        body += vbi(len(props)) + props
    body += s("smoke-1")
    if level == 5:
        body += vbi(0)
    body += s("gs/v1/dev/smoke-1/state") + s('{"status":"offline"}')
    body += s("smoke-1") + s("secret")
    return pkt(0x10, body)


def publish(level: int, topic: bytes | str, payload: bytes, qos: int = 1) -> bytes:
    body = s(topic) + (struct.pack(">H", 1) if qos else b"")
    if level == 5:
        body += vbi(0)
    return pkt(0x30 | (qos << 1), body + payload)


def subscribe(level: int, filt: str) -> bytes:
    body = struct.pack(">H", 2) + (vbi(0) if level == 5 else b"") + s(filt) + b"\x01"
    return pkt(0x82, body)


for level, target in [(4, "mqtt_v4"), (5, "mqtt_v5")]:
    c = connect(level, props=b"\x11\x00\x00\x00\x3c" if level == 5 else b"")
    ev = b'{"seq":1,"type":"alarm","cause":"smoke"}'
    add(target, c + publish(level, "gs/v1/dev/smoke-1/evt", ev) + pkt(0xC0, b"") + pkt(0xE0, b""))
    add(target, c + subscribe(level, "gs/v1/dev/+/evt") + pkt(0xA2, struct.pack(">H", 3)
        + (vbi(0) if level == 5 else b"") + s("#")))
    add(target, c + publish(level, "", ev))  # zero-length topic
    add(target, c + publish(level, b"gs/v1/dev/\xff\xfe/evt", ev))  # invalid UTF-8
    add(target, c + publish(level, "a\x00b", ev))  # NUL in a topic
    add(target, c + publish(level, "gs/#", ev, qos=3))  # QoS 3, wildcard in a topic name
    add(target, bytes([0x30]) + vbi(100) + s("t") + b"x")  # remaining length beyond the packet
    add(target, bytes([0x30]) + vbi((64 << 10) + 1) + s("t"))  # above the gateway's limit
    add(target, bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]))  # five-byte remaining length
    add(target, bytes([0x30, 0x03]) + struct.pack(">H", 10) + b"a")  # string length beyond the packet
    # Server-only packets from a client: CONNACK, SUBACK, UNSUBACK, PINGRESP.
    add(target, c + pkt(0x20, b"\x00\x00" + (vbi(0) if level == 5 else b"")))
    add(target, c + pkt(0x90, struct.pack(">H", 2) + (vbi(0) if level == 5 else b"") + b"\x01"))
    add(target, c + pkt(0xB0, struct.pack(">H", 3) + (vbi(0) if level == 5 else b"")))
    add(target, c + pkt(0xD0, b""))
    add(target, c + pkt(0x82, struct.pack(">H", 2) + (vbi(0) if level == 5 else b"")))  # no filters
    add(target, pkt(0x40, struct.pack(">H", 1)) + pkt(0x62, struct.pack(">H", 1)) + pkt(0x50, struct.pack(">H", 1)))
    if level == 5:
        # A property length beyond the packet; a user property cut short.
        add(target, pkt(0x30, s("t") + vbi(50) + b"\x26" + s("k")))
        add(target, pkt(0x30, s("t") + vbi(3) + b"\x26\x00\x05"))
        add(target, pkt(0x30, s("t") + vbi(2) + b"\x23\x00"))  # topic alias 0

# --- ONVIF answers: the camera simulator's (tests/src/onvif_sim.rs) --------
for path in sorted(glob.glob(os.path.join(ROOT, "fuzz/seeds/onvif_xml/*.xml"))):
    for parser in range(7):
        add("onvif_xml", bytes([parser]) + read(os.path.relpath(path, ROOT)))
add("onvif_xml", b"\x06" + b"2026-12-01T19:05:12.250+08:00")
add("onvif_xml", b"\x00<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]><x>&a;&a;</x>")

# --- write --------------------------------------------------------------------
for target, items in seeds.items():
    if not os.path.exists(os.path.join(ROOT, "fuzz", "fuzz_targets", target + ".rs")):
        continue  # seeds of a target not built here
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for data in items:
        name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    reg = os.path.join(ROOT, "fuzz", "regressions", target)
    for path in glob.glob(os.path.join(reg, "*")):
        shutil.copy(path, d)
    print(f"{target}: {len(items)} seeds")
