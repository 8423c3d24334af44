//! What to read from a device, worked out once from its profile: the
//! profile's registers grouped into as few requests as possible, alarm
//! registers apart from telemetry.

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::FieldName;
use protocol::modbus::{RegisterSpec, Table};
use protocol::profile::ModbusMap;

use crate::transport::Op;

/// Most registers one read may ask for (FC 3/4).
pub const MAX_REGISTERS: u16 = 125;
/// Most bits one read may ask for (FC 1/2).
pub const MAX_BITS: u16 = 2000;

/// One read request and the fields it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The table read.
    pub table: Table,
    /// First address.
    pub address: u16,
    /// Registers or bits read.
    pub count: u16,
    /// The fields inside, with their specs.
    pub fields: Vec<(FieldName, RegisterSpec)>,
}

impl Block {
    /// The request that reads this block.
    #[must_use]
    pub const fn op(&self) -> Op {
        Op::Read {
            table: self.table,
            address: self.address,
            count: self.count,
        }
    }

    /// Decodes every field from the words read.
    ///
    /// # Errors
    /// The name of a field whose words are missing (a map mismatch).
    pub fn decode(&self, words: &[u16]) -> Result<Vec<(FieldName, f32)>, FieldName> {
        self.fields
            .iter()
            .map(|(name, spec)| {
                let off = usize::from(spec.address - self.address);
                words
                    .get(off..)
                    .and_then(|w| spec.decode(w).ok())
                    .map(|v| (name.clone(), v))
                    .ok_or_else(|| name.clone())
            })
            .collect()
    }
}

/// How one device is polled.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePlan {
    /// Alarm registers: polled first and `alarm_poll_divisor` times as often.
    pub alarm: Vec<Block>,
    /// The other registers.
    pub telemetry: Vec<Block>,
    /// Telemetry period (the profile's `poll_ms`).
    pub poll: Duration,
    /// Alarm period.
    pub alarm_poll: Duration,
    /// Writable outputs by name.
    pub outputs: BTreeMap<FieldName, RegisterSpec>,
}

impl DevicePlan {
    /// Plans the polls of a device with register map `map`.
    #[must_use]
    pub fn new(map: &ModbusMap, alarm_poll_divisor: u32) -> Self {
        let (alarm, telemetry): (Vec<_>, Vec<_>) = map
            .registers
            .iter()
            .map(|(n, s)| (n.clone(), *s))
            .partition(|(n, _)| map.alarm_registers.contains(n));
        let poll = Duration::from_millis(u64::from(map.poll_ms));
        Self {
            alarm: group(alarm),
            telemetry: group(telemetry),
            poll,
            alarm_poll: (poll / alarm_poll_divisor.max(1)).max(Duration::from_millis(10)),
            outputs: map.outputs.clone(),
        }
    }
}

/// Groups fields into blocks of contiguous (or overlapping) addresses per table.
#[must_use]
pub fn group(mut fields: Vec<(FieldName, RegisterSpec)>) -> Vec<Block> {
    fields.sort_by_key(|(_, s)| (s.table.read_function(), s.address));
    let mut blocks: Vec<Block> = Vec::new();
    for (name, spec) in fields {
        let end = u32::from(spec.address) + u32::from(spec.count());
        let max = if spec.table.is_bits() {
            MAX_BITS
        } else {
            MAX_REGISTERS
        };
        if let Some(b) = blocks.last_mut() {
            let b_end = u32::from(b.address) + u32::from(b.count);
            // Sorted by table then address, so within a table `end >= b.address`.
            let same = b.table == spec.table;
            let fits = same && end - u32::from(b.address) <= u32::from(max);
            if fits && u32::from(spec.address) <= b_end {
                b.count = u16::try_from(end.max(b_end) - u32::from(b.address)).unwrap_or(max);
                b.fields.push((name, spec));
                continue;
            }
        }
        blocks.push(Block {
            table: spec.table,
            address: spec.address,
            count: spec.count(),
            fields: vec![(name, spec)],
        });
    }
    blocks
}

#[cfg(test)]
mod tests {
    use protocol::modbus::{DataType, WordOrder};

    use super::*;

    fn spec(table: Table, address: u16, data_type: DataType) -> RegisterSpec {
        RegisterSpec {
            table,
            address,
            data_type,
            word_order: WordOrder::Big,
            scale: 1.0,
            offset: 0.0,
            bits: None,
            mask: None,
        }
    }

    fn name(s: &str) -> FieldName {
        FieldName::new(s).expect("valid name")
    }

    #[test]
    fn groups_contiguous_registers_per_table() {
        let blocks = group(vec![
            (name("c"), spec(Table::Input, 5, DataType::U16)),
            (name("a"), spec(Table::Input, 0, DataType::U32)),
            (name("b"), spec(Table::Input, 2, DataType::I16)),
            (name("h"), spec(Table::Holding, 3, DataType::U16)),
        ]);
        let shape: Vec<_> = blocks
            .iter()
            .map(|b| (b.table, b.address, b.count, b.fields.len()))
            .collect();
        assert_eq!(
            shape,
            [
                (Table::Holding, 3, 1, 1),
                (Table::Input, 0, 3, 2),
                (Table::Input, 5, 1, 1)
            ]
        );
        let values = blocks[1].decode(&[0, 7, 0xFFFF]).expect("decodes");
        assert_eq!(values, [(name("a"), 7.0), (name("b"), -1.0)]);
        assert_eq!(blocks[1].decode(&[0, 7]), Err(name("b")));
    }

    #[test]
    fn splits_blocks_at_the_request_limit() {
        let fields = (0..130)
            .map(|i| {
                (
                    name(&format!("r{i}")),
                    spec(Table::Holding, i, DataType::U16),
                )
            })
            .collect();
        let counts: Vec<_> = group(fields).iter().map(|b| (b.address, b.count)).collect();
        assert_eq!(counts, [(0, 125), (125, 5)]);
    }

    #[test]
    fn alarm_registers_are_planned_apart_and_faster() {
        let (_, src) = protocol::profile::BUILTIN
            .iter()
            .find(|(f, _)| *f == "gas-modbus.toml")
            .expect("builtin");
        let profile = protocol::profile::Profile::from_toml(src).expect("parses");
        let plan = DevicePlan::new(profile.modbus.as_ref().expect("map"), 4);
        assert_eq!(plan.alarm.len(), 1);
        assert_eq!(plan.alarm[0].fields[0].0, name("alarm_state"));
        assert_eq!(plan.telemetry[0].fields[0].0, name("gas_lel"));
        assert_eq!(
            (plan.poll, plan.alarm_poll),
            (Duration::from_secs(1), Duration::from_millis(250))
        );
    }
}
