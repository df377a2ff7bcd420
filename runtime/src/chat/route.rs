//! Which skill a message asks for, and the skill's arguments in it.
//!
//! Routing compares the message with every installed skill's example
//! utterances and description (embedding similarity when the knowledge base
//! has an embedding model, character bigrams otherwise); the list of skills is
//! read on every turn, so a skill deployed a moment ago is routable at once.
//!
//! Arguments come from two places. Rules read what has one right form and
//! must never be guessed: personal values (as the placeholders masking put in
//! the text), dates ("明天" is computed, not generated), times, codes and ids,
//! and enum choices whose glosses the schema's description gives
//! (`book: 预约/我要预约`). The model fills the rest under a JSON-schema
//! constraint, and every value it returns is checked against the
//! conversation: a string that the user never wrote is dropped, so a small
//! model cannot invent an argument.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use govassist_kb::KnowledgeBase;
use govassist_skill_host::SkillSummary;
use serde_json::{json, Map, Value};

use super::grounding::char_pairs;
use super::translate::is_han;

/// A skill the message asks for, with how sure the router is.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillMatch {
    pub name: String,
    /// Similarity with the closest example utterance (cosine for embeddings,
    /// Dice over character bigrams without them).
    pub score: f32,
}

/// Remembers the embeddings of each skill version's examples, so routing a
/// message costs one query embedding.
#[derive(Default)]
pub struct SkillRouter {
    examples: Mutex<HashMap<String, Arc<Vec<Vec<f32>>>>>,
}

impl SkillRouter {
    /// The installed skill whose examples are closest to `message`, when it is
    /// at least `threshold` close. `query` is the message's embedding (made
    /// once per turn by the caller); without one, character bigrams decide
    /// against `lexical_threshold`.
    pub fn route(
        &self,
        kb: &KnowledgeBase,
        skills: &[SkillSummary],
        message: &str,
        query: Option<&[f32]>,
        threshold: f32,
        lexical_threshold: f32,
    ) -> Option<SkillMatch> {
        let best = match query {
            Some(query) => self
                .best_by_embedding(kb, skills, query)
                .map(|m| (m, threshold)),
            None => best_by_bigrams(skills, message).map(|m| (m, lexical_threshold)),
        };
        best.filter(|(m, limit)| m.score >= *limit).map(|(m, _)| m)
    }

    fn best_by_embedding(
        &self,
        kb: &KnowledgeBase,
        skills: &[SkillSummary],
        query: &[f32],
    ) -> Option<SkillMatch> {
        let mut best: Option<SkillMatch> = None;
        for skill in skills.iter().filter(|s| !s.examples.is_empty()) {
            let Some(vectors) = self.example_vectors(kb, skill) else {
                continue;
            };
            let score = vectors
                .iter()
                .map(|v| dot(v, query))
                .fold(f32::MIN, f32::max);
            if best.as_ref().is_none_or(|b| score > b.score) {
                best = Some(SkillMatch {
                    name: skill.name.clone(),
                    score,
                });
            }
        }
        best
    }

    fn example_vectors(
        &self,
        kb: &KnowledgeBase,
        skill: &SkillSummary,
    ) -> Option<Arc<Vec<Vec<f32>>>> {
        // The component's digest names the version: a redeployed skill's new examples count at once.
        let key = format!("{}@{}", skill.name, skill.sha256);
        if let Some(found) = self
            .examples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Some(found.clone());
        }
        let vectors: Vec<Vec<f32>> = skill
            .examples
            .iter()
            .filter_map(|example| kb.embed_query(example).ok().flatten())
            .collect();
        if vectors.is_empty() {
            return None;
        }
        let vectors = Arc::new(vectors);
        let mut cache = self.examples.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|k, _| !k.starts_with(&format!("{}@", skill.name)));
        cache.insert(key, vectors.clone());
        Some(vectors)
    }
}

/// The message asks what a matter requires (`要填哪张表？`, `需要填什么申请吗？`,
/// `which form do I need?`) and asks no one to do anything (`帮我填…`): a
/// question for the service guide, whose 申请材料 name the form, not a request
/// for the form pre-fill skill, whose examples it sits close to.
pub fn asks_what_is_required(text: &str) -> bool {
    let folded = govassist_kb::text::fold(text);
    if asks_someone_to_act(&folded) {
        return false;
    }
    const WHICH: [&str; 10] = [
        "哪张",
        "哪份",
        "哪个",
        "哪些",
        "什么",
        "啥",
        "哪种",
        "哪一张",
        "哪一份",
        "哪一种",
    ];
    // Not a bare 单: `哪个单位` asks for an office.
    const FORMS: [&str; 5] = ["表", "单子", "申请单", "申请", "材料"];
    // `哪张申请表`, `哪个阶段的申请表`: the form within a few characters after the question word;
    // `申请表应该用哪一种`: the form named first, the question word closing its clause.
    let chinese = WHICH.iter().any(|w| {
        folded.match_indices(w).any(|(at, _)| {
            let after: String = folded[at + w.len()..].chars().take(6).collect();
            let before: String = {
                let chars: Vec<char> = folded[..at].chars().collect();
                chars[chars.len().saturating_sub(6)..].iter().collect()
            };
            let closes = folded[at + w.len()..]
                .chars()
                .next()
                .is_none_or(|c| "？?，,。.！!".contains(c));
            FORMS
                .iter()
                .any(|f| after.contains(f) || (closes && before.contains(f)))
        })
    });
    // Whether there is a form at all (`有没有固定格式的审批表要填`, `要不要填表`).
    const WHETHER: [&str; 7] = [
        "要不要填",
        "需不需要填",
        "用不用填",
        "是否需要填",
        "是否要填",
        "需要填表吗",
        "要填表吗",
    ];
    let whether = WHETHER.iter().any(|w| folded.contains(w))
        || (folded.contains("有没有") && ["表要填", "表格要填"].iter().any(|f| folded.contains(f)));
    // What the form is called (`申请表叫什么名字`).
    const NAMED: [&str; 6] = [
        "表叫什么",
        "表格叫什么",
        "表的名字",
        "表的名称",
        "表格的名字",
        "表格的名称",
    ];
    let named = NAMED.iter().any(|w| folded.contains(w));
    let english = [
        "which form",
        "what form",
        "which application form",
        "what application form",
        "what forms",
        "form called",
        "name of the form",
    ]
    .iter()
    .any(|q| folded.contains(q));
    chinese || whether || named || english
}

