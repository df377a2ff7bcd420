//! Native tests through the host's entry point (JSON in, `Outcome` out),
//! against a fake host with a fixed clock and an in-memory compare-and-set
//! store; races are injected with `FakeHost::race_next_put`.

use std::collections::BTreeMap;

use govassist_skill_sdk::serde_json::{self, json, Value};
use govassist_skill_sdk::testing::{self, FakeHost};
use govassist_skill_sdk::{Context, Host, Lang, Outcome};

use super::AppointmentBooking;
use crate::book::booking_id;
use crate::catalog::Catalog;
use crate::normalize_booking_id;
use crate::store::{self, STALE_CLAIM_MS};

/// 2026-01-05T02:00:00Z: Monday, 10:00 in Guangzhou.
const NOW_MS: u64 = 1_767_578_400_000;
/// 高等学校教师资格认定, handled at 广东省教育厅, 高教大厦1502房.
const ITEM: &str = "11440000006940116U2440102013001";
const OFFICE: &str = "of-98ab4893";
const TUESDAY: &str = "2026-01-06";
const PHONE_A: &str = "13800138000";
const PHONE_B: &str = "13900139000";

fn host() -> FakeHost {
    FakeHost::new().with_now_ms(NOW_MS)
}

fn run(host: &FakeHost, input: Value, lang: Lang) -> Outcome {
    testing::invoke::<AppointmentBooking>(&input, lang, host)
}

fn done(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Done(v) => v,
        other => panic!("expected done, got {other:?}"),
    }
}

fn need_input(outcome: Outcome) -> (Vec<String>, String) {
    match outcome {
        Outcome::NeedInput { fields, prompt } => (fields, prompt),
        other => panic!("expected need-input, got {other:?}"),
    }
}

fn book(host: &FakeHost, date: &str, slot: &str, phone: &str) -> Outcome {
    run(
        host,
        json!({"action": "book", "item_id": ITEM, "date": date, "slot": slot, "name": "李明", "phone": phone}),
        Lang::ZhHans,
    )
}

fn booked_id(outcome: Outcome) -> String {
    done(outcome)["booking_id"].as_str().unwrap().to_owned()
}

fn free_slots(host: &FakeHost, date: &str) -> Vec<String> {
    let v = done(run(
        host,
        json!({"action": "slots", "office_id": OFFICE, "date": date}),
        Lang::ZhHans,
    ));
    v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["time"].as_str().unwrap().to_owned())
        .collect()
}

