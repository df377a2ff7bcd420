//! The chat's guard rails, over `govassist-safety`: personal data masked into
//! the session's vault before anything is logged or reaches the model, the
//! sensitive-word list on input and output, the scope of the service, and the
//! reply kept in the user's script.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use govassist_kb::KnowledgeBase;
use govassist_safety::pii::{self, PiiKind};
use govassist_safety::scope::{self, Reason, Scope, ServiceArea};
use govassist_safety::sensitive::SensitiveWords;

use super::replies::DeclineReason;
use super::route::{placeholders, PiiLabel};
use crate::config::ChatConfig;
use crate::lang::Lang;
use crate::sessions::Session;

/// A request to decline, and what of the message is still to be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    pub reason: DeclineReason,
    /// The message's other requests, in scope (see `govassist_safety::scope::Judgement::rest`);
    /// `None` when the whole message is declined.
    pub rest: Option<String>,
    /// A request that only weak rules stood against (see
    /// `govassist_safety::scope::Judgement::unnamed_service`): when it names an entry of the
    /// knowledge base ([`names_an_entry`]), the message is answered after all.
    pub unnamed_service: Option<String>,
}

/// The shortest run of Chinese characters of a request that, found in the name of one of the
/// entries it retrieves, makes it a question about that entry (广东艺术剧院, 花卉栽培, 生活百科).
/// Three-character runs are common words (不动产, 营业执照 is four but a service word anyway).
const NAMED_RUN: usize = 4;

/// Whether `request` names one of `hits` (service items, FAQ entries): a run of [`NAMED_RUN`]
/// Chinese characters of it, folded, occurs in the hit's name. Across the 1,780 out-of-scope
/// questions of `eval/chat_decline*` (up to set 16), no request that only weak rules declined did;
/// seven chatty in-scope questions (museums, popular-science films, theatre offers, sports bases,
/// grain statistics) did.
pub fn names_an_entry(request: &str, hits: &[govassist_kb::Hit]) -> bool {
    let request: Vec<char> = govassist_kb::text::fold(request).chars().collect();
    let titles: Vec<String> = hits
        .iter()
        .map(|hit| govassist_kb::text::fold(&hit.title))
        .collect();
    request.windows(NAMED_RUN).any(|run| {
        run.iter().all(|&c| super::translate::is_han(c)) && {
            let run: String = run.iter().collect();
            titles.iter().any(|title| title.contains(&run))
        }
    })
}

pub struct Guard {
    sensitive: SensitiveWords,
    area: ServiceArea,
    /// The second opinion on scope, once its examples are embedded (see [`ScopeNeighbours`]).
    neighbours: OnceLock<ScopeNeighbours>,
    /// Held while the examples are embedded: a second caller waits instead of embedding them again.
    learning: std::sync::Mutex<()>,
    /// How much closer a message must be to an out-of-scope example than to an in-scope one.
    scope_margin: f32,
    /// Longest sensitive word, in characters: how much reply text the output
    /// filter holds back so that a word split across tokens is still caught.
    longest_word: usize,
}