/// Whether the folded message asks someone to do something (`帮我`, `fill in`), not counting
/// a request denied (`单位没给我交社保` tells what someone failed to do; it asks nothing).
fn asks_someone_to_act(folded: &str) -> bool {
    const REQUESTS: [&str; 9] = [
        "帮我",
        "帮忙",
        "给我",
        "替我",
        "请你",
        "麻烦你",
        "help me",
        "fill in",
        "fill out",
    ];
    let denied = |at: usize| ["没", "不", "未"].iter().any(|n| folded[..at].ends_with(n));
    REQUESTS
        .iter()
        .any(|r| folded.match_indices(r).any(|(at, _)| !denied(at)))
}

/// The message says a form is filled already and asks how or where to hand it in
/// (`申请表填好后怎么交？`), with no one asked to do anything: the guide's 办理地点 and 办理平台
/// answer it; the form pre-fill skill, whose examples it sits close to, has nothing left to do.
pub fn asks_how_to_hand_in(text: &str) -> bool {
    let folded = govassist_kb::text::fold(text);
    const FILLED: [&str; 6] = ["填好", "填完", "写好", "填妥", "filled in", "filled out"];
    const HAND_IN: [&str; 14] = [
        "怎么交",
        "如何交",
        "交到哪",
        "交去哪",
        "在哪交",
        "哪里交",
        "交给谁",
        "送到哪",
        "怎么送",
        "怎么提交",
        "如何提交",
        "提交到哪",
        "where do i submit",
        "how do i submit",
    ];
    !asks_someone_to_act(&folded)
        && FILLED.iter().any(|w| folded.contains(w))
        && HAND_IN.iter().any(|w| folded.contains(w))
}

/// Words that ask someone to do something or to book (`帮我`, `我想预约`): a request for the
/// booking skill, never a question for the guide.
const BOOKING_REQUESTS: [&str; 8] = [
    "帮我",
    "帮忙",
    "替我",
    "给我预约",
    "请你",
    "麻烦你",
    "我要预约",
    "我想预约",
];

/// The message asks where or how a matter is booked (`探视在哪里可以预约？`, `where can I book a
/// marriage registration?`) and asks no one to book it: a question for the service guide, whose
/// 办理平台 and 网上预约 say where, not a request for the booking skill, which books only at offices
/// with counters (items booked online, such as 结婚登记预约, it cannot book at all). A bare
/// `在哪里预约？` names no matter for the guide and stays with the skill, as do changing, cancelling
/// or looking up one's own bookings, which the skill does.
pub fn asks_where_to_book(text: &str) -> bool {
    let folded = govassist_kb::text::fold(text);
    const OWN_BOOKINGS: [&str; 10] = [
        "取消",
        "改预约",
        "修改",
        "改时间",
        "改期",
        "改约",
        "我的预约",
        "预约记录",
        "约好的",
        "cancel",
    ];
    const ENGLISH_REQUESTS: [&str; 4] = ["book me", "book it", "book for me", "reschedule"];
    if BOOKING_REQUESTS
        .iter()
        .chain(&OWN_BOOKINGS)
        .chain(&ENGLISH_REQUESTS)
        .any(|r| folded.contains(r))
    {
        return false;
    }
    const WHERE_OR_HOW: [&str; 11] = [
        "哪里",
        "哪儿",
        "在哪",
        "去哪",
        "怎么",
        "如何",
        "怎样",
        "什么地方",
        "什么渠道",
        "什么平台",
        "哪个",
    ];
    // At most `limit` characters from `at`, up to the first of `ends`.
    let text_from = |at: usize, ends: &str, limit: usize| -> String {
        folded[at..]
            .chars()
            .take_while(|c| !ends.contains(*c))
            .take(limit)
            .collect()
    };
    const CLAUSE_ENDS: &str = "，。？！,.?!；;";
    const SENTENCE_ENDS: &str = "。？！?!；;";
    // `在哪里可以网上预约`: 预约 after the question word, before the clause ends.
    let cue = WHERE_OR_HOW.iter().find_map(|w| {
        folded.match_indices(w).find_map(|(at, _)| {
            text_from(at, CLAUSE_ENDS, 12)
                .find("预约")
                .map(|end| (at, at + end + "预约".len()))
        })
    });
    // `预约是在哪个系统里操作的`, `约了考试，想看看预约结果出来没有，去哪个平台查`: a where word
    // after 预约 in its sentence (not 哪个 or 怎么 alone, which ask which slot or how the booking
    // went).
    const WHERE_AFTER: [&str; 12] = [
        "在哪",
        "去哪",
        "哪里",
        "哪儿",
        "什么平台",
        "哪个平台",
        "什么系统",
        "哪个系统",
        "什么网站",
        "哪个网站",
        "什么渠道",
        "哪个app",
    ];
    let cue = cue.or_else(|| {
        folded.match_indices("预约").find_map(|(at, _)| {
            let sentence = text_from(at, SENTENCE_ENDS, 24);
            WHERE_AFTER
                .iter()
                .filter_map(|w| sentence.find(w).map(|i| i + w.len()))
                .min()
                .map(|end| (at, at + end))
        })
    });
    // `低保可以先在网上预约办理吗？`: whether a matter can be booked online at all, a yes-or-no
    // question the guide's 网上预约 answers (the skill books counters, never online).
    const ONLINE: [&str; 2] = ["网上", "线上"];
    const YES_OR_NO: [&str; 5] = ["吗", "能不能", "可不可以", "是否", "可否"];
    let cue = cue.or_else(|| {
        let mut offset = 0;
        folded
            .split_inclusive(|c| SENTENCE_ENDS.contains(c))
            .find_map(|sentence| {
                let start = offset;
                offset += sentence.len();
                if !YES_OR_NO.iter().any(|q| sentence.contains(q)) {
                    return None;
                }
                ONLINE.iter().find_map(|w| {
                    sentence.match_indices(w).find_map(|(at, _)| {
                        let at = start + at;
                        let end = text_from(at, CLAUSE_ENDS, 8).find("预约")? + "预约".len();
                        Some((at, at + end))
                    })
                })
            })
    });
    if let Some((start, end)) = cue {
        // The matter: Han characters outside the cue, other than the words around any question.
        const FILLER: &str = "我们你请问想要能可以在去到了的吗呢啊吧呀是个这那一下网上线上现场";
        let rest = folded[..start].chars().chain(folded[end..].chars());
        return rest
            .filter(|&c| super::translate::is_han(c) && !FILLER.contains(c))
            .count()
            >= 2;
    }
    const ENGLISH: [&str; 6] = [
        "where can i book",
        "where do i book",
        "how do i book",
        "how can i book",
        "how to book",
        "where to book",
    ];
    const ENGLISH_FILLER: [&str; 12] = [
        "a",
        "an",
        "the",
        "appointment",
        "appointments",
        "for",
        "in",
        "my",
        "me",
        "please",
        "online",
        "one",
    ];
    ENGLISH
        .iter()
        .find_map(|q| folded.find(q).map(|at| &folded[at + q.len()..]))
        .is_some_and(|rest| {
            rest.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w.len() > 2 && !ENGLISH_FILLER.contains(&w))
        })
}

