//! The three kinds of source documents and how each becomes index entries.
//!
//! An [`Entry`] is the unit of retrieval: a whole service item, a whole FAQ (question and answer
//! together), or one passage of a staff document. A [`SourceDocument`] groups the entries that come
//! from one source document, so that re-importing it replaces all of them at once.
//!
//! Ids are the sources' own (事项编码, `GIP_…`, the staff document's file name); a staff passage's
//! entry id appends `#N` (1-based). External evaluation sets refer to these ids, so they are never
//! rewritten, and `#` is reserved as the passage separator.

use serde::{Deserialize, Serialize};

use crate::text::{split_passages, strip_pinyin_glosses};

/// Staff passages aim at this many characters…
const PASSAGE_TARGET_CHARS: usize = 300;
/// …and never exceed this many.
const PASSAGE_MAX_CHARS: usize = 500;
/// A staff document's first line longer than this is body text, not a heading.
const MAX_TITLE_CHARS: usize = 80;
/// Characters of the opening taken as the title of a document without a heading.
const FALLBACK_TITLE_CHARS: usize = 30;

/// What kind of source an entry comes from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A 政务服务事项 (service guide): conditions, materials, time limits, place, phone.
    ServiceItem,
    /// A question with its answer.
    Faq,
    /// A passage of an internal document, for staff.
    StaffDoc,
}

impl DocKind {
    /// The name stored in the index and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::ServiceItem => "service_item",
            DocKind::Faq => "faq",
            DocKind::StaffDoc => "staff_doc",
        }
    }

    /// The inverse of [`DocKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [DocKind::ServiceItem, DocKind::Faq, DocKind::StaffDoc]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for DocKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The structured fields of a service item, kept so that skills (booking, form pre-filling) can use
/// them without parsing the rendered passage.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceItemFields {
    /// 事项名称
    pub name: String,
    /// 实施主体: the agency that handles the item.
    pub agency: Option<String>,
    /// 受理条件 (often cut after its first line in the source).
    pub conditions: Option<String>,
    /// 申请材料
    pub materials: Vec<String>,
    /// 办理地点
    pub location: Option<String>,
    /// 法定办结时限, e.g. "20(工作日)".
    pub legal_time_limit: Option<String>,
    /// 承诺办结时限
    pub promised_time_limit: Option<String>,
    /// 办理平台
    pub platform: Option<String>,
    /// 咨询电话
    pub phone: Option<String>,
    /// 网上预约 = 是: an appointment can be booked online.
    pub online_booking: bool,
    /// 服务对象
    pub audience: Vec<String>,
    /// 主题分类
    pub topics: Vec<String>,
    /// 办事指南URL
    pub guide_url: Option<String>,
    /// The 12-digit 基本编码 inside the item's 实施编码 (`<18-character agency code><level
    /// digit><基本编码>[sub-item]`): the province's, the city's and the districts' versions of one
    /// service share it, even when their 事项名称 differ. `None` for ids of another shape.
    #[serde(default)]
    pub base_code: Option<String>,
}

/// The 基本编码 of a 实施编码; see [`ServiceItemFields::base_code`].
pub fn base_code(item_id: &str) -> Option<&str> {
    let bytes = item_id.as_bytes();
    let agency_ok = bytes.len() >= 31
        && bytes[..18]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    (agency_ok && bytes[18..31].iter().all(u8::is_ascii_digit)).then(|| &item_id[19..31])
}

/// The level of government that handles a service item, read from its 实施编码's level digit
/// (after the 18-character agency code): the province's agencies write 2, Guangzhou's 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemLevel {
    Province,
    City,
}

/// The [`ItemLevel`] of a 实施编码; `None` for ids of another shape or another digit.
pub fn item_level(item_id: &str) -> Option<ItemLevel> {
    base_code(item_id)?;
    match item_id.as_bytes()[18] {
        b'2' => Some(ItemLevel::Province),
        b'3' => Some(ItemLevel::City),
        _ => None,
    }
}

