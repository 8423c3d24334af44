//! The task that owns one line: runs the polls the [`Scheduler`] picks,
//! decodes replies with the device's [`DevicePlan`], carries out writes
//! (before any poll), and reports [`ModbusEvent`]s.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use protocol::modbus::Table;
use protocol::{DeviceId, FieldName};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{FaultKind, ModbusEvent, WriteError, WriteRequest, WriteValue};
use crate::plan::DevicePlan;
use crate::scheduler::{Availability, Job, Next, Scheduler};
use crate::stats::StatsHandle;
use crate::transport::{Exception, Op, Outcome, Reply, Transport};

/// A device as its line sees it.
#[derive(Debug, Clone)]
pub struct LineDevice {
    /// Its id.
    pub device: DeviceId,
    /// Its unit id.
    pub unit: u8,
    /// What to read and write.
    pub plan: DevicePlan,
    /// Its index in the stats.
    pub stats: usize,
}

/// The poll loop of one line.
#[derive(Debug)]
pub struct Line<T> {
    transport: T,
    devices: Vec<LineDevice>,
    sched: Scheduler,
    retries: u8,
    stats: StatsHandle,
    out: mpsc::Sender<ModbusEvent>,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<T: Transport> Line<T> {
    /// A line polling `devices` through `transport`.
    pub fn new(
        transport: T,
        devices: Vec<LineDevice>,
        mut sched: Scheduler,
        retries: u8,
        stats: StatsHandle,
        out: mpsc::Sender<ModbusEvent>,
    ) -> Self {
        let now = Instant::now();
        for (i, d) in devices.iter().enumerate() {
            if !d.plan.alarm.is_empty() {
                sched.add(i, true, d.plan.alarm_poll, now);
            }
            if !d.plan.telemetry.is_empty() {
                sched.add(i, false, d.plan.poll, now);
            }
        }
        Self {
            transport,
            devices,
            sched,
            retries,
            stats,
            out,
        }
    }

    /// Polls until `shutdown`; writes from `writes` go before any poll.
    pub async fn run(
        mut self,
        mut writes: mpsc::Receiver<WriteRequest>,
        shutdown: CancellationToken,
    ) {
        while !shutdown.is_cancelled() {
            if let Ok(w) = writes.try_recv() {
                self.write(w).await;
                continue;
            }
            match self.sched.next(Instant::now()) {
                Next::Run(job) => {
                    tokio::select! {
                        biased;
                        () = shutdown.cancelled() => break,
                        () = self.poll(job) => {}
                    }
                }
                Next::Idle(until) => tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    Some(w) = writes.recv() => self.write(w).await,
                    () = tokio::time::sleep_until(until.into()) => {}
                },
            }
        }
        while let Ok(w) = writes.try_recv() {
            let _ = w.reply.send(Err(WriteError::Shutdown));
        }
    }

    /// Sends an event that must not be lost (waits for room).
    async fn emit(&mut self, ev: ModbusEvent) {
        let _ = self.out.send(ev).await;
    }

    /// Sends `op` to device `d`, retrying transport failures; counts everything.
    async fn request(&mut self, d: usize, op: Op) -> Outcome {
        let (unit, idx) = (self.devices[d].unit, self.devices[d].stats);
        let mut attempt = 0;
        loop {
            self.stats.update(idx, |s| s.requests += 1);
            let outcome = self.transport.transact(unit, op).await;
            let kind = match &outcome {
                Ok(Ok(_)) => return outcome,
                Ok(Err(Exception(code))) => FaultKind::Exception(*code),
                Err(e) => e.kind(),
            };
            self.fault(d, kind).await;
            if outcome.is_ok() || attempt >= self.retries {
                return outcome;
            }
            attempt += 1;
            self.stats.update(idx, |s| s.retries += 1);
        }
    }

    async fn fault(&mut self, d: usize, kind: FaultKind) {
        self.stats.update(self.devices[d].stats, |s| s.count(kind));
        let device = self.devices[d].device.clone();
        // Faults are diagnostics: shed (they are counted) rather than stall the bus.
        let _ = self.out.try_send(ModbusEvent::Fault {
            device,
            at_ms: now_ms(),
            kind,
        });
    }

    fn blocks(&self, job: Job) -> &[super::plan::Block] {
        let plan = &self.devices[job.device].plan;
        if job.alarm {
            &plan.alarm
        } else {
            &plan.telemetry
        }
    }

