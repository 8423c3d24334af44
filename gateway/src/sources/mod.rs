//! Sources: where readings enter the gateway besides MQTT, and the bridge
//! that makes them look like node messages to the stages after ingest.

pub mod bridge;
pub mod modbus;