impl ServiceItemFields {
    /// A compact, labelled rendering of the fields an answer is grounded on.
    pub fn render(&self) -> String {
        let mut lines = vec![format!("事项名称：{}", self.name)];
        let mut push = |label: &str, value: Option<&str>| {
            if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
                lines.push(format!("{label}：{v}"));
            }
        };
        push("实施主体", self.agency.as_deref());
        push("受理条件", self.conditions.as_deref());
        push("申请材料", Some(&self.materials.join("；")));
        push("办理地点", self.location.as_deref());
        push("法定办结时限", self.legal_time_limit.as_deref());
        push("承诺办结时限", self.promised_time_limit.as_deref());
        push("办理平台", self.platform.as_deref());
        push("咨询电话", self.phone.as_deref());
        push(
            "网上预约",
            Some(if self.online_booking { "是" } else { "否" }),
        );
        push("服务对象", Some(&self.audience.join("、")));
        lines.join("\n")
    }
}

/// One entry of the index; see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The entry's id: the document id, plus `#N` for a staff passage.
    pub id: String,
    /// The source document's id.
    pub doc_id: String,
    pub kind: DocKind,
    /// Item name, FAQ question, or staff document title.
    pub title: String,
    /// The text an answer is grounded on.
    pub passage: String,
    /// Extra searchable words that are not part of the passage (catalogue name, topics, FAQ keywords,
    /// department).
    pub keywords: Vec<String>,
    pub url: Option<String>,
    pub phone: Option<String>,
    /// Present for service items.
    pub service: Option<ServiceItemFields>,
}

/// Characters of a FAQ answer or a service item's long fields that go into the text the dense model
/// reads: the opening says what the document is about; the rest would only dilute the vector and
/// cost time (the lexical index still covers every word).
const EMBEDDING_FIELD_CHARS: usize = 160;

impl Entry {
    /// The text the embedding model reads for this entry (without its `passage: ` prefix): what a
    /// citizen's question should be near in meaning. For a service item the name, agency, audience
    /// and topics with the opening of its conditions and materials; for a FAQ the question and the
    /// opening of the answer; for a staff passage its report's title and section, then the passage.
    pub fn embedding_text(&self) -> String {
        let cut = |s: &str| -> String { s.chars().take(EMBEDDING_FIELD_CHARS).collect() };
        match (&self.kind, &self.service) {
            (DocKind::ServiceItem, Some(s)) => {
                let mut lines = vec![s.name.clone()];
                let mut push = |label: &str, value: String| {
                    if !value.trim().is_empty() {
                        lines.push(format!("{label}：{value}"));
                    }
                };
                push("实施主体", s.agency.clone().unwrap_or_default());
                push("服务对象", s.audience.join("、"));
                push("主题分类", s.topics.join("、"));
                push("受理条件", cut(s.conditions.as_deref().unwrap_or_default()));
                push("申请材料", cut(&s.materials.join("；")));
                lines.join("\n")
            }
            (DocKind::Faq, _) => {
                let answer = self
                    .passage
                    .strip_prefix(self.title.as_str())
                    .unwrap_or(&self.passage)
                    .trim();
                format!("{}\n{}", self.title, cut(answer))
            }
            // The report's title and the section's heading, then the passage: see `staff_document`.
            _ => {
                let mut text = self.keywords.join("\n");
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&self.passage);
                text
            }
        }
    }
}

/// The entries of one source document, replaced together on re-import. A document without entries
/// is a deletion.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceDocument {
    pub doc_id: String,
    pub entries: Vec<Entry>,
}

/// A JSON record that is neither a usable service item nor a usable FAQ.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("the record has neither `事项名称` (service item) nor `question` and `answer` (FAQ)")]
    UnknownKind,
    #[error("`{field}` is empty")]
    Empty { field: &'static str },
    #[error("the id {0:?} contains `#`, which is reserved for passage numbers")]
    HashInId(String),
}

