//! Bookings in the skill's key-value store (SQLite on the host, so they
//! survive restarts), kept consistent with compare-and-set only.
//!
//! Keys:
//! - `slot/<office>/<date>/<time>/<seat>`: who holds a seat of a slot
//!   (`{"booking": id, "at": ms}`), or empty once freed. A booking claims a
//!   seat with `kv-put-if` expecting exactly what it read (absent, empty or a
//!   stale claim), so two calls can never both take one seat.
//! - `booking/<id>`: the booking record.
//! - `phone/<phone>`: the ids booked with a phone number, for `list`;
//!   updated with a read-modify-compare-and-set retry loop.
//!
//! The host has no delete, so a freed seat holds an empty value. A booking
//! is written in three steps (seat, record, index); a call that dies between
//! them leaves a seat claimed with no record. Such a claim counts as free
//! once [`STALE_CLAIM_MS`] has passed (far beyond any call's time limit), so
//! a crash never loses a slot for good.

use govassist_skill_sdk::{serde_json, Context};
use serde::{Deserialize, Serialize};

/// A claim without its booking record is abandoned after this long: the
/// host ends every call within its manifest's `timeout_ms` (at most 60 s).
pub const STALE_CLAIM_MS: u64 = 120_000;

/// Attempts of a compare-and-set loop before giving up as "busy".
const CAS_ATTEMPTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Booked,
    Cancelled,
}

/// One appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub id: String,
    pub office_id: String,
    pub item_id: String,
    pub item_name: String,
    /// `YYYY-MM-DD`, local.
    pub date: String,
    /// `HH:MM`, the slot's start.
    pub time: String,
    pub end: String,
    pub seat: u32,
    pub name: String,
    pub phone: String,
    pub status: Status,
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_ms: Option<u64>,
}

impl Booking {
    pub fn seat_key(&self) -> String {
        seat_key(&self.office_id, &self.date, &self.time, self.seat)
    }
}

/// What a seat key holds while a booking has it.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    booking: String,
    at: u64,
}

pub fn seat_key(office_id: &str, date: &str, time: &str, seat: u32) -> String {
    format!("slot/{office_id}/{date}/{time}/{seat}")
}

fn booking_key(id: &str) -> String {
    format!("booking/{id}")
}

fn phone_key(phone: &str) -> String {
    format!("phone/{phone}")
}

/// A booking record and its stored bytes (what a compare-and-set expects).
pub struct Stored {
    pub booking: Booking,
    raw: Vec<u8>,
}

pub fn booking(cx: &Context, id: &str) -> Option<Stored> {
    let raw = cx.kv_get(&booking_key(id))?;
    let booking = serde_json::from_slice(&raw).ok()?;
    Some(Stored { booking, raw })
}

/// Whether a seat's current value leaves it free, and so may be claimed
/// by a compare-and-set expecting that value.
fn seat_is_free(cx: &Context, current: Option<&[u8]>, now_ms: u64) -> bool {
    let Some(value) = current.filter(|v| !v.is_empty()) else {
        return true;
    };
    let Ok(claim) = serde_json::from_slice::<Claim>(value) else {
        return false; // unreadable: never overwrite what we do not understand
    };
    match booking(cx, &claim.booking) {
        Some(stored) => stored.booking.status == Status::Cancelled,
        None => now_ms.saturating_sub(claim.at) > STALE_CLAIM_MS,
    }
}

/// How many of a slot's seats are free.
pub fn free_seats(
    cx: &Context,
    office_id: &str,
    date: &str,
    time: &str,
    seats: u32,
    now_ms: u64,
) -> u32 {
    (1..=seats)
        .filter(|&seat| {
            let current = cx.kv_get(&seat_key(office_id, date, time, seat));
            seat_is_free(cx, current.as_deref(), now_ms)
        })
        .count() as u32
}

/// A seat held for a booking; [`release`] gives it back.
pub struct Held {
    pub seat: u32,
    key: String,
    value: Vec<u8>,
}

/// Claim the first free seat of a slot for booking `id`; `None` when the
/// slot is full. Each seat is taken with a compare-and-set on the value
/// just read, so of two calls racing for one seat exactly one wins; the
/// loser re-reads and tries the next seat.
pub fn claim_seat(
    cx: &Context,
    office_id: &str,
    date: &str,
    time: &str,
    seats: u32,
    id: &str,
    now_ms: u64,
) -> Option<Held> {
    let value = serde_json::to_vec(&Claim {
        booking: id.to_owned(),
        at: now_ms,
    })
    .ok()?;
    for seat in 1..=seats {
        let key = seat_key(office_id, date, time, seat);
        for _ in 0..CAS_ATTEMPTS {
            let current = cx.kv_get(&key);
            if !seat_is_free(cx, current.as_deref(), now_ms) {
                break;
            }
            if cx.kv_put_if(&key, current.as_deref(), &value) {
                return Some(Held { seat, key, value });
            }
        }
    }
    None
}

