//! The uplink's counters.

use std::sync::atomic::AtomicU64;

/// Counters of the uplink, shared with whoever wants to read them.
#[derive(Debug, Default)]
pub struct UplinkStats {
    /// Rows handed to the MQTT client (resends included).
    pub published: AtomicU64,
    /// Rows removed on a `received`.
    pub received: AtomicU64,
    /// Rows sent again after `resend_after_ms` without a receipt.
    pub resent: AtomicU64,
    /// Connections made (first one included).
    pub connects: AtomicU64,
    /// Status messages that did not decode or did not match their topic.
    pub bad_status: AtomicU64,
    /// Status messages for orders of other gateways (ignored).
    pub foreign_status: AtomicU64,
}