/// Parses one line of a `*.jsonl` source: a service item when it has `事项名称`, a FAQ when it has
/// `question` and `answer`, and a deletion when it is `{"id": "…", "deleted": true}` (any kind of
/// document, staff documents included: their id is the file name).
pub fn parse_record(line: &str) -> Result<SourceDocument, RecordError> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    let object = value.as_object().ok_or(RecordError::NotAnObject)?;
    if object.get("deleted") == Some(&serde_json::Value::Bool(true)) {
        let id = object
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        return Ok(SourceDocument {
            doc_id: checked_id(id.to_string())?,
            entries: Vec::new(),
        });
    }
    let entry = if object.contains_key("事项名称") {
        service_item(serde_json::from_value(value)?)?
    } else if object.contains_key("question") && object.contains_key("answer") {
        faq(serde_json::from_value(value)?)?
    } else {
        return Err(RecordError::UnknownKind);
    };
    Ok(SourceDocument {
        doc_id: entry.doc_id.clone(),
        entries: vec![entry],
    })
}

/// A service item as the Guangdong portal export spells it.
#[derive(Deserialize)]
struct ServiceItemRecord {
    id: String,
    #[serde(rename = "事项名称")]
    name: String,
    #[serde(rename = "目录名称")]
    catalog_name: Option<String>,
    #[serde(rename = "实施主体")]
    agency: Option<String>,
    #[serde(rename = "受理条件")]
    conditions: Option<String>,
    #[serde(rename = "申请材料")]
    materials: Option<Vec<String>>,
    #[serde(rename = "办理地点")]
    location: Option<String>,
    #[serde(rename = "法定办结时限")]
    legal_time_limit: Option<String>,
    #[serde(rename = "承诺办结时限")]
    promised_time_limit: Option<String>,
    #[serde(rename = "办理平台")]
    platform: Option<String>,
    #[serde(rename = "咨询电话")]
    phone: Option<String>,
    #[serde(rename = "网上预约")]
    online_booking: Option<String>,
    #[serde(rename = "服务对象")]
    audience: Option<Vec<String>>,
    #[serde(rename = "主题分类")]
    topics: Option<Vec<String>>,
    #[serde(rename = "办事指南URL")]
    guide_url: Option<String>,
}

fn service_item(r: ServiceItemRecord) -> Result<Entry, RecordError> {
    let id = checked_id(r.id)?;
    let name = non_empty(r.name, "事项名称")?;
    let fields = ServiceItemFields {
        name: name.clone(),
        agency: r.agency,
        conditions: r.conditions,
        materials: r.materials.unwrap_or_default(),
        location: r.location,
        legal_time_limit: r.legal_time_limit,
        promised_time_limit: r.promised_time_limit,
        platform: r.platform,
        phone: r.phone.clone(),
        online_booking: r.online_booking.as_deref() == Some("是"),
        audience: r.audience.unwrap_or_default(),
        topics: r.topics.unwrap_or_default(),
        guide_url: r.guide_url.clone(),
        base_code: base_code(&id).map(str::to_string),
    };
    let mut keywords: Vec<String> = r.catalog_name.into_iter().filter(|c| *c != name).collect();
    keywords.extend(fields.topics.iter().cloned());
    Ok(Entry {
        doc_id: id.clone(),
        id,
        kind: DocKind::ServiceItem,
        title: name,
        passage: fields.render(),
        keywords,
        url: r.guide_url,
        phone: r.phone,
        service: Some(fields),
    })
}

/// A FAQ as the Taipei open-data export spells it.
#[derive(Deserialize)]
struct FaqRecord {
    id: String,
    question: String,
    answer: String,
    department: Option<String>,
    keywords: Option<Vec<String>>,
    contact_phone: Option<String>,
}

fn faq(r: FaqRecord) -> Result<Entry, RecordError> {
    let id = checked_id(r.id)?;
    let question = non_empty(r.question, "question")?;
    let answer = non_empty(r.answer, "answer")?;
    let mut keywords = r.keywords.unwrap_or_default();
    keywords.extend(r.department);
    Ok(Entry {
        doc_id: id.clone(),
        id,
        kind: DocKind::Faq,
        passage: format!("{question}\n{answer}"),
        title: question,
        keywords,
        url: None,
        phone: r.contact_phone.filter(|p| !p.trim().is_empty()),
        service: None,
    })
}

