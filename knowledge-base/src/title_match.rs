//! A second look at the first hits: how close the question is to each hit's *name*.
//!
//! Guangdong's service items come in families whose names differ by one qualifier: 省内 / 出省
//! 《植物检疫证书》变更, 户口页借出 / 户口页归还, 执业药师首次注册 / 变更注册. The fused ranking
//! ([`crate::search`]) finds the family but often not the member: an item's vector is embedded
//! from its name *and* its agency, audience, conditions and materials, which are nearly the same
//! across the family, and BM25 sees the shared words. The name alone is where the members differ,
//! so the service items and FAQ entries among the first [`DEPTH`] hits are reordered by their fused
//! score plus a weight × the cosine between the question's vector and the embedding of the name
//! alone (a `passage: ` embedding, like the entries').
//!
//! Within a family, the name's embedding still barely differs (one word in twenty). So siblings
//! among those hits are also compared on their *qualifiers*, the part of the name in which they
//! differ, each embedded alone ([`qualifier_evidence`]): `团队游` against `探亲` for a question on
//! a 跟团游 visa, `省级发证` against `国家发证` for "省局发的". On the sets below this added
//! recall@1 0.74 → 0.76 (`retrieval_holdout_4`) and, measured once afterwards, 0.78 → 0.793 on the
//! unseen `retrieval_holdout_5`; the dev set, `retrieval_holdout_2`/`_3`, `en_dev` and the staff
//! questions unchanged, `retrieval_holdout` 0.825 → 0.82. (Counting the qualifier's characters that the
//! question contains instead lost more than it gained: 牙医 names 口腔, not 中医, yet shares 医 with
//! the latter.)
//!
//! Some qualifiers are short words whose meaning the embedding barely places (头一次 → `新办理`,
//! 转进来 → `转入`, 撤掉 → `注销`); a small table of these meanings ([`QualifierWords`]) adds its
//! own evidence. Its meanings came from the misses of the retrieval holdouts: 出省, 港澳, 台湾,
//! 外国人, 占编, 聘用, 非法人, 委托, 换领 after `_7`; 注销 as 交回/不再用, 军队 against 武警, 本地户口,
//! 再审 after `_9` (作废 and 个人/企业 were tried and dropped: 过期作废 is expiry, and 企业 is in
//! 民办非企业单位 and 企业养老保险).
//!
//! Three signals of the same second look read the name's *kind* rather than its words: a progress
//! lookup (`…进度查询`) fits only a question about how far a case has got, an information lookup
//! (`…信息查询`) a question that asks to look up or check, and a question that names Guangdong or
//! Taipei fits that source's entries. Two more read the question's own characters: how much of the
//! name it writes out, and how much more of one sibling's qualifier than of the others'
//! (`现役武警` against `退役武警`, `一级` against `二级`: words the embedding places close together).
//!
//! Two more read the item's level: Guangzhou's own items (level digit 3) against the province's, by
//! whether the question names Guangzhou or one of its districts. With them and 新建 as a word for
//! `新申请` (stop 24), leave-one-set-out recall@1 over the fitted sets went 1,898 → 1,903 of 2,300 and
//! `devmix_7` (not fitted on, but its misses were read while choosing them) 133 → 135 of 150;
//! `en_dev` 44 → 43.
//!
//! One more reads a FAQ entry's question for what it asks ([`ASPECTS`]: the papers, a deadline, a
//! penalty, the steps, where, who may, how much): a Taipei topic's entries share their words and
//! differ in that (`辦理質借時，需帶什麼證件?` against `質借利率？`). Its weight was chosen on the
//! fitted sets with the others kept (0.006: 2,637 → 2,643 of 3,130); the fresh `devmix_13` went
//! 120 → 121 of 150, `devmix_12` stayed at 116, all sets (6,070) recall@1 0.8389 → 0.8402 and their
//! Taipei questions (517) 0.768 → 0.778 (stop 30). A full refit gave the same on the fitted sets
//! and 119 on `devmix_13`, so the other weights stayed.
//!
//! One more reads what the question denies ([`DeniedPairs`]): `（不是业余电台，也不是手机基站）`
//! writes the very words that draw the question to the `(业余)` and `(公众移动通信基站)` variants.
//! A sibling whose qualifier holds more of the denied words than the others is marked down (by hand,
//! −0.05 for each pair more, on average over its siblings; a refit needs more denying questions
//! than the sets hold). Over the 111 questions of all sets (14,708 up to stop 41) that deny
//! anything, recall@1 0.784 → 0.865: 9 first now, none lost (stop 42); no other question changes.
//!
//! One more reads a question that asks for none of the kinds a family names ([`asks_residual`]):
//! `不属于施工、监理、设计那几类企业` writes three siblings' kinds and wants `其它企业…`, the member
//! that names none. Marked up by hand (+0.06): over all sets (16,820 questions, stop 46) 4 first
//! now (`其它企业…` of the water-construction lookups), none lost.
//!
//! The name is compared with the agency's name before it when the question names the agency and
//! another of the first hits is that agency's too ([`name_to_compare`]): a centre's lookups carry its
//! name in some of their names only (`省总工会个人理赔查询`, `个人参保查询`), which drew a question
//! naming the centre to those. Over all sets (16,280 questions, stop 44) recall@1 0.8736 → 0.8751:
//! 30 first now, 7 no longer (siblings of one agency whose other words now decide: 水质月报 against
//! 水环境地图). Letting unasked progress lookups take no place among the first [`DEPTH`] (so that a
//! family of `…签注办证进度查询` cannot push the asked `…其他签注` out) was tried with it: 1 gained,
//! 3 lost.
//!
//! Staff-document passages keep their places: their "name" is the report's title, the same for
//! every passage of a report, and says nothing about which passage answers.
//!
//! Each hit's [`Signals`] are combined by fixed [`WEIGHTS`]. Until stop 21 they were set by hand,
//! one signal at a time (name 0.3, qualifier 0.05, …); stop 22 fitted all of them together
//! (`scripts/fit-rerank.py`: a softmax over each question's candidates, on the 1,850 service questions
//! of `eval/retrieval_holdout*.jsonl`, `devmix_1`–`_3` and the dev set, whose misses had been read).
//! Leaving each of those sets out of the fit in turn, recall@1 over them went 1,508 → 1,523; on the
//! fresh `devmix_4` (150, never fitted on) 0.820 → 0.893; `en_dev` (not fitted on) 0.525 → 0.55.
//! The fit weighs the name far more than the hand weights did (0.78 then, 0.87 since stop 24, against
//! 0.3 of the fused score).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::document::{item_level, ItemLevel};
use crate::search::Hit;
use crate::DocKind;

/// How many of the first hits are reordered. The family members sit within the first few; the
/// fused score's weight keeps a far-down hit with a lucky name from jumping over the evidence of
/// both rankings. Over the 6,070 questions of every set (stop 31), 8 against 5 kept recall@1
/// (0.8405 → 0.8404) and raised recall@5 (0.955 → 0.963): an asked entry at fused rank 6–8 whose
/// name fits the question joins the first five (a Taipei entry on the same topic as its neighbours).
pub const DEPTH: usize = 8;

/// Whether entries of this kind are named by their title (see the module documentation).
pub fn named_by_title(kind: DocKind) -> bool {
    kind != DocKind::StaffDoc
}

/// Vectors of names and qualifiers computed so far, by text. Bounded by the distinct names in the
/// index and the qualifiers of the sibling pairs among them.
#[derive(Default)]
pub(crate) struct NameVectors {
    vectors: Mutex<HashMap<String, Arc<Vec<f32>>>>,
}

impl NameVectors {
    pub fn get(&self, name: &str) -> Option<Arc<Vec<f32>>> {
        self.lock().get(name).cloned()
    }

