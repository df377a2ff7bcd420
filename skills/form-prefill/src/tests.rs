//! Native tests through the host's entry point (JSON in, `Outcome` out),
//! against a fake knowledge base whose hits are shaped exactly like the real
//! ones: `ServiceItemFields::render` in `knowledge-base/src/document.rs`.

use govassist_skill_sdk::serde_json::{self, json, Value};
use govassist_skill_sdk::testing::{self, FakeHost};
use govassist_skill_sdk::{KbHit, Lang, Outcome};

use super::FormPrefill;
use crate::item::{labelled_fields, ServiceItem};

/// 2026-01-05T02:00:00Z, a Monday, 10:00 in Guangzhou.
const NOW_MS: u64 = 1_767_578_400_000;

/// A person-only item, as the knowledge base renders record
/// 11440000006940116U2440102013001 of the bundled data.
const TEACHER_ID: &str = "11440000006940116U2440102013001";
const TEACHER_NAME: &str = "高等学校教师资格认定";
const TEACHER_PASSAGE: &str = "事项名称：高等学校教师资格认定
实施主体：广东省教育厅
受理条件：广东省高等学校教师
申请材料：体检表；普通话等级证书；学历证书；居民身份证；本人正面免冠照片
办理地点：广州市越秀区东风东路723号高教大厦1502房
法定办结时限：30(工作日)
承诺办结时限：15(工作日)
办理平台：广东省统一申办受理平台
咨询电话：020-37628372
网上预约：是
服务对象：自然人";

/// An item open to persons and organizations (record
/// 11440100007482620J3440102003001, materials shortened).
const COLLEGE_ID: &str = "11440100007482620J3440102003001";
const COLLEGE_NAME: &str = "高等职业学校设立（含设置分校区）";
const COLLEGE_PASSAGE: &str = "事项名称：高等职业学校设立（含设置分校区）
实施主体：广州市教育局
受理条件：符合《中华人民共和国高等教育法》、《中华人民共和国民办教育促进法》和《高等职业学校设置标准（暂行）》《专科学历高校设置标准（暂行）》所列出的全部条件的组织可提出申请。
申请材料：申请正式建校的请示报告；申请正式建校可行性论证报告；学校章程
办理地点：广州市天河区华利路61号广州市政务服务中心3楼综合受理窗口305-313
法定办结时限：180(工作日)
承诺办结时限：35(工作日)
办理平台：广东省统一申办受理平台
咨询电话：020-12345
网上预约：是
服务对象：自然人、企业法人、事业法人、行政机关、其他组织";

/// Organizations only (not in the bundled data, where every item admits
/// 自然人, but a district's own items may be), with no materials listed:
/// the knowledge base then leaves the 申请材料 line out.
const PERMIT_ID: &str = "11440100TEST0000013440100000001";
const PERMIT_NAME: &str = "企业投资项目备案";
const PERMIT_PASSAGE: &str = "事项名称：企业投资项目备案
实施主体：广州市发展和改革委员会
办理地点：无线下办理窗口
承诺办结时限：1(工作日)
咨询电话：020-83124567
网上预约：否
服务对象：企业法人、事业法人";

const VALID_ID: &str = "11010519491231002X";
const VALID_CODE: &str = "91440300708461136T";

fn hit(id: &str, passage: &str) -> KbHit {
    KbHit {
        id: id.to_owned(),
        title: passage
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("事项名称：")
            .to_owned(),
        passage: passage.to_owned(),
        score: 0.5,
    }
}

/// A knowledge base that, like the real one, finds items by name only.
fn kb() -> FakeHost {
    let faq = KbHit {
        id: "GIP_94145712".into(),
        title: "如何申请教师资格？".into(),
        passage: "如何申请教师资格？\n请向教育局申请。".into(),
        score: 0.9,
    };
    FakeHost::new()
        .with_now_ms(NOW_MS)
        .with_kb_hits(Vec::new())
        .with_kb_hits_for(TEACHER_NAME, vec![faq, hit(TEACHER_ID, TEACHER_PASSAGE)])
        .with_kb_hits_for(COLLEGE_NAME, vec![hit(COLLEGE_ID, COLLEGE_PASSAGE)])
        .with_kb_hits_for(PERMIT_NAME, vec![hit(PERMIT_ID, PERMIT_PASSAGE)])
}