/// People a message may act for: after `帮我` (`帮我姐预约…`) they make it the person's own errand
/// for a relative, not a request to the assistant.
const RELATIVES: [&str; 22] = [
    "姐", "妹", "哥", "弟", "妈", "爸", "父", "母", "老婆", "老公", "爱人", "家人", "孩子", "儿子",
    "女儿", "爷爷", "奶奶", "外公", "外婆", "老人", "朋友", "同事",
];

/// Whether the folded message asks the assistant to do something (a [`BOOKING_REQUESTS`] word not
/// followed by a relative the person acts for).
fn asks_the_assistant(folded: &str) -> bool {
    BOOKING_REQUESTS.iter().any(|r| {
        folded.match_indices(r).any(|(at, _)| {
            let after = &folded[at + r.len()..];
            !(r.ends_with('我') && RELATIVES.iter().any(|p| after.starts_with(p)))
        })
    })
}

/// The message asks whom to call (`想投诉，打哪个电话？`, `咨询电话是多少`, `what's the hotline?`)
/// and asks no one to do anything: the guide's 咨询电话 and 投诉电话 answer it, even when the
/// matter it names (`网上预约结婚登记的时候遇到问题`) sits close to a skill's examples. The user's
/// own number (`我的电话是〔电话1〕`) is no such question.
pub fn asks_whom_to_call(text: &str) -> bool {
    let folded = govassist_kb::text::fold(text);
    if asks_the_assistant(&folded) {
        return false;
    }
    const QUESTIONS: [&str; 14] = [
        "哪个电话",
        "什么电话",
        "电话是多少",
        "电话多少",
        "电话号码是",
        "打哪个",
        "打什么",
        "咨询电话",
        "投诉电话",
        "热线是",
        "phone number",
        "hotline",
        "which number",
        "what number",
    ];
    QUESTIONS.iter().any(|q| folded.contains(q))
}

/// How much of a service item's name a message must hold to name it: the share of the name's
/// character pairs (without its variant in brackets, and without 的) found in the message.
const NAMED_ITEM_SHARE: f32 = 0.8;

/// The service item a message names, among `hits` (the knowledge base's best three for it): the
/// first whose name, less its variant in brackets and 的, has [`NAMED_ITEM_SHARE`] of its
/// character pairs (at least three) in the message. `帮我填一下技工学校设立审批的申请表` names
/// 技工学校的设立审批, so a form skill starts on it instead of asking which item is meant; a
/// message that names none (`帮我填个表`) leaves the skill to ask.
pub fn item_named_in<'h>(
    message: &str,
    hits: &'h [govassist_kb::Hit],
) -> Option<&'h govassist_kb::Hit> {
    let without_de = |text: &str| char_pairs(&text.replace('的', ""));
    let said = without_de(message);
    hits.iter()
        .take(3)
        .filter(|hit| hit.kind == govassist_kb::DocKind::ServiceItem)
        .find(|hit| {
            let core = hit.title.split(['(', '（']).next().unwrap_or_default();
            let name = without_de(core);
            let held = name
                .iter()
                .filter(|p| said.binary_search(p).is_ok())
                .count();
            name.len() >= 3 && held as f32 >= NAMED_ITEM_SHARE * name.len() as f32
        })
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn best_by_bigrams(skills: &[SkillSummary], message: &str) -> Option<SkillMatch> {
    let query = char_pairs(message);
    skills
        .iter()
        .filter_map(|skill| {
            let score = skill
                .examples
                .iter()
                .map(|e| dice(&query, &char_pairs(e)))
                .fold(0.0f32, f32::max);
            (score > 0.0).then(|| SkillMatch {
                name: skill.name.clone(),
                score,
            })
        })
        .max_by(|a, b| a.score.total_cmp(&b.score))
}