    /// Runs one job: reads its blocks, sends the readings, updates availability.
    async fn poll(&mut self, job: Job) {
        let d = job.device;
        let mut readings: Vec<(FieldName, f32)> = Vec::new();
        let mut failure = None;
        for i in 0..self.blocks(job).len() {
            let op = self.blocks(job)[i].op();
            match self.request(d, op).await {
                Ok(Ok(Reply::Words(words))) => match self.blocks(job)[i].decode(&words) {
                    Ok(values) => readings.extend(values),
                    Err(_) => self.fault(d, FaultKind::MapMismatch).await,
                },
                Ok(Ok(Reply::Written)) => self.fault(d, FaultKind::MapMismatch).await,
                // The device is there and answered: not a reason to back off.
                Ok(Err(_)) => {}
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        self.finish(job, readings, failure).await;
    }

    async fn finish(&mut self, job: Job, readings: Vec<(FieldName, f32)>, failure: Option<String>) {
        let d = &self.devices[job.device];
        let (device, idx) = (d.device.clone(), d.stats);
        let ok = failure.is_none();
        let change = self.sched.done(job, ok, Instant::now());
        self.stats.update(idx, |s| {
            s.polls += 1;
            s.failed_polls += u64::from(!ok);
        });
        if change == Some(Availability::Online) {
            self.stats.update(idx, |s| s.online = Some(true));
            self.emit(ModbusEvent::Online {
                device: device.clone(),
                at_ms: now_ms(),
            })
            .await;
        }
        if !readings.is_empty() {
            self.send_readings(idx, device.clone(), readings, job.alarm)
                .await;
        }
        if let (Some(Availability::Offline), Some(reason)) = (change, failure) {
            self.stats.update(idx, |s| s.online = Some(false));
            self.emit(ModbusEvent::Offline {
                device,
                at_ms: now_ms(),
                reason,
            })
            .await;
        }
    }

    /// Alarm readings wait for room; telemetry is shed (and counted) when the
    /// consumer is behind, newest first being the consumer's business.
    async fn send_readings(
        &mut self,
        idx: usize,
        device: DeviceId,
        readings: Vec<(FieldName, f32)>,
        alarm: bool,
    ) {
        let ev = ModbusEvent::Readings {
            device,
            at_ms: now_ms(),
            readings,
            alarm_class: alarm,
        };
        if alarm {
            self.emit(ev).await;
            self.stats.update(idx, |s| s.alarm_readings += 1);
        } else if self.out.try_send(ev).is_ok() {
            self.stats.update(idx, |s| s.telemetry_readings += 1);
        } else {
            self.stats.update(idx, |s| s.dropped_readings += 1);
        }
    }

    async fn write(&mut self, w: WriteRequest) {
        let result = match self.devices.iter().position(|d| d.device == w.device) {
            Some(d) => self.write_confirmed(d, &w.output, w.value).await,
            None => Err(WriteError::UnknownDevice(w.device.clone())),
        };
        if let Some(d) = self.devices.iter().find(|d| d.device == w.device) {
            let ok = result.is_ok();
            self.stats.update(d.stats, |s| {
                s.writes_confirmed += u64::from(ok);
                s.writes_failed += u64::from(!ok);
            });
        }
        let _ = w.reply.send(result);
    }

    /// Writes an output, then reads it back.
    async fn write_confirmed(
        &mut self,
        d: usize,
        output: &FieldName,
        value: WriteValue,
    ) -> Result<(), WriteError> {
        let Some(spec) = self.devices[d].plan.outputs.get(output).copied() else {
            return Err(WriteError::UnknownOutput {
                device: self.devices[d].device.clone(),
                output: output.clone(),
            });
        };
        let address = spec.address;
        let op = match (spec.table, value) {
            (Table::Coil, WriteValue::Bool(value)) => Op::WriteCoil { address, value },
            (Table::Holding, WriteValue::U16(value)) => Op::WriteRegister { address, value },
            _ => return Err(WriteError::WrongValue(output.clone())),
        };
        expect_written(self.request(d, op).await)?;
        let read = Op::Read {
            table: spec.table,
            address,
            count: 1,
        };
        let word = match self.request(d, read).await {
            Ok(Ok(Reply::Words(w))) if w.len() == 1 => w[0],
            other => {
                return Err(expect_written(other)
                    .err()
                    .unwrap_or(WriteError::Transport(FaultKind::Malformed)));
            }
        };
        let read = match value {
            WriteValue::Bool(_) => WriteValue::Bool(word != 0),
            WriteValue::U16(_) => WriteValue::U16(word),
        };
        if read == value {
            Ok(())
        } else {
            Err(WriteError::NotConfirmed { wrote: value, read })
        }
    }
}

fn expect_written(outcome: Outcome) -> Result<(), WriteError> {
    match outcome {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(Exception(code))) => Err(WriteError::Exception(code)),
        Err(e) => Err(WriteError::Transport(e.kind())),
    }
}
