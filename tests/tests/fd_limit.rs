//! The gateway out of file descriptors (a connection flood, or a fleet
//! larger than the process's limit): the broker's accept loop must pause
//! and retry, not spin on `EMFILE`, and once descriptors are free again the
//! nodes waiting in the listen backlog get in and are served.
//!
//! One test in its own binary: it lowers this process's descriptor limit
//! (`prlimit --pid`), which no other test must share.

use std::time::{Duration, Instant};

use gridsense_tests::{Compound, ack, event};

/// The `stat` files of this process's threads named `name`, opened now:
/// out of descriptors, nothing new can be opened, but an open procfs file
/// reads afresh from offset 0.
fn thread_stats(name: &str) -> Vec<std::fs::File> {
    let mut files = Vec::new();
    for t in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            files.push(std::fs::File::open(t.path().join("stat")).expect("stat"));
        }
    }
    assert!(!files.is_empty(), "no thread named {name}");
    files
}

/// CPU seconds (user + system) the threads of `stats` used so far.
fn cpu_s(stats: &mut [std::fs::File]) -> f64 {
    use std::io::{Read, Seek};
    let mut ticks = 0u64;
    for f in stats {
        let mut s = String::new();
        f.rewind().expect("rewind");
        f.read_to_string(&mut s).expect("read stat");
        // After the ")" closing the command: the state, then 10 fields, then
        // utime and stime (fields 14 and 15 of the whole line).
        let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
        let v: Vec<&str> = rest.split_whitespace().collect();
        ticks += v.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
            + v.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    }
    ticks as f64 / 100.0 // USER_HZ
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("fds").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_broker_waits_and_serves_the_nodes_once_they_are_free() {
    let c = Compound::start("").await;
    let id = "smoke-b2-101a";
    // A node connected before the limit: it must stay served throughout.
    let mut held = c.node(id).await;

    // 24 descriptors to spare, then connect more sockets than that: the
    // clients' own sockets and the broker's accepted ones share the limit,
    // so the broker's accept() starts failing with EMFILE.
    let mut listener = thread_stats("lan");
    let limit = open_fds() + 24;
    let st = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .status()
        .expect("prlimit");
    assert!(st.success(), "prlimit failed");
    let mut flood = Vec::new();
    for _ in 0..200 {
        match std::net::TcpStream::connect(c.mqtt()) {
            Ok(s) => flood.push(s),
            Err(_) => break,
        }
    }
    assert!(
        !flood.is_empty(),
        "no socket could be opened under the limit"
    );
    // Give the broker time to take what it can; the rest waits in the
    // backlog while accept() fails.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_s(&mut listener);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_s(&mut listener) - before;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "listener thread: {spent:.2} s of CPU in {wall:.1} s out of descriptors ({} flood sockets)",
        flood.len()
    );
    // Spinning on EMFILE costs the whole of a core (2 s here); pausing
    // between attempts costs milliseconds. A generous bound: a busy machine
    // can only make a spinning thread look better, never a pausing one worse.
    assert!(
        spent < 0.5,
        "the listener thread spent {spent:.2} s of CPU in {wall:.1} s: it spins on accept errors"
    );

    // An alarm from the held node while out of descriptors: it is
    // acknowledged (stored) at the latest once descriptors are free again.
    event(
        &held,
        id,
        r#"{"seq":1,"type":"alarm","cause":"smoke","value":3.2}"#,
    )
    .await;

    // Descriptors free again: the held node's event is acknowledged and a
    // new node gets in (the listener's next attempt, at most a second later).
    drop(flood);
    ack(&mut held, 1).await;
    drop(held);
    let mut again = c.node(id).await;
    event(&again, id, r#"{"seq":2,"type":"restore","cause":"smoke"}"#).await;
    ack(&mut again, 2).await;
}
