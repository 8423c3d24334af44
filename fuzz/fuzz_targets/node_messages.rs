//! Every node ↔ gateway payload (protocol/src/node.rs): events, telemetry,
//! device state, event acks, commands and command acks, each input through
//! both JSON decoders and back through both encoders.
#![no_main]

use gridsense_fuzz::json_message;
use libfuzzer_sys::fuzz_target;
use protocol::{Command, CommandAck, DeviceState, EvtAck, NodeEvent, Telemetry};

fuzz_target!(|data: &[u8]| {
    json_message::<NodeEvent>(data);
    json_message::<Telemetry>(data);
    json_message::<DeviceState>(data);
    json_message::<EvtAck>(data);
    json_message::<Command>(data);
    json_message::<CommandAck>(data);
});