    pub fn insert(&self, name: &str, vector: Vec<f32>) -> Arc<Vec<f32>> {
        let vector = Arc::new(vector);
        self.lock().insert(name.to_owned(), vector.clone());
        vector
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<f32>>>> {
        // Only whole inserts happen under the lock: a poisoned map is still consistent.
        self.vectors.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Words that ask how far one's case has got (folded); every question of our sets whose answer is
/// a progress lookup holds one.
const PROGRESS_CUES: &[&str] = &[
    "进度",
    "进展",
    "办到哪",
    "到哪一步",
    "哪一步",
    "审到哪",
    "审核到哪",
    "审批到哪",
    "批下来没",
    "批了没",
    "办好没",
    "办好了没",
    "做好没",
    "做好了没",
    "好了没有",
    "办得怎么样",
    "有没有消息",
    "没消息",
    "到哪了",
    "status",
    "progress",
    "track",
    "be ready",
    "ready yet",
];

/// Whether the folded question holds one of `cues` (see [`mentions`]).
fn asks(folded_question: &str, cues: &[&str]) -> bool {
    cues.iter().any(|cue| mentions(folded_question, cue))
}

/// Whether an entry's name is a lookup of a case's progress (`…办证进度查询`, `…辦理進度？`).
fn is_progress_lookup(name: &str) -> bool {
    crate::text::fold(name).contains("进度")
}

/// Words that ask to look something up or check it (folded).
const LOOKUP_CUES: &[&str] = &[
    "查", "核实", "核验", "look up", "check", "verify", "search", "find out",
];

/// Whether a service item's name is an information lookup other than a progress lookup.
fn is_information_lookup(name: &str) -> bool {
    name.contains("查询") && !is_progress_lookup(name)
}

/// What a question asks of an entry, by the words that ask it (folded): the papers to bring, a
/// deadline or how long, a penalty, the steps, where or whom to call, who may apply, how much, how
/// many times, in person or by someone else. A topic's FAQ entries differ mostly in this (`辦理質借時，需帶什麼證件?` against
/// `質借利率？`), and the embeddings weigh the shared topic far more than it.
const ASPECTS: &[&[&str]] = &[
    &[
        "材料",
        "文件",
        "证件",
        "资料",
        "带什么",
        "带哪些",
        "准备什么",
        "准备哪些",
        "检附",
        "交什么",
        "提交什么",
        "要带",
        "携带",
        "documents",
        "bring",
    ],
    &[
        "多久",
        "几天",
        "时效",
        "期限",
        "期间",
        "什么时候",
        "何时",
        "时限",
        "工作天",
        "多长时间",
        "截止",
        "时间限制",
        "几个月",
        "how long",
        "when",
        "deadline",
    ],
    &["罚", "处罚", "受罚", "罚锾", "fine", "penalty"],
    &[
        "流程",
        "程序",
        "步骤",
        "怎么申请",
        "如何申请",
        "怎么办理",
        "如何办理",
        "process",
        "procedure",
    ],
    &[
        "电话",
        "窗口",
        "地点",
        "地址",
        "在哪里",
        "哪里办",
        "去哪里",
        "哪里拿",
        "哪里领",
        "索取",
        "哪个单位",
        "哪个部门",
        "如何至",
        "如何前往",
        "怎么去",
        "怎么走",
        "交通方式",
        "询问",
        "洽询",
        "联络",
        "联系",
        "phone",
        "where",
        "address",
        "hotline",
        "email",
        "contact",
    ],
    &[
        "资格",
        "条件",
        "谁可以",
        "谁能",
        "哪些人",
        "什么人",
        "什么样的人",
        "哪种人",
        "对象",
        "那些人",
        "eligible",
        "eligibility",
        "who can",
    ],
    &[
        "费用",
        "多少钱",
        "收费",
        "金额",
        "多少",
        "最高",
        "利率",
        "票价",
        "how much",
        "cost",
        "fee",
    ],
    &["几次", "次数", "how many times"],
    &[
        "亲自",
        "本人",
        "委托",
        "代办",
        "代理",
        "代为",
        "代领",
        "亲友",
        "on behalf",
        "in person",
    ],
];

/// The [`ASPECTS`] a folded text asks about, one bit each.
fn aspects(folded: &str) -> u8 {
    ASPECTS
        .iter()
        .enumerate()
        .filter(|(_, words)| words.iter().any(|word| mentions(folded, word)))
        .fold(0, |bits, (i, _)| bits | 1 << i)
}

/// +1 when a FAQ entry's question asks what the user's question asks ([`ASPECTS`]), −1 when both
/// ask something and nothing in common, 0 when either asks nothing the list knows.
fn aspect_agreement(question_aspects: u8, entry_name: &str) -> f32 {
    let entry = aspects(&crate::text::fold(entry_name));
    match (question_aspects, entry) {
        (0, _) | (_, 0) => 0.0,
        (q, e) if q & e != 0 => 1.0,
        _ => -1.0,
    }
}

/// Names of each source's place, folded.
const GUANGDONG_NAMES: &[&str] = &["广东", "广州", "粤", "guangdong", "guangzhou", "canton"];
const TAIPEI_NAMES: &[&str] = &["台北", "taipei"];
/// Words of Taiwan's administration that no Guangdong guide uses (folded): a question that writes
/// them asks about Taipei, in either script (家里人的身心障碍证明弄丢了).
const TAIPEI_WORDS: &[&str] = &[
    "身心障碍",
    "健保",
    "劳保",
    "劳退",
    "国民年金",
    "捷运",
    "悠游卡",
    "户政事务所",
    "区公所",
    "里长",
    "里办公处",
    "役男",
    "替代役",
    "台币",
];

/// Guangzhou and its districts (folded), whose own agencies handle the service items of level 3
/// ([`ItemLevel::City`]). District names that also occur inside ordinary words (新增城镇, 昨天河南,
/// 南沙群岛, 从化妆品) count only with their 区.
const GUANGZHOU_PLACES: &[&str] = &[
    "广州",
    "guangzhou",
    "越秀",
    "海珠",
    "荔湾",
    "白云区",
    "黄埔区",
    "番禺",
    "天河区",
    "花都区",
    "南沙区",
    "从化区",
    "增城区",
    "空港经济区",
];

/// Whether the folded question names the province as the one that handles the matter: 广东省, 省里, or
/// a provincial department (省人社厅, 省市场监管局). Not 省内 or 省级, which name siblings
/// (省内变更, 省级发证), nor 全省 (全省通办).
fn names_the_province(folded_question: &str) -> bool {
    const CUES: [&str; 4] = ["广东省", "省里", "province", "provincial"];
    let department = folded_question.match_indices('省').any(|(at, _)| {
        let after = folded_question[at..].chars().skip(1).take(7);
        after
            .take_while(|c| !matches!(c, '，' | '。' | '？' | ',' | '?' | ' '))
            .any(|c| c == '厅' || c == '局')
    });
    department || CUES.iter().any(|cue| mentions(folded_question, cue))
}

/// The kind of entry whose place the folded question names, when it names one source's place only
/// (Taipei's by name or by a word of Taiwan's administration, [`TAIPEI_WORDS`]).
fn named_source(folded_question: &str) -> Option<DocKind> {
    let names = |places: &[&str]| places.iter().any(|place| mentions(folded_question, place));
    match (
        names(GUANGDONG_NAMES),
        names(TAIPEI_NAMES) || names(TAIPEI_WORDS),
    ) {
        (true, false) => Some(DocKind::ServiceItem),
        (false, true) => Some(DocKind::Faq),
        _ => None,
    }
}

/// Which meanings of a name's qualifier a question asks for, in words (`qualifier_words.tsv`).
///
/// The qualifier's embedding ([`qualifier_evidence`]) links 跟团 to `团队游` but not 头一次 to
/// `新办理` or 转进来 to `转入`: short words whose meaning e5-small barely places. These are few
/// and recur across every family of items (new, renewal, loss, damage, change, cancellation,
/// transfer in or out), so a table of them does what the embedding cannot.
#[derive(Debug)]
pub struct QualifierWords {
    meanings: Vec<Meaning>,
}

#[derive(Debug)]
struct Meaning {
    /// The words that names use for it (`遗失`, `补发`).
    in_names: Vec<String>,
    /// Any of these in the folded question asks for it (the name words themselves included).
    cues: Vec<String>,
}

impl Default for QualifierWords {
    fn default() -> Self {
        Self::parse(include_str!("qualifier_words.tsv"))
    }
}

impl QualifierWords {
    /// Parses `name words<TAB>citizens' words` lines; `#` starts a comment line.
    pub fn parse(text: &str) -> Self {
        let words = |part: &str| {
            part.split_whitespace()
                .map(crate::text::fold)
                .collect::<Vec<_>>()
        };
        let meanings = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('\t'))
            .map(|(names, cues)| {
                let in_names = words(names);
                // Questions are read without the 新 of 重新 (see `scorer`), so cues are too; a name
                // word that leaves one character (重新 → 重) would fire on any 重, and is no cue.
                let cues = in_names
                    .iter()
                    .cloned()
                    .chain(words(cues))
                    .map(|cue| cue.replace(AGAIN, "重"))
                    .filter(|cue| cue.chars().count() > 1)
                    .collect();
                Meaning { in_names, cues }
            })
            .collect();
        QualifierWords { meanings }
    }

    /// A scorer of a qualifier for `question`: one point for each name word, of each meaning the
    /// question asks for, that the qualifier holds ([`Qualifier::holds`]).
    /// A meaning whose words the shared part holds is no evidence: in `变更取水许可(一般变更)`
    /// against `变更取水许可(取水权转让)` the question's 变更 names the family, not a member.
    /// `None` when the question asks for no meaning, so that no hit is scored at all.
    pub fn scorer(&self, question: &str) -> Option<impl Fn(&Qualifier<'_>) -> Option<f32> + '_> {
        let question = crate::text::fold(question).replace(AGAIN, "重");
        let asked: Vec<&Meaning> = self
            .meanings
            .iter()
            .filter(|m| m.cues.iter().any(|cue| asks_for(&question, cue)))
            .collect();
        (!asked.is_empty()).then(move || {
            move |qualifier: &Qualifier<'_>| {
                let shared = qualifier.shared();
                let points: usize = asked
                    .iter()
                    .filter(|m| !m.in_names.iter().any(|word| shared.contains(word.as_str())))
                    .map(|m| {
                        m.in_names
                            .iter()
                            .filter(|word| qualifier.holds(word))
                            .count()
                    })
                    .sum();
                Some(points as f32)
            }
        })
    }
}

/// Whether the folded `question` asks for `cue`: an occurrence that stands alone (as in
/// [`mentions`]) and that no [`DENIALS`] word denies. `不是延期也不是变更，头一回报` asks for neither.
fn asks_for(question: &str, cue: &str) -> bool {
    question.match_indices(cue).any(|(at, _)| {
        let before = &question[..at];
        // `是不是第一次申领` asks whether; it denies nothing.
        let denied =
            DENIALS.iter().any(|denial| before.ends_with(denial)) && !before.ends_with("是不是");
        !denied && stands_alone(question, cue, at)
    })
}

/// Whether the folded `question` contains `cue`; a Latin cue must stand as a whole word (`new` is
/// not in `renew`).
fn mentions(question: &str, cue: &str) -> bool {
    question
        .match_indices(cue)
        .any(|(at, _)| stands_alone(question, cue, at))
}

/// Whether `cue`, found in `question` at `at`, is a word there: always for Chinese, and for a
/// Latin cue when no letter or digit touches it.
fn stands_alone(question: &str, cue: &str, at: usize) -> bool {
    if !cue.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return true;
    }
    let before = question[..at].chars().next_back();
    let after = question[at + cue.len()..].chars().next();
    !before.is_some_and(|c| c.is_ascii_alphanumeric())
        && !after.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Words right before a qualifier word that deny it (`不是延期`, `并非新办`, `没有丢失`, `不需要延期`,
/// `not a renewal`, `it isn't lost`, `don't need an extension`); questions are folded (lower case)
/// first. A shorter cue inside a denied one still counts (`不是快到期` still asks for 到期): the
/// denials are few, and rarer still in real questions.
const DENIALS: &[&str] = &[
    "不是",
    "并非",
    "而非",
    "没有",
    "不需要",
    "不用",
    "无需",
    "不必",
    "not ",
    "not a ",
    "not an ",
    "n't ",
    "n't a ",
    "n't an ",
    "don't need ",
    "don't need a ",
    "don't need an ",
    "no ",
];

/// "Again": 重新申请 is no 新申请, 重新办 no 新办. Questions and names are read without the 新 of it.
const AGAIN: &str = "重新";

/// The part of a service item's name in which it differs from a sibling (see [`shared_ends`]):
/// `入` of `存档人员党员组织关系转入` against `…转出`.
#[derive(Debug, Clone, Copy)]
pub struct Qualifier<'a> {
    name: &'a [char],
    start: usize,
    end: usize,
}

impl Qualifier<'_> {
    /// The qualifier's own text, without the punctuation around it (`团队游`, `新办理`).
    pub fn text(&self) -> String {
        let text: String = self.name[self.start..self.end].iter().collect();
        text.trim_matches(|c: char| !c.is_alphanumeric()).to_owned()
    }

    /// The name without the qualifier: what the siblings share.
    pub fn shared(&self) -> String {
        self.name[..self.start]
            .iter()
            .chain(&self.name[self.end..])
            .collect()
    }

    /// Whether `word` occurs in the name across or within the qualifier. The shared beginning can
    /// take the first character of a name word with it: the qualifier of `…关系转入` against
    /// `…关系转出` is `入`, yet the name's word for it is `转入`.
    /// 重新申请 (apply again) does not hold 新申请 (apply anew).
    pub fn holds(&self, word: &str) -> bool {
        let word: Vec<char> = word.chars().collect();
        let again = |at: usize| {
            at > 0
                && self.name[at - 1..]
                    .iter()
                    .copied()
                    .take(AGAIN.chars().count())
                    .eq(AGAIN.chars())
        };
        !word.is_empty()
            && self
                .name
                .windows(word.len())
                .enumerate()
                .any(|(at, window)| {
                    window == word.as_slice()
                        && at < self.end
                        && at + word.len() > self.start
                        && !again(at)
                })
    }
}

/// What the second look knows of one of the first hits; [`Signals::score`] weighs it.
///
/// Every field is a number that the weights in [`WEIGHTS`] multiply, in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// The fused score of both rankings ([`crate::search`]).
    pub fused: f32,
    /// Cosine between the question and the entry's name alone; 0 when the name has no vector.
    pub name: f32,
    /// How much closer the question is to the qualifier than to its siblings' ([`qualifier_evidence`]).
    pub qualifier: f32,
    /// The same, by the meanings the question names in words ([`QualifierWords`]).
    pub qualifier_words: f32,
    /// +1 for a progress lookup (`…进度查询`) when the question asks how far a case has got, −1 when
    /// it does not (`PROGRESS_CUES`); 0 for other entries.
    pub progress: f32,
    /// +1 / −1 likewise for an information lookup (`…信息查询`) by whether the question asks to look
    /// something up or check it (`LOOKUP_CUES`).
    pub lookup: f32,
    /// 1 for an entry of the other source than the one place the question names (the service
    /// items are Guangdong's, the FAQ Taipei's).
    pub other_source: f32,
    /// How many more of the qualifier's character pairs than of its siblings' the question writes
    /// ([`qualifier_evidence`] with `CharPairs::written_share`): 现役武警 against 退役, 一级 against 二级.
    pub qualifier_written: f32,
    /// The share of the name's character pairs the question writes (`CharPairs::written_share`): a name
    /// with words the question never uses (`…(省属技工学校设立审批)` against `技工学校的设立审批`)
    /// fits it less.
    pub name_written: f32,
    /// 1 for a Taipei FAQ entry.
    pub faq: f32,
    /// For one of Guangzhou's own items ([`ItemLevel::City`]): +1 when the question names Guangzhou
    /// or one of its districts, −1 when it does not. A service often has a province and a Guangzhou
    /// version with the same or nearly the same name (技工学校的设立审批); of the questions in our sets
    /// whose answer is Guangzhou's, seven in ten name the city, of those whose answer is the
    /// province's, one in a hundred and fifty.
    pub guangzhou_item: f32,
    /// 1 for a province item when the question names Guangzhou and not the province.
    pub province_item_for_guangzhou: f32,
    /// For a FAQ entry: whether its question asks what the user's asks ([`aspect_agreement`]).
    pub faq_aspect: f32,
    /// How much more the question denies of the qualifier than of its siblings', or 0 when less
    /// ([`qualifier_evidence`] with [`DeniedPairs`]): `不是业余电台，也不是手机基站` against the
    /// `(业余)` and `(公众移动通信基站)` variants, which the words 业余 and 基站 would otherwise draw
    /// it to.
    pub qualifier_denied: f32,
    /// 1 for a family's residual member (`其它企业信用信息查询`, `…其他签注`) when the question asks
    /// for none of the kinds its siblings name ([`asks_residual`]), 0 otherwise.
    pub residual: f32,
}