impl Guard {
    pub fn from_config(config: &ChatConfig) -> anyhow::Result<Guard> {
        let list = match &config.sensitive_words_file {
            Some(path) => std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the sensitive-word list {} (chat.sensitive_words_file)",
                    path.display()
                )
            })?,
            None => govassist_safety::sensitive::DEFAULT_WORDS.to_owned(),
        };
        let mut guard = Guard::new(&list, ServiceArea::new(config.service_area.iter().cloned()))?;
        guard.scope_margin = config.scope_margin;
        Ok(guard)
    }

    /// `list`: one word per line, `#` starts a comment.
    pub fn new(list: &str, area: ServiceArea) -> anyhow::Result<Guard> {
        let sensitive =
            SensitiveWords::from_list(list).context("the sensitive-word list cannot be used")?;
        let longest_word = list
            .lines()
            .map(|line| line.split('#').next().unwrap_or("").trim().chars().count())
            .max()
            .unwrap_or(0);
        Ok(Guard {
            sensitive,
            area,
            neighbours: OnceLock::new(),
            learning: Default::default(),
            scope_margin: 0.0,
            longest_word,
        })
    }

    pub fn has_sensitive(&self, text: &str) -> bool {
        self.sensitive.contains(text)
    }

    /// Why the request is outside what a government service assistant does, if it is: the
    /// rules first (precise, and they name the reason), then, for what they let through, the
    /// nearest labelled examples (when embedded), by `query`, the message's embedding.
    pub fn out_of_scope(&self, text: &str, query: Option<&[f32]>) -> Option<Decline> {
        let judgement = scope::judge(text, &self.area);
        if let Scope::OutOfScope(reason) = judgement.scope {
            let reason = match reason {
                Reason::Medical => DeclineReason::Medical,
                Reason::Investment => DeclineReason::Investment,
                Reason::OthersData => DeclineReason::OthersData,
                Reason::Gossip => DeclineReason::Gossip,
                Reason::OtherCity => DeclineReason::OtherCity,
                Reason::PromptInjection => DeclineReason::PromptInjection,
            };
            return Some(Decline {
                reason,
                rest: judgement.rest,
                unnamed_service: judgement.unnamed_service,
            });
        }
        let reason = self.neighbours.get()?.classify(query?, self.scope_margin)?;
        Some(Decline {
            reason,
            rest: None,
            unnamed_service: None,
        })
    }

    /// Embeds the scope examples with the knowledge base's model, so that
    /// [`Guard::out_of_scope`] can consult them. Seconds of work: call it on
    /// a background thread at start-up; until it is done the rules decide alone.
    pub fn learn_scope_examples(&self, kb: &KnowledgeBase) {
        let _learning = self.learning.lock().unwrap_or_else(|p| p.into_inner());
        if self.neighbours.get().is_some() || self.scope_margin.is_nan() {
            return;
        }
        let started = std::time::Instant::now();
        match ScopeNeighbours::build(kb) {
            Some(neighbours) => {
                tracing::info!(
                    out_of_scope = neighbours.outside.len(),
                    in_scope = neighbours.inside.len(),
                    seconds = started.elapsed().as_secs_f32(),
                    "scope examples embedded"
                );
                let _ = self.neighbours.set(neighbours);
            }
            None => tracing::info!("no embedding model: scope is decided by the rules alone"),
        }
    }
}

/// Labelled example requests, embedded: a message whose [`NEIGHBOURS`] nearest out-of-scope
/// examples are closer on average (by the margin) than its nearest in-scope ones is declined for
/// the reason of the nearest out-of-scope one. The rules catch what has a clear shape; these
/// catch paraphrases the rules' word lists do not know.
///
/// The examples are the hand-written ones and the questions of the earlier evaluation sets, some
/// 2,400 out of scope and 4,900 in scope (see the comments in the two files). With the rules, on
/// `eval/chat_decline_11` / `in_scope_11`, written after them: declines 0.792 → 0.958 against the
/// hand-written examples alone, false declines 0.017 → 0.008. Averaging three neighbours rather than
/// taking the nearest one keeps a single odd example from deciding (fewer false declines at the
/// same decline rate on every held-out set tried).
struct ScopeNeighbours {
    outside: Vec<(DeclineReason, Vec<f32>)>,
    inside: Vec<Vec<f32>>,
}

/// How many nearest examples of each side are averaged.
const NEIGHBOURS: usize = 3;

const SCOPE_OUT: &str = include_str!("../../data/scope_out.tsv");
const SCOPE_IN: &str = include_str!("../../data/scope_in.txt");

impl ScopeNeighbours {
    /// Embeds the examples (read from the vector cache after the first time); `None` without a model.
    fn build(kb: &KnowledgeBase) -> Option<ScopeNeighbours> {
        let lines = |text: &'static str| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
        };
        let labelled: Vec<(DeclineReason, &str)> = lines(SCOPE_OUT)
            .filter_map(|line| {
                let (reason, question) = line.split_once('\t')?;
                Some((DeclineReason::from_code(reason)?, question))
            })
            .collect();
        let questions: Vec<&str> = labelled.iter().map(|(_, q)| *q).collect();
        let outside_vectors = kb.embed_queries_cached(&questions).ok()??;
        let outside = labelled
            .iter()
            .map(|(r, _)| *r)
            .zip(outside_vectors)
            .collect();
        let inside = kb
            .embed_queries_cached(&lines(SCOPE_IN).collect::<Vec<_>>())
            .ok()??;
        Some(ScopeNeighbours { outside, inside })
    }

    fn classify(&self, query: &[f32], margin: f32) -> Option<DeclineReason> {
        let dot = |v: &[f32]| v.iter().zip(query).map(|(a, b)| a * b).sum::<f32>();
        let mut outside: Vec<(DeclineReason, f32)> =
            self.outside.iter().map(|(r, v)| (*r, dot(v))).collect();
        let mut inside: Vec<f32> = self.inside.iter().map(|v| dot(v)).collect();
        outside.sort_by(|a, b| b.1.total_cmp(&a.1));
        inside.sort_by(|a, b| b.total_cmp(a));
        let (reason, _) = *outside.first()?;
        let mean = |scores: &mut dyn Iterator<Item = f32>| {
            let (sum, n) = scores
                .take(NEIGHBOURS)
                .fold((0.0, 0), |(s, n), x| (s + x, n + 1));
            if n == 0 {
                f32::MIN
            } else {
                sum / n as f32
            }
        };
        let out = mean(&mut outside.iter().map(|(_, s)| *s));
        let inside = mean(&mut inside.into_iter());
        (out >= inside + margin).then_some(reason)
    }
}

