//! When offices take appointments (`schedule.json`, edited by operators):
//! daily sessions cut into slots, working days, how far ahead, and how
//! soon.
//!
//! Working days are Monday to Friday, minus `closed_dates` (public
//! holidays) plus `open_dates` (the weekend days worked in exchange, 调休).
//! Both lists change every year with the State Council's holiday notice, so
//! they are data, not code.

use govassist_skill_sdk::date::{Date, Weekday};
use govassist_skill_sdk::{serde_json, Lang};
use serde::Deserialize;

const SCHEDULE_JSON: &str = include_str!("../schedule.json");

/// The schedule as written in `schedule.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    utc_offset_minutes: i32,
    sessions: Vec<(String, String)>,
    step_minutes: u32,
    seats_per_slot: u32,
    days_ahead: u32,
    min_lead_minutes: u32,
    max_active_bookings_per_phone: usize,
    closed_dates: Vec<String>,
    open_dates: Vec<String>,
}

/// One bookable period of a day, in minutes after midnight (local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: u32,
    pub end: u32,
}

impl Slot {
    /// `09:30`, the slot's name in input, output and storage keys.
    pub fn time(self) -> String {
        hhmm(self.start)
    }

    pub fn end_time(self) -> String {
        hhmm(self.end)
    }
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `H:MM` or `HH:MM` (also with a full-width colon, or `0930`), optionally
/// followed by `-HH:MM` (a slot's end, as listed), in minutes after
/// midnight.
pub fn parse_time(s: &str) -> Option<u32> {
    let s = govassist_skill_sdk::validate::fold_width(s);
    let start = s.trim().split(['-', '~', '至']).next()?.trim();
    let (h, m) = match start.split_once(':') {
        Some(hm) => hm,
        None if start.len() == 4 => start.split_at(2),
        None => return None,
    };
    let digits = |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || !digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Now, in the offices' local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub today: Date,
    /// Minutes after local midnight.
    pub minute: u32,
}

/// Why a day cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayError {
    Past,
    /// After the last bookable day.
    TooFar {
        last: Date,
    },
    /// A weekend or a public holiday.
    Closed,
}

#[derive(Debug)]
pub struct Schedule {
    pub utc_offset_minutes: i32,
    pub slots: Vec<Slot>,
    pub seats_per_slot: u32,
    pub days_ahead: u32,
    pub min_lead_minutes: u32,
    pub max_active_bookings_per_phone: usize,
    closed_dates: Vec<Date>,
    open_dates: Vec<Date>,
}

impl Schedule {
    pub fn bundled() -> Result<Schedule, String> {
        Schedule::from_json(SCHEDULE_JSON)
    }

    /// Parse and check a schedule; the error names what to fix.
    pub fn from_json(text: &str) -> Result<Schedule, String> {
        let raw: RawSchedule =
            serde_json::from_str(text).map_err(|e| format!("schedule.json: {e}"))?;
        if !(1..=240).contains(&raw.step_minutes) {
            return Err("schedule.json: step_minutes must be 1-240".into());
        }
        if !(1..=50).contains(&raw.seats_per_slot) {
            return Err("schedule.json: seats_per_slot must be 1-50".into());
        }
        if !(-720..=840).contains(&raw.utc_offset_minutes) {
            return Err("schedule.json: utc_offset_minutes must be -720..840".into());
        }
        let mut slots = Vec::new();
        for (from, to) in &raw.sessions {
            let (Some(start), Some(end)) = (parse_time(from), parse_time(to)) else {
                return Err(format!(
                    "schedule.json: session {from}-{to} is not HH:MM-HH:MM"
                ));
            };
            if start >= end || slots.last().is_some_and(|s: &Slot| s.end > start) {
                return Err(format!(
                    "schedule.json: session {from}-{to} is empty or overlaps the one before"
                ));
            }
            let mut t = start;
            while t + raw.step_minutes <= end {
                slots.push(Slot {
                    start: t,
                    end: t + raw.step_minutes,
                });
                t += raw.step_minutes;
            }
        }
        if slots.is_empty() {
            return Err("schedule.json: the sessions hold no slot".into());
        }
        let dates = |list: &[String], key: &str| {
            list.iter()
                .map(|d| {
                    Date::parse_iso(d)
                        .ok_or(format!("schedule.json: {key} has {d:?}, not YYYY-MM-DD"))
                })
                .collect::<Result<Vec<Date>, String>>()
        };
        Ok(Schedule {
            utc_offset_minutes: raw.utc_offset_minutes,
            slots,
            seats_per_slot: raw.seats_per_slot,
            days_ahead: raw.days_ahead,
            min_lead_minutes: raw.min_lead_minutes,
            max_active_bookings_per_phone: raw.max_active_bookings_per_phone,
            closed_dates: dates(&raw.closed_dates, "closed_dates")?,
            open_dates: dates(&raw.open_dates, "open_dates")?,
        })
    }

