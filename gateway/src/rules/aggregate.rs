//! Windowed aggregates: min/max/avg/count per field over every device of a
//! building or grid cell.

use std::collections::BTreeMap;

use protocol::feed::Aggregate;
use protocol::{FieldName, Name};

#[derive(Debug, Clone, Copy)]
struct Acc {
    min: f32,
    max: f32,
    sum: f64,
    count: u32,
}

/// Accumulates readings and closes a window every `window_ms`.
#[derive(Debug)]
pub struct Aggregator {
    window_ms: u64,
    from: u64,
    acc: BTreeMap<(&'static str, Name, FieldName), Acc>,
}

impl Aggregator {
    /// Windows of `window_ms`, the first starting at `now`.
    pub fn new(window_ms: u64, now: u64) -> Self {
        Self {
            window_ms: window_ms.max(1),
            from: now,
            acc: BTreeMap::new(),
        }
    }

    /// Adds a reading to scope `scope` (`building` or `cell`) `id`.
    pub fn add(&mut self, scope: &'static str, id: &Name, field: &FieldName, v: f32) {
        let e = self
            .acc
            .entry((scope, id.clone(), field.clone()))
            .or_insert(Acc {
                min: v,
                max: v,
                sum: 0.0,
                count: 0,
            });
        e.min = e.min.min(v);
        e.max = e.max.max(v);
        e.sum += f64::from(v);
        e.count += 1;
    }

    /// When the current window closes.
    pub fn closes_at(&self) -> u64 {
        self.from + self.window_ms
    }

    /// Closes the window if it is over, returning its aggregates.
    pub fn flush(&mut self, now: u64) -> Vec<Aggregate> {
        if now < self.closes_at() {
            return Vec::new();
        }
        let (from, to) = (self.from, self.closes_at());
        // Skip empty windows after a long pause, keeping windows aligned.
        self.from = to + (now - to) / self.window_ms * self.window_ms;
        std::mem::take(&mut self.acc)
            .into_iter()
            .map(|((scope, id, field), a)| Aggregate {
                scope: scope.to_string(),
                id,
                field,
                min: a.min,
                max: a.max,
                #[allow(clippy::cast_possible_truncation)]
                avg: (a.sum / f64::from(a.count)) as f32,
                count: a.count,
                from,
                to,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_windows_with_min_max_avg_count() {
        let b = Name::new("b1").expect("id");
        let f = FieldName::new("temp").expect("id");
        let mut a = Aggregator::new(60_000, 0);
        for v in [20.0, 22.0, 24.0] {
            a.add("building", &b, &f, v);
        }
        assert!(a.flush(59_999).is_empty());
        let out = a.flush(60_000);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].min, out[0].max, out[0].avg, out[0].count),
            (20.0, 24.0, 22.0, 3)
        );
        assert_eq!((out[0].from, out[0].to), (0, 60_000));
        a.add("cell", &b, &f, 1.0);
        let out = a.flush(200_000);
        assert_eq!((out[0].from, out[0].to), (60_000, 120_000));
        assert_eq!(a.closes_at(), 240_000);
    }
}