impl Signals {
    /// The signals in the order of the fields, which [`WEIGHTS`] and `scripts/fit-rerank.py` follow.
    pub fn values(&self) -> [f32; 15] {
        [
            self.fused,
            self.name,
            self.qualifier,
            self.qualifier_words,
            self.progress,
            self.lookup,
            self.other_source,
            self.qualifier_written,
            self.name_written,
            self.faq,
            self.guangzhou_item,
            self.province_item_for_guangzhou,
            self.faq_aspect,
            self.qualifier_denied,
            self.residual,
        ]
    }

    /// The hit's score after the second look: [`WEIGHTS`] · [`Signals::values`].
    pub fn score(&self) -> f32 {
        self.values()
            .iter()
            .zip(WEIGHTS)
            .map(|(value, weight)| value * weight)
            .sum()
    }
}

/// The weights of [`Signals`], fitted by `scripts/fit-rerank.py` (see there and the module
/// documentation; the last two, for denied and residual qualifiers, set by hand): the fused score keeps weight 1, so the others are in its units, where
/// neighbouring ranks differ by ~0.002–0.01.
pub const WEIGHTS: [f32; 15] = [
    1.0, 0.8789, 0.09337, 0.0131, 0.07733, 0.0114, -0.04011, 0.01054, 0.03858, -0.02156, 0.009318,
    -0.008252, 0.006, -0.05, 0.06,
];

/// Words that ask for a phone number (Simplified and Traditional), each before any it contains.
/// "装修要拆电表，打什么电话咨询？" is about the meter, yet its vector sits nearest the tax office's
/// `电话咨询(（个人）)`, a name made of nothing but these words: of the 9,308 questions of our sets
/// (stop 36), 13 whose first hit was that item asked another office's number. Comparing names with
/// the subject instead, of the 646 questions of our sets that hold such words 11 more got their
/// asked entry first and 2 fewer.
/// A complaint line is asked for the same way (`有投诉电话吗`, `complaint hotline`): the
/// `…投诉处理` and `咨询投诉` items are made of those words too; of the 598 questions of our sets
/// that hold 投诉 or complain (stop 52), 4 more got their entry first and 1 fewer.
const PHONE_ASKING: &[&str] = &[
    "投诉电话",
    "投訴電話",
    "投诉热线",
    "投訴專線",
    "举报电话",
    "檢舉電話",
    "complaint hotline",
    "complaints hotline",
    "complaint number",
    "complaint line",
    "电话咨询",
    "打什么电话",
    "打哪个电话",
    "咨询电话",
    "联系电话",
    "电话号码",
    "諮詢電話",
    "聯絡電話",
    "電話號碼",
    "电话",
    "電話",
    "号码",
    "號碼",
    "phone number",
    "telephone",
    "phone",
];

/// The question without the words that ask for a phone number ([`PHONE_ASKING`]), when it has
/// any: what the names are compared with ([`Signals::name`]), so that a name made of those words
/// does not match every question that asks for a number. `None` when nothing was taken out.
pub fn subject_of(question: &str) -> Option<String> {
    let mut subject = question.to_string();
    for words in PHONE_ASKING {
        // ASCII lowercasing keeps every byte where it was, so the places found are the original's.
        while let Some(at) = subject.to_ascii_lowercase().find(words) {
            subject.replace_range(at..at + words.len(), "");
        }
    }
    (subject.len() != question.len()).then_some(subject)
}

/// The shortest end of an agency's name that counts as naming it (`省总工会`, `就业指导中心`).
const AGENCY_RUN: usize = 4;

/// An item's name as the question is compared with it: with its agency's name before it when the
/// question names that agency, another of the first hits is the same agency's, and the name does
/// not hold the agency's already. A centre's own lookups carry its name in some of theirs only
/// (`省总工会个人理赔查询` against `个人参保查询`), so a question that names the centre
/// (`省总工会那边能查参保吗`) would be drawn to those, though the agency tells none of its own
/// items apart; it still tells them from another agency's. A name holds the agency's when it holds
/// an end of it of at least [`AGENCY_RUN`] characters (`广东省林业科学研究院` is written
/// `省林业科学研究院` there; `广东省科学技术奖` holds `广东省科学技术厅` only up to its last character).
fn name_to_compare(hit: &Hit, named: &[Hit], folded_question: &str) -> String {
    fn agency_of(hit: &Hit) -> Option<&str> {
        hit.service.as_ref()?.agency.as_deref()
    }
    let Some(agency) = agency_of(hit) else {
        return hit.title.clone();
    };
    // Most hits share their agency with no other: nothing to fold for those.
    if named
        .iter()
        .filter(|other| agency_of(other) == Some(agency))
        .count()
        < 2
    {
        return hit.title.clone();
    }
    let folded_agency: Vec<char> = crate::text::fold(agency).chars().collect();
    let ends = || {
        (0..folded_agency.len().saturating_sub(AGENCY_RUN - 1))
            .map(|start| folded_agency[start..].iter().collect::<String>())
    };
    let title = crate::text::fold(&hit.title);
    if !ends().any(|end| title.contains(&end)) && ends().any(|end| folded_question.contains(&end)) {
        format!("{}{}", agency.trim(), hit.title)
    } else {
        hit.title.clone()
    }
}