fn label_of(kind: PiiKind) -> PiiLabel {
    match kind {
        PiiKind::IdNumber => PiiLabel::IdNumber,
        PiiKind::Phone => PiiLabel::Phone,
        PiiKind::Uscc => PiiLabel::CreditCode,
        PiiKind::BankCard => PiiLabel::BankCard,
        PiiKind::Email => PiiLabel::Email,
    }
}

/// Masks the personal values in `message` with the session's placeholders:
/// a value the user gave before keeps its placeholder, a new one gets the
/// next number of its kind (`〔电话2〕`), and the vault maps each to its value.
pub fn mask_into_session(message: &str, session: &mut Session) -> String {
    let masked = pii::mask(message);
    if masked.found.is_empty() {
        return masked.text;
    }
    // Two passes through private-use sentinels, so that a placeholder never
    // rewrites another one that happens to look like it.
    let mut text = masked.text.clone();
    let mut finals = Vec::new();
    for (i, found) in masked.found.iter().enumerate() {
        let label = label_of(found.kind);
        let existing = session
            .personal
            .iter()
            .find(|(p, v)| **v == found.value && PiiLabel::of_placeholder(p) == Some(label))
            .map(|(p, _)| p.clone());
        let placeholder = existing.unwrap_or_else(|| {
            let n = session
                .personal
                .keys()
                .filter(|p| PiiLabel::of_placeholder(p) == Some(label))
                .count()
                + 1;
            let placeholder = format!("〔{}{n}〕", label.label());
            session
                .personal
                .insert(placeholder.clone(), found.value.clone());
            placeholder
        });
        let sentinel = format!("\u{E000}{i}\u{E001}");
        text = text.replace(&found.placeholder, &sentinel);
        finals.push((sentinel, placeholder));
    }
    for (sentinel, placeholder) in finals {
        text = text.replace(&sentinel, &placeholder);
    }
    text
}

/// Replaces the session's known personal values in `text` by their
/// placeholders (a reply that repeats the user's phone is stored masked).
pub fn mask_known(text: &str, session: &Session) -> String {
    let mut out = text.to_owned();
    for (placeholder, value) in &session.personal {
        if !value.is_empty() {
            out = out.replace(value.as_str(), placeholder);
        }
    }
    out
}

/// The user's language; a message with nothing to tell it by (a phone
/// number, "OK") keeps the conversation's language.
pub fn detect_lang(message: &str, previous: Option<Lang>) -> Lang {
    let letters = message.chars().filter(|c| c.is_alphabetic()).count();
    match previous {
        Some(lang) if letters < 2 => lang,
        _ => Lang::detect(message),
    }
}

/// What stands between the model's pieces and the user: placeholders back
/// to the user's own values, sensitive words censored, Chinese text in the
/// user's script. Holds back a few characters so that a word or placeholder
/// split across pieces is handled whole.
pub struct OutputFilter {
    lang: Lang,
    guard: Arc<Guard>,
    /// Already censored; waits for more text.
    pending: String,
}

impl OutputFilter {
    pub fn new(lang: Lang, guard: Arc<Guard>) -> OutputFilter {
        OutputFilter {
            lang,
            guard,
            pending: String::new(),
        }
    }

    pub fn push(&mut self, text: &str, session: &Session) -> String {
        self.pending.push_str(text);
        self.pending = self.guard.sensitive.censor(&self.pending);
        let chars: Vec<(usize, char)> = self.pending.char_indices().collect();
        let mut keep = self.guard.longest_word.saturating_sub(1).min(chars.len());
        // An unclosed placeholder waits for its closing bracket.
        if let Some(open) = self.pending.rfind('〔') {
            if !self.pending[open..].contains('〕') {
                let from_open = self.pending[open..].chars().count();
                keep = keep.max(from_open);
            }
        }
        let cut = chars.len() - keep;
        let split = chars.get(cut).map_or(self.pending.len(), |(i, _)| *i);
        let ready: String = self.pending[..split].to_owned();
        self.pending.drain(..split);
        self.render(&ready, session)
    }

