//! A simulated RS-485 bus: a [`LineEmulator`] with a tokio-modbus RTU server
//! on its far side answering for every unit of a [`Bank`] (several slaves on
//! one shared line; units not in the bank stay silent, as absent slaves do).

use std::io;

use tokio_modbus::server::rtu::Server;
use tokio_util::sync::CancellationToken;

use crate::bank::Bank;
use crate::fault::FaultRule;
use crate::line::{LineEmulator, LineStats};
use modbus::timing::LineTiming;

/// A running bus; the server and the emulator stop when it is dropped.
#[derive(Debug)]
pub struct RtuBus {
    /// The line between the master and the slaves.
    pub line: LineEmulator,
    /// The units on the bus.
    pub bank: Bank,
    /// The line's framing.
    pub settings: LineTiming,
    stop: CancellationToken,
}

impl RtuBus {
    /// Starts the emulator and the slaves (needs a tokio runtime).
    ///
    /// # Errors
    /// A pty could not be opened.
    pub fn start(bank: Bank, settings: LineTiming) -> io::Result<Self> {
        let line = LineEmulator::start(settings)?;
        let server = Server::new_from_path(line.bus_path(), settings.baud)?;
        let stop = CancellationToken::new();
        let abort = stop.clone().cancelled_owned();
        let service = bank.clone();
        tokio::spawn(async move {
            let _ = server.serve_until(service, abort).await;
        });
        Ok(Self {
            line,
            bank,
            settings,
            stop,
        })
    }

    /// The serial device the master opens.
    #[must_use]
    pub fn path(&self) -> &str {
        self.line.master_path()
    }

    /// Arms a fault rule on the line.
    pub fn add_fault(&self, rule: FaultRule) {
        self.line.add_fault(rule);
    }

    /// Line counters so far.
    #[must_use]
    pub fn stats(&self) -> LineStats {
        self.line.stats()
    }
}

impl Drop for RtuBus {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