/// The vectors a question is compared with: the question's own, and its subject's when
/// [`subject_of`] took words out (the names are compared with that one).
#[derive(Clone, Copy)]
pub struct QueryVectors<'a> {
    pub question: &'a [f32],
    pub subject: Option<&'a [f32]>,
}

impl<'a> QueryVectors<'a> {
    /// The question's vector, for a question with nothing to take out.
    pub fn of(question: &'a [f32]) -> Self {
        QueryVectors {
            question,
            subject: None,
        }
    }

    fn for_names(&self) -> &'a [f32] {
        self.subject.unwrap_or(self.question)
    }
}

/// The signals of the service items and FAQ entries among the first [`DEPTH`] `hits`, with their
/// places in `hits`; staff passages have none (see the module documentation). `name_vector`
/// gives the unit vector of a name or a qualifier, or `None` when it cannot (that signal is then 0).
pub fn signals(
    hits: &[Hit],
    question: &str,
    query: QueryVectors<'_>,
    qualifier_words: &QualifierWords,
    mut name_vector: impl FnMut(&str) -> Option<Arc<Vec<f32>>>,
) -> Vec<(usize, Signals)> {
    let depth = hits.len().min(DEPTH);
    let places: Vec<usize> = (0..depth)
        .filter(|&i| named_by_title(hits[i].kind))
        .collect();
    let named: Vec<Hit> = places.iter().map(|&i| hits[i].clone()).collect();
    let dot = |v: &[f32], w: &[f32]| v.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
    let cosine = |v: &[f32]| dot(v, query.question);
    let qualifier = qualifier_evidence(&named, |qualifier| {
        let text = qualifier.text();
        if text.is_empty() {
            return None;
        }
        name_vector(&text).map(|v| cosine(&v))
    });
    let qualifier_words = match qualifier_words.scorer(question) {
        Some(scorer) => qualifier_evidence(&named, scorer),
        None => vec![0.0; named.len()],
    };
    let folded = crate::text::fold(question);
    let pairs = CharPairs::of(&folded);
    let qualifier_written =
        qualifier_evidence(&named, |qualifier| pairs.written_share(&qualifier.text()));
    let denied = DeniedPairs::of(&folded);
    let qualifier_denied = if denied.is_empty() {
        vec![0.0; named.len()]
    } else {
        // Only ever a penalty: a hit denied less than its siblings gains nothing over the hits
        // without any (`占编人员` denied pulls `(在外省转入)` no higher than it was).
        qualifier_evidence(&named, |qualifier| Some(denied.held_by(&qualifier.text())))
            .into_iter()
            .map(|evidence| evidence.max(0.0))
            .collect()
    };
    let residual = asks_residual(&named, &folded, &denied);
    let asks_progress = asks(&folded, PROGRESS_CUES);
    let asks_lookup = asks(&folded, LOOKUP_CUES);
    let named_source = named_source(&folded);
    let names_guangzhou = asks(&folded, GUANGZHOU_PLACES);
    let names_province = names_the_province(&folded);
    let question_aspects = aspects(&folded);
    let compared: Vec<String> = named
        .iter()
        .map(|hit| name_to_compare(hit, &named, &folded))
        .collect();
    let sign = |yes: bool| if yes { 1.0 } else { -1.0 };
    places
        .into_iter()
        .zip(&named)
        .enumerate()
        .map(|(i, (place, hit))| {
            let level = item_level(&hit.id).filter(|_| hit.kind == DocKind::ServiceItem);
            let signals = Signals {
                fused: hit.score,
                name: name_vector(&compared[i]).map_or(0.0, |v| dot(&v, query.for_names())),
                qualifier: qualifier[i],
                qualifier_words: qualifier_words[i],
                progress: if is_progress_lookup(&hit.title) {
                    sign(asks_progress)
                } else {
                    0.0
                },
                lookup: if hit.kind == DocKind::ServiceItem && is_information_lookup(&hit.title) {
                    sign(asks_lookup)
                } else {
                    0.0
                },
                other_source: if named_source.is_some_and(|kind| kind != hit.kind) {
                    1.0
                } else {
                    0.0
                },
                qualifier_written: qualifier_written[i],
                name_written: pairs.written_share(&compared[i]).unwrap_or(0.0),
                faq: if hit.kind == DocKind::Faq { 1.0 } else { 0.0 },
                guangzhou_item: if level == Some(ItemLevel::City) {
                    sign(names_guangzhou)
                } else {
                    0.0
                },
                province_item_for_guangzhou: if level == Some(ItemLevel::Province)
                    && names_guangzhou
                    && !names_province
                {
                    1.0
                } else {
                    0.0
                },
                faq_aspect: if hit.kind == DocKind::Faq {
                    aspect_agreement(question_aspects, &hit.title)
                } else {
                    0.0
                },
                qualifier_denied: qualifier_denied[i],
                residual: if residual[i] { 1.0 } else { 0.0 },
            };
            (place, signals)
        })
        .collect()
}

/// Reorders the service items and FAQ entries among the first [`DEPTH`] `hits` (in place) by the
/// score of their [`signals`]; other hits keep their places.
pub fn rerank(
    hits: &mut [Hit],
    question: &str,
    query: QueryVectors<'_>,
    qualifier_words: &QualifierWords,
    name_vector: impl FnMut(&str) -> Option<Arc<Vec<f32>>>,
) {
    let signals = signals(hits, question, query, qualifier_words, name_vector);
    if signals.len() < 2 {
        return;
    }
    let mut movable: Vec<Hit> = signals
        .iter()
        .map(|(place, signals)| Hit {
            score: signals.score(),
            ..hits[*place].clone()
        })
        .collect();
    // Stable: equal scores keep the fused order.
    movable.sort_by(|a, b| b.score.total_cmp(&a.score));
    for ((place, _), hit) in signals.into_iter().zip(movable) {
        hits[place] = hit;
    }
}

/// The character pairs of a folded question, for how much of a name it writes out.
struct CharPairs {
    pairs: std::collections::HashSet<(char, char)>,
    chars: std::collections::HashSet<char>,
}

/// Words that measure time, not name a kind of service: `多少个工作日办结` asks a deadline and
/// does not write the `工作` of `工作类外国人居留证件`. They are left out of a question's pairs.
const TIME_UNITS: [&str; 1] = ["工作日"];

impl CharPairs {
    fn of(folded_question: &str) -> Self {
        let mut question = folded_question.to_string();
        for unit in TIME_UNITS {
            question = question.replace(unit, " ");
        }
        let chars: Vec<char> = question.chars().filter(|c| c.is_alphanumeric()).collect();
        CharPairs {
            pairs: chars.windows(2).map(|w| (w[0], w[1])).collect(),
            chars: chars.into_iter().collect(),
        }
    }

    /// The share of `text`'s character pairs (its one character, for a single one) that the
    /// question holds, after folding and without punctuation; `None` for a text with no letters.
    /// Pairs, not characters: 牙医 shares 医 with 中医 but no pair.
    fn written_share(&self, text: &str) -> Option<f32> {
        let text: Vec<char> = crate::text::fold(text)
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        match text.as_slice() {
            [] => None,
            [one] => Some(if self.chars.contains(one) { 1.0 } else { 0.0 }),
            _ => {
                let written = text
                    .windows(2)
                    .filter(|w| self.pairs.contains(&(w[0], w[1])))
                    .count();
                Some(written as f32 / (text.len() - 1) as f32)
            }
        }
    }
}

/// The character pairs a folded question writes only where it denies them: after 不是, 并非 or 而非
/// (not 是不是, which asks), up to the end of the clause or a 的, at most [`DeniedPairs::REACH`]
/// characters: `对讲机中继电台（不是业余电台，也不是手机基站）…注销电台` denies 业余 and 基站 but not
/// 电台, which it also affirms.
struct DeniedPairs {
    pairs: std::collections::HashSet<(char, char)>,
}

