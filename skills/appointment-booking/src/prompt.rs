//! What the skill says to the user when it needs more, or cannot go on, in
//! their language. Each prompt says what to give and, where it helps, what
//! can be chosen (open days, free slots), so the next turn can succeed.

use govassist_skill_sdk::date::Date;
use govassist_skill_sdk::{Lang, Outcome};

use crate::catalog::Office;
use crate::schedule::{day_label, DayError};

/// Items or offices listed in a prompt at most.
const MAX_CHOICES: usize = 10;

pub fn field_label(key: &str, lang: Lang) -> &'static str {
    match key {
        "office_id" => lang.pick("办理地点", "辦理地點", "office"),
        "item_id" => lang.pick("办理事项", "辦理事項", "service item"),
        "date" => lang.pick("预约日期", "預約日期", "date"),
        "slot" => lang.pick("预约时段", "預約時段", "time slot"),
        "name" => lang.pick("姓名", "姓名", "name"),
        "phone" => lang.pick("手机号码", "手機號碼", "mobile number"),
        "booking_id" => lang.pick("预约号", "預約號", "booking number"),
        _ => lang.pick("信息", "資訊", "details"),
    }
}

fn join(parts: impl IntoIterator<Item = String>, lang: Lang) -> String {
    parts
        .into_iter()
        .collect::<Vec<_>>()
        .join(lang.pick("、", "、", ", "))
}

/// Ask for `fields`, followed by `hint` (may be empty).
pub fn ask(lang: Lang, fields: &[&str], hint: &str) -> Outcome {
    let labels = join(fields.iter().map(|f| field_label(f, lang).to_owned()), lang);
    let ask = match lang {
        Lang::ZhHans => format!("请提供{labels}。"),
        Lang::ZhHant => format!("請提供{labels}。"),
        Lang::En => format!("Please give your {labels}."),
    };
    Outcome::need_input(fields.iter().copied(), with_hint(ask, hint, lang))
}

/// Ask for `field` again, saying what is wrong with it.
pub fn invalid(lang: Lang, field: &str, why: &str) -> Outcome {
    invalid_with_hint(lang, field, why, "")
}

pub fn invalid_with_hint(lang: Lang, field: &str, why: &str, hint: &str) -> Outcome {
    let label = field_label(field, lang);
    // Every `why` says what to give instead, or `hint` lists the choices.
    let text = match lang {
        Lang::ZhHans | Lang::ZhHant => format!("{label}：{why}。"),
        Lang::En => format!("The {label} is not usable: {why}."),
    };
    Outcome::need_input([field], with_hint(text, hint, lang))
}

fn with_hint(text: String, hint: &str, lang: Lang) -> String {
    if hint.is_empty() {
        text
    } else {
        text + lang.pick("", "", " ") + hint
    }
}

pub fn ask_action(lang: Lang) -> Outcome {
    Outcome::need_input(
        ["action"],
        lang.pick(
            "请问您要：查询可预约的办理地点、查看空闲时段、预约、查看我的预约，还是取消预约？",
            "請問您要：查詢可預約的辦理地點、查看空閒時段、預約、查看我的預約，還是取消預約？",
            "Would you like to see the offices, see free slots, book, list your bookings, or cancel one?",
        ),
    )
}

pub fn ask_office(lang: Lang) -> Outcome {
    Outcome::need_input(
        ["office_id"],
        lang.pick(
            "请问要预约哪个办理地点？也可以告诉我要办理的事项编码。",
            "請問要預約哪個辦理地點？也可以告訴我要辦理的事項編碼。",
            "Which office would you like to book at? You can also tell me the service item's id.",
        ),
    )
}

pub fn unknown_office(lang: Lang, id: &str) -> Outcome {
    Outcome::need_input(
        ["office_id"],
        match lang {
            Lang::ZhHans => format!("没有编号为 {id} 的办理地点，请先查询可预约的办理地点。"),
            Lang::ZhHant => format!("沒有編號為 {id} 的辦理地點，請先查詢可預約的辦理地點。"),
            Lang::En => format!("There is no office {id}; please look up the offices first."),
        },
    )
}