fn dice(a: &[(char, char)], b: &[(char, char)]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.iter().filter(|g| b.binary_search(g).is_ok()).count();
    2.0 * shared as f32 / (a.len() + b.len()) as f32
}

/// What the rules can read: the message (masked), the session's topic (the
/// service item last answered about), and today's date in China.
pub struct RuleContext<'a> {
    pub text: &'a str,
    pub topic_item: Option<&'a str>,
    pub today: CivilDate,
}

/// Arguments for `schema`'s properties that the rules find in the text.
pub fn extract_by_rules(schema: &Value, cx: &RuleContext<'_>) -> Map<String, Value> {
    let mut found = Map::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return found;
    };
    for (name, spec) in properties {
        if let Some(value) = rule_value(name, spec, cx) {
            found.insert(name.clone(), value);
        }
    }
    found
}

fn rule_value(name: &str, spec: &Value, cx: &RuleContext<'_>) -> Option<Value> {
    let text = cx.text;
    if let Some(choices) = spec.get("enum").and_then(Value::as_array) {
        let description = spec
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return enum_by_gloss(text, choices, description).map(Value::from);
    }
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or("string");
    if kind != "string" {
        return None;
    }
    let format = spec
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = match name {
        "phone" | "mobile" | "contact_phone" => last_placeholder(text, PiiLabel::Phone),
        "id_number" | "id_card" => last_placeholder(text, PiiLabel::IdNumber),
        "credit_code" | "uscc" => last_placeholder(text, PiiLabel::CreditCode),
        "email" => last_placeholder(text, PiiLabel::Email),
        "item_id" => item_code(text).or_else(|| cx.topic_item.map(str::to_owned)),
        "booking_id" => token_with_prefix(text, "BK", |c| c.is_ascii_alphanumeric()),
        "office_id" => token_with_prefix(text, "of-", |c| c.is_ascii_hexdigit()),
        "slot" | "time" => time_of_day(text),
        "name" => person_name(text),
        "district" => district(text),
        _ if format == "date" || name == "date" => {
            relative_or_written_date(text, cx.today).map(|d| d.to_string())
        }
        _ => None,
    }?;
    Some(Value::from(value))
}

/// Placeholder labels: what masking writes for each kind of personal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiLabel {
    IdNumber,
    Phone,
    CreditCode,
    BankCard,
    Email,
}

impl PiiLabel {
    pub fn label(self) -> &'static str {
        match self {
            PiiLabel::IdNumber => "身份证号",
            PiiLabel::Phone => "电话",
            PiiLabel::CreditCode => "信用代码",
            PiiLabel::BankCard => "银行卡号",
            PiiLabel::Email => "邮箱",
        }
    }

    /// The personal field a skill manifest names to be granted this kind.
    pub fn field(self) -> &'static str {
        match self {
            PiiLabel::IdNumber => "id_number",
            PiiLabel::Phone => "phone",
            PiiLabel::CreditCode => "credit_code",
            PiiLabel::BankCard => "bank_card",
            PiiLabel::Email => "email",
        }
    }

    pub const ALL: [PiiLabel; 5] = [
        PiiLabel::IdNumber,
        PiiLabel::Phone,
        PiiLabel::CreditCode,
        PiiLabel::BankCard,
        PiiLabel::Email,
    ];

    /// The label of a placeholder such as `〔电话2〕`.
    pub fn of_placeholder(placeholder: &str) -> Option<PiiLabel> {
        let inner = placeholder.strip_prefix('〔')?.strip_suffix('〕')?;
        let label = inner.trim_end_matches(|c: char| c.is_ascii_digit());
        PiiLabel::ALL.into_iter().find(|l| l.label() == label)
    }
}

/// The placeholders (`〔…〕`) in `text`, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('〔') {
        let after = &rest[open..];
        let Some(close) = after.find('〕') else {
            break;
        };
        let end = close + '〕'.len_utf8();
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

fn last_placeholder(text: &str, label: PiiLabel) -> Option<String> {
    placeholders(text)
        .into_iter()
        .rev()
        .find(|p| PiiLabel::of_placeholder(p) == Some(label))
        .map(str::to_owned)
}

/// An enum value whose gloss the message contains. Descriptions list glosses
/// as `value: gloss/gloss; value: gloss`; the longest gloss found wins, so
/// "取消预约" is `cancel` even though "预约" alone is `book`. English values
/// count as their own gloss.
fn enum_by_gloss(text: &str, choices: &[Value], description: &str) -> Option<String> {
    let folded = govassist_kb::text::fold(text);
    let choices: Vec<&str> = choices.iter().filter_map(Value::as_str).collect();
    let mut best: Option<(String, usize)> = None;
    let mut consider = |value: &str, gloss: &str| {
        let gloss = govassist_kb::text::fold(gloss.trim());
        let len = gloss.chars().count();
        if len >= 2 && folded.contains(&gloss) && best.as_ref().is_none_or(|(_, l)| len > *l) {
            best = Some((value.to_owned(), len));
        }
    };
    for part in description.split([';', '；']) {
        let Some((value, glosses)) = part.split_once([':', '：']) else {
            continue;
        };
        // "企业规模. micro: 微型" — the value is the last word before the colon.
        let value = value.split_whitespace().next_back().unwrap_or_default();
        if !choices.contains(&value) {
            continue;
        }
        for gloss in glosses.split(['/', '／', '、', ',', '，']) {
            consider(value, gloss);
        }
    }
    for value in &choices {
        if value.chars().all(|c| c.is_ascii_alphabetic()) {
            let padded = format!(
                " {} ",
                folded.replace(|c: char| !c.is_ascii_alphanumeric(), " ")
            );
            if padded.contains(&format!(" {} ", value.to_ascii_lowercase())) {
                consider(value, value);
            }
        }
    }
    best.map(|(value, _)| value)
}

