//! The actions other than `book` (see [`crate::book`]): `offices`, `slots`,
//! `list` and `cancel`, and the date and slot helpers they share with it.

use govassist_skill_sdk::date::Date;
use govassist_skill_sdk::validate::fold_width;
use govassist_skill_sdk::{serde_json, Lang, Level, Outcome};
use serde::Serialize;

use crate::catalog::Office;
use crate::schedule::{day_label, Now};
use crate::store::{self, Booking, Status};
use crate::{given, normalize_booking_id, prompt, Env, Input};

/// Items listed per office when a query or item id selects them.
const MAX_ITEMS_SHOWN: usize = 10;

#[derive(Serialize)]
pub struct OfficeView<'a> {
    pub id: &'a str,
    pub agency: &'a str,
    pub address: &'a str,
}

impl<'a> From<&'a Office> for OfficeView<'a> {
    fn from(o: &'a Office) -> Self {
        OfficeView {
            id: &o.id,
            agency: &o.agency,
            address: &o.address,
        }
    }
}

#[derive(Serialize)]
pub struct ItemView<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Serialize)]
struct OfficeEntry<'a> {
    #[serde(flatten)]
    office: OfficeView<'a>,
    item_count: usize,
    /// The items the query or item id selected (all for an office matched
    /// by agency or address are not listed, only counted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<ItemView<'a>>,
}

/// `offices`: every office, those handling `item_id`, or those whose
/// agency, address or items contain `query`.
pub fn offices(env: &Env, input: &Input) -> Outcome {
    let lang = env.lang;
    let item_id = given(&input.item_id);
    let query = given(&input.query).map(|q| fold_width(q).to_lowercase());
    let mut entries = Vec::new();
    for office in &env.catalog.offices {
        let items: Vec<ItemView> = office
            .items
            .iter()
            .filter(|(id, name)| {
                item_id.is_none_or(|wanted| id == wanted)
                    && query
                        .as_deref()
                        .is_none_or(|q| name.to_lowercase().contains(q))
            })
            .map(|(id, name)| ItemView { id, name })
            .collect();
        let office_matches = query.as_deref().is_some_and(|q| {
            office.agency.to_lowercase().contains(q) || office.address.to_lowercase().contains(q)
        });
        let selected = match (item_id, &query) {
            (None, None) => true,
            (Some(_), _) => !items.is_empty(),
            (None, Some(_)) => office_matches || !items.is_empty(),
        };
        if selected {
            let filtered = item_id.is_some() || (query.is_some() && !office_matches);
            entries.push(OfficeEntry {
                office: office.into(),
                item_count: office.items.len(),
                items: if filtered {
                    items.into_iter().take(MAX_ITEMS_SHOWN).collect()
                } else {
                    Vec::new()
                },
            });
        }
    }
    if let (Some(item_id), true) = (item_id, entries.is_empty()) {
        return prompt::item_not_bookable(lang, item_id);
    }
    let n = entries.len();
    let message = match lang {
        Lang::ZhHans => format!("共有{n}个可预约的办理地点。"),
        Lang::ZhHant => format!("共有{n}個可預約的辦理地點。"),
        Lang::En => format!("{n} offices take appointments."),
    };
    Outcome::done(serde_json::json!({ "count": n, "offices": entries, "message": message }))
}

/// The requested day, checked: format, not past, not too far, a working
/// day. The error asks again and lists open days.
pub fn day(env: &Env, raw: &str, now: Now) -> Result<Date, Outcome> {
    let open_days = || env.schedule.next_days(now, 5);
    let date = Date::parse_iso(fold_width(raw).trim())
        .ok_or_else(|| prompt::bad_date(env.lang, &open_days()))?;
    env.schedule
        .check_day(date, now)
        .map_err(|e| prompt::day_error(env.lang, date, e, &open_days()))?;
    Ok(date)
}

/// Start times of the slots of `date` that have a free seat and have not
/// begun.
pub fn free_times(
    env: &Env,
    office: &Office,
    date: Date,
    now_ms: u64,
    now: Now,
) -> Vec<(String, String, u32)> {
    let day = date.to_string();
    let seats = env.schedule.seats_per_slot;
    env.schedule
        .open_slots(date, now)
        .into_iter()
        .filter_map(|slot| {
            let free = store::free_seats(env.cx, &office.id, &day, &slot.time(), seats, now_ms);
            (free > 0).then(|| (slot.time(), slot.end_time(), free))
        })
        .collect()
}

#[derive(Serialize)]
struct SlotView {
    time: String,
    end: String,
    free_seats: u32,
}