impl DeniedPairs {
    const REACH: usize = 8;
    /// Narrower than [`DENIALS`]: 没有 and 不需要 often state the very fact a qualifier names
    /// (`没有犯罪记录` asks for `无犯罪记录`).
    const DENIALS: [[char; 2]; 3] = [['不', '是'], ['并', '非'], ['而', '非']];
    /// A clause ends the denial, and so does 的: `不是公司制的外资企业` denies 公司制, not 企业. A list
    /// does not: `不是旅游、探亲或商务` denies all three.
    const ENDS: &'static str = "，。？！,.?!；;）)（(：:的";
    /// After 不是, these make it a rhetorical question that affirms: `文化馆不是有个春节习俗的数字资源嘛`
    /// asks for 春节习俗, `不是说可以网上办吗` for online handling (but `不是有限公司` denies).
    const RHETORICAL: [&'static str; 6] = ["有个", "有一", "有些", "有这", "有那", "说"];

    fn of(folded_question: &str) -> Self {
        let chars: Vec<char> = folded_question.chars().collect();
        let mut denied = vec![false; chars.len()];
        for at in 0..chars.len() {
            let rhetorical = |after: &[char]| {
                Self::RHETORICAL.iter().any(|words| {
                    after
                        .iter()
                        .copied()
                        .take(words.chars().count())
                        .eq(words.chars())
                })
            };
            let is_denial = Self::DENIALS.iter().any(|d| {
                chars[at..].starts_with(d)
                    && !(d[1] == '是' && at > 0 && chars[at - 1] == '是')
                    && !(d[1] == '是' && rhetorical(&chars[at + 2..]))
            });
            if is_denial {
                chars[at + 2..]
                    .iter()
                    .take_while(|c| !Self::ENDS.contains(**c))
                    .take(Self::REACH)
                    .enumerate()
                    .for_each(|(i, _)| denied[at + 2 + i] = true);
            }
        }
        let pairs_where = |inside: bool| -> std::collections::HashSet<(char, char)> {
            (1..chars.len())
                .filter(|&i| denied[i - 1] == inside && denied[i] == inside)
                .filter(|&i| chars[i - 1].is_alphanumeric() && chars[i].is_alphanumeric())
                .map(|i| (chars[i - 1], chars[i]))
                .collect()
        };
        let affirmed = pairs_where(false);
        DeniedPairs {
            pairs: pairs_where(true)
                .into_iter()
                .filter(|pair| !affirmed.contains(pair))
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// How many of the denied pairs `text` (a qualifier) holds, other than where it denies them
    /// itself (`非法人` is what `不是法人` asks for). A count, not a share: a pair that siblings'
    /// qualifiers share (`人员` of `占编人员` and `聘用人员`) cancels out in [`qualifier_evidence`].
    fn held_by(&self, text: &str) -> f32 {
        let chars: Vec<char> = crate::text::fold(text).chars().collect();
        let held: std::collections::HashSet<(char, char)> = (1..chars.len())
            .filter(|&i| !(i >= 2 && matches!(chars[i - 2], '非' | '不' | '无')))
            .map(|i| (chars[i - 1], chars[i]))
            .filter(|pair| self.pairs.contains(pair))
            .collect();
        held.len() as f32
    }
}

/// Words that ask for a family's residual member outright (folded): `“其他类”企业`, `we don't fit
/// the usual … categories`.
const RESIDUAL_CUES: &[&str] = &[
    "其他类",
    "其它类",
    "别的类",
    "哪类都不",
    "哪一类都不",
    "other category",
    "other categories",
    "other kind",
    "other type",
    "don't fit",
    "doesn't fit",
    "don't fall",
    "doesn't fall",
    "none of the",
];

/// Words that set the asker apart from kinds the question then lists (folded): `不属于施工、监理、
/// 设计那几类`, `不算施工、监理`; [`DeniedPairs`] reads 不是, 并非 and 而非 alone.
const SETS_APART: &[&str] = &["不属于", "不算", "都不是", "既不是", "不是"];

/// How many characters after a [`SETS_APART`] word, within its clause, the kinds it sets apart
/// may stand.
const SETS_APART_REACH: usize = 16;

/// For each hit, whether it is a family's residual member (its qualifier is 其它 or 其他 against
/// some siblings among `hits`: `其它企业信用信息查询` against `施工企业…`, `监理企业…`) that the question
/// asks for: by a residual word ([`RESIDUAL_CUES`]), or by setting itself apart from two or more of
/// its siblings' kinds, written out in full shortly after such a word (`不属于施工、监理、设计那几类
/// 企业`) or denied (`不是施工设计监理`). The embedding and the words draw such a question to the very kinds it
/// lists, and the residual member names none of them.
fn asks_residual(hits: &[Hit], folded_question: &str, denied: &DeniedPairs) -> Vec<bool> {
    let outright = asks(folded_question, RESIDUAL_CUES);
    let set_apart: Vec<String> = SETS_APART
        .iter()
        .flat_map(|words| {
            folded_question.match_indices(words).map(|(at, _)| {
                folded_question[at + words.len()..]
                    .chars()
                    .take_while(|c| !DeniedPairs::ENDS.contains(*c))
                    .take(SETS_APART_REACH)
                    .collect()
            })
        })
        .collect();
    let names = service_item_names(hits);
    names
        .iter()
        .map(|name| {
            let Some(name) = name else { return false };
            let mut is_residual = false;
            let mut listed = 0;
            for (mine, theirs) in sibling_qualifiers(name, &names) {
                // Against a sibling of another family (`其它企业资质…` beside `其它企业信用…`)
                // it is no residual.
                if !matches!(mine.text().as_str(), "其它" | "其他") {
                    continue;
                }
                is_residual = true;
                let theirs = theirs.text();
                let folded_theirs = crate::text::fold(&theirs);
                let written = !folded_theirs.is_empty()
                    && set_apart.iter().any(|span| span.contains(&folded_theirs));
                if written || denied.held_by(&theirs) > 0.0 {
                    listed += 1;
                }
            }
            is_residual && (outright || listed >= 2)
        })
        .collect()
}

/// For each hit, how much closer the question is to its qualifier than to its siblings' (0 for a
/// hit with no sibling among `hits`).
///
/// Two service items are siblings when their names share a beginning and an end that together
/// make more than half of the shorter name: `办理往来港澳通行证团队游签注进度查询` and
/// `…探亲签注进度查询`. What is left between them is each one's *qualifier* (`团队游`, `探亲`).
/// The name's embedding barely tells such siblings apart (one word in twenty), but the
/// qualifier's own embedding does. A hit's evidence against a sibling is the question's
/// `similarity` to its [`Qualifier`] minus that to the sibling's (`None` from `similarity`: no
/// comparison); its evidence is the mean over its siblings. A qualifier may be empty (`低压居民报装`
/// against `低压非居民报装`): words can still count for the other one, an embedding cannot.
pub fn qualifier_evidence(
    hits: &[Hit],
    mut similarity: impl FnMut(&Qualifier<'_>) -> Option<f32>,
) -> Vec<f32> {
    let names = service_item_names(hits);
    names
        .iter()
        .map(|name| {
            let Some(name) = name else { return 0.0 };
            let (mut total, mut siblings) = (0.0, 0);
            for (mine, theirs) in sibling_qualifiers(name, &names) {
                if let (Some(mine), Some(theirs)) = (similarity(&mine), similarity(&theirs)) {
                    total += mine - theirs;
                    siblings += 1;
                }
            }
            if siblings == 0 {
                0.0
            } else {
                total / siblings as f32
            }
        })
        .collect()
}

/// The names of the service items among `hits`, as characters; `None` for other hits.
fn service_item_names(hits: &[Hit]) -> Vec<Option<Vec<char>>> {
    hits.iter()
        .map(|hit| (hit.kind == DocKind::ServiceItem).then(|| hit.title.chars().collect()))
        .collect()
}

/// For a service item's `name`, each sibling among `names` as the pair of qualifiers in which
/// they differ: the name's own, then the sibling's (see [`shared_ends`]).
fn sibling_qualifiers<'a>(
    name: &'a [char],
    names: &'a [Option<Vec<char>>],
) -> impl Iterator<Item = (Qualifier<'a>, Qualifier<'a>)> {
    names.iter().flatten().filter_map(move |other| {
        let (prefix, suffix) = shared_ends(name, other)?;
        let mine = Qualifier {
            name,
            start: prefix,
            end: name.len() - suffix,
        };
        let theirs = Qualifier {
            name: other,
            start: prefix,
            end: other.len() - suffix,
        };
        Some((mine, theirs))
    })
}

/// Whether two service items' names make them siblings: different names that share a beginning
/// and an end making more than half of the shorter (see [`qualifier_evidence`]).
pub fn are_siblings(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    shared_ends(&a, &b).is_some()
}

/// The parts in which two sibling names differ (see [`shared_ends`]).
#[cfg(test)]
fn qualifiers<'a>(a: &'a [char], b: &'a [char]) -> Option<(&'a [char], &'a [char])> {
    let (prefix, suffix) = shared_ends(a, b)?;
    Some((&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]))
}

/// The lengths of the beginning and the end that two sibling names share, or `None` when the
/// names are equal or not siblings (their common beginning and end make no more than half of the
/// shorter name).
fn shared_ends(a: &[char], b: &[char]) -> Option<(usize, usize)> {
    if a == b {
        return None;
    }
    let shorter = a.len().min(b.len());
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(shorter - prefix)
        .take_while(|(x, y)| x == y)
        .count();
    if (prefix + suffix) * 2 <= shorter {
        return None;
    }
    Some((prefix, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, kind: DocKind, score: f32) -> Hit {
        Hit {
            id: id.into(),
            doc_id: id.into(),
            kind,
            title: id.into(),
            passage: String::new(),
            score,
            url: None,
            phone: None,
            service: None,
        }
    }

    #[test]
    fn a_closer_name_moves_up_and_staff_passages_stay() {
        let mut hits = vec![
            hit("省内变更", DocKind::ServiceItem, 0.10),
            hit("report#1", DocKind::StaffDoc, 0.095),
            hit("出省变更", DocKind::ServiceItem, 0.09),
            hit("faq", DocKind::Faq, 0.07),
            hit("far", DocKind::ServiceItem, 0.04),
        ];
        // Staff passages (which stay where they are) fill the depth, so the next hit lies beyond it.
        let fillers: Vec<String> = (hits.len()..DEPTH).map(|n| format!("report#{n}")).collect();
        hits.extend(fillers.iter().map(|id| hit(id, DocKind::StaffDoc, 0.035)));
        hits.push(hit("beyond the depth", DocKind::ServiceItem, 0.03));
        let query = [1.0, 0.0];
        let vector = |name: &str| -> Option<Arc<Vec<f32>>> {
            Some(Arc::new(match name {
                "出省变更" => vec![0.9, 0.436],
                "省内变更" => vec![0.8, 0.6],
                "beyond the depth" => vec![1.0, 0.0],
                _ => vec![0.0, 1.0],
            }))
        };
        rerank(
            &mut hits,
            "",
            QueryVectors::of(&query),
            &QualifierWords::default(),
            vector,
        );
        let order: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        let mut expected = vec!["出省变更", "report#1", "省内变更", "faq", "far"];
        expected.extend(fillers.iter().map(String::as_str));
        expected.push("beyond the depth");
        assert_eq!(order, expected);
        // A name far from the question cannot jump more than a few ranks of fused evidence.
        assert!(hits[3].score > hits[4].score);
    }

    #[test]
    fn an_agencys_name_is_no_evidence_among_its_own_items() {
        let item = |name: &str, agency: &str| Hit {
            service: Some(crate::document::ServiceItemFields {
                agency: Some(agency.into()),
                ..Default::default()
            }),
            ..hit(name, DocKind::ServiceItem, 0.1)
        };
        let union = "广东省总工会";
        let named = [
            item("省总工会个人理赔查询", union),
            item("个人参保查询", union),
            item("广东省科学技术奖", "广东省科学技术厅"),
        ];
        let compare = |hit: &Hit, named: &[Hit], question: &str| {
            name_to_compare(hit, named, &crate::text::fold(question))
        };
        let question = "省总工会那边能查参保吗？";
        assert_eq!(compare(&named[0], &named, question), "省总工会个人理赔查询");
        assert_eq!(
            compare(&named[1], &named, question),
            "广东省总工会个人参保查询"
        );
        // The question must name the agency, and another hit must be the agency's.
        assert_eq!(compare(&named[1], &named, "个人参保怎么查"), "个人参保查询");
        assert_eq!(compare(&named[1], &named[1..], question), "个人参保查询");
        // A name that holds the agency's only up to its last character does not hold it.
        let award = [named[2].clone(), item("科技成果登记", "广东省科学技术厅")];
        let question = "广东省科学技术厅的科学技术奖怎么申报";
        assert_eq!(
            compare(&award[0], &award, question),
            "广东省科学技术厅广东省科学技术奖"
        );
    }

    #[test]
    fn a_question_names_taipei_by_name_or_by_taiwans_administrative_words() {
        let source = |q: &str| named_source(&crate::text::fold(q));
        assert_eq!(
            source("广州的残疾人证丢了怎么补办"),
            Some(DocKind::ServiceItem)
        );
        assert_eq!(
            source("家里人的身心障碍证明弄丢了，要补发"),
            Some(DocKind::Faq)
        );
        assert_eq!(source("悠遊卡借給別人會被罰嗎"), Some(DocKind::Faq));
        assert_eq!(source("广州的居民在台北搭捷运"), None);
        assert_eq!(source("残疾人证丢了怎么补办"), None);
    }

    #[test]
    fn a_denied_qualifier_counts_against_its_item_only() {
        let denied = |q: &str| DeniedPairs::of(&crate::text::fold(q));
        let radio = denied(
            "我们公司在广州设的对讲机中继电台（不是业余电台，也不是手机基站）不用了，想注销电台",
        );
        assert_eq!(radio.held_by("业余"), 1.0);
        assert_eq!(radio.held_by("公众移动通信基站"), 1.0);
        // 电台 is denied once and affirmed twice.
        assert_eq!(radio.held_by("其他无线电台（站）的设置使用审批"), 0.0);
        // 的 ends the denial: the enterprise is still one.
        let enterprise = denied("想设立一家不是公司制的外资企业");
        assert_eq!(enterprise.held_by("外商投资有限责任公司"), 1.0);
        assert_eq!(
            enterprise.held_by("非公司外商投资企业"),
            0.0,
            "非 denies it itself"
        );
        let trip = denied("想去台湾处理财产上的事（不是旅游、探亲或商务）");
        assert_eq!(trip.held_by("探亲"), 1.0, "a list is denied whole");
        assert_eq!(trip.held_by("商务"), 1.0);
        assert_eq!(trip.held_by("其他"), 0.0);
        assert!(denied("是不是要先做防洪评价？").is_empty(), "是不是 asks");
        assert!(
            denied("文化馆不是有个春节习俗的数字资源嘛").is_empty(),
            "不是有个…嘛 affirms"
        );
        assert!(denied("我们不是有限公司").held_by("有限责任公司") > 0.0);
        assert!(denied("并非").is_empty());

        // Through the second look: the denied sibling drops below the one the question describes,
        // and the item with nothing denied (no sibling of either here) keeps its fused score.
        let question = "单位的对讲机电台执照丢了（不是业余电台），补办交什么？";
        let hits = vec![
            hit("电台执照补办(业余)", DocKind::ServiceItem, 0.100),
            hit("电台执照补办(其他电台)", DocKind::ServiceItem, 0.099),
            hit("电台呼号查询", DocKind::ServiceItem, 0.098),
        ];
        let query = [1.0, 0.0];
        let signals = signals(
            &hits,
            question,
            QueryVectors::of(&query),
            &QualifierWords::default(),
            |_| None,
        );
        let denied: Vec<f32> = signals.iter().map(|(_, s)| s.qualifier_denied).collect();
        assert_eq!(denied, [1.0, 0.0, 0.0]);
        let mut reranked = hits.clone();
        rerank(
            &mut reranked,
            question,
            QueryVectors::of(&query),
            &QualifierWords::default(),
            |_| None,
        );
        assert_eq!(reranked[0].id, "电台执照补办(其他电台)");
    }

    #[test]
    fn a_question_setting_itself_apart_from_the_listed_kinds_asks_for_the_residual_member() {
        let hits = vec![
            hit("施工企业信用信息查询", DocKind::ServiceItem, 0.100),
            hit("监理企业信用信息查询", DocKind::ServiceItem, 0.099),
            hit("设计企业信用信息查询", DocKind::ServiceItem, 0.098),
            hit("其它企业信用信息查询", DocKind::ServiceItem, 0.097),
            hit("其它企业资质信息查询", DocKind::ServiceItem, 0.096),
        ];
        let query = [1.0, 0.0];
        let residual = |question: &str| -> Vec<f32> {
            signals(
                &hits,
                question,
                QueryVectors::of(&query),
                &QualifierWords::default(),
                |_| None,
            )
            .iter()
            .map(|(_, s)| s.residual)
            .collect()
        };
        let residual_only = [0.0, 0.0, 0.0, 1.0, 0.0];
        // Kinds written out after 不属于, kinds denied, or the residual asked outright; the
        // other family's residual (资质) is no member of this one beside these siblings.
        assert_eq!(
            residual("它不属于施工、监理、设计那几类企业，想看它的信用情况"),
            residual_only
        );
        assert_eq!(residual("我们不是施工设计监理，信用怎么查"), residual_only);
        assert_eq!(
            residual(
                "We don't fit the contractor or designer categories; where is our credit record?"
            ),
            residual_only
        );
        // One kind set apart says nothing of the rest; a kind asked for is that kind.
        assert_eq!(residual("我们不属于施工企业，信用怎么查"), [0.0; 5]);
        assert_eq!(residual("想查一家监理企业的信用信息"), [0.0; 5]);
        assert_eq!(
            residual("我们不是外地企业，想查施工企业和监理企业的信用信息"),
            [0.0; 5],
            "the kinds asked for stand far from the 不是"
        );

        let mut reranked = hits.clone();
        rerank(
            &mut reranked,
            "它不属于施工、监理、设计那几类企业，想看它的信用情况",
            QueryVectors::of(&query),
            &QualifierWords::default(),
            |_| None,
        );
        assert_eq!(reranked[0].title, "其它企业信用信息查询");
    }

    #[test]
    fn siblings_are_names_that_differ_in_their_middle() {
        assert!(are_siblings(
            "律师执业变更审核(执业类别变更并市内转所)",
            "律师执业变更审核(执业类别变更并跨市转所)"
        ));
        assert!(are_siblings("扶养协议公证指引", "夫妻财产约定协议公证指引"));
        assert!(!are_siblings("扶养协议公证指引", "扶养协议公证指引"));
        assert!(!are_siblings("扶养协议公证指引", "星级饭店名录发布"));
    }

    #[test]
    fn siblings_differ_in_the_middle_of_their_names() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let (tour, visit) = (
            chars("往来港澳通行证团队游签注进度查询"),
            chars("往来港澳通行证探亲签注进度查询"),
        );
        let (mine, theirs) = qualifiers(&tour, &visit).unwrap();
        assert_eq!(
            (
                mine.iter().collect::<String>(),
                theirs.iter().collect::<String>()
            ),
            ("团队游".into(), "探亲".into())
        );
        // One name inside the other: the shorter one's qualifier is empty.
        let (lawyer, firm) = (chars("律师基本信息查询"), chars("律师事务所基本信息查询"));
        let (mine, theirs) = qualifiers(&lawyer, &firm).unwrap();
        assert!(mine.is_empty());
        assert_eq!(theirs.iter().collect::<String>(), "事务所");
        // Equal names (a province's and a city's version) and unrelated names are not siblings.
        assert_eq!(qualifiers(&tour, &tour), None);
        assert_eq!(
            qualifiers(&chars("档案接收"), &chars("档案材料的收集、鉴别和归档")),
            None
        );
    }

    #[test]
    fn the_sibling_whose_qualifier_is_closer_to_the_question_gains() {
        let hits = vec![
            hit("签注(探亲)", DocKind::ServiceItem, 0.10),
            hit("签注(团队游)", DocKind::ServiceItem, 0.09),
            hit("公证员免职审核", DocKind::ServiceItem, 0.08),
            hit("签注(团队游)?", DocKind::Faq, 0.07),
        ];
        let similarity = |qualifier: &Qualifier<'_>| match qualifier.text().as_str() {
            "团队游" => Some(0.9),
            "探亲" => Some(0.7),
            text => panic!("only qualifiers are compared, not {text}"),
        };
        let evidence = qualifier_evidence(&hits, similarity);
        assert!(
            (evidence[1] - 0.2).abs() < 1e-6 && (evidence[0] + 0.2).abs() < 1e-6,
            "{evidence:?}"
        );
        // No sibling, or not a service item: no evidence either way.
        assert_eq!(&evidence[2..], [0.0, 0.0]);
    }

