//! Import behaviour on small fixtures: bad lines, replacement by id, persistence.

use std::path::{Path, PathBuf};

use govassist_kb::KnowledgeBase;

fn item(id: &str, name: &str) -> String {
    format!(
        r#"{{"id":"{id}","事项名称":"{name}","实施主体":"测试局","申请材料":["申请表"],"办理地点":"测试路1号","咨询电话":"020-0000","网上预约":"是","服务对象":["自然人"],"主题分类":["测试"],"办事指南URL":"https://example.invalid/{id}"}}"#
    )
}

fn faq(id: &str, question: &str, answer: &str) -> String {
    format!(
        r#"{{"id":"{id}","question":"{question}","answer":"{answer}","keywords":[],"contact_phone":"1999"}}"#
    )
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, content).expect("write fixture");
    path
}

fn ids(kb: &KnowledgeBase, query: &str) -> Vec<String> {
    kb.search(query, 20)
        .expect(query)
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn malformed_lines_are_reported_and_the_rest_imported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lines = [
        item("A1", "渔船登记证核发"),
        "{not json".to_string(),
        String::new(),
        r#"{"id":"B1","title":"neither kind"}"#.to_string(),
        faq("GIP_1", "垃圾清运时间", "每日晚间七点清运"),
    ];
    let file = write(tmp.path(), "mixed.jsonl", &lines.join("\n"));
    let kb = KnowledgeBase::open(&tmp.path().join("index")).expect("open");
    let report = kb
        .import_paths(std::slice::from_ref(&file))
        .expect("import");

    assert_eq!((report.imported, report.entries), (2, 2));
    let problems: Vec<(Option<usize>, &Path)> = report
        .problems
        .iter()
        .map(|p| (p.line, p.file.as_path()))
        .collect();
    assert_eq!(
        problems,
        [(Some(2), file.as_path()), (Some(4), file.as_path())]
    );
    assert!(
        report.problems[1].message.contains("事项名称"),
        "{}",
        report.problems[1].message
    );
    assert_eq!(kb.doc_count(), 2);
    assert_eq!(ids(&kb, "渔船登记"), ["A1"]);
    assert_eq!(ids(&kb, "垃圾清運"), ["GIP_1"]);
}

#[test]
fn reimport_replaces_instead_of_duplicating() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let kb = KnowledgeBase::open(&tmp.path().join("index")).expect("open");
    let v1 = write(
        tmp.path(),
        "v1/items.jsonl",
        &[item("A1", "渔船登记证核发"), item("A2", "猎枪持枪证")].join("\n"),
    );
    let staff_v1 = write(
        tmp.path(),
        "v1/report.txt",
        &format!("年度报告\n{}", "数据共享平台建设完成。".repeat(120)),
    );
    kb.import_paths(&[v1, staff_v1]).expect("first import");
    let passages_v1 = kb.doc_count() - 2;
    assert!(passages_v1 > 1, "staff document should be several passages");

    let v2 = write(tmp.path(), "v2/items.jsonl", &item("A1", "渔船登记证换发"));
    let staff_v2 = write(tmp.path(), "v2/report.txt", "年度报告\n只剩一句话了。");
    let report = kb.import_paths(&[v2, staff_v2]).expect("second import");
    assert_eq!(report.imported, 2);

    assert_eq!(
        kb.doc_count(),
        2 + 1,
        "A1 and A2 once each, the report as its single new passage"
    );
    let hits = kb.search("渔船登记证", 10).expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "渔船登记证换发");
    assert!(ids(&kb, "数据共享平台").is_empty(), "old passages survived");
    assert_eq!(ids(&kb, "只剩一句话"), ["report.txt#1"]);

    // The same id twice in one import: the last version wins.
    let twice = write(
        tmp.path(),
        "twice.jsonl",
        &[item("A2", "猎枪持枪证"), item("A2", "猎枪持枪证变更")].join("\n"),
    );
    kb.import_paths(&[twice]).expect("import");
    assert_eq!(kb.doc_count(), 3);
    assert_eq!(
        kb.search("猎枪", 5).expect("search")[0].title,
        "猎枪持枪证变更"
    );
}

