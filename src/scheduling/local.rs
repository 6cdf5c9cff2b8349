//! Local wall-clock time → UTC instants, in one place.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local wall-clock time names. Ambiguous times (clocks going
/// back) take the earlier instant; a time that does not exist (clocks going
/// forward) is the first instant after the gap, so a boundary never vanishes.
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    // Gaps are at most a few hours; look forward a minute at a time.
    for _ in 0..=(24 * 60) {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => return x.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(1),
        }
    }
    // Unreachable for real zones: fall back to reading the time as UTC.
    local.and_utc()
}

/// The instant a local day starts.
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    local_instant(tz, day.and_hms_opt(0, 0, 0).expect("midnight"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_gap_and_overlap() {
        let tz = chrono_tz::Europe::Paris;
        let gap = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_instant(tz, gap).to_rfc3339(), "2027-03-28T01:00:00+00:00");
        let twice = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_instant(tz, twice).to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert_eq!(
            day_start(chrono_tz::Africa::Lubumbashi, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()).to_rfc3339(),
            "2026-11-22T22:00:00+00:00"
        );
    }
}