/// A service item code (事项编码): 18 or more letters and digits with at least 12 digits.
fn item_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|t| t.len() >= 18 && t.chars().filter(char::is_ascii_digit).count() >= 12)
        .map(str::to_owned)
}

fn token_with_prefix(text: &str, prefix: &str, body: impl Fn(char) -> bool) -> Option<String> {
    let start = text.find(prefix)?;
    let rest = &text[start + prefix.len()..];
    let len = rest.find(|c: char| !body(c)).unwrap_or(rest.len());
    (len >= 4).then(|| format!("{prefix}{}", &rest[..len]))
}

/// `09:30`, `9点半`, `下午2点`, `14时` → `HH:MM`.
fn time_of_day(text: &str) -> Option<String> {
    let folded: String = text
        .chars()
        .map(govassist_kb::text::to_half_width)
        .collect();
    let chars: Vec<char> = folded.chars().collect();
    let afternoon = folded.contains("下午")
        || folded.contains("晚上")
        || folded.to_ascii_lowercase().contains("pm");
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        let hour: u32 = chars[i..j].iter().collect::<String>().parse().ok()?;
        let (minute, end) = match chars.get(j) {
            Some(':') => {
                let mut k = j + 1;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                (chars[j + 1..k].iter().collect::<String>().parse().ok(), k)
            }
            Some('点' | '時' | '时') => {
                let rest: String = chars[j + 1..].iter().take(3).collect();
                if rest.starts_with('半') {
                    (Some(30), j + 2)
                } else {
                    let digits: String = chars[j + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .collect();
                    let minute = if digits.is_empty() {
                        Some(0)
                    } else {
                        digits.parse().ok()
                    };
                    (minute, j + 1 + digits.len())
                }
            }
            _ => (None, j),
        };
        if let Some(minute) = minute {
            let hour = if afternoon && hour < 12 {
                hour + 12
            } else {
                hour
            };
            if hour < 24 && minute < 60 {
                return Some(format!("{hour:02}:{minute:02}"));
            }
        }
        i = end.max(i + 1);
    }
    None
}

/// `我叫李明`, `姓名：李明`, `my name is Li Ming`.
fn person_name(text: &str) -> Option<String> {
    // Not "我是…": "我是来办营业执照的" names no one.
    for cue in [
        "我叫",
        "姓名是",
        "姓名：",
        "姓名:",
        "姓名",
        "名字是",
        "名字叫",
        "预约人",
    ] {
        if let Some(at) = text.find(cue) {
            let name: String = text[at + cue.len()..]
                .trim_start_matches([' ', '：', ':'])
                .chars()
                .take_while(|c| is_han(*c) || *c == '·')
                .take(4)
                .collect();
            if (2..=4).contains(&name.chars().count()) {
                return Some(name);
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find("my name is ")?;
    let name: String = text[at + 11..]
        .split(|c: char| !(c.is_ascii_alphabetic() || c == ' '))
        .next()?
        .trim()
        .to_owned();
    (!name.is_empty()).then_some(name)
}

/// A district of Shenzhen or Guangzhou named in the text (`福田区`), the
/// districts the bundled knowledge base covers. Only known names: "社区" or
/// "园区" are not districts.
fn district(text: &str) -> Option<String> {
    const DISTRICTS: [&str; 21] = [
        "福田区",
        "罗湖区",
        "南山区",
        "盐田区",
        "宝安区",
        "龙岗区",
        "龙华区",
        "坪山区",
        "光明区",
        "大鹏新区",
        "越秀区",
        "海珠区",
        "荔湾区",
        "天河区",
        "白云区",
        "黄埔区",
        "番禺区",
        "花都区",
        "南沙区",
        "从化区",
        "增城区",
    ];
    let folded = govassist_kb::text::fold(text);
    DISTRICTS
        .iter()
        .find(|d| folded.contains(*d))
        .map(|d| (*d).to_owned())
}

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CivilDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl CivilDate {
    /// Today in China (UTC+8), where the service halls are.
    pub fn today_in_china() -> CivilDate {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        CivilDate::from_days((secs + 8 * 3600).div_euclid(86_400))
    }

    /// From days since 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_days(days: i64) -> CivilDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        CivilDate { year, month, day }
    }

    pub fn days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        (self.days() + 3).rem_euclid(7) as u32
    }

    pub fn plus_days(self, n: i64) -> CivilDate {
        CivilDate::from_days(self.days() + n)
    }

    fn valid(year: i32, month: u32, day: u32) -> Option<CivilDate> {
        let date = CivilDate { year, month, day };
        ((1..=12).contains(&month)
            && (1..=31).contains(&day)
            && CivilDate::from_days(date.days()) == date)
            .then_some(date)
    }
}

impl std::fmt::Display for CivilDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `2026-12-03`, `12月3日`, `今天/明天/后天`, `下周一`, `周三`, `tomorrow`.
pub fn relative_or_written_date(text: &str, today: CivilDate) -> Option<CivilDate> {
    let folded: String = govassist_kb::text::fold(text);
    if let Some(date) = written_date(&folded, today) {
        return Some(date);
    }
    for (word, offset) in [
        ("大后天", 3),
        ("后天", 2),
        ("明天", 1),
        ("明日", 1),
        ("今天", 0),
        ("今日", 0),
        ("day after tomorrow", 2),
        ("tomorrow", 1),
        ("today", 0),
    ] {
        if folded.contains(word) {
            return Some(today.plus_days(offset));
        }
    }
    let weekdays = ['一', '二', '三', '四', '五', '六', '日'];
    for prefix in ["下周", "下星期", "下礼拜", "周", "星期", "礼拜"] {
        if let Some(at) = folded.find(prefix) {
            let day = folded[at + prefix.len()..].chars().next().and_then(|c| {
                weekdays
                    .iter()
                    .position(|&w| w == c)
                    .or((c == '天').then_some(6))
            });
            if let Some(target) = day {
                let current = today.weekday() as i64;
                let mut ahead = (target as i64 - current).rem_euclid(7);
                if prefix.starts_with('下') {
                    ahead = 7 - current + target as i64;
                }
                return Some(today.plus_days(ahead));
            }
        }
    }
    None
}

fn written_date(folded: &str, today: CivilDate) -> Option<CivilDate> {
    let numbers: Vec<(usize, u32, usize)> = {
        let mut out = Vec::new();
        let bytes = folded.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if let Ok(n) = folded[start..i].parse() {
                    out.push((start, n, i));
                }
            } else {
                i += 1;
            }
        }
        out
    };
    for window in numbers.windows(3) {
        let [(_, y, ye), (ms, m, me), (ds, d, _)] = window else {
            continue;
        };
        let sep1 = &folded[*ye..*ms];
        let sep2 = &folded[*me..*ds];
        if (1900..=2100).contains(y)
            && matches!(sep1, "-" | "/" | "年" | ".")
            && matches!(sep2, "-" | "/" | "月" | ".")
        {
            if let Some(date) = CivilDate::valid(*y as i32, *m, *d) {
                return Some(date);
            }
        }
    }
    for window in numbers.windows(2) {
        let [(_, m, me), (ds, d, de)] = window else {
            continue;
        };
        if &folded[*me..*ds] == "月" && matches!(folded[*de..].chars().next(), Some('日' | '号'))
        {
            let this_year = CivilDate::valid(today.year, *m, *d)?;
            return Some(if this_year < today {
                CivilDate::valid(today.year + 1, *m, *d)?
            } else {
                this_year
            });
        }
    }
    None
}

