//! The shape of `gateway/src`, checked on every test run: no file over 600
//! lines, and no MQTT topic written by hand outside `protocol` (test code
//! aside: files named `tests.rs`, `*_tests.rs`, `testutil.rs`, and the
//! inline `#[cfg(test)] mod … {` at a file's end). Import circles are
//! checked by `scripts/module-cycles.py` in `.ci/run`.

use std::path::{Path, PathBuf};

/// Longest file allowed in `gateway/src`.
const MAX_LINES: usize = 600;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `(path under src, production lines without comments, total lines)`.
fn files() -> Vec<(String, Vec<String>, usize)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("read");
            let lines: Vec<&str> = text.lines().collect();
            let end = (0..lines.len())
                .find(|&i| {
                    lines[i].trim() == "#[cfg(test)]"
                        && lines.get(i + 1).is_some_and(|n| {
                            n.trim_start().starts_with("mod ") && n.trim_end().ends_with('{')
                        })
                })
                .unwrap_or(lines.len());
            let code = lines[..end]
                .iter()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| (*l).to_string())
                .collect();
            (rel, code, lines.len())
        })
        .collect()
}

fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "tests.rs" || name.ends_with("_tests.rs") || name == "testutil.rs"
}

#[test]
fn no_file_is_longer_than_600_lines() {
    let all = files();
    assert!(all.len() > 20, "read gateway/src");
    let long: Vec<_> = all
        .into_iter()
        .filter(|f| f.2 > MAX_LINES)
        .map(|f| format!("{} ({} lines)", f.0, f.2))
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

#[test]
fn no_topic_is_written_by_hand_outside_protocol() {
    let mut found = Vec::new();
    for (rel, code, _) in files().iter().filter(|f| !is_test_file(&f.0)) {
        for line in code {
            let mut quoted = line.split('"').skip(1).step_by(2);
            if quoted.any(|s| s.starts_with("gs/") || s.starts_with("grid/") || s.contains("/v1/"))
            {
                found.push(format!("{rel}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "topic strings outside protocol::topic: {found:#?}"
    );
}
