//! Sources: where readings enter the gateway besides MQTT, and the bridge
//! that makes them look like node messages to the stages after ingest. The
//! Modbus source itself is its own crate, [`modbus`] (`gridsense-modbus`).

pub mod bridge;
