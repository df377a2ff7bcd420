//! 预约 (appointment booking) at the offices of the service items that take
//! online appointments: list offices, list a day's free slots, book, list a
//! phone's bookings, cancel.
//!
//! Offices come from the bundled knowledge base (`offices.json`, see
//! `gen_offices.py`), opening hours from `schedule.json`. Bookings live in
//! the skill's key-value store, and every write is a compare-and-set, so
//! concurrent calls (the host runs each in its own instance) never book one
//! seat twice; see [`store`].

mod actions;
mod book;
mod catalog;
mod prompt;
mod schedule;
mod store;

use govassist_skill_sdk::serde_json::{self, json};
use govassist_skill_sdk::validate::{fold_width, Phone};
use govassist_skill_sdk::{export_skill, input, Context, Info, Lang, Outcome, Skill};
use serde::Deserialize;

use catalog::{Catalog, Office};
use schedule::{Now, Schedule};

/// The input object. `action` says what to do; the other fields are what
/// that action needs, and the skill asks for what is missing.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    /// `offices`, `slots`, `book`, `list` or `cancel`.
    #[serde(default, deserialize_with = "input::text")]
    pub action: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub office_id: Option<String>,
    /// 事项编码; chooses the office when only one handles the item.
    #[serde(default, deserialize_with = "input::text")]
    pub item_id: Option<String>,
    /// `offices`: words to look for in agencies, addresses and item names.
    #[serde(default, deserialize_with = "input::text")]
    pub query: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "input::text")]
    pub date: Option<String>,
    /// The slot's start, `HH:MM`.
    #[serde(default, deserialize_with = "input::text")]
    pub slot: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub name: Option<String>,
    /// A mobile number: bookings are listed and cancelled with it.
    #[serde(default, deserialize_with = "input::text")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub booking_id: Option<String>,
}

/// A field's value, trimmed; `None` when absent or blank.
pub(crate) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Offices,
    Slots,
    Book,
    List,
    Cancel,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "offices" | "办理地点" | "辦理地點" => Action::Offices,
            "slots" | "时段" | "時段" => Action::Slots,
            "book" | "预约" | "預約" => Action::Book,
            "list" | "我的预约" | "我的預約" => Action::List,
            "cancel" | "取消" | "取消预约" | "取消預約" => Action::Cancel,
            _ => return None,
        })
    }
}

/// What every action works with.
pub(crate) struct Env<'a> {
    pub cx: &'a Context<'a>,
    pub lang: Lang,
    pub catalog: Catalog,
    pub schedule: Schedule,
}

impl Env<'_> {
    /// The host's clock, in the offices' local time.
    pub fn now(&self) -> (u64, Now) {
        let ms = self.cx.now_ms();
        (ms, self.schedule.now(ms))
    }

    /// The office named by `office_id`, or the one office handling
    /// `item_id`; otherwise the outcome that asks or explains.
    pub fn office(&self, input: &Input) -> Result<&Office, Outcome> {
        if let Some(id) = given(&input.office_id) {
            return self
                .catalog
                .office(id)
                .ok_or_else(|| prompt::unknown_office(self.lang, id));
        }
        let Some(item_id) = given(&input.item_id) else {
            return Err(prompt::ask_office(self.lang));
        };
        match self.catalog.offices_for_item(item_id).as_slice() {
            [] => Err(prompt::item_not_bookable(self.lang, item_id)),
            [office] => Ok(office),
            several => Err(prompt::choose_office(self.lang, several)),
        }
    }

    /// The phone from input or the user's profile, checked to be a mobile
    /// number.
    pub fn phone(&self, input: &Input) -> Result<Phone, Outcome> {
        let raw = given(&input.phone).or(self
            .cx
            .personal("phone")
            .map(str::trim)
            .filter(|p| !p.is_empty()));
        let Some(raw) = raw else {
            return Err(prompt::ask(self.lang, &["phone"], ""));
        };
        Phone::parse_mobile(raw)
            .map_err(|e| prompt::invalid(self.lang, "phone", e.message(self.lang)))
    }
}

/// A booking id as typed: full-width folded, spaces and dashes dropped,
/// upper-cased, and the letters Crockford base32 leaves out read as the
/// digits they look like.
pub(crate) fn normalize_booking_id(s: &str) -> String {
    let compact: String = fold_width(s)
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match compact.strip_prefix("BK") {
        Some(code) => {
            let code: String = code
                .chars()
                .map(|c| match c {
                    'I' | 'L' => '1',
                    'O' => '0',
                    c => c,
                })
                .collect();
            format!("BK{code}")
        }
        None => compact,
    }
}

#[derive(Default)]
pub struct AppointmentBooking;

impl Skill for AppointmentBooking {
    type Input = Input;

    fn describe(&self) -> Info {
        Info::new(
            "appointment-booking",
            env!("CARGO_PKG_VERSION"),
            "预约：查询可预约的办理地点和时段，预约、查询、取消线下办理的预约",
        )
        .with_examples([
            "我想预约明天上午去办理",
            "还有哪些时段可以预约？",
            "查一下我的预约",
            "取消预约",
            "Book an appointment at the service hall",
        ])
        .with_input_schema(input_schema())
    }

    fn invoke(&self, input: Input, cx: &Context) -> Outcome {
        let lang = cx.lang();
        let Some(action) = given(&input.action).and_then(Action::parse) else {
            return prompt::ask_action(lang);
        };
        let (catalog, schedule) = match (Catalog::bundled(), Schedule::bundled()) {
            (Ok(c), Ok(s)) => (c, s),
            (Err(e), _) | (_, Err(e)) => return Outcome::failed(e),
        };
        let env = Env {
            cx,
            lang,
            catalog,
            schedule,
        };
        match action {
            Action::Offices => actions::offices(&env, &input),
            Action::Slots => actions::slots(&env, &input),
            Action::Book => book::book(&env, &input),
            Action::List => actions::list(&env, &input),
            Action::Cancel => actions::cancel(&env, &input),
        }
    }
}

export_skill!(AppointmentBooking);

fn input_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": { "type": "string", "enum": ["offices", "slots", "book", "list", "cancel"],
                        "description": "What to do (after each action, phrases a user may write, split by slashes). offices: 可预约的办理地点/在哪里办/哪些地点/哪些窗口; slots: 某天的空闲时段/哪些时段/空闲时段/什么时间有空; book: 预约/想预约/要预约/帮我约; list: 查询手机号的预约/我的预约/查看预约/查一下预约/查询预约; cancel: 取消预约/退掉预约" },
            "office_id": { "type": "string", "description": "办理地点编号 (of-…), from `offices`" },
            "item_id": { "type": "string", "description": "事项编码; picks the office when only one handles the item" },
            "query": { "type": "string", "description": "offices: words in the agency, address or item name" },
            "date": { "type": "string", "format": "date", "description": "预约日期 YYYY-MM-DD (a working day)" },
            "slot": { "type": "string", "description": "时段开始时间 HH:MM, from `slots`" },
            "name": { "type": "string", "description": "预约人姓名" },
            "phone": { "type": "string", "description": "11位手机号码" },
            "booking_id": { "type": "string", "description": "预约号 (BK…), for cancel" }
        }
    })
}

#[cfg(test)]
mod tests;