    #[test]
    fn a_named_qualifier_reorders_siblings_that_the_name_cannot() {
        let mut hits = vec![
            hit("签注(探亲)", DocKind::ServiceItem, 0.10),
            hit("签注(团队游)", DocKind::ServiceItem, 0.099),
        ];
        let vector = |text: &str| -> Option<Arc<Vec<f32>>> {
            Some(Arc::new(match text {
                "团队游" => vec![0.9, 0.436],
                "探亲" => vec![0.5, 0.866],
                _ => vec![0.8, 0.6], // both names: as close as each other
            }))
        };
        rerank(
            &mut hits,
            "",
            QueryVectors::of(&[1.0, 0.0]),
            &QualifierWords::default(),
            vector,
        );
        assert_eq!(hits[0].id, "签注(团队游)");
    }

    #[test]
    fn the_words_that_ask_for_a_phone_number_are_not_the_subject() {
        assert_eq!(
            subject_of("新建小区统一报装用电，打什么电话咨询？").as_deref(),
            Some("新建小区统一报装用电，打什么？")
        );
        assert_eq!(
            subject_of("What is the Phone number of the notary office?").as_deref(),
            Some("What is the  of the notary office?")
        );
        assert_eq!(
            subject_of("臺北市敬老卡的諮詢電話").as_deref(),
            Some("臺北市敬老卡的")
        );
        // A question that asks for no number is compared whole.
        assert_eq!(subject_of("低压非居民报装要什么材料"), None);
    }

