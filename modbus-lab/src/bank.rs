//! A bank of simulated Modbus slaves, served through tokio-modbus.
//!
//! Every unit answers with values that name their origin: input and holding
//! register `a` of unit `u` reads [`expected_word`]`(u, a)` = `u * 1000 + a`
//! until written, discrete input `a` reads `(u + a)` odd, coils start off. A
//! test can therefore prove that each value it stored belongs to the register
//! and the slave it claims. Units can be made dead (silent), slow, or made to
//! answer an exception for chosen addresses.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// The value register `address` of `unit` holds until it is written.
#[must_use]
pub fn expected_word(unit: u8, address: u16) -> u16 {
    u16::from(unit).wrapping_mul(1000).wrapping_add(address)
}

/// Behaviour and written state of one simulated unit.
#[derive(Debug, Default, Clone)]
struct Unit {
    /// Silent: never answers (a dead or unpowered slave).
    dead: bool,
    /// Answers this late (a slow slave).
    delay: Duration,
    /// Addresses at or above this answer `IllegalDataAddress`.
    limit: Option<u16>,
    /// Holding registers written by a master.
    holding: BTreeMap<u16, u16>,
    /// Coils written by a master.
    coils: BTreeMap<u16, bool>,
    /// Requests received (answered or not).
    requests: u64,
}

/// Many simulated slaves behind one service; cheap to clone (shared state).
#[derive(Debug, Clone, Default)]
pub struct Bank {
    units: Arc<Mutex<HashMap<u8, Unit>>>,
}

type Answer = Result<Option<Response>, ExceptionCode>;