    pub fn finish(&mut self, session: &Session) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.render(&rest, session)
    }

    fn render(&self, text: &str, session: &Session) -> String {
        if text.is_empty() {
            return String::new();
        }
        let mut out = text.to_owned();
        for placeholder in placeholders(text) {
            if let Some(value) = session.personal.get(placeholder) {
                out = out.replace(placeholder, value);
            }
        }
        match self.lang {
            Lang::Traditional => govassist_safety::script::to_traditional(&out),
            Lang::Simplified => govassist_kb::text::to_simplified(&out),
            Lang::English => out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(words: &[&str]) -> Arc<Guard> {
        Arc::new(Guard::new(&words.join("\n"), ServiceArea::new(["广东".to_owned()])).unwrap())
    }

    #[test]
    fn a_request_names_an_entry_by_a_run_of_its_name() {
        let hit = |title: &str| govassist_kb::Hit {
            id: "x".into(),
            doc_id: "x".into(),
            kind: govassist_kb::DocKind::ServiceItem,
            title: title.into(),
            passage: String::new(),
            score: 1.0,
            url: None,
            phone: None,
            service: None,
        };
        let hits = [hit("广东省科技图书馆馆藏书刊查询"), hit("美術館展覽資訊")];
        assert!(names_an_entry("广东省科技图书馆馆藏书刊在哪里查", &hits));
        // Folded: a Traditional name matches a Simplified request.
        assert!(names_an_entry("美术馆展览在哪看", &hits[1..]));
        // Three characters in common are a word, not a name.
        assert!(!names_an_entry("科技馆几点开门", &hits));
        assert!(!names_an_entry("讲个笑话吧", &hits));
    }

    #[test]
    fn three_neighbours_decide_not_one_odd_example() {
        let unit = |angle: f32| vec![angle.cos(), angle.sin()];
        let neighbours = ScopeNeighbours {
            // One out-of-scope example right on top of the message, the others far off.
            outside: vec![
                (DeclineReason::Medical, unit(0.0)),
                (DeclineReason::Gossip, unit(1.2)),
                (DeclineReason::Gossip, unit(1.3)),
            ],
            inside: vec![unit(0.1), unit(0.15), unit(0.2)],
        };
        assert_eq!(neighbours.classify(&unit(0.0), 0.0), None);
        // Among close out-of-scope examples, the reason is the nearest one's.
        let neighbours = ScopeNeighbours {
            outside: vec![
                (DeclineReason::Gossip, unit(0.05)),
                (DeclineReason::Medical, unit(0.0)),
                (DeclineReason::Gossip, unit(0.1)),
            ],
            inside: vec![unit(0.5), unit(0.6), unit(0.7)],
        };
        assert_eq!(
            neighbours.classify(&unit(0.0), 0.0),
            Some(DeclineReason::Medical)
        );
        // The margin asks for more than a tie.
        assert_eq!(neighbours.classify(&unit(0.0), 0.5), None);
    }

    #[test]
    fn a_value_keeps_its_placeholder_across_turns() {
        let mut session = Session::default();
        let first = mask_into_session("我的电话是13800138000", &mut session);
        assert_eq!(first, "我的电话是〔电话1〕");
        let again = mask_into_session("还是13800138000，另一个13912345678", &mut session);
        assert_eq!(again, "还是〔电话1〕，另一个〔电话2〕");
        assert_eq!(session.personal["〔电话2〕"], "13912345678");
        assert_eq!(mask_known("已记录13912345678", &session), "已记录〔电话2〕");
    }

    #[test]
    fn output_is_unmasked_censored_and_in_the_users_script_across_pieces() {
        let mut session = Session::default();
        mask_into_session("13800138000", &mut session);
        let mut filter = OutputFilter::new(Lang::Traditional, guard(&["坏词语"]));
        let mut shown = String::new();
        for piece in [
            "您的电话〔电",
            "话1〕已登记，坏",
            "词语不显示。办理营业执照",
        ] {
            shown.push_str(&filter.push(piece, &session));
        }
        shown.push_str(&filter.finish(&session));
        assert!(shown.contains("13800138000"), "{shown}");
        assert!(
            !shown.contains("坏詞語") && !shown.contains("坏词语"),
            "{shown}"
        );
        assert!(shown.contains("辦理營業執照"), "{shown}");
    }

    #[test]
    fn symbols_only_keep_the_conversation_language() {
        assert_eq!(
            detect_lang("13800138000", Some(Lang::Traditional)),
            Lang::Traditional
        );
        assert_eq!(
            detect_lang("辦理護照要多久", Some(Lang::Simplified)),
            Lang::Traditional
        );
    }
}