pub fn item_not_bookable(lang: Lang, item_id: &str) -> Outcome {
    Outcome::failed(match lang {
        Lang::ZhHans => format!("事项 {item_id} 没有可在这里预约的办理地点：这个事项不设可预约的办理窗口，或只能在办事指南所列的平台上预约；也请核对事项编码。"),
        Lang::ZhHant => format!("事項 {item_id} 沒有可在這裡預約的辦理地點：這個事項不設可預約的辦理窗口，或只能在辦事指南所列的平台上預約；也請核對事項編碼。"),
        Lang::En => {
            format!("Service item {item_id} has no office to book here: it has no counter that takes appointments, or is booked only on the platform its guide names; please also check the item code.")
        }
    })
}

pub fn choose_office(lang: Lang, offices: &[&Office]) -> Outcome {
    let choices = join(
        offices
            .iter()
            .take(MAX_CHOICES)
            .map(|o| format!("{}（{}）", o.id, o.address)),
        lang,
    );
    Outcome::need_input(
        ["office_id"],
        match lang {
            Lang::ZhHans => format!("该事项有多个办理地点，请选择：{choices}"),
            Lang::ZhHant => format!("該事項有多個辦理地點，請選擇：{choices}"),
            Lang::En => format!("Several offices handle this item; please choose one: {choices}"),
        },
    )
}

pub fn choose_item(lang: Lang, office: &Office) -> Outcome {
    let choices = join(
        office
            .items
            .iter()
            .take(MAX_CHOICES)
            .map(|(id, name)| format!("{id} {name}")),
        lang,
    );
    let n = office.items.len();
    Outcome::need_input(
        ["item_id"],
        match lang {
            Lang::ZhHans => format!("请问要办理哪个事项？该地点可预约的事项（共{n}项）：{choices}"),
            Lang::ZhHant => format!("請問要辦理哪個事項？該地點可預約的事項（共{n}項）：{choices}"),
            Lang::En => format!("Which service item is the appointment for? This office handles {n}, e.g.: {choices}"),
        },
    )
}

pub fn item_not_at_office(lang: Lang, office: &Office, item_id: &str) -> Outcome {
    Outcome::failed(match lang {
        Lang::ZhHans => format!(
            "{}（{}）不办理事项 {item_id}，请先查询该事项的办理地点。",
            office.agency, office.address
        ),
        Lang::ZhHant => format!(
            "{}（{}）不辦理事項 {item_id}，請先查詢該事項的辦理地點。",
            office.agency, office.address
        ),
        Lang::En => format!(
            "The office at {} does not handle item {item_id}; look up the item's offices first.",
            office.address
        ),
    })
}

/// `可预约日期：…。`, or nothing when no day is open.
pub fn days_hint(lang: Lang, days: &[Date]) -> String {
    if days.is_empty() {
        return String::new();
    }
    let list = join(days.iter().map(|d| day_label(*d, lang)), lang);
    match lang {
        Lang::ZhHans => format!("可预约日期：{list}。"),
        Lang::ZhHant => format!("可預約日期：{list}。"),
        Lang::En => format!("Open days: {list}."),
    }
}

/// `当日可预约时段：09:00、09:30。`, or that none is left.
pub fn slots_hint(lang: Lang, free: &[String]) -> String {
    if free.is_empty() {
        return lang
            .pick(
                "当日已无可预约时段。",
                "當日已無可預約時段。",
                "No slot is free that day.",
            )
            .to_owned();
    }
    let list = join(free.iter().cloned(), lang);
    match lang {
        Lang::ZhHans => format!("当日可预约时段：{list}。"),
        Lang::ZhHant => format!("當日可預約時段：{list}。"),
        Lang::En => format!("Free slots that day: {list}."),
    }
}

pub fn bad_date(lang: Lang, days: &[Date]) -> Outcome {
    invalid_with_hint(
        lang,
        "date",
        lang.pick(
            "日期请按“年-月-日”填写，如 2026-01-06",
            "日期請按「年-月-日」填寫，如 2026-01-06",
            "write the date as YYYY-MM-DD, e.g. 2026-01-06",
        ),
        &days_hint(lang, days),
    )
}

