//! Search behaviour over the bundled knowledge base.
//!
//! The bundled data is imported once per test run into a directory under cargo's target tmpdir
//! (rebuilt from scratch each run) and shared by the tests of this file.

use std::sync::OnceLock;

use govassist_kb::{DocKind, Hit, KnowledgeBase};

fn bundled() -> &'static KnowledgeBase {
    static KB: OnceLock<KnowledgeBase> = OnceLock::new();
    KB.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("govassist-kb-bundled");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the previous test index");
        }
        let kb = KnowledgeBase::open(&dir).expect("open");
        let report = kb.import_bundled().expect("import bundled data");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        kb
    })
}

fn rank_of(hits: &[Hit], doc_id: &str) -> Option<usize> {
    hits.iter().position(|h| h.doc_id == doc_id).map(|p| p + 1)
}

/// (query, expected document, best acceptable rank). Each query is run as written and with its
/// script flipped by hand, to prove folding works at query time.
const KNOWN_ITEMS: &[(&str, &str, &str, usize)] = &[
    (
        "房地产估价师考试在哪里报名",
        "房地產估價師考試在哪裡報名",
        "11440000553612461J2442111790001",
        1,
    ),
    (
        "律师调到外省工作，执业证书怎么注销",
        "律師調到外省工作，執業證書怎麼註銷",
        "114400000069401674244010900200502",
        5,
    ),
    (
        "外国人永久居留身份证丢了要补发",
        "外國人永久居留身份證丟了要補發",
        "11440100007483172Q3440106045003",
        5,
    ),
];

#[test]
fn known_service_items_are_found_in_simplified_and_traditional() {
    let kb = bundled();
    for &(simplified, traditional, id, best) in KNOWN_ITEMS {
        for query in [simplified, traditional] {
            let hits = kb.search(query, 5).expect(query);
            let rank = rank_of(&hits, id);
            assert!(
                rank.is_some_and(|r| r <= best),
                "{query}: {id} at {rank:?}, wanted ≤ {best}; got {:?}",
                hits.iter().map(|h| &h.title).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn service_item_hit_carries_its_fields() {
    let hits = bundled().search("房地产估价师考试报名", 1).expect("search");
    let hit = &hits[0];
    assert_eq!(hit.kind, DocKind::ServiceItem);
    assert_eq!(hit.id, hit.doc_id);
    assert!(
        hit.passage.starts_with("事项名称：房地产估价师考试报名"),
        "{}",
        hit.passage
    );
    let fields = hit.service.as_ref().expect("service fields");
    assert_eq!(fields.phone, hit.phone);
    assert_eq!(fields.guide_url, hit.url);
    // As in the source record.
    assert_eq!(hit.phone.as_deref(), Some("12333"));
    assert_eq!(hit.url.as_deref(), Some("http://182.92.48.72/"));
    assert!(fields.online_booking);
}

#[test]
fn faq_is_found_by_a_paraphrase() {
    // Stored question: 臺北市立浩然敬老院-申請入住
    let hits = bundled()
        .search("想让家里的老人住进浩然敬老院，有什么资格要求？", 5)
        .expect("search");
    let rank = rank_of(&hits, "GIP_324157606");
    assert!(
        rank.is_some(),
        "{:?}",
        hits.iter().map(|h| (&h.id, &h.title)).collect::<Vec<_>>()
    );
    let hit = &hits[rank.unwrap_or(1) - 1];
    assert_eq!(hit.kind, DocKind::Faq);
    assert!(
        hit.passage.contains("申請入院資格"),
        "FAQ passage lacks the answer"
    );
}

#[test]
fn staff_passage_is_found_with_its_passage_id() {
    let hits = bundled()
        .search("政务辅助智能机器人管理暂行办法是谁首创的", 5)
        .expect("search");
    let hit = hits
        .iter()
        .find(|h| h.doc_id == "000_280c3507d73d2e9a.txt")
        .unwrap_or_else(|| panic!("{:?}", hits.iter().map(|h| &h.id).collect::<Vec<_>>()));
    assert_eq!(hit.kind, DocKind::StaffDoc);
    let (doc, n) = hit.id.split_once('#').expect("passage id has #N");
    assert_eq!(doc, hit.doc_id);
    assert!(n.parse::<usize>().is_ok_and(|n| n >= 1), "{}", hit.id);
    assert!(hit.passage.contains("政务辅助智能机器人"));
    assert!(hit.passage.chars().count() <= 500);
}

#[test]
fn traditional_staff_document_is_searchable_in_simplified() {
    // 003 is in Traditional script with pinyin glosses (區(qū)) that import strips.
    let hits = bundled()
        .search("龙岗区政务服务和数据管理局 龙小i", 5)
        .expect("search");
    let hit = hits
        .iter()
        .find(|h| h.doc_id == "003_3f77eba0168a8ce9.txt")
        .unwrap_or_else(|| panic!("{:?}", hits.iter().map(|h| &h.id).collect::<Vec<_>>()));
    assert!(
        !hit.passage.contains("(qū)"),
        "pinyin gloss left in {}",
        hit.passage
    );
}

#[test]
fn bad_queries_and_k_give_their_codes() {
    let kb = bundled();
    let too_long = "办".repeat(10_000);
    let cases: &[(&str, usize, &str)] = &[
        ("", 5, "empty_query"),
        ("  \n\t ", 5, "empty_query"),
        (&too_long, 5, "query_too_long"),
        ("？！……😀🙏", 5, "invalid_query"),
        ("营业执照", 0, "invalid_k"),
        ("营业执照", 101, "invalid_k"),
    ];
    for &(query, k, code) in cases {
        let err = kb.search(query, k).expect_err(code);
        assert_eq!(err.code(), code, "{err}");
        assert!(err.is_client_error(), "{code} should be a client error");
    }
}

#[test]
fn query_syntax_is_never_interpreted() {
    let kb = bundled();
    for query in [
        "\"营业执照\" AND (OR",
        "title:残疾 NOT 补办 *",
        "护照~2 ^3 [a TO z] {",
        "我想办护照😀😀，怎么办？？？",
        "ＡＰＰ　預約",
        "\\\\ // '' \u{0} 护照",
    ] {
        let hits = kb
            .search(query, 10)
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert!(hits.len() <= 10);
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "{query}: not sorted"
        );
    }
    let passport = kb.search("护照 AND", 5).expect("search");
    assert!(
        passport.iter().any(|h| h.title.contains("护照")),
        "AND broke the query"
    );
}