/// `slots`: the free slots of one office on one day.
pub fn slots(env: &Env, input: &Input) -> Outcome {
    let lang = env.lang;
    let office = match env.office(input) {
        Ok(o) => o,
        Err(outcome) => return outcome,
    };
    let (now_ms, now) = env.now();
    let Some(raw) = given(&input.date) else {
        return prompt::ask(
            lang,
            &["date"],
            &prompt::days_hint(lang, &env.schedule.next_days(now, 5)),
        );
    };
    let date = match day(env, raw, now) {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let free: Vec<SlotView> = free_times(env, office, date, now_ms, now)
        .into_iter()
        .map(|(time, end, free_seats)| SlotView {
            time,
            end,
            free_seats,
        })
        .collect();
    let day = day_label(date, lang);
    let message = if free.is_empty() {
        match lang {
            Lang::ZhHans => format!("{day}已无可预约时段，请换一天。"),
            Lang::ZhHant => format!("{day}已無可預約時段，請換一天。"),
            Lang::En => format!("No slot is free on {day}; please choose another day."),
        }
    } else {
        let n = free.len();
        match lang {
            Lang::ZhHans => format!("{day}有{n}个可预约时段。"),
            Lang::ZhHant => format!("{day}有{n}個可預約時段。"),
            Lang::En => format!("{n} slots are free on {day}."),
        }
    };
    Outcome::done(serde_json::json!({
        "office": OfficeView::from(office),
        "date": date.to_string(),
        "slots": free,
        "message": message,
    }))
}

/// Whether an appointment is still ahead: booked, and its slot has not
/// ended. (`YYYY-MM-DD` and `HH:MM` order as text.)
pub fn is_upcoming(b: &Booking, now: Now) -> bool {
    let now_time = format!("{:02}:{:02}", now.minute / 60, now.minute % 60);
    b.status == Status::Booked
        && (b.date.as_str(), b.end.as_str()) > (now.today.to_string().as_str(), now_time.as_str())
}

#[derive(Serialize)]
pub struct BookingView<'a> {
    pub booking_id: &'a str,
    pub status: Status,
    pub office: OfficeView<'a>,
    pub item: ItemView<'a>,
    pub date: &'a str,
    pub time: &'a str,
    pub end: &'a str,
    pub name: &'a str,
    pub phone: &'a str,
}

/// How a booking is shown. An office that has left the catalogue since is
/// shown by its id alone.
pub fn view<'a>(env: &'a Env, b: &'a Booking) -> BookingView<'a> {
    let office = env.catalog.office(&b.office_id).map_or(
        OfficeView {
            id: &b.office_id,
            agency: "",
            address: "",
        },
        OfficeView::from,
    );
    BookingView {
        booking_id: &b.id,
        status: b.status,
        office,
        item: ItemView {
            id: &b.item_id,
            name: &b.item_name,
        },
        date: &b.date,
        time: &b.time,
        end: &b.end,
        name: &b.name,
        phone: &b.phone,
    }
}

/// `list`: the upcoming bookings made with a phone number.
pub fn list(env: &Env, input: &Input) -> Outcome {
    let lang = env.lang;
    let phone = match env.phone(input) {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let (_, now) = env.now();
    let mut bookings: Vec<Booking> = store::index(env.cx, phone.as_str())
        .iter()
        .filter_map(|id| store::booking(env.cx, id))
        .map(|s| s.booking)
        .filter(|b| b.phone == phone.as_str() && is_upcoming(b, now))
        .collect();
    bookings.sort_by(|a, b| (&a.date, &a.time).cmp(&(&b.date, &b.time)));
    let n = bookings.len();
    let message = match (n, lang) {
        (0, _) => lang
            .pick(
                "该手机号目前没有预约。",
                "該手機號目前沒有預約。",
                "There are no upcoming bookings for this number.",
            )
            .to_owned(),
        (n, Lang::ZhHans) => format!("该手机号有{n}个预约。"),
        (n, Lang::ZhHant) => format!("該手機號有{n}個預約。"),
        (n, Lang::En) => format!("{n} upcoming bookings."),
    };
    let views: Vec<BookingView> = bookings.iter().map(|b| view(env, b)).collect();
    Outcome::done(serde_json::json!({ "count": n, "bookings": views, "message": message }))
}

/// `cancel`: mark the booking cancelled, then free its seat. Needs the
/// booking id and the phone it was made with.
pub fn cancel(env: &Env, input: &Input) -> Outcome {
    let lang = env.lang;
    let id = given(&input.booking_id).map(normalize_booking_id);
    let phone_given = given(&input.phone).is_some() || env.cx.personal("phone").is_some();
    let missing: Vec<&str> = [("booking_id", id.is_some()), ("phone", phone_given)]
        .into_iter()
        .filter_map(|(f, ok)| (!ok).then_some(f))
        .collect();
    if !missing.is_empty() {
        return prompt::ask(lang, &missing, "");
    }
    let id = id.unwrap_or_default();
    let phone = match env.phone(input) {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let Some(stored) = store::booking(env.cx, &id).filter(|s| s.booking.phone == phone.as_str())
    else {
        return prompt::no_such_booking(lang, &id);
    };
    let (now_ms, now) = env.now();
    let already = stored.booking.status == Status::Cancelled;
    if !already && !is_upcoming(&stored.booking, now) {
        return prompt::too_late_to_cancel(lang);
    }
    let Some(cancelled) = store::cancel(env.cx, &id, now_ms) else {
        return prompt::busy(lang);
    };
    // Free the seat even when it was already cancelled: a call that died
    // between the two steps leaves it held, and this finishes its work.
    store::free_seat_of(env.cx, &cancelled);
    if !already {
        env.cx.log(Level::Info, &format!("cancelled {id}"));
    }
    let when = format!(
        "{} {}",
        day_label(Date::parse_iso(&cancelled.date).unwrap_or(now.today), lang),
        cancelled.time
    );
    let message = match (already, lang) {
        (true, Lang::ZhHans) => format!("预约 {id}（{when}）此前已取消。"),
        (true, Lang::ZhHant) => format!("預約 {id}（{when}）此前已取消。"),
        (true, Lang::En) => format!("Booking {id} ({when}) was already cancelled."),
        (false, Lang::ZhHans) => format!("已取消预约 {id}（{when}）。"),
        (false, Lang::ZhHant) => format!("已取消預約 {id}（{when}）。"),
        (false, Lang::En) => format!("Booking {id} ({when}) is cancelled."),
    };
    let mut result = serde_json::to_value(view(env, &cancelled)).unwrap_or_default();
    result["message"] = message.into();
    Outcome::done(result)
}
