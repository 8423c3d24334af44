//! The link to the city's fire remote-monitoring centre (GB/T 26875.3):
//! the gateway acts as the building's user information transmission
//! device. Confirmed fires and fire-facility faults become data units in
//! a persistent queue (fire first), each sent until the centre confirms
//! it; a heartbeat supervises the link, whose failure is reported as a
//! fault of the configured link device; the centre's requests are answered.

mod answer;
mod config;
mod frames;
mod link;
#[cfg(test)]
mod tests;

pub use answer::{Answer, answer, next_frame};
pub use config::FireCentreConfig;
pub use frames::{Component, Frames};
pub use link::{FireCentre, LinkFault};