fn run(host: &FakeHost, input: Value, lang: Lang) -> Outcome {
    testing::invoke::<FormPrefill>(&input, lang, host)
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

fn teacher(extra: Value) -> Value {
    let mut input = json!({"item_id": TEACHER_ID, "item_name": TEACHER_NAME});
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    input
}

/// `(key, value)` of every form field.
fn form(v: &Value) -> Vec<(String, String)> {
    v["form"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn fills_a_persons_form_and_lists_the_materials() {
    let host = kb();
    let v = done(run(
        &host,
        teacher(
            json!({"name": " 李明 ", "id_number": "11010519491231002x", "phone": "138 0013 8000"}),
        ),
        Lang::ZhHans,
    ));
    assert_eq!(
        v["materials"],
        json!([
            "体检表",
            "普通话等级证书",
            "学历证书",
            "居民身份证",
            "本人正面免冠照片"
        ])
    );
    assert_eq!(v["applicant_type"], "person");
    assert_eq!(
        form(&v),
        [
            ("name", "李明"),
            ("id_number", VALID_ID),
            ("birth_date", "1949-12-31"),
            ("sex", "女"),
            ("phone", "13800138000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(v["form"]["fields"][0]["label"], "申请人姓名");
    assert_eq!(
        v["form"]["title"],
        "“高等学校教师资格认定”申请表（预填草稿）"
    );
    assert_eq!(v["form"]["filled_on"], "2026-01-05");
    assert_eq!(v["item"]["agency"], "广东省教育厅");
    assert_eq!(
        v["item"]["location"],
        "广州市越秀区东风东路723号高教大厦1502房"
    );
    assert_eq!(v["item"]["promised_time_limit"], "15(工作日)");
    assert_eq!(v["item"]["consult_phone"], "020-37628372");
    assert_eq!(v["item"]["online_booking"], true);
    assert!(
        v["notes"][1].as_str().unwrap().contains("网上预约"),
        "{}",
        v["notes"]
    );
    // Looked up by name (the id is not searchable); nothing logged.
    assert_eq!(host.kb_queries(), [TEACHER_NAME]);
    assert!(host.logs().is_empty());
}

#[test]
fn an_id_alone_is_tried_then_the_name_is_asked_for() {
    let host = kb();
    let (fields, prompt) = need_input(run(&host, json!({"item_id": TEACHER_ID}), Lang::ZhHans));
    assert_eq!(fields, ["item_name"]);
    assert!(prompt.contains(TEACHER_ID), "{prompt}");
    assert_eq!(host.kb_queries(), [TEACHER_ID]);

    // Should the knowledge base learn to match ids, the id alone suffices.
    let host = kb().with_kb_hits_for(TEACHER_ID, vec![hit(TEACHER_ID, TEACHER_PASSAGE)]);
    let v = done(run(
        &host,
        json!({"item_id": TEACHER_ID, "name": "李明", "id_number": VALID_ID, "phone": "13800138000"}),
        Lang::ZhHans,
    ));
    assert_eq!(v["item"]["id"], TEACHER_ID);
}

#[test]
fn a_unique_name_alone_finds_the_item_and_a_shared_one_asks_which() {
    let v = done(run(
        &kb(),
        json!({"item_name": TEACHER_NAME, "name": "李明", "id_number": VALID_ID, "phone": "13800138000"}),
        Lang::En,
    ));
    assert_eq!(v["item"]["id"], TEACHER_ID);

    // The same item name at province and city level.
    let name = "建设项目环境影响报告表审批";
    let passage = |agency: &str| {
        format!("事项名称：{name}\n实施主体：{agency}\n申请材料：环境影响报告表\n网上预约：是\n服务对象：自然人、企业法人")
    };
    let host = FakeHost::new().with_now_ms(NOW_MS).with_kb_hits_for(
        name,
        vec![
            hit(
                "11440000006940060Q2440113106002",
                &passage("广东省生态环境厅"),
            ),
            hit(
                "11440100MB2C93184J344011310600202",
                &passage("广州市生态环境局"),
            ),
        ],
    );
    let (fields, prompt) = need_input(run(&host, json!({"item_name": name}), Lang::ZhHans));
    assert_eq!(fields, ["item_id"]);
    assert!(
        prompt.contains("11440000006940060Q2440113106002（广东省生态环境厅）")
            && prompt.contains("11440100MB2C93184J344011310600202（广州市生态环境局）"),
        "{prompt}"
    );
    // With the id, the right one of the two.
    let v = done(run(
        &host,
        json!({"item_name": name, "item_id": "11440100MB2C93184J344011310600202", "applicant_type": "企业",
               "enterprise_name": "广州某某环保科技有限公司", "credit_code": VALID_CODE, "name": "王芳", "phone": "020-83123456"}),
        Lang::ZhHans,
    ));
    assert_eq!(v["item"]["agency"], "广州市生态环境局");
}

#[test]
fn an_unknown_item_fails_with_a_clear_message() {
    for (input, lang, expected) in [
        (
            json!({"item_id": "114400000000000000X", "item_name": TEACHER_NAME}),
            Lang::ZhHans,
            "知识库中没有编码为 114400000000000000X 的事项，请核对事项编码和名称。",
        ),
        (
            json!({"item_id": "114400000000000000X", "item_name": "不存在的事项"}),
            Lang::En,
            "There is no service item 114400000000000000X in the knowledge base; please check its id and name.",
        ),
        (
            json!({"item_name": "不存在的事项"}),
            Lang::ZhHant,
            "知識庫中沒有名為「不存在的事项」的事項，請核對事項名稱。", // the name as typed
        ),
    ] {
        assert_eq!(run(&kb(), input.clone(), lang), Outcome::failed(expected), "{input}");
    }
    // A FAQ hit is never taken for an item, even when its id is asked for.
    let host = kb();
    assert!(matches!(
        run(
            &host,
            json!({"item_id": "GIP_94145712", "item_name": TEACHER_NAME}),
            Lang::En
        ),
        Outcome::Failed(_)
    ));
}

#[test]
fn nothing_given_asks_for_the_item() {
    let (fields, prompt) = need_input(run(&kb(), json!({}), Lang::En));
    assert_eq!(fields, ["item_name"]);
    assert_eq!(prompt, "Which service would you like to apply for?");
}

#[test]
fn missing_details_are_asked_for_in_the_users_language() {
    for (lang, expected) in [
        (Lang::ZhHans, "为预填“高等学校教师资格认定”的申请表，请提供申请人姓名、公民身份号码、联系电话。"),
        (Lang::ZhHant, "為預填「高等学校教师资格认定」的申請表，請提供申請人姓名、公民身份號碼、聯絡電話。"),
        (Lang::En, "To pre-fill the application for “高等学校教师资格认定”, please give the applicant's name, resident ID number, phone number."),
    ] {
        let (fields, prompt) = need_input(run(&kb(), teacher(json!({"name": "  "})), lang));
        assert_eq!(fields, ["name", "id_number", "phone"]);
        assert_eq!(prompt, expected);
    }
}

#[test]
fn an_invalid_detail_is_asked_for_again_with_the_reason() {
    let ok = json!({"name": "李明", "id_number": VALID_ID, "phone": "13800138000"});
    for (field, value, lang, reason) in [
        ("id_number", "110105194912310021", Lang::ZhHans, "公民身份号码：身份证号码校验位不符，可能有输入错误，请核对后重新提供。"),
        ("id_number", "11010519491231002", Lang::ZhHans, "身份证号码应为18位"),
        ("id_number", "110105194902300020", Lang::ZhHans, "出生日期（第7-14位）无效"),
        ("id_number", "110105202701010016", Lang::ZhHans, "出生日期（第7-14位）无效"), // born next year
        ("id_number", "99010519491231002X", Lang::ZhHant, "地區碼"),
        ("id_number", "110105194912310021", Lang::En, "Resident ID number: the ID number's check digit does not match; it probably has a typo. Please check it."),
        ("phone", "12800138000", Lang::ZhHans, "手机号码为1开头的11位数字"),
        ("phone", "83123456", Lang::ZhHans, "固定电话请加上区号"),
        ("phone", "call me", Lang::En, "Phone number: the phone number is not valid"),
    ] {
        let mut input = teacher(ok.clone());
        input[field] = json!(value);
        let (fields, prompt) = need_input(run(&kb(), input, lang));
        assert_eq!(fields, [field], "{value}");
        assert!(prompt.contains(reason), "{value}: {prompt}");
    }
}

#[test]
fn invalid_details_come_before_missing_ones() {
    let (fields, prompt) = need_input(run(
        &kb(),
        teacher(json!({"id_number": "110105194912310021"})),
        Lang::ZhHans,
    ));
    assert_eq!(fields, ["id_number", "name", "phone"]);
    assert_eq!(
        prompt,
        "公民身份号码：身份证号码校验位不符，可能有输入错误，请核对后重新提供。\
         为预填“高等学校教师资格认定”的申请表，请提供申请人姓名、联系电话。"
    );
}

#[test]
fn granted_personal_fields_fill_the_gaps_and_input_wins() {
    let host = kb();
    let personal = [
        ("name", "张三"),
        ("id_number", "440306199003077714"),
        ("phone", "13900139000"),
    ];
    let out = testing::invoke_with_personal::<FormPrefill>(
        &teacher(json!({"phone": "020-37628372"})),
        Lang::ZhHans,
        &personal,
        &host,
    );
    let v = done(out);
    assert_eq!(
        form(&v),
        [
            ("name", "张三"),
            ("id_number", "440306199003077714"),
            ("birth_date", "1990-03-07"),
            ("sex", "男"),
            ("phone", "020-37628372"), // the input's, not the profile's
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );

    // A stored value that does not check out is asked for like a typed one.
    let personal = [
        ("name", "张三"),
        ("id_number", "440306199003077715"),
        ("phone", "13900139000"),
    ];
    let out = testing::invoke_with_personal::<FormPrefill>(
        &teacher(json!({})),
        Lang::ZhHans,
        &personal,
        &host,
    );
    assert_eq!(need_input(out).0, ["id_number"]);
    assert!(host.logs().is_empty(), "personal values are never logged");
}

#[test]
fn organizations_give_name_credit_code_and_a_contact() {
    let college = |extra: Value| {
        let mut input = json!({"item_id": COLLEGE_ID, "item_name": COLLEGE_NAME});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    // Open to both and nothing says which: ask.
    let (fields, prompt) = need_input(run(&kb(), college(json!({"name": "王芳"})), Lang::ZhHans));
    assert_eq!(fields, ["applicant_type"]);
    assert!(prompt.contains("个人和单位均可办理"), "{prompt}");

    // A credit code says it is an organization; the rest is asked for.
    let (fields, prompt) = need_input(run(
        &kb(),
        college(json!({"credit_code": VALID_CODE})),
        Lang::ZhHans,
    ));
    assert_eq!(fields, ["enterprise_name", "name", "phone"]);
    assert!(
        prompt.contains("请提供单位名称、经办人姓名、联系电话"),
        "{prompt}"
    );

    let v = done(run(
        &kb(),
        college(
            json!({"applicant_type": "organization", "enterprise_name": "广州某某职业技术学院",
                       "credit_code": "9144 0300 7084 6113 6t", "name": "王芳", "phone": 13800138000_u64,
                       "address": "广州市天河区某路1号"}),
        ),
        Lang::En,
    ));
    assert_eq!(v["applicant_type"], "organization");
    assert_eq!(
        v["form"]["applicant_type"],
        "legal person or other organization"
    );
    assert_eq!(
        form(&v),
        [
            ("enterprise_name", "广州某某职业技术学院"),
            ("credit_code", VALID_CODE),
            ("name", "王芳"),
            ("phone", "13800138000"),
            ("address", "广州市天河区某路1号"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(v["form"]["fields"][2]["label"], "contact person's name");

    // A wrong credit code.
    let (fields, prompt) = need_input(run(
        &kb(),
        college(
            json!({"applicant_type": "单位", "enterprise_name": "某公司", "credit_code": "91440300708461I36T",
                       "name": "王芳", "phone": "13800138000"}),
        ),
        Lang::ZhHans,
    ));
    assert_eq!(fields, ["credit_code"]);
    assert!(prompt.contains("不含I、O、Z、S、V"), "{prompt}");
}

#[test]
fn the_items_audience_limits_the_applicant_type() {
    let permit = json!({"item_id": PERMIT_ID, "item_name": PERMIT_NAME});
    // Organizations only: no need to ask which.
    let (fields, _) = need_input(run(&kb(), permit.clone(), Lang::ZhHans));
    assert_eq!(fields, ["enterprise_name", "credit_code", "name", "phone"]);

    let mut as_person = permit.clone();
    as_person["applicant_type"] = json!("个人");
    assert_eq!(
        run(&kb(), as_person, Lang::ZhHans),
        Outcome::failed("“企业投资项目备案”不面向自然人办理。")
    );

    let mut unknown = permit;
    unknown["applicant_type"] = json!("robot");
    assert_eq!(
        need_input(run(&kb(), unknown, Lang::En)).0,
        ["applicant_type"]
    );
}

#[test]
fn an_item_without_materials_says_where_to_find_them() {
    let v = done(run(
        &kb(),
        json!({"item_id": PERMIT_ID, "item_name": PERMIT_NAME, "enterprise_name": "广州某某有限公司",
               "credit_code": VALID_CODE, "name": "王芳", "phone": "13800138000"}),
        Lang::ZhHans,
    ));
    assert_eq!(v["materials"], json!([]));
    let notes = v["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "no booking note: online booking is 否");
    assert_eq!(
        notes[1],
        "知识库未列出该事项的申请材料，请查阅办事指南或致电咨询电话 020-83124567。"
    );
}

#[test]
fn input_that_is_not_an_object_of_strings_is_refused() {
    let out = run(&kb(), json!({"item_id": ["x"]}), Lang::En);
    assert!(matches!(out, Outcome::Failed(m) if m.starts_with("invalid input")));
}

#[test]
fn labelled_fields_are_read_robustly() {
    let passage = "噪声行
事项名称：测试事项
受理条件：第一条：申请人应当
具备下列条件：（一）……
申請材料：甲；乙；；丙
服务对象: 自然人、企业法人
网上预约：是";
    let fields = labelled_fields(passage);
    assert_eq!(
        fields,
        [
            ("事项名称", "测试事项".to_owned()),
            (
                "受理条件",
                "第一条：申请人应当\n具备下列条件：（一）……".to_owned()
            ),
            ("申请材料", "甲；乙；；丙".to_owned()),
            ("服务对象", "自然人、企业法人".to_owned()),
            ("网上预约", "是".to_owned()),
        ]
    );
    let item = ServiceItem::from_hit(&hit("X1", passage)).unwrap();
    assert_eq!(item.materials, ["甲", "乙", "丙"]);
    assert_eq!(item.audience, ["自然人", "企业法人"]);
    assert_eq!(item.online_booking, Some(true));
    assert_eq!(item.location, None);
}

/// Every bundled service item, rendered the way the knowledge base renders
/// it, parses back to its own fields.
#[test]
fn every_bundled_item_parses_back() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../knowledge-base/data/service-items/guangdong_service_items.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the bundled knowledge-base data");
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| r[k].as_str().map(str::to_owned);
        let list = |k: &str| -> Vec<String> {
            r[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        // `ServiceItemFields::render`, line for line.
        let mut lines = vec![format!("事项名称：{}", s("事项名称").unwrap())];
        let mut push = |label: &str, value: Option<String>| {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                lines.push(format!("{label}：{v}"));
            }
        };
        push("实施主体", s("实施主体"));
        push("受理条件", s("受理条件"));
        push("申请材料", Some(list("申请材料").join("；")));
        push("办理地点", s("办理地点"));
        push("法定办结时限", s("法定办结时限"));
        push("承诺办结时限", s("承诺办结时限"));
        push("办理平台", s("办理平台"));
        push("咨询电话", s("咨询电话"));
        let booking = s("网上预约").as_deref() == Some("是");
        push(
            "网上预约",
            Some(if booking { "是" } else { "否" }.to_owned()),
        );
        push("服务对象", Some(list("服务对象").join("、")));

        let id = s("id").unwrap();
        let item = ServiceItem::from_hit(&hit(&id, &lines.join("\n"))).unwrap();
        assert_eq!(item.name, s("事项名称").unwrap().trim(), "{id}");
        assert_eq!(item.audience, list("服务对象"), "{id}");
        assert_eq!(item.online_booking, Some(booking), "{id}");
        assert_eq!(
            item.location.as_deref(),
            s("办理地点")
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty()),
            "{id}"
        );
        assert_eq!(
            item.promised_time_limit,
            s("承诺办结时限").filter(|v| !v.trim().is_empty()),
            "{id}"
        );
        // A material that itself contains `；` comes back split: compare the text.
        let materials: Vec<String> = list("申请材料")
            .iter()
            .flat_map(|m| {
                m.split('；')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(item.materials, materials, "{id}");
        checked += 1;
    }
    assert!(checked > 2000, "{checked} items");
}

#[test]
fn the_manifest_matches_describe() {
    use govassist_skill_sdk::Skill;
    let manifest = include_str!("../skill.toml");
    let info = FormPrefill.describe();
    assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
    assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
    assert!(manifest.contains("capabilities = [\"kb\", \"clock\"]"));
}
