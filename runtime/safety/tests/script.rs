//! Simplified → Traditional on real service sentences (Taiwan usage).

use govassist_safety::script::to_traditional;

#[test]
fn service_sentences() {
    // (Simplified model output, expected Traditional)
    let cases = [
        ("办理营业执照需要哪些材料", "辦理營業執照需要哪些材料"),
        (
            "请携带本人身份证原件及复印件到窗口办理。",
            "請攜帶本人身份證原件及複印件到窗口辦理。",
        ),
        (
            "申请人应当在发证机关批准后十五个工作日内领取证件。",
            "申請人應當在發證機關批准後十五個工作日內領取證件。",
        ),
        (
            "如需委托他人代办，须提供委托书。",
            "如需委託他人代辦，須提供委託書。",
        ),
        (
            "网上预约后，可于周一至周五到服务大厅办理。",
            "網上預約後，可於週一至週五到服務大廳辦理。",
        ),
        (
            "这里的面积计算标准以不动产登记簿为准。",
            "這裡的面積計算標準以不動產登記簿為準。",
        ),
        (
            "请注意：注册资本发生变化的，应当办理变更登记。",
            "請注意：註冊資本發生變化的，應當辦理變更登記。",
        ),
        (
            "台风期间，台北市各区公所暂停对外服务。",
            "颱風期間，台北市各區公所暫停對外服務。",
        ),
        (
            "符合条件的，可以申请延期，最长不超过一年。",
            "符合條件的，可以申請延期，最長不超過一年。",
        ),
        (
            "办理结果将通过短信通知，请留意联系电话。",
            "辦理結果將通過短信通知，請留意聯繫電話。",
        ),
        (
            "复杂的情况请拨打12345热线咨询，或回复本条消息。",
            "複雜的情況請撥打12345熱線諮詢，或回覆本條消息。",
        ),
        (
            "里长办公处距离这里约两公里。",
            "里長辦公處距離這裡約兩公里。",
        ),
        (
            "历年的缴费记录可以在系统里查询。",
            "歷年的繳費記錄可以在系統裡查詢。",
        ),
        ("剩余名额将于下周公布。", "剩餘名額將於下週公布。"),
        (
            "理发店需要办理卫生许可证吗？",
            "理髮店需要辦理衛生許可證嗎？",
        ),
    ];
    let mut failures = Vec::new();
    for (simplified, expected) in cases {
        let got = to_traditional(simplified);
        if got != expected {
            failures.push(format!(
                "{simplified}\n   got:      {got}\n   expected: {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn traditional_and_other_text_pass_through() {
    for text in [
        "辦理營業執照需要哪些材料？",
        "臺北市政府 1999 市民當家熱線",
        "Apply online at https://www.gdzwfw.gov.cn/ before 2024-05-01.",
        "",
    ] {
        assert_eq!(to_traditional(text), text);
    }
}