fn list(host: &FakeHost, phone: &str) -> Vec<String> {
    let v = done(run(
        host,
        json!({"action": "list", "phone": phone}),
        Lang::ZhHans,
    ));
    v["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            format!(
                "{} {}",
                b["date"].as_str().unwrap(),
                b["time"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn books_a_slot_and_confirms_in_the_users_language() {
    let host = host();
    let v = done(run(
        &host,
        json!({"action": "book", "item_id": ITEM, "date": TUESDAY, "slot": "9:00", "name": "李明", "phone": "138 0013 8000"}),
        Lang::ZhHans,
    ));
    let id = v["booking_id"].as_str().unwrap();
    assert!(id.starts_with("BK") && id.len() == 10, "{id}");
    assert_eq!(v["status"], "booked");
    assert_eq!(v["office"]["id"], OFFICE);
    assert_eq!(
        v["office"]["address"],
        "广州市越秀区东风东路723号高教大厦1502房"
    );
    assert_eq!(
        v["item"],
        json!({"id": ITEM, "name": "高等学校教师资格认定"})
    );
    assert_eq!(
        (v["date"].as_str(), v["time"].as_str(), v["end"].as_str()),
        (Some(TUESDAY), Some("09:00"), Some("09:30"))
    );
    assert_eq!(v["phone"], PHONE_A);
    assert_eq!(
        v["message"],
        format!("预约成功，预约号 {id}。请于2026-01-06（周二） 09:00-09:30到广州市越秀区东风东路723号高教大厦1502房办理“高等学校教师资格认定”，并携带身份证件和申请材料。如需取消，请提供预约号和手机号码。")
    );
    // Stored under the documented keys.
    assert!(host
        .kv_get(&format!("slot/{OFFICE}/{TUESDAY}/09:00/1"))
        .is_some());
    assert!(host.kv_get(&format!("booking/{id}")).is_some());
    assert_eq!(
        host.kv_get(&format!("phone/{PHONE_A}")),
        Some(serde_json::to_vec(&[id]).unwrap())
    );
    // Logged: ids, never the name or phone.
    let logs = host.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0].1,
        format!("booked {id} at {OFFICE} on {TUESDAY} 09:00")
    );

    let second = done(book(&host, TUESDAY, "09:30", PHONE_A));
    assert_eq!(second["time"], "09:30");
}

#[test]
fn a_second_booking_of_a_taken_slot_fails_and_offers_the_others() {
    let host = host();
    booked_id(book(&host, TUESDAY, "09:00", PHONE_A));
    let (fields, prompt) = need_input(book(&host, TUESDAY, "09:00", PHONE_B));
    assert_eq!(fields, ["slot"]);
    assert_eq!(
        prompt,
        "2026-01-06（周二） 09:00 已被预约。当日可预约时段：09:30、10:00、10:30、11:00、14:00、14:30、15:00、15:30、16:00、16:30。"
    );
    assert!(!free_slots(&host, TUESDAY).contains(&"09:00".to_owned()));
    assert!(
        list(&host, PHONE_B).is_empty(),
        "nothing stored for the loser"
    );
}

#[test]
fn a_full_day_asks_for_another_day() {
    let host = host();
    for (i, slot) in free_slots(&host, TUESDAY).iter().enumerate() {
        // Three bookings per phone at most: spread over phones.
        booked_id(book(&host, TUESDAY, slot, &format!("1380013{:04}", i / 3)));
    }
    assert!(free_slots(&host, TUESDAY).is_empty());
    let (fields, prompt) = need_input(book(&host, TUESDAY, "09:00", PHONE_B));
    assert_eq!(fields, ["date", "slot"]);
    assert!(
        prompt.starts_with("2026-01-06（周二）已约满，请换一天。可预约日期：2026-01-05（周一）、"),
        "{prompt}"
    );
}

#[test]
fn cancelling_frees_the_slot_and_is_idempotent() {
    let host = host();
    let id = booked_id(book(&host, TUESDAY, "10:00", PHONE_A));

    // The wrong phone learns nothing about the booking.
    let wrong = run(
        &host,
        json!({"action": "cancel", "booking_id": id, "phone": PHONE_B}),
        Lang::ZhHans,
    );
    assert_eq!(
        wrong,
        Outcome::failed(format!(
            "没有找到与该手机号对应的预约 {id}，请核对预约号和手机号码。"
        ))
    );

    // Typed loosely: lower case, dashes.
    let loose = format!("bk-{}-{}", &id[2..6].to_lowercase(), &id[6..]);
    let v = done(run(
        &host,
        json!({"action": "cancel", "booking_id": loose, "phone": PHONE_A}),
        Lang::ZhHans,
    ));
    assert_eq!(v["status"], "cancelled");
    assert_eq!(
        v["message"],
        format!("已取消预约 {id}（2026-01-06（周二） 10:00）。")
    );
    assert!(free_slots(&host, TUESDAY).contains(&"10:00".to_owned()));
    assert!(list(&host, PHONE_A).is_empty());
    assert_eq!(
        host.kv_get(&format!("slot/{OFFICE}/{TUESDAY}/10:00/1"))
            .as_deref(),
        Some(&b""[..])
    );

    // Someone else can now have it; cancelling again changes nothing.
    let other = booked_id(book(&host, TUESDAY, "10:00", PHONE_B));
    let again = done(run(
        &host,
        json!({"action": "cancel", "booking_id": id, "phone": PHONE_A}),
        Lang::En,
    ));
    assert_eq!(
        again["message"],
        format!("Booking {id} (2026-01-06 (Tue) 10:00) was already cancelled.")
    );
    assert_eq!(list(&host, PHONE_B), ["2026-01-06 10:00"]);
    assert!(
        !free_slots(&host, TUESDAY).contains(&"10:00".to_owned()),
        "{other} keeps the seat"
    );
    assert_eq!(
        host.logs()
            .iter()
            .filter(|(_, l)| l.starts_with("cancelled"))
            .count(),
        1
    );
}

#[test]
fn a_past_appointment_cannot_be_cancelled() {
    let host = host();
    let id = booked_id(book(&host, "2026-01-05", "14:00", PHONE_A));
    let later = FakeHost::new().with_now_ms(NOW_MS + 5 * 3_600_000); // 15:00
    for (k, v) in [
        format!("booking/{id}"),
        format!("slot/{OFFICE}/2026-01-05/14:00/1"),
        format!("phone/{PHONE_A}"),
    ]
    .iter()
    .map(|k| (k.clone(), host.kv_get(k).unwrap()))
    {
        later.set_kv(&k, &v); // the same store, after a restart
    }
    assert_eq!(
        run(
            &later,
            json!({"action": "cancel", "booking_id": id, "phone": PHONE_A}),
            Lang::En
        ),
        Outcome::failed("The appointment has begun or passed and cannot be cancelled.")
    );
    assert!(
        list(&later, PHONE_A).is_empty(),
        "past bookings are not listed"
    );
    assert_eq!(list(&host, PHONE_A), ["2026-01-05 14:00"]);
}

#[test]
fn lists_a_phones_upcoming_bookings_in_order() {
    let host = host();
    booked_id(book(&host, "2026-01-07", "14:00", PHONE_A));
    booked_id(book(&host, TUESDAY, "16:30", PHONE_A));
    booked_id(book(&host, TUESDAY, "09:00", PHONE_B));
    assert_eq!(
        list(&host, PHONE_A),
        ["2026-01-06 16:30", "2026-01-07 14:00"]
    );
    assert_eq!(list(&host, PHONE_B), ["2026-01-06 09:00"]);
    let none = done(run(
        &host,
        json!({"action": "list", "phone": "13700137000"}),
        Lang::ZhHant,
    ));
    assert_eq!(none["message"], "該手機號目前沒有預約。");
    // The phone from the user's profile.
    let out = testing::invoke_with_personal::<AppointmentBooking>(
        &json!({"action": "list"}),
        Lang::ZhHans,
        &[("phone", PHONE_B)],
        &host,
    );
    assert_eq!(done(out)["count"], 1);
}

#[test]
fn slots_skip_the_past_and_the_lead_time() {
    let host = host();
    assert_eq!(free_slots(&host, TUESDAY).len(), 11);
    // Monday 10:00: 10:00 has begun and 10:30 starts in exactly 30 minutes.
    assert_eq!(
        free_slots(&host, "2026-01-05"),
        ["10:30", "11:00", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]
    );
    let v = done(run(
        &host,
        json!({"action": "slots", "item_id": ITEM, "date": TUESDAY}),
        Lang::En,
    ));
    assert_eq!(v["office"]["id"], OFFICE, "the item's only office");
    assert_eq!(
        v["slots"][0],
        json!({"time": "09:00", "end": "09:30", "free_seats": 1})
    );
    assert_eq!(v["message"], "11 slots are free on 2026-01-06 (Tue).");
}

#[test]
fn bad_days_are_asked_for_again_with_the_reason() {
    let open_days = "可预约日期：2026-01-05（周一）、2026-01-06（周二）、2026-01-07（周三）、2026-01-08（周四）、2026-01-09（周五）。";
    for (date, lang, expected) in [
        ("2026/01/06", Lang::ZhHans, format!("预约日期：日期请按“年-月-日”填写，如 2026-01-06。{open_days}")),
        ("2026-02-30", Lang::ZhHans, format!("预约日期：日期请按“年-月-日”填写，如 2026-01-06。{open_days}")),
        ("2026-01-10", Lang::ZhHans, format!("预约日期：2026-01-10（周六）不是工作日，不办理业务。{open_days}")),
        ("2026-01-02", Lang::ZhHans, format!("预约日期：2026-01-02（周五）已经过去。{open_days}")),
        ("2026-01-30", Lang::ZhHans, format!("预约日期：最远只能预约到2026-01-19。{open_days}")),
        ("2026-01-11", Lang::ZhHant, "預約日期：2026-01-11（週日）不是工作日，不辦理業務。可預約日期：2026-01-05（週一）、2026-01-06（週二）、2026-01-07（週三）、2026-01-08（週四）、2026-01-09（週五）。".to_owned()),
        ("2026-01-11", Lang::En, "The date is not usable: 2026-01-11 (Sun) is not a working day. Open days: 2026-01-05 (Mon), 2026-01-06 (Tue), 2026-01-07 (Wed), 2026-01-08 (Thu), 2026-01-09 (Fri).".to_owned()),
    ] {
        for action in ["slots", "book"] {
            let input = json!({"action": action, "office_id": OFFICE, "item_id": ITEM, "date": date,
                               "slot": "09:00", "name": "李明", "phone": PHONE_A});
            let (fields, prompt) = need_input(run(&host(), input, lang));
            assert_eq!(fields, ["date"], "{action} {date}");
            assert_eq!(prompt, expected, "{action} {date}");
        }
    }
}

#[test]
fn bad_slots_and_details_are_asked_for_again() {
    let today = "2026-01-05";
    for (date, slot, phone, field, needle) in [
        (today, "09:30", PHONE_A, "slot", "该时段已开始或即将开始"),
        (
            today,
            "10:00",
            PHONE_A,
            "slot",
            "当日可预约时段：10:30、11:00、",
        ),
        (TUESDAY, "09:15", PHONE_A, "slot", "没有这个时段"),
        (TUESDAY, "12:00", PHONE_A, "slot", "没有这个时段"),
        (TUESDAY, "noon", PHONE_A, "slot", "没有这个时段"),
        (
            TUESDAY,
            "09:00",
            "020-37628372",
            "phone",
            "请提供11位手机号码",
        ),
        (
            TUESDAY,
            "09:00",
            "1380013800",
            "phone",
            "手机号码为1开头的11位数字",
        ),
    ] {
        let (fields, prompt) = need_input(book(&host(), date, slot, phone));
        assert_eq!(fields, [field], "{date} {slot} {phone}");
        assert!(prompt.contains(needle), "{date} {slot} {phone}: {prompt}");
    }
}

#[test]
fn missing_details_are_asked_for_together_with_what_can_be_chosen() {
    let host = host();
    let (fields, prompt) = need_input(run(
        &host,
        json!({"action": "book", "item_id": ITEM}),
        Lang::ZhHans,
    ));
    assert_eq!(fields, ["date", "slot", "name", "phone"]);
    assert!(
        prompt.starts_with(
            "请提供预约日期、预约时段、姓名、手机号码。可预约日期：2026-01-05（周一）"
        ),
        "{prompt}"
    );

    let (fields, prompt) = need_input(run(
        &host,
        json!({"action": "book", "item_id": ITEM, "date": TUESDAY}),
        Lang::En,
    ));
    assert_eq!(fields, ["slot", "name", "phone"]);
    assert!(
        prompt.starts_with(
            "Please give your time slot, name, mobile number. Free slots that day: 09:00, 09:30,"
        ),
        "{prompt}"
    );

    // Name and phone from the user's profile; only the slot is left.
    let out = testing::invoke_with_personal::<AppointmentBooking>(
        &json!({"action": "book", "item_id": ITEM, "date": TUESDAY}),
        Lang::ZhHans,
        &[("name", "张三"), ("phone", PHONE_B)],
        &host,
    );
    assert_eq!(need_input(out).0, ["slot"]);
    let out = testing::invoke_with_personal::<AppointmentBooking>(
        &json!({"action": "book", "item_id": ITEM, "date": TUESDAY, "slot": "11:00"}),
        Lang::ZhHans,
        &[("name", "张三"), ("phone", PHONE_B)],
        &host,
    );
    let v = done(out);
    assert_eq!(
        (v["name"].as_str(), v["phone"].as_str()),
        (Some("张三"), Some(PHONE_B))
    );

    for (input, fields) in [
        (json!({}), vec!["action"]),
        (json!({"action": "dance"}), vec!["action"]),
        (json!({"action": "book"}), vec!["office_id"]),
        (
            json!({"action": "slots", "office_id": "of-00000000"}),
            vec!["office_id"],
        ),
        (
            json!({"action": "book", "office_id": "of-98ab4893"}),
            vec!["item_id"],
        ),
        (json!({"action": "cancel"}), vec!["booking_id", "phone"]),
        (json!({"action": "list"}), vec!["phone"]),
    ] {
        assert_eq!(
            need_input(run(&host, input.clone(), Lang::ZhHans)).0,
            fields,
            "{input}"
        );
    }
}

#[test]
fn items_and_offices_must_belong_together() {
    let host = host();
    assert_eq!(
        run(
            &host,
            json!({"action": "slots", "item_id": "NOT-AN-ITEM", "date": TUESDAY}),
            Lang::ZhHans
        ),
        Outcome::failed("事项 NOT-AN-ITEM 没有可在这里预约的办理地点：这个事项不设可预约的办理窗口，或只能在办事指南所列的平台上预约；也请核对事项编码。")
    );
    let out = run(
        &host,
        json!({"action": "book", "office_id": "of-7bf67264", "item_id": ITEM, "date": TUESDAY, "slot": "09:00", "name": "李明", "phone": PHONE_A}),
        Lang::ZhHans,
    );
    assert!(
        matches!(out, Outcome::Failed(m) if m.contains("不办理事项 11440000006940116U2440102013001"))
    );
    // An office with one item needs no item id.
    let v = done(run(
        &host,
        json!({"action": "book", "office_id": "of-7bf67264", "date": TUESDAY, "slot": "09:00", "name": "李明", "phone": PHONE_A}),
        Lang::ZhHans,
    ));
    assert_eq!(v["item"]["name"], "临时价格干预范围事项提价申报");
}

#[test]
fn a_phone_may_hold_three_upcoming_bookings() {
    let host = host();
    for slot in ["09:00", "09:30", "10:00"] {
        booked_id(book(&host, TUESDAY, slot, PHONE_A));
    }
    assert_eq!(
        book(&host, TUESDAY, "10:30", PHONE_A),
        Outcome::failed("该手机号已有3个未办理的预约，请办理或取消后再预约。")
    );
    assert!(
        free_slots(&host, TUESDAY).contains(&"10:30".to_owned()),
        "the refused booking held nothing"
    );
}

#[test]
fn offices_by_item_by_query_and_all() {
    let host = host();
    let all = done(run(&host, json!({"action": "offices"}), Lang::ZhHans));
    assert_eq!(all["count"], 148);
    assert!(
        all["offices"][0]["items"].is_null(),
        "items are only counted in the full list"
    );

    let v = done(run(
        &host,
        json!({"action": "offices", "item_id": ITEM}),
        Lang::En,
    ));
    assert_eq!(v["count"], 1);
    assert_eq!(v["offices"][0]["id"], OFFICE);
    assert_eq!(
        v["offices"][0]["items"],
        json!([{"id": ITEM, "name": "高等学校教师资格认定"}])
    );

    let v = done(run(
        &host,
        json!({"action": "offices", "query": "教师资格"}),
        Lang::ZhHans,
    ));
    let names: Vec<&str> = v["offices"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["items"].as_array().unwrap())
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"高等学校教师资格认定"), "{names:?}");
    assert!(names.iter().all(|n| n.contains("教师资格")), "{names:?}");

    let v = done(run(
        &host,
        json!({"action": "offices", "query": "高教大厦1502"}),
        Lang::ZhHans,
    ));
    assert_eq!(v["count"], 1);
    assert_eq!(v["offices"][0]["item_count"], 3);

    assert_eq!(
        run(
            &host,
            json!({"action": "offices", "item_id": "NOT-AN-ITEM"}),
            Lang::En
        ),
        Outcome::failed(
            "Service item NOT-AN-ITEM has no office to book here: it has no counter that takes appointments, or is booked only on the platform its guide names; please also check the item code."
        )
    );
}