/// Give a seat back, only if this booking still holds it.
pub fn release(cx: &Context, held: &Held) -> bool {
    cx.kv_put_if(&held.key, Some(&held.value), b"")
}

/// Free the seat of a cancelled booking, only if that booking still holds it.
pub fn free_seat_of(cx: &Context, booking: &Booking) -> bool {
    let key = booking.seat_key();
    let Some(current) = cx.kv_get(&key) else {
        return false;
    };
    match serde_json::from_slice::<Claim>(&current) {
        Ok(claim) if claim.booking == booking.id => cx.kv_put_if(&key, Some(&current), b""),
        _ => false,
    }
}

/// Store a new record; false if the id is taken.
pub fn insert(cx: &Context, booking: &Booking) -> bool {
    serde_json::to_vec(booking)
        .map(|v| cx.kv_put_if(&booking_key(&booking.id), None, &v))
        .unwrap_or(false)
}

/// Replace a record read as `stored`; false if it changed since.
pub fn replace(cx: &Context, stored: &Stored, booking: &Booking) -> bool {
    serde_json::to_vec(booking)
        .map(|v| cx.kv_put_if(&booking_key(&booking.id), Some(&stored.raw), &v))
        .unwrap_or(false)
}

/// The ids in a phone's index, oldest first.
pub fn index(cx: &Context, phone: &str) -> Vec<String> {
    cx.kv_get(&phone_key(phone))
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default()
}

#[derive(Debug, PartialEq, Eq)]
pub enum IndexError {
    /// The phone already has this many active bookings.
    Limit(usize),
    /// Other calls kept changing the index.
    Busy,
}

/// Add `id` to the phone's index, unless the phone already has
/// `max_active` bookings for which `active` holds. Entries no longer active
/// (cancelled or past) are dropped on the way, so the index stays small.
/// Read, modify, compare-and-set; on a lost race, again. The limit is
/// checked inside the loop, so two racing calls cannot both slip under it.
pub fn add_to_index(
    cx: &Context,
    phone: &str,
    id: &str,
    max_active: usize,
    active: impl Fn(&Booking) -> bool,
) -> Result<(), IndexError> {
    let key = phone_key(phone);
    for _ in 0..CAS_ATTEMPTS {
        let current = cx.kv_get(&key);
        let ids: Vec<String> = current
            .as_deref()
            .and_then(|raw| serde_json::from_slice(raw).ok())
            .unwrap_or_default();
        let mut kept: Vec<String> = ids
            .into_iter()
            .filter(|i| i != id)
            .filter(|i| booking(cx, i).is_some_and(|s| active(&s.booking)))
            .collect();
        if kept.len() >= max_active {
            return Err(IndexError::Limit(kept.len()));
        }
        kept.push(id.to_owned());
        let Ok(value) = serde_json::to_vec(&kept) else {
            return Err(IndexError::Busy);
        };
        if cx.kv_put_if(&key, current.as_deref(), &value) {
            return Ok(());
        }
    }
    Err(IndexError::Busy)
}

/// Active bookings of a phone (for the limit check before claiming).
pub fn active_count(cx: &Context, phone: &str, active: impl Fn(&Booking) -> bool) -> usize {
    index(cx, phone)
        .iter()
        .filter(|i| booking(cx, i).is_some_and(|s| active(&s.booking)))
        .count()
}

/// Mark a booking cancelled, retrying if it changed in between. Returns the
/// record as stored afterwards, or `None` if it vanished or kept changing.
pub fn cancel(cx: &Context, id: &str, now_ms: u64) -> Option<Booking> {
    for _ in 0..CAS_ATTEMPTS {
        let stored = booking(cx, id)?;
        if stored.booking.status == Status::Cancelled {
            return Some(stored.booking);
        }
        let mut cancelled = stored.booking.clone();
        cancelled.status = Status::Cancelled;
        cancelled.cancelled_ms = Some(now_ms);
        if replace(cx, &stored, &cancelled) {
            return Some(cancelled);
        }
    }
    None
}
