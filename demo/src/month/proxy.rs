//! The uplink's road to the district: a TCP relay the run can cut. While it
//! is down, open connections are closed and new ones are refused at once,
//! as when the compound's internet line is down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A relay from a local port to the district broker.
#[derive(Debug)]
pub struct Relay {
    /// The port the gateway's uplink connects to.
    pub port: u16,
    down: AtomicBool,
    cut: watch::Sender<u64>,
    open: Arc<AtomicUsize>,
}

impl Relay {
    /// Relays `127.0.0.1:port` (bound here) to `127.0.0.1:target` until `stop`.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start(
        port: u16,
        target: u16,
        stop: CancellationToken,
    ) -> std::io::Result<Arc<Self>> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let (cut, _) = watch::channel(0u64);
        let me = Arc::new(Self {
            port: listener.local_addr()?.port(),
            down: AtomicBool::new(false),
            cut,
            open: Arc::new(AtomicUsize::new(0)),
        });
        let r = me.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((inbound, _)) = accepted else { continue };
                if r.down.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = r.cut.subscribe();
                let open = r.open.clone();
                tokio::spawn(async move {
                    let Ok(out) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (mut a, mut b) = (inbound, out);
                    let _ = a.set_nodelay(true);
                    let _ = b.set_nodelay(true);
                    open.fetch_add(1, Ordering::SeqCst);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                        _ = cut.changed() => {}
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(me)
    }

    /// Cuts the line (true) or restores it.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.cut.send_modify(|g| *g += 1);
        }
    }

    /// Whether the line is cut.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Connections relayed now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}
