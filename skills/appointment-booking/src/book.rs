//! `book`: check everything first, then claim a seat, write the record,
//! add it to the phone's index, in that order (see [`crate::store`] for why
//! that order is safe when a call dies half-way).

use govassist_skill_sdk::validate::Phone;
use govassist_skill_sdk::{Lang, Level, Outcome};

use crate::actions::{self, free_times, is_upcoming};
use crate::catalog::Office;
use crate::schedule::{day_label, parse_time};
use crate::store::{self, Booking, IndexError, Status};
use crate::{given, prompt, Env, Input};

/// Longest accepted name, in characters.
const MAX_NAME_CHARS: usize = 50;

/// New ids tried when one is taken (it never is in practice: 40 bits).
const ID_ATTEMPTS: u32 = 4;

pub fn book(env: &Env, input: &Input) -> Outcome {
    match try_book(env, input) {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

fn try_book(env: &Env, input: &Input) -> Result<Outcome, Outcome> {
    let lang = env.lang;
    let cx = env.cx;
    let office = env.office(input)?;
    let (item_id, item_name) = item(env, office, input)?;
    let personal = |key: &str| cx.personal(key).map(str::trim).filter(|v| !v.is_empty());
    let name = given(&input.name).or(personal("name"));
    let phone = given(&input.phone).or(personal("phone"));
    let date = given(&input.date);
    let slot = given(&input.slot);
    let (now_ms, now) = env.now();

    let missing: Vec<&str> = [
        ("date", date.is_some()),
        ("slot", slot.is_some()),
        ("name", name.is_some()),
        ("phone", phone.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, ok)| (!ok).then_some(field))
    .collect();
    let date = match date {
        Some(raw) => Some(actions::day(env, raw, now)?),
        None => None,
    };
    let free = |date| -> Vec<String> {
        free_times(env, office, date, now_ms, now)
            .into_iter()
            .map(|(time, _, _)| time)
            .collect()
    };
    if !missing.is_empty() {
        let hint = match date {
            None => prompt::days_hint(lang, &env.schedule.next_days(now, 5)),
            Some(date) if slot.is_none() => prompt::slots_hint(lang, &free(date)),
            Some(_) => String::new(),
        };
        return Err(prompt::ask(lang, &missing, &hint));
    }
    let (Some(date), Some(slot), Some(name), Some(phone)) = (date, slot, name, phone) else {
        unreachable!("missing fields were asked for above");
    };

    let slot = parse_time(slot)
        .and_then(|start| env.schedule.slot_at(start))
        .ok_or_else(|| prompt::bad_slot(lang, &free(date)))?;
    if !env.schedule.open_slots(date, now).contains(&slot) {
        return Err(prompt::slot_passed(lang, &free(date)));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        let why = lang.pick(
            "姓名过长或含有无效字符",
            "姓名過長或含有無效字元",
            "the name is too long or has invalid characters",
        );
        return Err(prompt::invalid(lang, "name", why));
    }
    let phone =
        Phone::parse_mobile(phone).map_err(|e| prompt::invalid(lang, "phone", e.message(lang)))?;
    let phone = phone.as_str();
    let max = env.schedule.max_active_bookings_per_phone;
    let upcoming = |b: &Booking| is_upcoming(b, now);
    if store::active_count(cx, phone, upcoming) >= max {
        return Err(prompt::too_many(lang, max));
    }

    let (day, time) = (date.to_string(), slot.time());
    for attempt in 0..ID_ATTEMPTS {
        let id = booking_id(
            &[&office.id, &day, &time, phone, &now_ms.to_string()],
            attempt,
        );
        let Some(held) = store::claim_seat(
            cx,
            &office.id,
            &day,
            &time,
            env.schedule.seats_per_slot,
            &id,
            now_ms,
        ) else {
            let days = env.schedule.next_days(now, 5);
            return Err(prompt::slot_taken(lang, date, &time, &free(date), &days));
        };
        let booking = Booking {
            id: id.clone(),
            office_id: office.id.clone(),
            item_id: item_id.to_owned(),
            item_name: item_name.to_owned(),
            date: day.clone(),
            time: time.clone(),
            end: slot.end_time(),
            seat: held.seat,
            name: name.to_owned(),
            phone: phone.to_owned(),
            status: Status::Booked,
            created_ms: now_ms,
            cancelled_ms: None,
        };
        if !store::insert(cx, &booking) {
            store::release(cx, &held); // the id is taken: try another
            continue;
        }
        if let Err(e) = store::add_to_index(cx, phone, &id, max, upcoming) {
            // Undo: the booking must not exist without being listable.
            store::cancel(cx, &id, now_ms);
            store::release(cx, &held);
            return Err(match e {
                IndexError::Limit(_) => prompt::too_many(lang, max),
                IndexError::Busy => prompt::busy(lang),
            });
        }
        cx.log(
            Level::Info,
            &format!("booked {id} at {} on {day} {time}", office.id),
        );
        return Ok(confirmation(env, office, &booking));
    }
    Err(prompt::busy(lang))
}

/// The item the booking is for: `item_id` if the office handles it, or the
/// office's only item.
fn item<'o>(env: &Env, office: &'o Office, input: &Input) -> Result<(&'o str, &'o str), Outcome> {
    match given(&input.item_id) {
        Some(wanted) => office
            .items
            .iter()
            .find(|(id, _)| id == wanted)
            .map(|(id, name)| (id.as_str(), name.as_str()))
            .ok_or_else(|| prompt::item_not_at_office(env.lang, office, wanted)),
        None => match office.items.as_slice() {
            [(id, name)] => Ok((id, name)),
            _ => Err(prompt::choose_item(env.lang, office)),
        },
    }
}

fn confirmation(env: &Env, office: &Office, b: &Booking) -> Outcome {
    let lang = env.lang;
    let day = govassist_skill_sdk::date::Date::parse_iso(&b.date)
        .map(|d| day_label(d, lang))
        .unwrap_or_default();
    let (id, start, end, address, item) = (&b.id, &b.time, &b.end, &office.address, &b.item_name);
    let message = match lang {
        Lang::ZhHans => format!(
            "预约成功，预约号 {id}。请于{day} {start}-{end}到{address}办理“{item}”，并携带身份证件和申请材料。如需取消，请提供预约号和手机号码。"
        ),
        Lang::ZhHant => format!(
            "預約成功，預約號 {id}。請於{day} {start}-{end}到{address}辦理「{item}」，並攜帶身份證件和申請材料。如需取消，請提供預約號和手機號碼。"
        ),
        Lang::En => format!(
            "Booked: booking number {id}. Please come to {address} on {day}, {start}-{end}, for “{item}”, with your ID and the application materials. To cancel, give the booking number and your mobile number."
        ),
    };
    let mut result =
        govassist_skill_sdk::serde_json::to_value(actions::view(env, b)).unwrap_or_default();
    result["message"] = message.into();
    Outcome::done(result)
}

/// Crockford's base32: no I, L, O or U, so an id read out over the phone
/// is not misheard.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `BK` and 8 base32 characters (40 bits) hashed from what makes a booking
/// unique (office, day, time, phone, the clock) and the attempt number.
/// Skills have no randomness; uniqueness is enforced anyway by creating the
/// record with compare-and-set on an absent key.
pub fn booking_id(parts: &[&str], attempt: u32) -> String {
    // FNV-1a over the parts, then the SplitMix64 finalizer to spread the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= u64::from(attempt);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let code: String = (0..8)
        .map(|i| ALPHABET[((h >> (i * 5)) & 31) as usize] as char)
        .collect();
    format!("BK{code}")
}
