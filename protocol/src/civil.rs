//! Civil dates: days since 1970-01-01 ↔ year, month, day in the proleptic
//! Gregorian calendar (UTC), by Howard Hinnant's algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>, public domain).
//!
//! The one place the gateway and the protocol turn days into dates and back
//! (`no_std`, no allocation, `const`): the gateway's clock and console, the
//! import of access-control times, and GB/T 26875.3 time stamps.

/// Days in one 400-year era of the Gregorian calendar.
const ERA_DAYS: i64 = 146_097;

/// Days from 0000-03-01 (the start of Hinnant's shifted year) to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// The date `(year, month 1..=12, day 1..=31)` of `days` since 1970-01-01
/// (negative before it).
#[must_use]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "month (1..=12) and day (1..=31) are in range by construction"
)]
pub const fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(ERA_DAYS);
    let doe = z.rem_euclid(ERA_DAYS); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month as u8, day as u8)
}

/// Days since 1970-01-01 of `year-month-day` (month 1..=12, day 1..=31;
/// a day past the month's end counts on into the next month).
#[must_use]
pub const fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (month as i64, day as i64);
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * ERA_DAYS + doe - EPOCH_SHIFT
}

/// Whether `year` has a February 29th.
#[must_use]
pub const fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_and_its_neighbours() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(365), (1971, 1, 1));
    }

    #[test]
    fn leap_days_and_centuries() {
        // 2000 is a leap year (divisible by 400), 1900 and 2100 are not.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
        assert_eq!(
            days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28),
            1
        );
        assert_eq!(
            civil_from_days(days_from_civil(2100, 2, 28) + 1),
            (2100, 3, 1)
        );
        assert_eq!(
            civil_from_days(days_from_civil(2024, 2, 28) + 1),
            (2024, 2, 29)
        );
        assert_eq!(
            days_from_civil(2001, 1, 1) - days_from_civil(2000, 1, 1),
            366
        );
        assert_eq!(
            days_from_civil(1901, 1, 1) - days_from_civil(1900, 1, 1),
            365
        );
        assert!(is_leap(2000) && is_leap(2024) && !is_leap(1900) && !is_leap(2100));
    }

    #[test]
    fn known_dates() {
        // 2025-12-31 23:59:59 UTC is 1_767_225_599 s.
        assert_eq!(civil_from_days(1_767_225_599 / 86_400), (2025, 12, 31));
        // 2025-11-23 00:00 UTC.
        assert_eq!(
            days_from_civil(2025, 11, 23) * 86_400_000,
            1_763_856_000_000
        );
        assert_eq!(civil_from_days(days_from_civil(2106, 2, 7)), (2106, 2, 7));
        assert_eq!(civil_from_days(days_from_civil(1, 1, 1)), (1, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(-400, 3, 1)), (-400, 3, 1));
    }

    #[test]
    fn every_day_round_trips_and_follows_the_one_before() {
        let mut prev = civil_from_days(-800_000);
        for z in -799_999..800_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month = d == 1 && (y, m) == (prev.0, prev.1 + 1);
            let next_year = (m, d) == (1, 1) && (prev.1, prev.2) == (12, 31) && y == prev.0 + 1;
            assert!(
                next_day || next_month || next_year,
                "{prev:?} -> {y}-{m}-{d}"
            );
            if next_month || next_year {
                let len = match prev.1 {
                    2 if is_leap(prev.0) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(prev.2, len, "{prev:?} is not the last day of its month");
            }
            prev = (y, m, d);
        }
    }
}