#[test]
fn index_persists_across_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let index_dir = tmp.path().join("index");
    let file = write(
        tmp.path(),
        "faq.jsonl",
        &faq("GIP_7", "公園開放時間", "每日上午六時開放"),
    );
    {
        let kb = KnowledgeBase::open(&index_dir).expect("open");
        kb.import_paths(&[file]).expect("import");
    }
    let kb = KnowledgeBase::open(&index_dir).expect("reopen");
    assert_eq!(kb.doc_count(), 1);
    let hits = kb.search("公园开放时间", 5).expect("search");
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["GIP_7"]
    );
    assert_eq!(hits[0].phone.as_deref(), Some("1999"));
}

/// The server imports the bundled data into a *new* index only: an index whose documents were
/// all deleted stays empty.
#[test]
fn an_index_emptied_by_deletions_is_not_new() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let kb = KnowledgeBase::open(&tmp.path().join("index")).expect("open");
    assert!(kb.is_new().unwrap());
    kb.import_paths(&[write(
        tmp.path(),
        "faq.jsonl",
        &faq("GIP_7", "公園開放時間", "每日上午六時開放"),
    )])
    .expect("import");
    assert!(!kb.is_new().unwrap());
    kb.import_paths(&[write(
        tmp.path(),
        "del.jsonl",
        r#"{"id":"GIP_7","deleted":true}"#,
    )])
    .expect("delete");
    assert_eq!(kb.doc_count(), 0);
    assert!(!kb.is_new().unwrap());
    drop(kb);
    assert!(!KnowledgeBase::open(&tmp.path().join("index"))
        .unwrap()
        .is_new()
        .unwrap());
}

#[test]
fn missing_path_fails_before_writing_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let kb = KnowledgeBase::open(&tmp.path().join("index")).expect("open");
    let good = write(tmp.path(), "ok.jsonl", &item("A1", "渔船登记证核发"));
    let err = kb
        .import_paths(&[good, tmp.path().join("typo.jsonl")])
        .expect_err("missing path");
    assert_eq!(err.code(), "io");
    assert!(err.to_string().contains("typo.jsonl"), "{err}");
    assert_eq!(kb.doc_count(), 0);
}

#[test]
fn directories_are_walked_and_other_files_ignored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    write(&data, "items/a.jsonl", &item("A1", "渔船登记证核发"));
    write(&data, "docs/r.txt", "工作报告\n完成了数据中台建设。");
    write(&data, "README.md", "# not data");
    let kb = KnowledgeBase::open(&tmp.path().join("index")).expect("open");
    let report = kb.import_paths(&[data]).expect("import");
    assert_eq!((report.imported, report.entries), (2, 2));
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let explicit = write(tmp.path(), "notes.md", "x");
    let report = kb.import_paths(&[explicit]).expect("import");
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].message.contains("unsupported file type"));
}

/// A service handled at several levels (same 基本编码 in the 实施编码, different agency) is
/// returned with its variants right after it; an agency's other sub-items are not variants.
#[test]
fn variants_of_a_service_at_other_levels_follow_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let kb = KnowledgeBase::open(&tmp.path().join("index")).expect("open");
    let province = "114400000069401674244010901400406";
    // Same agency and 基本编码, another sub-item: a different service, so not pulled up.
    let province_sibling = "114400000069401674244010901400405";
    let city = "11440100007483180K3440109014004";
    let unrelated = "11440100007483180K3440109014009";
    let items = [
        item(province, "律师事务所联营变更许可（协议联营续延）"),
        item(
            province_sibling,
            "律师事务所联营变更许可（合伙联营协议变更审核）",
        ),
        item(city, "律所联营变更"),
        item(unrelated, "律师事务所联营设立许可"),
    ];
    kb.import_paths(&[write(tmp.path(), "items.jsonl", &items.join("\n"))])
        .expect("import");
    let hits = kb.search("协议联营续延", 4).expect("search");
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(&ids[..2], [province, city], "{ids:?}");
    assert_eq!(
        hits[1].score, hits[0].score,
        "a variant carries its item's score"
    );
    assert_eq!(
        hits[0]
            .service
            .as_ref()
            .and_then(|s| s.base_code.as_deref()),
        Some("440109014004")
    );
}