/// The part of `schema` the model should fill: the properties the rules left
/// empty, each nullable, in a form the engine's JSON constraint accepts.
pub fn schema_for_model(schema: &Value, filled: &Map<String, Value>) -> Option<Value> {
    let properties = schema.get("properties")?.as_object()?;
    let mut open = Map::new();
    for (name, spec) in properties {
        if filled.contains_key(name) || name == "item_id" || is_personal_field(name) {
            continue;
        }
        let kind = spec.get("type").and_then(Value::as_str).unwrap_or("string");
        let simple = match kind {
            "string" => match spec.get("enum") {
                Some(choices) => json!({ "type": ["string", "null"], "enum": choices.clone() }),
                None => json!({ "type": ["string", "null"], "maxLength": 40 }),
            },
            "integer" => json!({ "type": ["integer", "null"] }),
            "number" => json!({ "type": ["integer", "null"] }),
            _ => continue,
        };
        open.insert(name.clone(), simple);
    }
    if open.is_empty() {
        return None;
    }
    let required: Vec<Value> = open.keys().cloned().map(Value::from).collect();
    Some(json!({ "type": "object", "properties": open, "required": required }))
}

/// Personal fields come only from what the user typed (as placeholders), never from the model.
fn is_personal_field(name: &str) -> bool {
    PiiLabel::ALL.iter().any(|l| l.field() == name) || name == "name"
}