/// Splits a staff document into passages `file#1`, `file#2`, … cut on sentence boundaries, never
/// across a top-level section (`一、…`, `二、…`). The title is the document's heading when it has
/// one; otherwise its opening words.
///
/// A passage is retrieved on its own, so each carries what the whole document says about it: the
/// title (which report: whose, which year) and its section's heading (a summary of last year, or
/// next year's plan) go into its `keywords` and into the text it is embedded from. A question such
/// as "深圳市2024年…多少" names the report, not the words of the one passage holding the figure.
pub fn staff_document(file_name: &str, text: &str) -> Result<SourceDocument, RecordError> {
    let doc_id = checked_id(file_name.to_string())?;
    let text = strip_pinyin_glosses(text.trim_start_matches('\u{FEFF}'));
    let text = text.trim();
    non_empty(text.to_string(), "text")?;
    // The heading line leaves the body; every other line stays in some passage.
    let (title, body) = match find_heading(text) {
        Some(line) => (
            text[line.clone()].trim().to_string(),
            format!("{}{}", &text[..line.start], &text[line.end..]),
        ),
        None => {
            let opening: String = text.chars().take(FALLBACK_TITLE_CHARS).collect();
            (format!("{}…", opening.trim()), text.to_string())
        }
    };
    let mut passages: Vec<(String, String)> = Vec::new();
    for (section, section_text) in sections(&body) {
        for passage in split_passages(section_text, PASSAGE_TARGET_CHARS, PASSAGE_MAX_CHARS) {
            passages.push((section.to_string(), passage));
        }
    }
    if passages.is_empty() {
        passages.push((String::new(), title.clone()));
    }
    let entries = passages
        .into_iter()
        .enumerate()
        .map(|(i, (section, passage))| Entry {
            id: format!("{doc_id}#{}", i + 1),
            doc_id: doc_id.clone(),
            kind: DocKind::StaffDoc,
            title: title.clone(),
            passage,
            keywords: [title.clone(), section]
                .into_iter()
                .filter(|k| !k.is_empty())
                .collect(),
            url: None,
            phone: None,
            service: None,
        })
        .collect();
    Ok(SourceDocument { doc_id, entries })
}

/// Lines of a saved web page before its heading that are page furniture, not content.
const PAGE_FURNITURE: &[&str] = &[
    "您现在的位置",
    "当前位置",
    " > ",
    "信息来源",
    "信息提供日期",
    "来源 :",
    "来源:",
    "索引号",
    "字体",
];

/// Whether a line of a staff document is page furniture (a breadcrumb, the source and date line)
/// rather than the report's words: never a heading, and nothing to quote as an answer.
pub fn is_page_furniture(line: &str) -> bool {
    PAGE_FURNITURE.iter().any(|f| line.contains(f))
}

/// Lines at the top of a staff document searched for its heading.
const HEADING_SEARCH_LINES: usize = 8;

/// The byte range of a staff document's heading line: among the short lines that open the
/// document (before the first line of body text), the longest that is not page furniture
/// (breadcrumbs, source and date lines). Pages saved from a portal often start with a section
/// name ("落实情况公开") and a breadcrumb before the report's real heading.
fn find_heading(text: &str) -> Option<std::ops::Range<usize>> {
    let mut best: Option<(usize, std::ops::Range<usize>)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n').take(HEADING_SEARCH_LINES) {
        let trimmed = line.trim();
        let chars = trimmed.chars().count();
        if chars > MAX_TITLE_CHARS {
            break; // body text has started
        }
        if chars > 0
            && !is_page_furniture(trimmed)
            && best.as_ref().is_none_or(|(longest, _)| chars > *longest)
        {
            best = Some((chars, offset..offset + line.len()));
        }
        offset += line.len();
    }
    best.map(|(_, line)| line)
}

