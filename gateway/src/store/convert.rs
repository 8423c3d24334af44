//! Between Rust's unsigned times and counts and SQLite's signed integers.

/// Times are u64 ms; SQLite integers are i64 (good until the year 292 million).
pub(super) fn at_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
