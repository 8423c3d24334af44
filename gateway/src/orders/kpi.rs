//! Closure figures of one grid cell: closure rate, mean and p90 time to
//! accept and to close, cards given. Pure.

use protocol::feed::CellKpi;
use protocol::{Name, OrderState};

pub use crate::store::KpiRow;

/// Mean and nearest-rank 90th percentile of `v` (sorted in place).
pub fn mean_p90(v: &mut [u64]) -> (Option<u64>, Option<u64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_unstable();
    let n = v.len() as u64;
    let mean = v.iter().sum::<u64>() / n;
    let rank = (n * 9).div_ceil(10).max(1);
    (
        Some(mean),
        v.get(usize::try_from(rank - 1).unwrap_or(0)).copied(),
    )
}

/// The KPIs of `cell` from its orders, stamped `at`.
pub fn compute(cell: &Name, rows: &[KpiRow], at: u64) -> CellKpi {
    let count = |f: &dyn Fn(&KpiRow) -> bool| {
        u32::try_from(rows.iter().filter(|r| f(r)).count()).unwrap_or(u32::MAX)
    };
    let cancelled = count(&|r| r.state == OrderState::Cancelled);
    let closed = count(&|r| r.state == OrderState::Closed);
    let open = count(&|r| !r.state.is_final());
    let orders = u32::try_from(rows.len()).unwrap_or(u32::MAX) - cancelled;
    let mut ack: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.acked_at.map(|a| a.saturating_sub(r.opened_at)))
        .collect();
    let mut close: Vec<u64> = rows
        .iter()
        .filter(|r| r.state == OrderState::Closed)
        .filter_map(|r| r.ended_at.map(|e| e.saturating_sub(r.opened_at)))
        .collect();
    let (ack_mean_ms, ack_p90_ms) = mean_p90(&mut ack);
    let (close_mean_ms, close_p90_ms) = mean_p90(&mut close);
    CellKpi {
        cell: cell.clone(),
        orders,
        closed,
        open,
        cancelled,
        closure_rate: if orders == 0 {
            1.0
        } else {
            f64::from(closed) / f64::from(orders)
        },
        ack_mean_ms,
        ack_p90_ms,
        close_mean_ms,
        close_p90_ms,
        yellow_cards: rows.iter().map(|r| r.yellow).sum(),
        red_cards: rows.iter().map(|r| r.red).sum(),
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: OrderState, ack: Option<u64>, end: Option<u64>) -> KpiRow {
        KpiRow {
            state,
            opened_at: 0,
            acked_at: ack,
            ended_at: end,
            yellow: 1,
            red: 0,
        }
    }

    #[test]
    fn closure_rate_excludes_cancelled_orders() {
        let rows = [
            row(OrderState::Closed, Some(10), Some(100)),
            row(OrderState::Closed, Some(30), Some(300)),
            row(OrderState::Accepted, Some(20), None),
            row(OrderState::Cancelled, None, Some(5)),
        ];
        let k = compute(&Name::new("g07").expect("name"), &rows, 1);
        assert_eq!((k.orders, k.closed, k.open, k.cancelled), (3, 2, 1, 1));
        assert!((k.closure_rate - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!((k.ack_mean_ms, k.ack_p90_ms), (Some(20), Some(30)));
        assert_eq!((k.close_mean_ms, k.close_p90_ms), (Some(200), Some(300)));
        assert_eq!(k.yellow_cards, 4);
    }

    #[test]
    fn p90_is_nearest_rank() {
        let mut v: Vec<u64> = (1..=10).collect();
        assert_eq!(mean_p90(&mut v), (Some(5), Some(9)));
        assert_eq!(mean_p90(&mut []), (None, None));
        assert_eq!(mean_p90(&mut [7]), (Some(7), Some(7)));
    }
}