/// A document cut at its top-level section headings (`一、…` at the start of a line): each
/// section's heading (empty before the first) and its text, the heading line included.
fn sections(body: &str) -> Vec<(&str, &str)> {
    let mut sections = Vec::new();
    let (mut heading, mut start, mut offset) = ("", 0, 0);
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim();
        if is_section_heading(trimmed) && offset > start {
            sections.push((heading, &body[start..offset]));
            start = offset;
        }
        if is_section_heading(trimmed) {
            heading = trimmed;
        }
        offset += line.len();
    }
    sections.push((heading, &body[start..]));
    sections
}

/// `一、2024年工作总结`: a Chinese numeral, `、`, and a short title.
fn is_section_heading(line: &str) -> bool {
    let Some((number, title)) = line.split_once('、') else {
        return false;
    };
    !number.is_empty()
        && number.chars().all(|c| "一二三四五六七八九十".contains(c))
        && (1..=40).contains(&title.chars().count())
}

/// The document id of an entry id: the id without its `#N` passage suffix.
pub fn doc_id_of(entry_id: &str) -> &str {
    entry_id.split_once('#').map_or(entry_id, |(doc, _)| doc)
}

fn checked_id(id: String) -> Result<String, RecordError> {
    let id = non_empty(id, "id")?;
    if id.contains('#') {
        return Err(RecordError::HashInId(id));
    }
    Ok(id)
}

