//! A device's place in GB/T 26875.3 terms (what the fire remote-monitoring
//! centre calls it): system type and address, component type and address,
//! from the device list's optional columns `gbt_system_type`,
//! `gbt_system_addr`, `gbt_component_type` and `gbt_component_addr`. An
//! empty column takes the default (`[fire_centre]`'s system, the profile's
//! component type, an address derived from the device id).

/// The device list's GB/T columns.
pub(super) const COLUMNS: [&str; 4] = [
    "gbt_system_type",
    "gbt_system_addr",
    "gbt_component_type",
    "gbt_component_addr",
];

/// The GB/T names of a device; `None` fields take the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GbtAddress {
    /// System type (1: fire alarm system).
    pub system_type: Option<u8>,
    /// System address.
    pub system_addr: Option<u8>,
    /// Component type (40: smoke detector, 30: heat, 23: manual call point …).
    pub component_type: Option<u8>,
    /// Component address: a number, or `ZONE-POSITION` (区号-位号, both
    /// 0..=65535), stored as `position << 16 | zone`.
    pub component_addr: Option<u32>,
}

impl GbtAddress {
    /// Whether any column was given.
    pub fn is_set(&self) -> bool {
        *self != Self::default()
    }

    /// Reads the four columns' text (`[system_type, system_addr,
    /// component_type, component_addr]`); each bad one is reported as
    /// `(column, message)`.
    pub fn parse(text: [&str; 4], fail: &mut dyn FnMut(&str, String)) -> Self {
        let mut byte = |i: usize| -> Option<u8> {
            let t = text[i].trim();
            if t.is_empty() {
                return None;
            }
            t.parse::<u8>()
                .map_err(|_| fail(COLUMNS[i], format!("{t:?} is not a number 0..=255")))
                .ok()
        };
        let (system_type, system_addr, component_type) = (byte(0), byte(1), byte(2));
        let t = text[3].trim();
        let component_addr = if t.is_empty() {
            None
        } else if let Some((zone, pos)) = t.split_once('-') {
            match (zone.parse::<u16>(), pos.parse::<u16>()) {
                (Ok(z), Ok(p)) => Some(u32::from(p) << 16 | u32::from(z)),
                _ => {
                    fail(
                        COLUMNS[3],
                        format!("{t:?} is not ZONE-POSITION (each 0..=65535)"),
                    );
                    None
                }
            }
        } else {
            t.parse::<u32>()
                .map_err(|_| {
                    fail(
                        COLUMNS[3],
                        format!("{t:?} is not a number or ZONE-POSITION"),
                    )
                })
                .ok()
        };
        Self {
            system_type,
            system_addr,
            component_type,
            component_addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_numbers_and_zone_position() {
        let mut errs = Vec::new();
        let g = GbtAddress::parse(["1", "2", "40", "10-3"], &mut |c, m| {
            errs.push((c.to_string(), m))
        });
        assert!(errs.is_empty());
        assert_eq!(g.component_addr, Some(3 << 16 | 10));
        assert_eq!(g.system_addr, Some(2));
        let g = GbtAddress::parse(["", "", "", ""], &mut |c, m| errs.push((c.to_string(), m)));
        assert!(!g.is_set());
        GbtAddress::parse(["300", "", "", "x-1"], &mut |c, m| {
            errs.push((c.to_string(), m))
        });
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].0, "gbt_system_type");
        assert_eq!(errs[1].0, "gbt_component_addr");
    }
}
