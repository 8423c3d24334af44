//! Work orders from alarms (`docs/governance.md`).
