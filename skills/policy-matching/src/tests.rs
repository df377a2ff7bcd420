//! Native tests of the matching logic, through the same entry point the host
//! uses (JSON in, `Outcome` out), with a fixed clock.

use govassist_skill_sdk::serde_json::{json, Value};
use govassist_skill_sdk::testing::{self, FakeHost};
use govassist_skill_sdk::{Lang, Outcome};

use super::PolicyMatching;
use crate::catalog::Catalog;

/// 2026-01-01T00:00:00Z.
const NOW_MS: u64 = 1_767_225_600_000;

fn run(input: Value, lang: Lang) -> Outcome {
    let host = FakeHost::new().with_now_ms(NOW_MS);
    testing::invoke::<PolicyMatching>(&input, lang, &host)
}

fn done(input: Value, lang: Lang) -> Value {
    match run(input, lang) {
        Outcome::Done(v) => v,
        other => panic!("expected done, got {other:?}"),
    }
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

fn find<'a>(v: &'a Value, key: &str, id: &str) -> &'a Value {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {key}: {v}"))
}

#[test]
fn bundled_catalogue_parses_and_references_only_known_terms() {
    let c = Catalog::bundled().expect("policies.json");
    assert!((8..=12).contains(&c.policies.len()));
}

#[test]
fn high_tech_manufacturer_gets_award_with_one_reason_per_condition() {
    let v = done(
        json!({"industry": "制造业", "size": "small", "district": "福田区", "founded_year": 2020,
               "revenue_wan": 1500, "headcount": 40, "qualifications": ["高新技术企业"]}),
        Lang::ZhHans,
    );
    let award = find(&v, "eligible", "P-2025-01");
    assert_eq!(award["name"], "国家高新技术企业认定奖励");
    assert_eq!(award["benefit"], "一次性奖励20万元");
    // districts, qualifications_all, min_years: three conditions, three reasons.
    let reasons: Vec<&str> = award["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "注册在福田区",
            "成立6年，不少于1年",
            "已认定为国家高新技术企业"
        ]
    );
    // Small, 6 years, 40 people: the job-retention subsidy too.
    assert!(ids(&v, "eligible").contains(&"P-2025-04".to_owned()));
    // Revenue 1500 < 2000 and otherwise fits: one gap away from the 规上 award.
    let near = find(&v, "near_misses", "P-2025-06");
    assert_eq!(
        near["lacking"],
        json!(["年营业收入须不低于2000万元（现1500万元）"])
    );
}

#[test]
fn wrong_district_is_never_a_near_miss() {
    let v = done(
        json!({"industry": "manufacturing", "size": "medium", "district": "Futian", "founded_year": 2015,
               "revenue_wan": 30000, "headcount": 500, "qualifications": ["规上企业"]}),
        Lang::En,
    );
    assert!(
        !ids(&v, "near_misses").contains(&"P-2025-10".to_owned()),
        "{v}"
    );
    assert!(!ids(&v, "eligible").contains(&"P-2025-10".to_owned()));
    // Already 规上: the "first time" award is ruled out with a reason.
    let first = find(&v, "near_misses", "P-2025-06");
    assert_eq!(
        first["lacking"],
        json!([
            "only for enterprises not yet listed as above-designated-size industrial enterprise"
        ])
    );
}

#[test]
fn years_since_founding_use_the_host_clock() {
    let input = json!({"industry": "software", "size": "micro", "district": "福田", "founded_year": 2023,
                       "revenue_wan": 100, "headcount": 5, "qualifications": []});
    // In 2026 a 2023 start-up is 3 years old: the start-up rent subsidy applies.
    assert!(ids(&done(input.clone(), Lang::ZhHans), "eligible").contains(&"P-2025-07".to_owned()));
    // A year later it is 4 years old and no longer qualifies.
    let host = FakeHost::new().with_now_ms(NOW_MS + 366 * 86_400_000);
    let Outcome::Done(later) = testing::invoke::<PolicyMatching>(&input, Lang::ZhHans, &host)
    else {
        panic!("expected done");
    };
    assert!(!ids(&later, "eligible").contains(&"P-2025-07".to_owned()));
}

#[test]
fn empty_input_asks_for_the_fields_in_the_requests_language() {
    for (lang, needle) in [
        (Lang::ZhHans, "请提供"),
        (Lang::ZhHant, "請提供"),
        (Lang::En, "please tell me"),
    ] {
        let Outcome::NeedInput { fields, prompt } = run(json!({}), lang) else {
            panic!("expected need-input");
        };
        assert!(fields.contains(&"district".to_owned()), "{fields:?}");
        assert!(fields.contains(&"qualifications".to_owned()));
        assert!(prompt.contains(needle), "{prompt}");
    }
}

#[test]
fn traditional_chinese_output() {
    let v = done(
        json!({"district": "福田區", "qualifications": ["專精特新"], "size": "小型", "founded_year": 2018}),
        Lang::ZhHant,
    );
    let p = find(&v, "eligible", "P-2025-02");
    assert_eq!(p["name"], "專精特新中小企業獎勵");
    assert_eq!(
        p["reasons"],
        json!([
            "註冊在福田區",
            "企業規模為小型企業",
            "已認定為專精特新中小企業"
        ])
    );
}

#[test]
fn invalid_values_fail_with_an_actionable_message() {
    assert_eq!(
        run(json!({"size": "huge"}), Lang::En),
        Outcome::failed("size must be one of: micro, small, medium, large")
    );
    assert_eq!(
        run(json!({"founded_year": 2030}), Lang::En),
        Outcome::failed("founded_year must be between 1900 and 2026")
    );
    assert!(
        matches!(run(json!({"headcount": "many"}), Lang::En), Outcome::Failed(m) if m.starts_with("invalid input"))
    );
}