impl Bank {
    /// A bank with units `ids`, all healthy.
    #[must_use]
    pub fn with_units(ids: impl IntoIterator<Item = u8>) -> Self {
        let bank = Self::default();
        for id in ids {
            bank.lock().insert(id, Unit::default());
        }
        bank
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u8, Unit>> {
        // A panic while holding the lock only happens in a failing test.
        self.units
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_unit<T>(&self, unit: u8, f: impl FnOnce(&mut Unit) -> T) -> Option<T> {
        self.lock().get_mut(&unit).map(f)
    }

    /// Makes `unit` silent (`true`) or answer again (`false`).
    pub fn set_dead(&self, unit: u8, dead: bool) {
        self.with_unit(unit, |u| u.dead = dead);
    }

    /// Makes `unit` answer after `delay`.
    pub fn set_delay(&self, unit: u8, delay: Duration) {
        self.with_unit(unit, |u| u.delay = delay);
    }

    /// Makes `unit` answer `IllegalDataAddress` for addresses `>= limit`.
    pub fn set_address_limit(&self, unit: u8, limit: Option<u16>) {
        self.with_unit(unit, |u| u.limit = limit);
    }

    /// Current value of holding register `address` of `unit`.
    #[must_use]
    pub fn holding(&self, unit: u8, address: u16) -> Option<u16> {
        self.with_unit(unit, |u| {
            u.holding
                .get(&address)
                .copied()
                .unwrap_or_else(|| expected_word(unit, address))
        })
    }

    /// Sets holding register `address` of `unit`, as the device itself
    /// would (a status word changing when a fault appears).
    pub fn set_holding(&self, unit: u8, address: u16, value: u16) {
        self.with_unit(unit, |u| u.holding.insert(address, value));
    }

    /// Current state of coil `address` of `unit`.
    #[must_use]
    pub fn coil(&self, unit: u8, address: u16) -> Option<bool> {
        self.with_unit(unit, |u| u.coils.get(&address).copied().unwrap_or(false))
    }

    /// Requests `unit` has received so far.
    #[must_use]
    pub fn requests(&self, unit: u8) -> u64 {
        self.with_unit(unit, |u| u.requests).unwrap_or(0)
    }

    /// Answers one request; `None` = stay silent. Also returns the delay.
    fn answer(&self, req: &SlaveRequest<'_>) -> (Answer, Duration) {
        let unit_id = req.slave;
        let mut units = self.lock();
        let Some(unit) = units.get_mut(&unit_id) else {
            return (Ok(None), Duration::ZERO);
        };
        unit.requests += 1;
        if unit.dead {
            return (Ok(None), Duration::ZERO);
        }
        let answer = respond(unit_id, unit, &req.request).map(Some);
        (answer, unit.delay)
    }
}

fn check_range(unit: &Unit, address: u16, count: u16) -> Result<(), ExceptionCode> {
    let end = u32::from(address) + u32::from(count);
    match unit.limit {
        Some(limit) if end > u32::from(limit) => Err(ExceptionCode::IllegalDataAddress),
        _ if count == 0 || end > 0x1_0000 => Err(ExceptionCode::IllegalDataValue),
        _ => Ok(()),
    }
}

fn respond(id: u8, unit: &mut Unit, req: &Request<'_>) -> Result<Response, ExceptionCode> {
    let words = |unit: &Unit, a: u16, n: u16| -> Vec<u16> {
        (a..a + n)
            .map(|x| {
                unit.holding
                    .get(&x)
                    .copied()
                    .unwrap_or(expected_word(id, x))
            })
            .collect()
    };
    match req {
        Request::ReadInputRegisters(a, n) => {
            check_range(unit, *a, *n)?;
            Ok(Response::ReadInputRegisters(
                (*a..*a + *n).map(|x| expected_word(id, x)).collect(),
            ))
        }
        Request::ReadHoldingRegisters(a, n) => {
            check_range(unit, *a, *n)?;
            Ok(Response::ReadHoldingRegisters(words(unit, *a, *n)))
        }
        Request::ReadCoils(a, n) => {
            check_range(unit, *a, *n)?;
            let bits = (*a..*a + *n)
                .map(|x| unit.coils.get(&x).copied().unwrap_or(false))
                .collect();
            Ok(Response::ReadCoils(bits))
        }
        Request::ReadDiscreteInputs(a, n) => {
            check_range(unit, *a, *n)?;
            let bits = (*a..*a + *n)
                .map(|x| (u16::from(id) + x) % 2 == 1)
                .collect();
            Ok(Response::ReadDiscreteInputs(bits))
        }
        Request::WriteSingleCoil(a, v) => {
            check_range(unit, *a, 1)?;
            unit.coils.insert(*a, *v);
            Ok(Response::WriteSingleCoil(*a, *v))
        }
        Request::WriteSingleRegister(a, v) => {
            check_range(unit, *a, 1)?;
            unit.holding.insert(*a, *v);
            Ok(Response::WriteSingleRegister(*a, *v))
        }
        _ => Err(ExceptionCode::IllegalFunction),
    }
}

/// The tokio-modbus service view of a [`Bank`].
impl tokio_modbus::server::Service for Bank {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let (answer, delay) = self.answer(&req);
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(bank: &Bank, slave: u8, request: Request<'static>) -> Answer {
        bank.answer(&SlaveRequest { slave, request }).0
    }

    #[test]
    fn values_name_their_unit_and_address() {
        let bank = Bank::with_units([3]);
        assert_eq!(
            ask(&bank, 3, Request::ReadInputRegisters(7, 2)),
            Ok(Some(Response::ReadInputRegisters(vec![3007, 3008])))
        );
        assert_eq!(ask(&bank, 4, Request::ReadInputRegisters(7, 2)), Ok(None));
    }

    #[test]
    fn writes_stick_and_limits_raise_exceptions() {
        let bank = Bank::with_units([1]);
        let _ = ask(&bank, 1, Request::WriteSingleRegister(10, 42));
        assert_eq!(bank.holding(1, 10), Some(42));
        bank.set_address_limit(1, Some(5));
        assert_eq!(
            ask(&bank, 1, Request::ReadHoldingRegisters(4, 2)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        bank.set_dead(1, true);
        assert_eq!(ask(&bank, 1, Request::ReadCoils(0, 1)), Ok(None));
        assert_eq!(bank.requests(1), 3);
    }
}