    /// The local date and time at `unix_ms`.
    pub fn now(&self, unix_ms: u64) -> Now {
        let (today, minute) = Date::local_now(unix_ms, self.utc_offset_minutes);
        Now { today, minute }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        if self.open_dates.contains(&date) {
            return true;
        }
        !(date.weekday().is_weekend() || self.closed_dates.contains(&date))
    }

    pub fn last_bookable_day(&self, now: Now) -> Date {
        now.today.add_days(i64::from(self.days_ahead))
    }

    pub fn check_day(&self, date: Date, now: Now) -> Result<(), DayError> {
        if date < now.today {
            return Err(DayError::Past);
        }
        let last = self.last_bookable_day(now);
        if date > last {
            return Err(DayError::TooFar { last });
        }
        if !self.is_working_day(date) {
            return Err(DayError::Closed);
        }
        Ok(())
    }

    /// The slots of `date` that have not begun (with the lead time) by
    /// `now`; all of them on a later day.
    pub fn open_slots(&self, date: Date, now: Now) -> Vec<Slot> {
        self.slots
            .iter()
            .copied()
            .filter(|s| date > now.today || s.start >= now.minute + self.min_lead_minutes)
            .collect()
    }

    pub fn slot_at(&self, start: u32) -> Option<Slot> {
        self.slots.iter().copied().find(|s| s.start == start)
    }

    /// The next `n` bookable days from today, for prompts.
    pub fn next_days(&self, now: Now, n: usize) -> Vec<Date> {
        (0..=i64::from(self.days_ahead))
            .map(|i| now.today.add_days(i))
            .filter(|d| self.is_working_day(*d) && !self.open_slots(*d, now).is_empty())
            .take(n)
            .collect()
    }
}