#[test]
fn a_concurrent_claim_between_read_and_write_wins_the_seat() {
    let host = host();
    let seat = format!("slot/{OFFICE}/{TUESDAY}/09:00/1");
    // Another instance claims the seat after this call read it as free.
    host.race_next_put(&seat, br#"{"booking":"BKOTHER001","at":1767578400000}"#);
    let (fields, prompt) = need_input(book(&host, TUESDAY, "09:00", PHONE_A));
    assert_eq!(host.pending_races(), 0, "the race fired");
    assert_eq!(fields, ["slot"]);
    assert!(prompt.contains("09:00 已被预约"), "{prompt}");
    assert_eq!(
        host.kv_get(&seat).as_deref(),
        Some(&br#"{"booking":"BKOTHER001","at":1767578400000}"#[..])
    );
    assert!(host.kv_get(&format!("phone/{PHONE_A}")).is_none());
}

#[test]
fn a_concurrent_index_update_is_kept() {
    let host = host();
    let other = booked_id(book(&host, "2026-01-07", "09:00", PHONE_A));
    let index_key = format!("phone/{PHONE_A}");
    let before = host.kv_get(&index_key).unwrap();
    // Rewind the index as if `other` were still being added by another call
    // that lands between this call's read and its compare-and-set.
    host.set_kv(&index_key, b"[]");
    host.race_next_put(&index_key, &before);
    let mine = booked_id(book(&host, TUESDAY, "09:00", PHONE_A));
    assert_eq!(host.pending_races(), 0);
    let index: Vec<String> = serde_json::from_slice(&host.kv_get(&index_key).unwrap()).unwrap();
    assert_eq!(index, [other, mine]);
}

#[test]
fn a_claim_left_by_a_call_that_died_is_reclaimed_only_when_stale() {
    let seat = format!("slot/{OFFICE}/{TUESDAY}/09:00/1");
    let orphan = |at: u64| format!(r#"{{"booking":"BKDEAD0001","at":{at}}}"#);

    let host = host();
    host.set_kv(&seat, orphan(NOW_MS - 1_000).as_bytes());
    assert!(
        !free_slots(&host, TUESDAY).contains(&"09:00".to_owned()),
        "may still be in progress"
    );
    assert!(matches!(
        book(&host, TUESDAY, "09:00", PHONE_A),
        Outcome::NeedInput { .. }
    ));

    let host = self::host();
    host.set_kv(&seat, orphan(NOW_MS - STALE_CLAIM_MS - 1).as_bytes());
    assert!(free_slots(&host, TUESDAY).contains(&"09:00".to_owned()));
    booked_id(book(&host, TUESDAY, "09:00", PHONE_A));
}

#[test]
fn a_slot_with_several_seats_takes_that_many() {
    let host = host();
    let cx = Context::new(Lang::ZhHans, &host);
    let claim =
        |id: &str| store::claim_seat(&cx, OFFICE, TUESDAY, "09:00", 2, id, NOW_MS).map(|h| h.seat);
    assert_eq!(claim("BK00000001"), Some(1));
    assert_eq!(claim("BK00000002"), Some(2));
    assert_eq!(claim("BK00000003"), None);
    assert_eq!(
        store::free_seats(
            &cx,
            OFFICE,
            TUESDAY,
            "09:00",
            2,
            NOW_MS + STALE_CLAIM_MS + 1
        ),
        2,
        "never recorded: stale"
    );
}

#[test]
fn booking_ids_are_short_distinct_and_forgiving_to_type() {
    let a = booking_id(&[OFFICE, TUESDAY, "09:00", PHONE_A, "1"], 0);
    let b = booking_id(&[OFFICE, TUESDAY, "09:00", PHONE_A, "1"], 1);
    let c = booking_id(&[OFFICE, TUESDAY, "09:30", PHONE_A, "1"], 0);
    assert!(a != b && a != c && b != c);
    for id in [&a, &b, &c] {
        assert!(id.len() == 10 && id.starts_with("BK"), "{id}");
        assert!(!id[2..].contains(['I', 'L', 'O', 'U']), "{id}");
    }
    for (typed, expected) in [
        ("BK7Q2M9XHD", "BK7Q2M9XHD"),
        ("bk-7q2m-9xhd", "BK7Q2M9XHD"),
        (" BK 7Q2M 9XHD ", "BK7Q2M9XHD"),
        ("ＢＫ７Ｑ２Ｍ９ＸＨＤ", "BK7Q2M9XHD"),
        ("BKO1LI0000", "BK01110000"), // O, L and I read as the digits they look like
    ] {
        assert_eq!(normalize_booking_id(typed), expected, "{typed}");
    }
}

#[test]
fn the_manifest_matches_describe() {
    use govassist_skill_sdk::Skill;
    let manifest = include_str!("../skill.toml");
    let info = AppointmentBooking.describe();
    assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
    assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
    assert!(manifest.contains("capabilities = [\"log\", \"clock\", \"kv\"]"));
}

/// An office as compared: id, agency, address, `(item id, item name)`s.
type OfficeRow = (String, String, String, Vec<(String, String)>);

/// offices.json is what `gen_offices.py` derives from the bundled data now:
/// the same derivation, repeated here, so `cargo test` catches a stale file.
#[test]
fn offices_json_is_up_to_date() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../knowledge-base/data/service-items"
    );
    let mut by_address: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the bundled knowledge-base data")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        for line in std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let r: Value = serde_json::from_str(line).unwrap();
            let address = r["办理地点"].as_str().unwrap_or("").trim().to_owned();
            let bookable = r["网上预约"] == "是"
                && r["deleted"] != true
                && r["事项名称"].is_string()
                && !address.is_empty()
                && !["无线下办理窗口", "所在地"]
                    .iter()
                    .any(|w| address.contains(w));
            if bookable {
                by_address.entry(address).or_default().push(r);
            }
        }
    }
    let fnv = |s: &str| {
        s.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
    };
    let mut expected: Vec<OfficeRow> = by_address
        .into_iter()
        .map(|(address, records)| {
            let mut counts: BTreeMap<String, i32> = BTreeMap::new();
            for r in &records {
                *counts
                    .entry(r["实施主体"].as_str().unwrap_or("").trim().to_owned())
                    .or_default() += 1;
            }
            let agency = counts
                .iter()
                .min_by_key(|(a, n)| (-**n, (*a).clone()))
                .unwrap()
                .0
                .clone();
            let mut items: Vec<(String, String)> = records
                .iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap().to_owned(),
                        r["事项名称"].as_str().unwrap().trim().to_owned(),
                    )
                })
                .collect();
            items.sort();
            (format!("of-{:08x}", fnv(&address)), agency, address, items)
        })
        .collect();
    expected.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
    let actual: Vec<OfficeRow> = Catalog::bundled()
        .unwrap()
        .offices
        .into_iter()
        .map(|o| (o.id, o.agency, o.address, o.items))
        .collect();
    assert!(
        actual == expected,
        "offices.json is stale: run python3 skills/appointment-booking/gen_offices.py"
    );
}
