//! Linkage: what the gateway does at once when life is at risk. A confirmed
//! fire releases the escape-route locks of its fire zone; a gas alarm closes
//! the zone's valves. Commands go out on the publisher's priority lane the
//! moment the alarm engine asks, never waiting on the disk or the uplink;
//! each is repeated with backoff until the node acknowledges it.

mod commands;

pub use commands::{Action, Linkage, LinkageRecord, ModbusLink, Target};
