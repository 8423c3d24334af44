//! An open broker standing in for the district platform's.

use std::net::SocketAddr;

use gateway::bus::{Bus, BusError, MqttSection};

/// Starts an open broker on `listen` standing in for the district platform's
/// (demo and tests only: anyone may connect, without credentials, and
/// publish); returns the address it is bound to. It lives until the process
/// ends.
///
/// # Errors
/// [`BusError`] when it cannot listen.
pub fn district_broker(listen: SocketAddr) -> Result<SocketAddr, BusError> {
    let cfg = MqttSection {
        listen,
        ..MqttSection::default()
    };
    Bus::new_open(&cfg).start()
}