pub fn day_error(lang: Lang, date: Date, error: DayError, days: &[Date]) -> Outcome {
    let day = day_label(date, lang);
    let why = match (error, lang) {
        (DayError::Past, Lang::ZhHans) => format!("{day}已经过去"),
        (DayError::Past, Lang::ZhHant) => format!("{day}已經過去"),
        (DayError::Past, Lang::En) => format!("{day} is in the past"),
        (DayError::TooFar { last }, Lang::ZhHans) => format!("最远只能预约到{last}"),
        (DayError::TooFar { last }, Lang::ZhHant) => format!("最遠只能預約到{last}"),
        (DayError::TooFar { last }, Lang::En) => format!("bookings are open up to {last}"),
        (DayError::Closed, Lang::ZhHans) => format!("{day}不是工作日，不办理业务"),
        (DayError::Closed, Lang::ZhHant) => format!("{day}不是工作日，不辦理業務"),
        (DayError::Closed, Lang::En) => format!("{day} is not a working day"),
    };
    invalid_with_hint(lang, "date", &why, &days_hint(lang, days))
}

pub fn bad_slot(lang: Lang, free: &[String]) -> Outcome {
    invalid_with_hint(
        lang,
        "slot",
        lang.pick(
            "没有这个时段，请按“时:分”选择一个时段的开始时间",
            "沒有這個時段，請按「時:分」選擇一個時段的開始時間",
            "there is no such slot; give a slot's start as HH:MM",
        ),
        &slots_hint(lang, free),
    )
}

pub fn slot_passed(lang: Lang, free: &[String]) -> Outcome {
    invalid_with_hint(
        lang,
        "slot",
        lang.pick(
            "该时段已开始或即将开始，不能再预约",
            "該時段已開始或即將開始，不能再預約",
            "that slot has begun or is about to",
        ),
        &slots_hint(lang, free),
    )
}

pub fn slot_taken(lang: Lang, date: Date, time: &str, free: &[String], days: &[Date]) -> Outcome {
    let day = day_label(date, lang);
    if free.is_empty() {
        let text = match lang {
            Lang::ZhHans => format!("{day}已约满，请换一天。"),
            Lang::ZhHant => format!("{day}已約滿，請換一天。"),
            Lang::En => format!("{day} is fully booked; please choose another day."),
        };
        return Outcome::need_input(
            ["date", "slot"],
            with_hint(text, &days_hint(lang, days), lang),
        );
    }
    let text = match lang {
        Lang::ZhHans => format!("{day} {time} 已被预约。"),
        Lang::ZhHant => format!("{day} {time} 已被預約。"),
        Lang::En => format!("{day} {time} has just been taken."),
    };
    Outcome::need_input(["slot"], with_hint(text, &slots_hint(lang, free), lang))
}

pub fn too_many(lang: Lang, n: usize) -> Outcome {
    Outcome::failed(match lang {
        Lang::ZhHans => format!("该手机号已有{n}个未办理的预约，请办理或取消后再预约。"),
        Lang::ZhHant => format!("該手機號已有{n}個未辦理的預約，請辦理或取消後再預約。"),
        Lang::En => format!(
            "This mobile number already has {n} upcoming bookings; attend or cancel one first."
        ),
    })
}

pub fn busy(lang: Lang) -> Outcome {
    Outcome::failed(lang.pick(
        "预约系统繁忙，请稍后再试。",
        "預約系統繁忙，請稍後再試。",
        "The booking system is busy; please try again shortly.",
    ))
}

/// The same answer whether the id does not exist or belongs to another
/// phone: a booking's existence is not revealed to a stranger.
pub fn no_such_booking(lang: Lang, id: &str) -> Outcome {
    Outcome::failed(match lang {
        Lang::ZhHans => format!("没有找到与该手机号对应的预约 {id}，请核对预约号和手机号码。"),
        Lang::ZhHant => format!("沒有找到與該手機號對應的預約 {id}，請核對預約號和手機號碼。"),
        Lang::En => format!("No booking {id} was found for this mobile number; please check both."),
    })
}

pub fn too_late_to_cancel(lang: Lang) -> Outcome {
    Outcome::failed(lang.pick(
        "预约时段已开始或已过，无法取消。",
        "預約時段已開始或已過，無法取消。",
        "The appointment has begun or passed and cannot be cancelled.",
    ))
}
