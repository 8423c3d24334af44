//! `onvif-camera-sim [--listen HOST:PORT] [--username U] [--password P]`:
//! an ONVIF camera (device, media and event services) for the demo and
//! manual tests (docs/cameras.md). Prints one line per request received and
//! takes commands on standard input:
//!
//! ```text
//! emit tns1:RuleEngine/FieldDetector/ObjectsInside IsInside=true
//! stop        # stop answering (requests hang)
//! answer      # answer again
//! restart     # forget every subscription, as after a reboot
//! ```

use std::time::Duration;

use gridsense_tests::onvif_sim::OnvifSim;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut listen = "127.0.0.1:8899".to_string();
    let mut username = "gridsense".to_string();
    let mut password = "camera-2026".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--listen", Some(v)) => listen = v,
            ("--username", Some(v)) => username = v,
            ("--password", Some(v)) => password = v,
            _ => {
                eprintln!(
                    "usage: onvif-camera-sim [--listen HOST:PORT] [--username U] [--password P]"
                );
                std::process::exit(2);
            }
        }
    }
    let sim = OnvifSim::start(&listen, &username, &password).await?;
    println!(
        "onvif-camera-sim: device service {} (user {username}), snapshot {}",
        sim.device_url(),
        sim.snapshot_uri()
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut shown = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line? {
                Some(l) => command(&sim, &l),
                None => stdin_open = false,
            },
            _ = tick.tick() => {
                let got = sim.requests();
                for r in &got[shown..] {
                    println!(
                        "{:>8.3}s {} {} user {:?}{}",
                        r.at.as_secs_f64(),
                        r.path,
                        r.action,
                        r.user.as_deref().unwrap_or("-"),
                        if r.authorized { "" } else { " REFUSED" }
                    );
                }
                shown = got.len();
            }
        }
    }
}

fn command(sim: &OnvifSim, line: &str) {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("emit") => {
            let Some(topic) = words.next() else {
                println!("emit TOPIC [Name=Value ...]");
                return;
            };
            let items: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
            let n = sim.emit(topic, &items);
            println!("emitted {topic} to {n} subscription(s)");
        }
        Some("stop") => {
            sim.set_answering(false);
            println!("not answering");
        }
        Some("answer") => {
            sim.set_answering(true);
            println!("answering");
        }
        Some("restart") => {
            sim.restart();
            println!("subscriptions forgotten");
        }
        Some(other) => println!("unknown command {other:?} (emit, stop, answer, restart)"),
        None => {}
    }
}