/// `2026-01-05（周一）` / `2026-01-05 (Mon)`.
pub fn day_label(date: Date, lang: Lang) -> String {
    let (zh, zh_hant, en) = match date.weekday() {
        Weekday::Monday => ("周一", "週一", "Mon"),
        Weekday::Tuesday => ("周二", "週二", "Tue"),
        Weekday::Wednesday => ("周三", "週三", "Wed"),
        Weekday::Thursday => ("周四", "週四", "Thu"),
        Weekday::Friday => ("周五", "週五", "Fri"),
        Weekday::Saturday => ("周六", "週六", "Sat"),
        Weekday::Sunday => ("周日", "週日", "Sun"),
    };
    match lang {
        Lang::En => format!("{date} ({en})"),
        _ => format!("{date}（{}）", lang.pick(zh, zh_hant, en)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(extra: &str) -> Schedule {
        Schedule::from_json(&format!(
            r#"{{"utc_offset_minutes": 480, "sessions": [["09:00", "11:30"], ["14:00", "17:00"]],
                "step_minutes": 30, "seats_per_slot": 1, "days_ahead": 14, "min_lead_minutes": 30,
                "max_active_bookings_per_phone": 3 {extra}}}"#
        ))
        .unwrap()
    }

    fn d(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    #[test]
    fn the_bundled_schedule_has_morning_and_afternoon_slots() {
        let s = Schedule::bundled().unwrap();
        let times: Vec<String> = s.slots.iter().map(|s| s.time()).collect();
        assert_eq!(
            times,
            [
                "09:00", "09:30", "10:00", "10:30", "11:00", "14:00", "14:30", "15:00", "15:30",
                "16:00", "16:30"
            ]
        );
        assert_eq!(s.slots.last().unwrap().end_time(), "17:00");
    }

    #[test]
    fn times_parse_leniently_but_only_as_times() {
        for (text, minutes) in [
            ("09:30", Some(570)),
            ("9:30", Some(570)),
            ("0930", Some(570)),
            ("09：30", Some(570)),
            ("09:30-10:00", Some(570)),
            (" 14:00 ", Some(840)),
            ("24:00", None),
            ("09:60", None),
            ("9:3", None),
            ("morning", None),
            ("", None),
        ] {
            assert_eq!(parse_time(text), minutes, "{text:?}");
        }
    }

    #[test]
    fn days_past_too_far_weekends_and_holidays_are_refused() {
        let s = schedule(r#", "closed_dates": ["2026-01-01"], "open_dates": ["2026-01-04"]"#);
        let now = Now {
            today: d("2025-12-31"),
            minute: 600,
        };
        for (date, expected) in [
            ("2025-12-31", Ok(())),
            ("2025-12-30", Err(DayError::Past)),
            ("2026-01-01", Err(DayError::Closed)), // holiday on a Thursday
            ("2026-01-03", Err(DayError::Closed)), // Saturday
            ("2026-01-04", Ok(())),                // a Sunday worked in exchange
            ("2026-01-14", Ok(())),                // the 14th day ahead
            (
                "2026-01-15",
                Err(DayError::TooFar {
                    last: d("2026-01-14"),
                }),
            ),
        ] {
            assert_eq!(s.check_day(d(date), now), expected, "{date}");
        }
    }

    #[test]
    fn todays_slots_need_the_lead_time() {
        let s = schedule(r#", "closed_dates": [], "open_dates": []"#);
        let now = Now {
            today: d("2026-01-05"),
            minute: 9 * 60 + 31,
        }; // 09:31
        let today: Vec<String> = s
            .open_slots(now.today, now)
            .iter()
            .map(|s| s.time())
            .collect();
        assert_eq!(today[0], "10:30", "10:00 starts within 30 minutes");
        assert_eq!(s.open_slots(d("2026-01-06"), now).len(), 11);
        let evening = Now {
            today: d("2026-01-05"),
            minute: 16 * 60 + 45,
        };
        assert!(s.open_slots(evening.today, evening).is_empty());
        // So the next bookable days skip today and the weekend.
        let friday_evening = Now {
            today: d("2026-01-09"),
            minute: 16 * 60 + 45,
        };
        assert_eq!(
            s.next_days(friday_evening, 2),
            [d("2026-01-12"), d("2026-01-13")]
        );
    }

    #[test]
    fn broken_schedules_say_what_to_fix() {
        for (json, needle) in [
            (
                r#"{"utc_offset_minutes": 480, "sessions": [["09:00", "08:00"]], "step_minutes": 30, "seats_per_slot": 1, "days_ahead": 14, "min_lead_minutes": 0, "max_active_bookings_per_phone": 3, "closed_dates": [], "open_dates": []}"#,
                "empty or overlaps",
            ),
            (
                r#"{"utc_offset_minutes": 480, "sessions": [["09:00", "10:00"]], "step_minutes": 0, "seats_per_slot": 1, "days_ahead": 14, "min_lead_minutes": 0, "max_active_bookings_per_phone": 3, "closed_dates": [], "open_dates": []}"#,
                "step_minutes",
            ),
            (
                r#"{"utc_offset_minutes": 480, "sessions": [["09:00", "10:00"]], "step_minutes": 30, "seats_per_slot": 1, "days_ahead": 14, "min_lead_minutes": 0, "max_active_bookings_per_phone": 3, "closed_dates": ["1/1"], "open_dates": []}"#,
                "closed_dates",
            ),
            (
                r#"{"utc_offset_minutes": 480, "sessions": [], "step_minutes": 30, "seats_per_slot": 1, "days_ahead": 14, "min_lead_minutes": 0, "max_active_bookings_per_phone": 3, "closed_dates": [], "open_dates": [], "typo": 1}"#,
                "typo",
            ),
        ] {
            let err = Schedule::from_json(json).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn day_labels() {
        assert_eq!(
            day_label(d("2026-01-05"), Lang::ZhHans),
            "2026-01-05（周一）"
        );
        assert_eq!(
            day_label(d("2026-01-05"), Lang::ZhHant),
            "2026-01-05（週一）"
        );
        assert_eq!(day_label(d("2026-01-10"), Lang::En), "2026-01-10 (Sat)");
    }
}
