//! The district platform's and integrators' payloads: work orders and their
//! status updates (protocol/src/order.rs), and every feed
//! (protocol/src/feed.rs), through both decoders and back.
#![no_main]

use gridsense_fuzz::json_message;
use libfuzzer_sys::fuzz_target;
use protocol::feed::{
    Aggregate, AlarmFeed, Availability, CellKpi, CompletionNotice, DeviceAlarms, OrderFeed,
    TelemetryFeed,
};
use protocol::{OrderUp, StatusUpdate};

fuzz_target!(|data: &[u8]| {
    json_message::<OrderUp>(data);
    json_message::<StatusUpdate>(data);
    json_message::<Availability>(data);
    json_message::<AlarmFeed>(data);
    json_message::<Aggregate>(data);
    json_message::<DeviceAlarms>(data);
    json_message::<TelemetryFeed>(data);
    json_message::<OrderFeed>(data);
    json_message::<CompletionNotice>(data);
    json_message::<CellKpi>(data);
});