fn non_empty(value: String, field: &'static str) -> Result<String, RecordError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(RecordError::Empty { field })
    } else if trimmed.len() == value.len() {
        Ok(value)
    } else {
        Ok(trimmed.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_item_keeps_fields_and_renders_them() {
        let line = r#"{"id":"X1","事项名称":"残疾人证补办","目录名称":"残疾人证","实施主体":"某残联","受理条件":null,
            "申请材料":["身份证","照片"],"办理地点":"某路1号","法定办结时限":"20(工作日)","承诺办结时限":"5(工作日)",
            "咨询电话":"020-1","网上预约":"是","服务对象":["自然人"],"主题分类":["残疾人"],"办事指南URL":"https://x/1"}"#;
        let doc = parse_record(line).expect("valid item");
        let entry = &doc.entries[0];
        assert_eq!(
            (entry.id.as_str(), entry.kind),
            ("X1", DocKind::ServiceItem)
        );
        let fields = entry.service.as_ref().expect("fields");
        assert!(fields.online_booking);
        assert_eq!(fields.materials, ["身份证", "照片"]);
        for needle in ["身份证；照片", "5(工作日)", "某路1号", "020-1"] {
            assert!(
                entry.passage.contains(needle),
                "{needle} missing from {}",
                entry.passage
            );
        }
        assert!(!entry.passage.contains("受理条件"), "empty field rendered");
        assert_eq!(entry.keywords, ["残疾人证", "残疾人"]);
    }

    #[test]
    fn a_deletion_record_has_no_entries() {
        let doc = parse_record(r#"{"id":"GIP_1","deleted":true}"#).expect("deletion");
        assert_eq!((doc.doc_id.as_str(), doc.entries.len()), ("GIP_1", 0));
        let err = parse_record(r#"{"id":"","deleted":true}"#).expect_err("empty id");
        assert!(err.to_string().contains("`id` is empty"), "{err}");
    }

    #[test]
    fn embedding_text_is_short_and_names_the_item() {
        let line = format!(
            r#"{{"id":"X1","事项名称":"残疾人证补办","实施主体":"某残联","申请材料":["{}"],"服务对象":["自然人"]}}"#,
            "身份证".repeat(200)
        );
        let entry = &parse_record(&line).expect("item").entries[0];
        let text = entry.embedding_text();
        assert!(text.starts_with("残疾人证补办\n实施主体：某残联"), "{text}");
        assert!(text.chars().count() < 250, "{text}");
    }

    #[test]
    fn record_errors() {
        let cases = [
            ("not json", "invalid JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"id":"1","title":"x"}"#, "neither"),
            (r#"{"id":"","question":"q","answer":"a"}"#, "`id` is empty"),
            (r#"{"id":"a#1","question":"q","answer":"a"}"#, "reserved"),
            (r#"{"事项名称":"x"}"#, "missing field `id`"),
        ];
        for (line, expected) in cases {
            let err = parse_record(line).expect_err(line).to_string();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn variants_of_one_service_share_a_base_code() {
        let province = "114400000069401674244010901400406"; // a sub-item (…06) at province level
        let city = "11440100007483180K3440109014004";
        assert_eq!(base_code(province), Some("440109014004"));
        assert_eq!(base_code(city), base_code(province));
        for other in [
            "GIP_123",
            "X1",
            "11440100007483180K344010901400",
            "11440100007483180k3440109014004",
        ] {
            assert_eq!(base_code(other), None, "{other}");
        }
        assert_eq!(item_level(province), Some(ItemLevel::Province));
        assert_eq!(item_level(city), Some(ItemLevel::City));
        assert_eq!(item_level("GIP_123"), None);
        assert_eq!(
            item_level("11440100007483180K4440109014004"),
            None,
            "a level digit we do not know"
        );
    }

    #[test]
    fn staff_document_passages_are_numbered_from_one() {
        let text = format!("标题一行\n{}", "这是一句话。".repeat(200));
        let doc = staff_document("r.txt", &text).expect("document");
        assert!(doc.entries.len() > 2);
        for (i, e) in doc.entries.iter().enumerate() {
            assert_eq!(e.id, format!("r.txt#{}", i + 1));
            assert_eq!((e.doc_id.as_str(), e.title.as_str()), ("r.txt", "标题一行"));
            assert!(e.passage.chars().count() <= PASSAGE_MAX_CHARS);
        }
        assert_eq!(doc_id_of("r.txt#3"), "r.txt");

        let headless = staff_document("h.txt", &"没有标题的长段落。".repeat(20)).expect("document");
        assert!(headless.entries[0].title.ends_with('…'));
        assert!(
            headless.entries[0]
                .passage
                .starts_with("没有标题的长段落。"),
            "opening lost"
        );
        assert_eq!(doc_id_of("GIP_1"), "GIP_1");
    }

    /// A report saved from a portal: section name, breadcrumb, heading, source line, then the body
    /// in two top-level sections.
    #[test]
    fn staff_documents_know_their_heading_and_sections() {
        let text = "落实情况公开\n\n您现在的位置 首页 > 结果公开 > 落实情况公开\n\n\
                    某市政务服务和数据管理局2024年工作总结和2025年工作计划\n\n\
                    信息来源:某市政务服务和数据管理局 信息提供日期:2025-10-23\n\n\
                    一、2024年工作情况\n开放公共数据集超3900个。\n\
                    二、2025年工作计划\n智能审批事项数增至480项。\n";
        let doc = staff_document("p.txt", text).unwrap();
        let title = "某市政务服务和数据管理局2024年工作总结和2025年工作计划";
        let found: Vec<(&str, &str)> = doc
            .entries
            .iter()
            .map(|e| (e.keywords.last().unwrap().as_str(), e.passage.as_str()))
            .collect();
        assert!(doc
            .entries
            .iter()
            .all(|e| e.title == title && e.keywords[0] == title));
        // Nothing but the heading line leaves the text; sections are never mixed in a passage.
        assert!(
            found[0].1.contains("落实情况公开") && found[0].1.contains("信息来源"),
            "{found:?}"
        );
        let plan = found.iter().find(|(_, p)| p.contains("480项")).unwrap();
        assert_eq!(plan.0, "二、2025年工作计划");
        assert!(!plan.1.contains("3900"), "{found:?}");
        let summary = found.iter().find(|(_, p)| p.contains("3900")).unwrap();
        assert_eq!(summary.0, "一、2024年工作情况");
        // The embedded text leads with the report and section.
        let e = doc
            .entries
            .iter()
            .find(|e| e.passage.contains("480项"))
            .unwrap();
        assert!(e
            .embedding_text()
            .starts_with(&format!("{title}\n二、2025年工作计划\n")));
    }
}
