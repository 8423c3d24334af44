//! `fire-centre-sim [--listen HOST:PORT] [--address N]`: a GB/T 26875.3
//! fire remote-monitoring centre for the demo. Confirms every frame sent
//! to it and prints one line per frame received (docs/firecentre.md).

use std::time::Duration;

use gridsense_tests::centre_sim::CentreSim;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut listen = "127.0.0.1:9026".to_string();
    let mut own: u64 = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--listen", Some(v)) => listen = v,
            ("--address", Some(v)) => {
                own = v
                    .parse()
                    .map_err(|e| std::io::Error::other(format!("--address: {e}")))?;
            }
            _ => {
                eprintln!("usage: fire-centre-sim [--listen HOST:PORT] [--address N]");
                std::process::exit(2);
            }
        }
    }
    let sim = CentreSim::start(&listen, own).await?;
    println!(
        "fire-centre-sim listening on {} as centre {own}",
        sim.addr()
    );
    let mut shown = 0;
    loop {
        let got = sim.received();
        for r in &got[shown..] {
            let what = match (r.command, r.kind()) {
                (2, Some(2)) => r
                    .components()
                    .iter()
                    .map(|c| {
                        format!(
                            "component {}:{} type {} addr {:#x} status {:#06x} {:?}",
                            c.system_type,
                            c.system_addr,
                            c.component_type,
                            c.component_addr,
                            c.status,
                            c.description
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                (_, Some(21)) => format!("device state {:#04x}", r.device_state().unwrap_or(0)),
                (c, k) => format!("command {c} type {k:?}"),
            };
            println!(
                "link {} serial {} from {}: {what}",
                r.link, r.serial, r.source
            );
        }
        shown = got.len();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
