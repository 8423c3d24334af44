//! A stand-in gateway for load runs: the gateway's embedded broker with an
//! allow-all authenticator, acking every event by `seq` and counting what it
//! receives. Loopback only.
//!
//! ```text
//! cargo run --release -p gridsense-sim --example ack-gateway -- 127.0.0.1:1883 12000
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:1883".into());
    let max = args.next().and_then(|m| m.parse().ok()).unwrap_or(12_000);
    let gw = common::TestGateway::start_on(listen.parse().expect("listen address host:port"), max);
    println!("ack-gateway on {} (max {max} connections)", gw.addr);
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let n = {
            let mut seen = gw.seen.lock().expect("lock");
            let n = seen.len();
            // Keep memory flat on long runs: only the count matters here.
            seen.clear();
            n
        };
        last += n;
        println!("received {last} messages ({n} in the last 10 s)");
    }
}
