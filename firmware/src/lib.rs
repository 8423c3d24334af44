//! GridSense sensor-node firmware logic (placeholder until the firmware issue).
#![cfg_attr(not(test), no_std)]