/// Keeps the model's values that the conversation supports: a choice the
/// schema offers, a string the user wrote (after folding), a number whose
/// digits the user wrote.
pub fn validate_model_arguments(
    arguments: &Value,
    conversation: &str,
    schema: &Value,
) -> Map<String, Value> {
    let folded = govassist_kb::text::fold(conversation);
    let digits: String = folded.chars().filter(char::is_ascii_digit).collect();
    let mut kept = Map::new();
    let Some(object) = arguments.as_object() else {
        return kept;
    };
    for (name, value) in object {
        let choices = schema["properties"][name]["enum"].as_array();
        let supported = match (value, choices) {
            (Value::String(_), Some(choices)) => choices.contains(value),
            (Value::String(s), None) => {
                let s = govassist_kb::text::fold(s.trim());
                s.chars().count() >= 2 && folded.contains(&s)
            }
            (Value::Number(n), _) => {
                let text = n.to_string();
                text.chars().all(|c| c.is_ascii_digit()) && digits.contains(&text)
            }
            _ => false,
        };
        if supported {
            kept.insert(name.clone(), value.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(text: &str) -> RuleContext<'_> {
        // 2026-12-01 is a Tuesday.
        RuleContext {
            text,
            topic_item: None,
            today: CivilDate {
                year: 2026,
                month: 12,
                day: 1,
            },
        }
    }

    fn booking_schema() -> Value {
        json!({ "properties": {
            "action": { "type": "string", "enum": ["offices", "slots", "book", "list", "cancel"],
                        "description": "What to do. offices: 办理地点/在哪里办; slots: 空闲时段/哪些时段; book: 预约/我要预约; list: 我的预约/查一下预约; cancel: 取消预约" },
            "date": { "type": "string", "format": "date" },
            "slot": { "type": "string" },
            "phone": { "type": "string" },
            "name": { "type": "string" },
            "booking_id": { "type": "string" },
            "founded_year": { "type": "integer" }
        }})
    }

    #[test]
    fn where_to_book_a_matter_is_a_question_for_the_guide() {
        for text in [
            "家属被拘留了，想去拘留所探视，在哪里可以预约？",
            "探视在哪里可以预约？",
            "結婚登記在哪裡可以預約？",
            "想去看守所探视，在哪里可以网上预约？",
            "我们打算下个月登记结婚，结婚登记怎么网上预约？",
            "在哪里预约？预约成功会发短信给我吗",
            "我帮舅舅办低收入家庭的申请，听说要先预约，预约是在哪个系统里操作的？",
            "在本地约了驾驶证科目考试，想看看预约结果出来没有，去哪个平台查？",
            "Where can I book a marriage registration in Guangzhou?",
            "家里收入太低想申请低保，可以先在网上预约办理吗？",
            "低保能不能线上预约？",
        ] {
            assert!(asks_where_to_book(text), "{text}");
        }
        for text in [
            "在哪里可以预约？",
            "在哪里可以网上预约？",
            "Where can I book?",
            "Where can I book an appointment?",
            "帮我预约下周一上午去办理，在哪里办都行",
            "我想预约下周一上午去办理",
            "明天上午能预约吗？",
            "可以网上预约吗？",
            "帮我在网上预约低保，可以吗？",
            "我想网上预约明天上午办低保",
            "查一下我的预约",
            "我上周约的探视，怎么改预约时间？",
            "探视的预约怎么取消预约？",
            "预约在哪里？",
            "预约哪个时间段比较好？",
            "结婚登记要带哪些材料？",
        ] {
            assert!(!asks_where_to_book(text), "{text}");
        }
    }

    #[test]
    fn whom_to_call_is_a_question_for_the_guide() {
        for text in [
            "网上预约结婚登记的时候遇到问题，想投诉，打哪个电话？",
            "预约探视的咨询电话是多少？",
            "What's the hotline for marriage registration appointments?",
            "帮我姐预约开一份证明，想先打电话问一下，咨询电话是？",
        ] {
            assert!(asks_whom_to_call(text), "{text}");
        }
        for text in [
            "帮我预约明天上午，我的电话是〔电话1〕",
            "我想预约下周一，联系电话〔电话1〕",
            "麻烦你帮我约一下，有问题打哪个电话都行",
            "帮我姐预约不了的话，帮我预约明天上午，咨询电话是多少也发我",
            "预约探视",
        ] {
            assert!(!asks_whom_to_call(text), "{text}");
        }
    }

    #[test]
    fn a_message_names_the_item_whose_name_it_holds() {
        let hit = |kind, title: &str| govassist_kb::Hit {
            id: title.into(),
            doc_id: title.into(),
            kind,
            title: title.into(),
            passage: String::new(),
            score: 1.0,
            url: None,
            phone: None,
            service: None,
        };
        use govassist_kb::DocKind::{Faq, ServiceItem};
        let hits = [
            hit(Faq, "技工学校的设立审批要多久"),
            hit(ServiceItem, "技工学校的设立审批(省属技工学校设立审批)"),
            hit(ServiceItem, "技工学校的设立审批"),
        ];
        let named = item_named_in("帮我填一下技工学校设立审批的申请表", &hits);
        assert_eq!(
            named.map(|h| h.title.as_str()),
            Some("技工学校的设立审批(省属技工学校设立审批)")
        );
        let bow = [hit(ServiceItem, "弩的制造审批")];
        assert!(item_named_in("我要申请运动弩制造审批，帮我预填申请表", &bow).is_some());
        // A message that names no item, or only part of one, leaves the skill to ask.
        assert!(item_named_in("帮我填个申请表", &hits).is_none());
        assert!(item_named_in("帮我填一下学校审批的表", &hits).is_none());
        // Only the best three are read.
        let late = [
            hit(ServiceItem, "甲"),
            hit(ServiceItem, "乙"),
            hit(ServiceItem, "丙"),
            hit(ServiceItem, "弩的制造审批"),
        ];
        assert!(item_named_in("帮我填弩的制造审批的申请表", &late).is_none());
    }

    #[test]
    fn which_form_is_a_question_for_the_guide_not_a_request() {
        for text in [
            "税控系统提示我专票的开票限额不够用，想申请提高最高开票限额，要填哪张表？",
            "想正式咨询一下海洋功能区划的政策，需要填什么申请吗？",
            "向省人社厅申请公开政府信息，要填什么表？",
            "Which form do I need for a tax invoice limit increase?",
            "单位一直没给我交养老保险，现在想申请补缴，要填什么表？",
            "执业资格被注销了，现在想重新认定，申请表应该用哪一种？",
            "看到申请表格有好几种，我们这种该填哪个阶段的申请表？",
            "去公安申请制造审批，有没有固定格式的审批表要填？",
            "办这个备案要不要填表？",
            "教材初审过了，现在要送审定，申请表叫什么名字？",
            "What is the application form called?",
        ] {
            assert!(asks_what_is_required(text), "{text}");
        }
        for text in [
            "帮我填一下申请表",
            "单位没交的社保，你帮我填一下补缴要填什么表",
            "帮我预填这个事项的申请表，要填哪张表你看着办",
            "用我的身份证号预填表格",
            "Pre-fill the application form for me",
            "明天上午能预约吗？",
            "材料交到哪个窗口都行，帮我约明天上午",
            "有没有表要填？帮我填一下",
            "我要填申请表",
            "申请表叫什么名字都行，帮我填一下",
        ] {
            assert!(!asks_what_is_required(text), "{text}");
        }
    }

    #[test]
    fn handing_in_a_filled_form_is_a_question_for_the_guide() {
        for text in [
            "我们社区管委会想请生态防蚊诊所来看看，申请表填好后怎么交？",
            "表格已经填完了，要交到哪个窗口？",
            "I have filled in the application form. Where do I submit it?",
        ] {
            assert!(asks_how_to_hand_in(text), "{text}");
        }
        for text in [
            "申请表怎么填？",
            "帮我填好申请表，然后告诉我怎么交",
            "材料交到哪个窗口？",
        ] {
            assert!(!asks_how_to_hand_in(text), "{text}");
        }
    }

    #[test]
    fn rules_read_actions_dates_times_and_placeholders() {
        let found = extract_by_rules(
            &booking_schema(),
            &cx("我叫李明，想预约明天下午2点半，电话〔电话1〕"),
        );
        assert_eq!(found["action"], "book");
        assert_eq!(found["date"], "2026-12-02");
        assert_eq!(found["slot"], "14:30");
        assert_eq!(found["phone"], "〔电话1〕");
        assert_eq!(found["name"], "李明");
        assert!(!found.contains_key("founded_year"));
        assert!(
            !extract_by_rules(&booking_schema(), &cx("我是来办营业执照的")).contains_key("name")
        );
        assert_eq!(
            district("我们在福田區"),
            Some("福田区".to_owned()),
            "Traditional too"
        );
        assert_eq!(district("社区服务中心"), None);

        let found = extract_by_rules(&booking_schema(), &cx("帮我取消预约 BK7F3A21"));
        assert_eq!(found["action"], "cancel");
        assert_eq!(found["booking_id"], "BK7F3A21");
        assert_eq!(
            extract_by_rules(&booking_schema(), &cx("查一下预约"))["action"],
            "list"
        );
        assert_eq!(
            extract_by_rules(&booking_schema(), &cx("I want to book a slot"))["action"],
            "book"
        );
    }

    #[test]
    fn dates_written_and_relative() {
        let today = CivilDate {
            year: 2026,
            month: 12,
            day: 1,
        };
        assert_eq!(today.weekday(), 1);
        let d = |t: &str| relative_or_written_date(t, today).map(|d| d.to_string());
        assert_eq!(d("2026-12-09").as_deref(), Some("2026-12-09"));
        assert_eq!(d("2027年1月5日上午").as_deref(), Some("2027-01-05"));
        assert_eq!(
            d("1月5号").as_deref(),
            Some("2027-01-05"),
            "a past month-day means next year"
        );
        assert_eq!(d("后天").as_deref(), Some("2026-12-03"));
        assert_eq!(d("周五").as_deref(), Some("2026-12-04"));
        assert_eq!(d("下周一").as_deref(), Some("2026-12-07"));
        assert_eq!(d("tomorrow morning").as_deref(), Some("2026-12-02"));
        assert_eq!(d("2026-02-30"), None);
        assert_eq!(CivilDate::from_days(today.days()), today);
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day("9:30").as_deref(), Some("09:30"));
        assert_eq!(time_of_day("上午10点").as_deref(), Some("10:00"));
        assert_eq!(time_of_day("下午3点半").as_deref(), Some("15:30"));
        assert_eq!(time_of_day("３点１５").as_deref(), Some("03:15"));
        assert_eq!(time_of_day("没有时间"), None);
    }

    #[test]
    fn model_values_must_come_from_the_conversation() {
        let conversation = "我们是软件企业，2018年成立，有50人";
        let schema =
            json!({"properties": {"size": {"type": "string", "enum": ["small", "large"]}}});
        let kept = validate_model_arguments(
            &json!({"industry": "软件", "size": "small", "district": "南山区", "founded_year": 2018, "headcount": 80, "x": null, "sector": "io"}),
            conversation,
            &schema,
        );
        assert_eq!(kept.get("industry"), Some(&json!("软件")));
        assert_eq!(
            kept.get("size"),
            Some(&json!("small")),
            "a choice the schema offers passes"
        );
        assert_eq!(kept.get("founded_year"), Some(&json!(2018)));
        assert!(!kept.contains_key("district"), "never said");
        assert!(!kept.contains_key("headcount"), "80 was never said");
        assert!(!kept.contains_key("x"));
        assert!(
            !kept.contains_key("sector"),
            "a made-up word is not a choice"
        );
        let kept = validate_model_arguments(&json!({"size": "tiny"}), conversation, &schema);
        assert!(kept.is_empty(), "not one of the choices");
    }

    #[test]
    fn the_model_never_fills_personal_fields_or_what_rules_found() {
        let mut filled = Map::new();
        filled.insert("action".into(), json!("book"));
        let schema = schema_for_model(&booking_schema(), &filled).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        assert!(!properties.contains_key("action"));
        assert!(!properties.contains_key("phone"));
        assert!(!properties.contains_key("name"));
        assert!(properties.contains_key("slot"));
    }

    #[test]
    fn placeholders_name_their_kind() {
        assert_eq!(
            placeholders("a〔电话1〕b〔身份证号12〕"),
            vec!["〔电话1〕", "〔身份证号12〕"]
        );
        assert_eq!(
            PiiLabel::of_placeholder("〔身份证号12〕"),
            Some(PiiLabel::IdNumber)
        );
        assert_eq!(PiiLabel::of_placeholder("〔别的1〕"), None);
    }

    #[test]
    fn bigram_routing_without_embeddings() {
        let skill = |name: &str, examples: &[&str]| SkillSummary {
            name: name.into(),
            version: "0.1.0".into(),
            description: String::new(),
            examples: examples.iter().map(|s| s.to_string()).collect(),
            input_schema: json!({}),
            capabilities: vec![],
            personal_fields: vec![],
            limits: Default::default(),
            sha256: String::new(),
        };
        let skills = [
            skill(
                "appointment-booking",
                &["我想预约明天上午去办理", "取消预约"],
            ),
            skill("policy-matching", &["我们公司能申请哪些补贴？"]),
        ];
        assert_eq!(
            best_by_bigrams(&skills, "我想预约后天去办理").unwrap().name,
            "appointment-booking"
        );
        assert_eq!(
            best_by_bigrams(&skills, "公司能申请什么补贴").unwrap().name,
            "policy-matching"
        );
    }
}