    #[test]
    fn names_are_compared_with_the_subject_when_the_question_asks_for_a_number() {
        let hits = vec![
            hit("电话咨询(（企业）)", DocKind::ServiceItem, 0.10),
            hit("统建报装", DocKind::ServiceItem, 0.099),
        ];
        // The whole question lies along the phone-consultation name; its subject along the other.
        let name_vector = |name: &str| -> Option<Arc<Vec<f32>>> {
            Some(Arc::new(match name {
                "电话咨询(（企业）)" => vec![1.0, 0.0],
                _ => vec![0.0, 1.0],
            }))
        };
        let first = |query: QueryVectors<'_>| {
            let mut hits = hits.clone();
            rerank(
                &mut hits,
                "",
                query,
                &QualifierWords::default(),
                name_vector,
            );
            hits[0].id.clone()
        };
        let question = [0.8, 0.6];
        assert_eq!(first(QueryVectors::of(&question)), "电话咨询(（企业）)");
        let subject = QueryVectors {
            question: &question,
            subject: Some(&[0.2, 0.98]),
        };
        assert_eq!(first(subject), "统建报装");
    }

    /// The qualifier of `name` against `sibling`.
    fn qualifier_of<'a>(name: &'a [char], sibling: &[char]) -> Qualifier<'a> {
        let (prefix, suffix) = shared_ends(name, sibling).unwrap();
        Qualifier {
            name,
            start: prefix,
            end: name.len() - suffix,
        }
    }

    #[test]
    fn a_qualifier_named_in_citizens_words_scores_its_name_words() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let words = QualifierWords::default();
        let score = words.scorer("爆破员证件快过期了，要带什么材料").unwrap();
        let (renew, damaged, new) = (
            chars("爆破作业人员许可(到期换发)"),
            chars("爆破作业人员许可(损毁换发)"),
            chars("爆破作业人员许可(新办理)"),
        );
        assert_eq!(score(&qualifier_of(&renew, &new)), Some(2.0));
        assert_eq!(score(&qualifier_of(&damaged, &new)), Some(1.0));
        assert_eq!(score(&qualifier_of(&new, &renew)), Some(0.0));
        // Traditional questions are folded first; the shared beginning took 转 of 转入 with it.
        let (inward, outward) = (
            chars("存档人员党员组织关系转入"),
            chars("存档人员党员组织关系转出"),
        );
        assert_eq!(qualifier_of(&inward, &outward).text(), "入");
        let score = words.scorer("黨員組織關係怎麼轉進來").unwrap();
        assert_eq!(score(&qualifier_of(&inward, &outward)), Some(1.0));
        assert_eq!(score(&qualifier_of(&outward, &inward)), Some(0.0));
        // English words count as whole words (the chat searches an English question with its
        // translation); `renew` names renewal, not 新.
        let score = words
            .scorer("I lost my permit, how do I get a replacement")
            .unwrap();
        assert_eq!(
            score(&qualifier_of(&chars("爆破作业人员许可(遗失补发)"), &new)),
            Some(2.0)
        );
        assert!(words
            .scorer("how do I renew the permit")
            .is_some_and(|score| score(&qualifier_of(&new, &renew)) == Some(0.0)));
        // A denied word asks for nothing: neither renewal nor change, but the first time.
        let score = words
            .scorer("头一回报，不是延期也不是变更，要交什么")
            .unwrap();
        let (first, extended) = (
            chars("无线电台设置使用审批(新申请)"),
            chars("无线电台设置使用审批(延期)"),
        );
        assert_eq!(score(&qualifier_of(&first, &extended)), Some(1.0));
        assert_eq!(score(&qualifier_of(&extended, &first)), Some(0.0));
        assert!(words.scorer("不是延期，要交什么").is_none());
        assert!(words.scorer("登记的信息没有变动，要交什么").is_none());
        assert!(words.scorer("是不是第一次申领要交什么").is_some());
        // A new visa for the old one is no extension of it, and a denied extension asks for none.
        let (exchange, extension) = (chars("换发F字签证"), chars("延期F字签证"));
        let score = words.scorer("不需要延期，想把F签证换一张新的").unwrap();
        assert_eq!(score(&qualifier_of(&exchange, &extension)), Some(1.0));
        assert_eq!(score(&qualifier_of(&extension, &exchange)), Some(0.0));
        // Where the household is registered picks the endorsement for it.
        let (nationwide, province) = (
            chars("办理往来台湾通行证团队旅游签注(符合“全国通办”的户籍居民办理往来台湾通行证团队游签注)"),
            chars("办理往来台湾通行证团队旅游签注(广东省内户籍居民办理往来台湾通行证团队游签注)"),
        );
        let score = words
            .scorer("我户口在湖南，在广州上班，能办去台湾跟团的签注吗")
            .unwrap();
        assert_eq!(score(&qualifier_of(&nationwide, &province)), Some(1.0));
        assert_eq!(score(&qualifier_of(&province, &nationwide)), Some(0.0));
        // A question that asks for no meaning scores nothing; 重新申请 is not 新申请.
        assert!(words.scorer("取水许可证要交哪些材料").is_none());
        assert!(words.scorer("注销后想重新申请执业").is_some_and(|score| {
            let (again, moved) = (
                chars("专职律师执业许可(在我省注销后重新申请执业)"),
                chars("专职律师执业许可(在外省转入申请执业)"),
            );
            score(&qualifier_of(&again, &moved)) == Some(2.0) // 注销 and 重新, not 新申请
        }));
        // A word of the family's shared name is no evidence for a member that repeats it.
        let score = words
            .scorer("取水权转让给别的公司了，取水许可怎么变更")
            .unwrap();
        let (general, transfer) = (
            chars("变更取水许可(一般变更)"),
            chars("变更取水许可(取水权转让)"),
        );
        assert_eq!(score(&qualifier_of(&general, &transfer)), Some(0.0));
        // Who the applicant is: 部队 names the army's licence, not the armed police's (whose
        // name holds 部队 too, but not 军队); 户口 names a mainland resident.
        let (army, police) = (
            chars("机动车驾驶证持军警驾驶证申领(退役军人持军队驾驶证申请机动车驾驶证)"),
            chars("机动车驾驶证持军警驾驶证申领(退役武警持武装警察部队驾驶证申请机动车驾驶证)"),
        );
        let score = words.scorer("在部队考的驾照，退伍了怎么换").unwrap();
        assert!(score(&qualifier_of(&army, &police)) > score(&qualifier_of(&police, &army)));
        let (mainland, foreign) = (
            chars("机动车驾驶证初次申领(大陆居民申领摩托车准驾车型)"),
            chars("机动车驾驶证初次申领(外国人申领摩托车准驾车型)"),
        );
        let score = words.scorer("我是本地户口，第一次考摩托车驾照").unwrap();
        assert!(
            score(&qualifier_of(&mainland, &foreign)) > score(&qualifier_of(&foreign, &mainland))
        );
        // Handing a licence back is cancelling it.
        let (cancel, change) = (
            chars("水域滩涂养殖证的审核（注销）"),
            chars("水域滩涂养殖证的审核（变更）"),
        );
        let score = words.scorer("不养鱼了，养殖证要交回").unwrap();
        assert_eq!(score(&qualifier_of(&cancel, &change)), Some(1.0));
        assert_eq!(score(&qualifier_of(&change, &cancel)), Some(0.0));
    }

    /// The first hit after reranking `hits` for `question`, every name and qualifier embedded alike
    /// (so only the fused scores and the word signals decide).
    fn first_after_rerank(hits: &[Hit], question: &str) -> String {
        let mut hits = hits.to_vec();
        rerank(
            &mut hits,
            question,
            QueryVectors::of(&[1.0, 0.0]),
            &QualifierWords::default(),
            |_| Some(Arc::new(vec![1.0, 0.0])),
        );
        hits[0].id.clone()
    }

    #[test]
    fn siblings_are_reordered_by_the_qualifier_a_question_names_in_words() {
        // 头一次 names `新办理`, which the embeddings below do not tell from `到期换发`.
        let hits = vec![
            hit("爆破作业人员许可(到期换发)", DocKind::ServiceItem, 0.10),
            hit("爆破作业人员许可(新办理)", DocKind::ServiceItem, 0.095),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(
            first("头一次申领爆破作业许可证"),
            "爆破作业人员许可(新办理)"
        );
        // Without such words the fused order stands.
        assert_eq!(
            first("爆破作业许可证要什么材料"),
            "爆破作业人员许可(到期换发)"
        );
    }

    #[test]
    fn a_qualifier_in_words_counts_against_a_sibling_with_none() {
        // `低压居民报装` has no qualifier against `低压非居民报装`; "不是居民" still names the other.
        let hits = vec![
            hit("低压居民报装", DocKind::ServiceItem, 0.10),
            hit("低压非居民报装", DocKind::ServiceItem, 0.095),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(
            first("开了家小餐馆，要接低压电，不是居民用电"),
            "低压非居民报装"
        );
        assert_eq!(first("家里新房要接低压电"), "低压居民报装");
    }

    #[test]
    fn a_faq_entry_that_asks_what_the_question_asks_moves_up() {
        let hits = vec![
            hit("臺北市動產質借處之質借利率？", DocKind::Faq, 0.100),
            hit("辦理質借時，需帶什麼證件?", DocKind::Faq, 0.098),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(first("想拿金饰去借钱，要准备哪些东西？"), hits[1].id);
        // Asking nothing the list knows, or asking both: the fused order stands.
        assert_eq!(first("想拿金饰去借钱"), hits[0].id);
        assert_eq!(first("借钱要准备哪些东西，利率多少？"), hits[0].id);
    }

    #[test]
    fn cues_with_again_are_read_as_questions_are() {
        // Questions are read with 重新 as 重, so 重新注册 and 重新开业 must be cues all the same,
        // and the name word 重新 no cue of one character.
        let words = QualifierWords::default();
        assert!(words.scorer("证书作废好几年了，现在想重新注册").is_some());
        assert!(words.scorer("装修完了准备重新开业").is_some());
        assert!(words.scorer("这件事很重要").is_none());
    }

    #[test]
    fn a_progress_lookup_comes_first_only_when_the_question_asks_for_progress() {
        let hits = vec![
            hit("特困人员救助供养业务申请预约", DocKind::ServiceItem, 0.10),
            hit("特困人员救助供养业务进度查询", DocKind::ServiceItem, 0.095),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(
            first("给老人申请了特困供养，审到哪一步了？"),
            "特困人员救助供养业务进度查询"
        );
        assert_eq!(
            first("Where can I check the status of my application?"),
            "特困人员救助供养业务进度查询"
        );
        assert_eq!(
            first("特困人员救助供养要什么条件？"),
            "特困人员救助供养业务申请预约"
        );
        // Without the cue, a progress lookup first in the fused order yields to its service.
        let shadowing = vec![
            hit("补发办理往来港澳通行证进度查询", DocKind::ServiceItem, 0.10),
            hit(
                "办理中华人民共和国出入境通行证",
                DocKind::ServiceItem,
                0.095,
            ),
        ];
        assert_eq!(
            first_after_rerank(&shadowing, "回乡证丢了，急着回香港，办什么证件？"),
            "办理中华人民共和国出入境通行证"
        );
    }

    #[test]
    fn an_information_lookup_comes_first_only_when_the_question_asks_to_check() {
        let hits = vec![
            hit("职业病诊断资格证书核发", DocKind::ServiceItem, 0.10),
            hit("职业病诊断医师信息查询", DocKind::ServiceItem, 0.098),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(
            first("怎么核实一位医生有没有职业病诊断的资格？"),
            "职业病诊断医师信息查询"
        );
        // Without the cue, a lookup first in the fused order yields to the service.
        let lookup_first = vec![
            hit("职业病诊断医师信息查询", DocKind::ServiceItem, 0.10),
            hit("职业病诊断资格证书核发", DocKind::ServiceItem, 0.098),
        ];
        assert_eq!(
            first_after_rerank(&lookup_first, "职业病诊断的资格证书怎么申请？"),
            "职业病诊断资格证书核发"
        );
    }

    #[test]
    fn naming_guangzhou_puts_guangzhous_own_version_first() {
        // The province's and Guangzhou's 技工学校的设立审批: equal names, ids of level 2 and 3.
        let named = |id: &str, score| Hit {
            title: "技工学校的设立审批".into(),
            ..hit(id, DocKind::ServiceItem, score)
        };
        let (province, city) = (
            "11440000006939908Q2442100104000",
            "11440100696927671X3440111104000",
        );
        let province_first = vec![named(province, 0.10), named(city, 0.095)];
        let first = |question: &str| first_after_rerank(&province_first, question);
        assert_eq!(first("想在广州办一所民办技工学校，设立审批怎么走？"), city);
        assert_eq!(first("想在番禺办一所技工学校，要什么审批？"), city);
        // Naming the province as well takes away the province version's penalty, not the city's bonus.
        let levels = |question: &str| -> Vec<(f32, f32)> {
            let signals = signals(
                &province_first,
                question,
                QueryVectors::of(&[1.0, 0.0]),
                &QualifierWords::default(),
                |_| None,
            );
            signals
                .iter()
                .map(|(_, s)| (s.guangzhou_item, s.province_item_for_guangzhou))
                .collect()
        };
        assert_eq!(
            levels("在广州办技工学校，要找谁审批？"),
            [(0.0, 1.0), (1.0, 0.0)]
        );
        assert_eq!(
            levels("在广州办技工学校，是找省人社厅审批吗？"),
            [(0.0, 0.0), (1.0, 0.0)]
        );
        assert_eq!(
            levels("在广州办技工学校，省内跨市迁址要找谁？"),
            [(0.0, 1.0), (1.0, 0.0)]
        );
        assert_eq!(levels("办技工学校要找谁审批？"), [(0.0, 0.0), (-1.0, 0.0)]);
        // Without Guangzhou named, its version yields to the province's; 新增城镇 names no 增城区.
        let city_first = vec![named(city, 0.10), named(province, 0.098)];
        let first = |question: &str| first_after_rerank(&city_first, question);
        assert_eq!(first("想办一所技工学校，设立审批怎么走？"), province);
        assert_eq!(first("新增城镇就业的技工学校，设立审批怎么走？"), province);
        assert_eq!(first("在天河区办技工学校，设立审批怎么走？"), city);
    }

    #[test]
    fn a_named_place_puts_its_own_source_first() {
        let hits = vec![
            hit("申請成立社區發展協會之流程？", DocKind::Faq, 0.12),
            hit("省留学服务协会申办流程", DocKind::ServiceItem, 0.095),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(
            first("想在廣東省留學服務協會辦理業務，流程是什麼？"),
            "省留学服务协会申办流程"
        );
        assert_eq!(
            first("How do I register with the study-abroad association in Guangzhou?"),
            "省留学服务协会申办流程"
        );
        // No place, or both places: the fused order stands.
        assert_eq!(
            first("協會辦理業務的流程是什麼？"),
            "申請成立社區發展協會之流程？"
        );
        assert_eq!(
            first("我在广州，想问台北的协会怎么成立"),
            "申請成立社區發展協會之流程？"
        );
        let taipei = vec![
            hit("省留学服务协会申办流程", DocKind::ServiceItem, 0.10),
            hit("申請成立社區發展協會之流程？", DocKind::Faq, 0.095),
        ];
        assert_eq!(
            first_after_rerank(&taipei, "在臺北成立社區發展協會要什麼流程"),
            "申請成立社區發展協會之流程？"
        );
    }

    #[test]
    fn the_written_share_counts_character_pairs_after_folding() {
        let pairs = CharPairs::of(&crate::text::fold("我是現役武警，想換地方的牙醫執業證"));
        assert_eq!(pairs.written_share("现役"), Some(1.0));
        assert_eq!(pairs.written_share("现"), Some(1.0));
        assert_eq!(pairs.written_share("退役"), Some(0.0)); // 役 alone is no pair
        assert_eq!(pairs.written_share("中医"), Some(0.0)); // shares 医, not a pair
        assert_eq!(pairs.written_share("(武警)执业"), Some(2.0 / 3.0)); // 武警, 执业; not 警执
        assert_eq!(pairs.written_share("（）"), None);
        // A deadline in working days writes no 工作.
        let deadline = CharPairs::of("外国人申请停留证件,最长多少个工作日办结");
        assert_eq!(deadline.written_share("工作"), Some(0.0));
        assert_eq!(deadline.written_share("停留"), Some(1.0));
    }

    #[test]
    fn a_qualifier_the_question_writes_out_reorders_siblings() {
        let hits = vec![
            hit(
                "机动车驾驶证持军警驾驶证申领(退役武警持武装警察部队驾驶证申请)",
                DocKind::ServiceItem,
                0.100,
            ),
            hit(
                "机动车驾驶证持军警驾驶证申领(现役武警持武装警察部队驾驶证申请)",
                DocKind::ServiceItem,
                0.095,
            ),
        ];
        let first = |question: &str| first_after_rerank(&hits, question);
        assert_eq!(
            first("我是现役武警，部队的驾驶证怎么换成地方的？"),
            hits[1].id
        );
        // Neither written: the fused order stands.
        assert_eq!(first("武警部队的驾驶证怎么换成地方的？"), hits[0].id);
    }

    #[test]
    fn hits_without_a_name_vector_keep_their_order() {
        let mut hits = vec![
            hit("a", DocKind::ServiceItem, 0.1),
            hit("b", DocKind::Faq, 0.09),
        ];
        rerank(
            &mut hits,
            "",
            QueryVectors::of(&[1.0]),
            &QualifierWords::default(),
            |_| None,
        );
        assert_eq!(hits[0].id, "a");
    }
}
