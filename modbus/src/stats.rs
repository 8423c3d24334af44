//! Per-device counters of the Modbus source, readable while it runs.

use std::sync::{Arc, Mutex, MutexGuard};

use protocol::DeviceId;

use crate::event::FaultKind;

/// Counters of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStats {
    /// The device.
    pub device: DeviceId,
    /// Index of its line in the configuration.
    pub line: usize,
    /// Its unit id.
    pub unit_id: u8,
    /// Polls run (one per job: all alarm or all telemetry blocks).
    pub polls: u64,
    /// Polls that failed for want of a valid reply.
    pub failed_polls: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests repeated after a failure.
    pub retries: u64,
    /// Modbus exceptions answered.
    pub exceptions: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Bad CRCs.
    pub crc_errors: u64,
    /// Frames from another unit seen while waiting for this one.
    pub wrong_slave: u64,
    /// Replies cut short.
    pub short_frames: u64,
    /// Replies that did not fit the request.
    pub malformed: u64,
    /// Replies dropped for noise around them.
    pub noise: u64,
    /// Replies that did not fit the register map.
    pub map_mismatch: u64,
    /// Port or connection failures.
    pub io_errors: u64,
    /// Alarm-register readings sent out.
    pub alarm_readings: u64,
    /// Telemetry readings sent out.
    pub telemetry_readings: u64,
    /// Telemetry readings dropped because the consumer was behind.
    pub dropped_readings: u64,
    /// Writes confirmed by read-back.
    pub writes_confirmed: u64,
    /// Writes that failed or were not confirmed.
    pub writes_failed: u64,
    /// Availability: `None` until the first poll decides it.
    pub online: Option<bool>,
}

impl DeviceStats {
    fn new(device: DeviceId, line: usize, unit_id: u8) -> Self {
        Self {
            device,
            line,
            unit_id,
            polls: 0,
            failed_polls: 0,
            requests: 0,
            retries: 0,
            exceptions: 0,
            timeouts: 0,
            crc_errors: 0,
            wrong_slave: 0,
            short_frames: 0,
            malformed: 0,
            noise: 0,
            map_mismatch: 0,
            io_errors: 0,
            alarm_readings: 0,
            telemetry_readings: 0,
            dropped_readings: 0,
            writes_confirmed: 0,
            writes_failed: 0,
            online: None,
        }
    }

    /// Counts one fault.
    pub fn count(&mut self, kind: FaultKind) {
        let c = match kind {
            FaultKind::Exception(_) => &mut self.exceptions,
            FaultKind::Crc => &mut self.crc_errors,
            FaultKind::WrongSlave => &mut self.wrong_slave,
            FaultKind::ShortFrame => &mut self.short_frames,
            FaultKind::Timeout => &mut self.timeouts,
            FaultKind::Malformed => &mut self.malformed,
            FaultKind::Noise => &mut self.noise,
            FaultKind::MapMismatch => &mut self.map_mismatch,
            FaultKind::Io => &mut self.io_errors,
        };
        *c += 1;
    }

    /// Transport failures of every kind (exceptions and map mismatches excluded).
    #[must_use]
    pub fn transport_errors(&self) -> u64 {
        self.timeouts
            + self.crc_errors
            + self.wrong_slave
            + self.short_frames
            + self.malformed
            + self.noise
            + self.io_errors
    }
}

/// A shared view of every device's counters; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StatsHandle {
    devices: Arc<Mutex<Vec<DeviceStats>>>,
}

impl StatsHandle {
    /// Registers a device; returns its index.
    pub(crate) fn register(&self, device: DeviceId, line: usize, unit_id: u8) -> usize {
        let mut all = self.lock();
        all.push(DeviceStats::new(device, line, unit_id));
        all.len() - 1
    }

    fn lock(&self) -> MutexGuard<'_, Vec<DeviceStats>> {
        // Only a panic inside `update` could poison it; the counters stay usable.
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the counters of device `index`.
    pub(crate) fn update(&self, index: usize, f: impl FnOnce(&mut DeviceStats)) {
        if let Some(s) = self.lock().get_mut(index) {
            f(s);
        }
    }

    /// A copy of every device's counters, in configuration order.
    #[must_use]
    pub fn snapshot(&self) -> Vec<DeviceStats> {
        self.lock().clone()
    }

    /// A copy of one device's counters.
    #[must_use]
    pub fn device(&self, device: &str) -> Option<DeviceStats> {
        self.lock().iter().find(|s| s.device == device).cloned()
    }
}
