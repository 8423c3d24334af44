//! The fault-injection suite behind `gridsense-faults` (docs/faults.md): the
//! harness that starts the real `gridsense` binary, a district broker and
//! node clients, injects faults, and an independent checker that knows only
//! the wire contract (the protocol crate) and the store file's SQL.

pub mod checker;
pub mod disk;
pub mod district;
pub mod nodes;
pub mod powercut;
pub mod proxy;
pub mod rng;
pub mod run;
pub mod world;
