//! Power cuts: the gateway runs with the power-cut layer preloaded
//! (shim/powercut.c), which keeps, for each store file, what every write
//! since the file's last fsync overwrote. After SIGKILL, [`Layer::cut`]
//! puts those bytes back, newest first, so each file is exactly as it was
//! at its last fsync: what was written and not synced is lost, as when the
//! power fails with it still in the page cache.

use std::fs;
use std::path::{Path, PathBuf};

use crate::world::Res;

/// The shared object, built from shim/powercut.c by build.rs.
const SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libpowercut.so"));

/// The layer's files in one run directory.
#[derive(Debug)]
pub struct Layer {
    lib: PathBuf,
    undo: PathBuf,
    prefix: PathBuf,
}

/// What one cut threw away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Files that had unsynced writes.
    pub files: usize,
    /// Writes and truncations undone.
    pub writes: usize,
    /// Bytes put back (what the unsynced writes had overwritten).
    pub bytes: u64,
}

impl Layer {
    /// Writes the shared object into `dir`; files whose path starts with
    /// `prefix` (the store file and its WAL) are the ones cut.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn prepare(dir: &Path, prefix: &Path) -> Res<Self> {
        let lib = dir.join("libpowercut.so");
        fs::write(&lib, SHIM).map_err(|e| format!("{}: {e}", lib.display()))?;
        let undo = dir.join("powercut");
        fs::create_dir_all(&undo).map_err(|e| format!("{}: {e}", undo.display()))?;
        Ok(Self {
            lib,
            undo,
            prefix: prefix.to_path_buf(),
        })
    }

    /// The environment that preloads the layer into a process.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".into(), self.lib.display().to_string()),
            (
                "GRIDSENSE_POWERCUT_PREFIX".into(),
                self.prefix.display().to_string(),
            ),
            (
                "GRIDSENSE_POWERCUT_UNDO".into(),
                self.undo.display().to_string(),
            ),
        ]
    }

    /// The cut, once the process is dead: every file back to its last
    /// fsync; the undo logs are then removed.
    ///
    /// # Errors
    /// An undo log that does not parse or a file that cannot be written.
    pub fn cut(&self) -> Res<Cut> {
        let mut cut = Cut::default();
        let rd = fs::read_dir(&self.undo).map_err(|e| format!("{}: {e}", self.undo.display()))?;
        for entry in rd {
            let p = entry.map_err(|e| e.to_string())?.path();
            if p.extension().is_none_or(|x| x != "path") {
                continue;
            }
            let target = PathBuf::from(fs::read_to_string(&p).map_err(|e| e.to_string())?);
            let log = p.with_extension("undo");
            let bytes = fs::read(&log).unwrap_or_default();
            let records = parse(&bytes).map_err(|e| format!("{}: {e}", log.display()))?;
            if !records.is_empty() {
                cut.files += 1;
                cut.writes += records.len();
                cut.bytes += undo(&target, &records)?;
            }
            let _ = fs::remove_file(&log);
            let _ = fs::remove_file(&p);
        }
        Ok(cut)
    }
}

/// One undo record: the size before, and what `[offset, offset + len)` held.
#[derive(Debug, PartialEq, Eq)]
struct Record<'a> {
    old_size: u64,
    offset: u64,
    before: &'a [u8],
}

/// The records of one undo log. The layer logs a record whole before the
/// write it undoes, so a record cut short by the kill is the last one, and
/// its write never happened: it is left out.
fn parse(mut b: &[u8]) -> Res<Vec<Record<'_>>> {
    let mut out = Vec::new();
    let word = |b: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    };
    while !b.is_empty() {
        if b.len() < 24 {
            break;
        }
        let (old_size, offset) = (word(b, 0), word(b, 1));
        let len = usize::try_from(word(b, 2)).map_err(|e| e.to_string())?;
        let rest = &b[24..];
        if rest.len() < len {
            break;
        }
        out.push(Record {
            old_size,
            offset,
            before: &rest[..len],
        });
        b = &rest[len..];
    }
    Ok(out)
}

