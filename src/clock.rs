//! Wall-clock time as text (UTC), without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Year, month, day, hour, minute, second (UTC) of a moment given as seconds since 1970.
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let (y, m, d, ..) = civil(now_secs());
    format!("{y:04}-{m:02}-{d:02}")
}

/// Now (UTC) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_iso() -> String {
    let (y, mo, d, h, mi, s) = civil(now_secs());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Now (UTC) as `YYYY-MM-DD_HH-MM-SS`, a folder name that sorts by time.
pub fn now_stamp() -> String {
    let (y, mo, d, h, mi, s) = civil(now_secs());
    format!("{y:04}-{mo:02}-{d:02}_{h:02}-{mi:02}-{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_moments() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-26 12:34:56 UTC
        assert_eq!(civil(1_795_696_496), (2026, 11, 26, 12, 34, 56));
        // 2000-02-29, a leap day
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
    }
}
