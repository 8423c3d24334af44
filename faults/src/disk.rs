//! A real full disk: a small tmpfs holds the store; a filler file takes
//! every free byte until the kernel answers ENOSPC, and is removed to recover.
//! Mounting needs root (or CAP_SYS_ADMIN); without it the run says so.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::world::Res;

/// A mounted tmpfs, unmounted when dropped.
#[derive(Debug)]
pub struct Tmpfs {
    /// The mount point.
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_mib` at `path`.
    pub fn mount(path: &Path, size_mib: u64) -> Res<Self> {
        fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mib}m,mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot mount a {size_mib} MiB tmpfs at {} (needs root or CAP_SYS_ADMIN): {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    fn filler(&self) -> PathBuf {
        self.path.join("filler")
    }

    /// Writes the filler until the file system is full; the bytes written.
    pub fn fill(&self) -> Res<u64> {
        let p = self.filler();
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => return Err(format!("{}: {e}", p.display())),
            }
        }
        Ok(written)
    }

    /// Removes the filler: the disk has room again.
    pub fn free(&self) -> Res<()> {
        fs::remove_file(self.filler()).map_err(|e| format!("{}: {e}", self.filler().display()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Whether the log, from byte `from` on, has a line saying the disk is full.
pub fn log_says_full(log: &Path, from: u64) -> bool {
    let Ok(bytes) = fs::read(log) else {
        return false;
    };
    let tail = bytes
        .get(usize::try_from(from).unwrap_or(0)..)
        .unwrap_or(&[]);
    let text = String::from_utf8_lossy(tail).to_lowercase();
    text.contains("disk is full") || text.contains("no space left") || text.contains("disk full")
}

#[cfg(test)]
mod tests {
    use super::log_says_full;

    #[test]
    fn only_log_lines_after_the_offset_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("gateway.log");
        let early = "ERROR store: database or disk is full\n";
        std::fs::write(&log, format!("{early}INFO ok\n")).expect("write");
        assert!(log_says_full(&log, 0));
        assert!(!log_says_full(&log, early.len() as u64));
        assert!(!log_says_full(&dir.path().join("missing.log"), 0));
    }
}
