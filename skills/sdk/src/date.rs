//! Calendar dates without a date crate.
//!
//! Skills get the time only from the host (`cx.now_ms()`, capability
//! `clock`) and must turn it into a local date themselves: booking a slot
//! "not in the past", stamping a form, checking a birth date. A date crate
//! with time-zone data would cost more component size than these few lines,
//! and government offices in one district share one fixed UTC offset.
//!
//! ```
//! use govassist_skill_sdk::date::{Date, Weekday};
//! let d = Date::parse_iso("2026-01-05").unwrap();
//! assert_eq!(d.weekday(), Weekday::Monday);
//! assert_eq!(d.add_days(-5).to_string(), "2025-12-31");
//! // 2026-01-01T00:00:00Z is 08:00 in China Standard Time (UTC+8).
//! assert_eq!(Date::local_now(1_767_225_600_000, 480), (Date::new(2026, 1, 1).unwrap(), 8 * 60));
//! ```

use std::fmt;

/// China Standard Time, UTC+8 all year (no daylight saving), in minutes.
pub const CHINA_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// A day of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    // Field order makes the derived `Ord` chronological.
    year: i32,
    month: u8,
    day: u8,
}

/// Day of the week, Monday first (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

impl Date {
    /// A valid date, or `None` (month 13, 30 February, …).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(Date { year, month, day })
    }

    /// Strictly `YYYY-MM-DD` (ASCII digits, zero-padded), a real date.
    /// Strict on purpose: a lenient parser guesses, and a wrong guess books
    /// the wrong day.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        Date::new(num(0..4)? as i32, num(5..7)? as u8, num(8..10)? as u8)
    }

    /// `YYYYMMDD` as in a resident ID number.
    pub fn parse_compact(s: &str) -> Option<Date> {
        if s.len() != 8 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Date::new(
            s[0..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..8].parse().ok()?,
        )
    }

    /// The local date and minute of the day (0..1440) at `unix_ms`, for a
    /// fixed offset from UTC (e.g. [`CHINA_UTC_OFFSET_MINUTES`]).
    pub fn local_now(unix_ms: u64, utc_offset_minutes: i32) -> (Date, u32) {
        let minutes = (unix_ms / 60_000) as i64 + i64::from(utc_offset_minutes);
        let days = minutes.div_euclid(1440);
        let minute_of_day = minutes.rem_euclid(1440) as u32;
        (Date::from_days_since_epoch(days), minute_of_day)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's
    /// `days_from_civil`.
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let m = i64::from(self.month);
        let d = i64::from(self.day);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`Date::days_since_epoch`] (`civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    pub fn add_days(self, days: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        const FROM_THURSDAY: [Weekday; 7] = [
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
        ];
        FROM_THURSDAY[self.days_since_epoch().rem_euclid(7) as usize]
    }
}

/// `YYYY-MM-DD`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_real_iso_dates() {
        for (text, ok) in [
            ("2026-01-05", true),
            ("2024-02-29", true),
            ("2000-02-29", true),
            ("1900-02-29", false), // not a leap year
            ("2026-02-29", false),
            ("2026-04-31", false),
            ("2026-13-01", false),
            ("2026-00-10", false),
            ("2026-1-5", false),
            ("2026/01/05", false),
            ("２０２６-01-05", false), // full-width digits are the caller's to fold
            ("2026-01-05 ", false),
            ("+026-01-05", false),
            ("", false),
        ] {
            assert_eq!(Date::parse_iso(text).is_some(), ok, "{text:?}");
        }
        assert_eq!(Date::parse_compact("19491231"), Date::new(1949, 12, 31));
        assert_eq!(Date::parse_compact("19490231"), None);
    }

    #[test]
    fn days_round_trip_and_weekdays() {
        for (date, days, weekday) in [
            ("1970-01-01", 0, Weekday::Thursday),
            ("1969-12-31", -1, Weekday::Wednesday),
            ("2000-03-01", 11_017, Weekday::Wednesday),
            ("2026-01-01", 20_454, Weekday::Thursday),
            ("2026-01-03", 20_456, Weekday::Saturday),
            ("2026-01-05", 20_458, Weekday::Monday),
        ] {
            let d = Date::parse_iso(date).unwrap();
            assert_eq!(d.days_since_epoch(), days, "{date}");
            assert_eq!(Date::from_days_since_epoch(days), d);
            assert_eq!(d.weekday(), weekday, "{date}");
            assert_eq!(d.to_string(), date);
        }
        // Every day of four years survives the round trip.
        let start = Date::new(2023, 1, 1).unwrap();
        for i in 0..1461 {
            let d = start.add_days(i);
            assert_eq!(Date::parse_iso(&d.to_string()), Some(d));
        }
    }

    #[test]
    fn local_time_uses_the_offset() {
        // 2025-12-31T16:00:00Z is midnight in Beijing.
        let ms = 1_767_196_800_000;
        assert_eq!(
            Date::local_now(ms, CHINA_UTC_OFFSET_MINUTES),
            (Date::new(2026, 1, 1).unwrap(), 0)
        );
        assert_eq!(
            Date::local_now(ms - 60_000, CHINA_UTC_OFFSET_MINUTES),
            (Date::new(2025, 12, 31).unwrap(), 1439)
        );
        assert_eq!(
            Date::local_now(ms, 0),
            (Date::new(2025, 12, 31).unwrap(), 16 * 60)
        );
    }

    #[test]
    fn dates_order_chronologically() {
        let a = Date::parse_iso("2025-12-31").unwrap();
        let b = Date::parse_iso("2026-01-01").unwrap();
        assert!(a < b);
        assert!(b.weekday() < Weekday::Saturday && !b.weekday().is_weekend());
    }
}