/// Applies `records` to `target` newest first; the bytes put back.
fn undo(target: &Path, records: &[Record<'_>]) -> Res<u64> {
    use std::os::unix::fs::FileExt;
    let f = fs::OpenOptions::new()
        .write(true)
        .open(target)
        .map_err(|e| format!("{}: {e}", target.display()))?;
    let mut bytes = 0;
    for r in records.iter().rev() {
        f.write_all_at(r.before, r.offset)
            .and_then(|()| f.set_len(r.old_size))
            .map_err(|e| format!("{}: {e}", target.display()))?;
        bytes += r.before.len() as u64;
    }
    f.sync_all().map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::Command;

    /// A real process writes through the layer; the cut leaves the file
    /// as it was at its fsync.
    #[test]
    fn a_cut_keeps_what_was_synced_and_drops_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("store.db");
        let layer = Layer::prepare(dir.path(), &dir.path().join("store")).expect("layer");
        // python3 (in setup.sh's packages) writes, syncs, overwrites, extends.
        let script = format!(
            "import os\n\
             fd = os.open({f:?}, os.O_RDWR | os.O_CREAT, 0o600)\n\
             os.pwrite(fd, b'synced-1', 0)\n\
             os.fsync(fd)\n\
             os.pwrite(fd, b'LOST', 0)\n\
             os.pwrite(fd, b'-and-more-lost', 8)\n\
             os.ftruncate(fd, 4)\n\
             os.write(fd, b'x')\n\
             os._exit(0)\n",
            f = file.display().to_string()
        );
        let mut child = Command::new("python3")
            .arg("-")
            .envs(layer.env())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("script");
        assert!(child.wait().expect("wait").success());
        assert_ne!(fs::read(&file).expect("read"), b"synced-1");
        let cut = layer.cut().expect("cut");
        assert_eq!(fs::read(&file).expect("read"), b"synced-1");
        assert_eq!((cut.files, cut.writes), (1, 4), "{cut:?}");
        // Nothing left to undo: a second cut changes nothing.
        assert_eq!(layer.cut().expect("cut"), Cut::default());
        assert_eq!(fs::read(&file).expect("read"), b"synced-1");
    }

    /// Rows SQLite committed in WAL mode, then a cut: the layer keeps them
    /// with `synchronous = FULL` and loses them with `OFF` (the control
    /// that shows the cut is real).
    fn sqlite_rows_after_a_cut(synchronous: &str) -> i64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("store.db");
        let layer = Layer::prepare(dir.path(), &db).expect("layer");
        let script = format!(
            "import os, sqlite3\n\
             c = sqlite3.connect({f:?}, isolation_level=None)\n\
             c.execute('PRAGMA journal_mode=WAL')\n\
             c.execute('PRAGMA synchronous={synchronous}')\n\
             c.execute('CREATE TABLE t (v INTEGER)')\n\
             for i in range(50):\n    c.execute('INSERT INTO t VALUES (?)', (i,))\n\
             os._exit(0)\n",
            f = db.display().to_string()
        );
        let st = Command::new("python3")
            .args(["-c", &script])
            .envs(layer.env())
            .status()
            .expect("python3");
        assert!(st.success());
        layer.cut().expect("cut");
        let out = Command::new("python3")
            .args([
                "-c",
                &format!(
                    "import sqlite3\nc = sqlite3.connect({f:?})\n\
                     try:\n    print(c.execute('SELECT count(*) FROM t').fetchone()[0])\n\
                     except sqlite3.OperationalError:\n    print(-1)\n",
                    f = db.display().to_string()
                ),
            ])
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a count")
    }

    #[test]
    fn sqlite_keeps_its_synced_commits_and_loses_the_unsynced_ones() {
        assert_eq!(sqlite_rows_after_a_cut("FULL"), 50);
        assert_eq!(
            sqlite_rows_after_a_cut("OFF"),
            -1,
            "the table was never synced"
        );
    }

    #[test]
    fn a_record_cut_short_by_the_kill_is_left_out() {
        let mut log = Vec::new();
        for w in [10u64, 0, 3] {
            log.extend_from_slice(&w.to_ne_bytes());
        }
        log.extend_from_slice(b"abc");
        for w in [10u64, 5, 4] {
            log.extend_from_slice(&w.to_ne_bytes());
        }
        log.extend_from_slice(b"de");
        let r = parse(&log).expect("parse");
        assert_eq!(
            r,
            [Record {
                old_size: 10,
                offset: 0,
                before: b"abc"
            }]
        );
        assert_eq!(parse(&log[..30]).expect("parse").len(), 1);
        assert_eq!(parse(&log[..20]).expect("parse").len(), 0);
    }

    #[test]
    fn a_file_never_synced_is_cut_to_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("store.db-wal");
        let layer = Layer::prepare(dir.path(), &dir.path().join("store")).expect("layer");
        let script = format!(
            "import os\nfd = os.open({f:?}, os.O_WRONLY | os.O_CREAT, 0o600)\nos.write(fd, b'frames')\nos._exit(0)\n",
            f = file.display().to_string()
        );
        let st = Command::new("python3")
            .args(["-c", &script])
            .envs(layer.env())
            .status()
            .expect("python3");
        assert!(st.success());
        assert_eq!(fs::read(&file).expect("read"), b"frames");
        layer.cut().expect("cut");
        assert_eq!(fs::read(&file).expect("read"), b"");
    }
}
