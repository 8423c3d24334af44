//! Sources: where readings enter the gateway.

pub mod modbus;
