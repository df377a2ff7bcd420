//! The chat orchestrator: one turn of a conversation in, a reply streamed out
//! as [`ChatEvent`]s.
//!
//! A turn goes through, in order:
//! 1. **guard** ([`guard`]): personal data in the message is replaced by
//!    placeholders (`〔电话1〕`) kept in the session; nothing after this point
//!    sees the real values except a skill whose manifest grants them;
//! 2. a sensitive word in the message → a fixed decline;
//! 3. a skill dialog waiting for this user → continue it ([`dialog`]), or drop
//!    it when the user cancels;
//! 4. a request for a person → a handoff record staff can list;
//! 5. an out-of-scope request → a fixed, polite decline;
//! 6. a message close to a skill's example utterances → start that skill
//!    ([`route`] picks it and reads its arguments);
//! 7. otherwise an answer from the knowledge base ([`grounding`]): retrieved
//!    passages as numbered data, the model's answer streamed, each citation
//!    checked afterwards; no evidence → an honest fixed reply with a phone.
//!
//! Transport (SSE or JSON lines, the OpenAI shape) is the HTTP layer's
//! business; this module only produces events. Each turn's question (masked)
//! and reply are saved to the session, so a conversation resumes after a restart.

pub mod dialog;
pub mod grounding;
pub mod guard;
pub mod replies;
pub mod route;
pub mod translate;

use std::sync::Arc;
use std::time::Instant;

use govassist_kb::{DocKind, Hit};
use govassist_llm::GenerationParams;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::lang::Lang;
use crate::sessions::{Session, Speaker, Topic, Turn};
use crate::state::AppState;
use replies::DeclineReason;

/// The events of one reply, in order: `sources`, `skill`?, `token`*, then `done` or `error`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ChatEvent {
    Sources {
        session_id: String,
        lang: Lang,
        sources: Vec<SourceRef>,
    },
    /// A skill ran for this turn: its name and outcome (`done`, `need_input`,
    /// `failed`, `error`), the result for `done`, the missing fields for `need_input`.
    Skill(SkillEvent),
    Token {
        text: String,
    },
    Done(DoneInfo),
    Error {
        code: &'static str,
        message: String,
    },
}

impl ChatEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::Sources { .. } => "sources",
            ChatEvent::Skill(_) => "skill",
            ChatEvent::Token { .. } => "token",
            ChatEvent::Done(_) => "done",
            ChatEvent::Error { .. } => "error",
        }
    }
}

/// A retrieved passage as the client sees it; `n` is the `[n]` marker in the answer.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRef {
    pub n: usize,
    pub id: String,
    pub doc_id: String,
    pub title: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkillEvent {
    pub name: String,
    pub status: &'static str,
    /// The arguments the skill was called with, personal values as placeholders.
    pub input: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// How a turn was handled, as `done.route` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteTaken {
    Answer,
    NoEvidence,
    Skill,
    Dialog,
    Cancelled,
    Handoff,
    Declined,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoneInfo {
    pub session_id: String,
    pub route: RouteTaken,
    /// Document ids the answer cites with `[n]` markers that passed the
    /// citation check; when it wrote none, the best-ranked source it was
    /// grounded on. Empty when no passage was used.
    pub citations: Vec<String>,
    /// Sentences the citation check could not tie to their sources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flagged: Vec<grounding::Flag>,
    /// The request was out of scope (or carried a sensitive word) and got a fixed decline.
    pub declined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<&'static str>,
    /// A handoff to a person was recorded for this turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_id: Option<i64>,
    /// The skill that ran, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    pub prompt_tokens: usize,
    /// Prompt tokens whose state the engine reused from an earlier request.
    pub cached_prompt_tokens: usize,
    pub generated_tokens: usize,
    pub time_to_first_token_ms: f64,
    pub tokens_per_s: f64,
}

impl DoneInfo {
    fn new(session_id: &str, route: RouteTaken) -> Self {
        DoneInfo {
            session_id: session_id.to_owned(),
            route,
            citations: Vec::new(),
            flagged: Vec::new(),
            declined: false,
            decline_reason: None,
            handoff_id: None,
            skill: None,
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            generated_tokens: 0,
            time_to_first_token_ms: 0.0,
            tokens_per_s: 0.0,
        }
    }
}

pub struct ChatRequest {
    /// The conversation to continue. An unknown (expired, made-up) id starts a new session under a
    /// fresh id instead; the `sources` and `done` events say which id the turn used.
    pub session_id: Option<String>,
    pub message: String,
    pub lang: Option<Lang>,
    /// Who asks, for the skill audit log: `chat`, `openai`, `eval`.
    pub caller: &'static str,
    /// Earlier turns the client keeps itself (an OpenAI-style client sends the whole conversation
    /// each time): they become the new session's history, masked like any message.
    pub history: Vec<(Speaker, String)>,
}

impl ChatRequest {
    pub fn new(message: impl Into<String>) -> Self {
        ChatRequest {
            session_id: None,
            message: message.into(),
            lang: None,
            caller: "chat",
            history: Vec::new(),
        }
    }
}

/// Passages retrieved for an answer, at least: those beyond `kb.chat_passages` are not in the
/// prompt, but the verbatim quote under the answer may come from them (and cites them).
const QUOTE_POOL: usize = 5;

/// Entries searched for the one a weakly declined request may name (see `guard::names_an_entry`).
const NAMED_ENTRY_HITS: usize = 3;

/// Longest quote of a source shown under an answer, in characters.
pub const QUOTE_CHARS: usize = 120;

/// Turns of history carried into a prompt: two exchanges.
const HISTORY_TURNS: usize = 4;

/// Starts answering; events arrive on the returned channel. Dropping the
/// receiver (the client went away) stops generation within one token.
pub async fn answer(state: Arc<AppState>, request: ChatRequest) -> mpsc::Receiver<ChatEvent> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err((code, message)) = run(state, request, &tx).await {
            let _ = tx.send(ChatEvent::Error { code, message }).await;
        }
    });
    rx
}

type TurnError = (&'static str, String);

/// One turn's context: where events go, the session being updated, and the
/// reply text as sent (saved to the history at the end).
pub(crate) struct TurnCx<'a> {
    pub state: &'a Arc<AppState>,
    pub tx: &'a mpsc::Sender<ChatEvent>,
    pub session: Session,
    pub lang: Lang,
    /// The user's message with personal data masked.
    pub masked: String,
    pub caller: &'static str,
    reply: String,
    output: guard::OutputFilter,
    sources_sent: bool,
}

impl TurnCx<'_> {
    /// Sends the `sources` event (once per turn; empty when no passage is used).
    pub async fn sources(&mut self, sources: Vec<SourceRef>) -> bool {
        self.sources_sent = true;
        let event = ChatEvent::Sources {
            session_id: self.session.id.clone(),
            lang: self.lang,
            sources,
        };
        self.tx.send(event).await.is_ok()
    }

    /// Sends a complete text to the user (a fixed reply, a skill's answer, the
    /// sources line), through the output filter (placeholders, sensitive words, script).
    pub async fn say(&mut self, text: &str) -> bool {
        self.send(text, true).await
    }

    /// Sends one piece of a generated answer; the filter may hold back its
    /// last characters until the next piece shows whether they start a word it censors.
    pub async fn stream(&mut self, piece: &str) -> bool {
        self.send(piece, false).await
    }

    async fn send(&mut self, text: &str, whole: bool) -> bool {
        if !self.sources_sent {
            self.sources(Vec::new()).await;
        }
        self.reply.push_str(text);
        let mut shown = self.output.push(text, &self.session);
        if whole {
            shown.push_str(&self.output.finish(&self.session));
        }
        shown.is_empty() || self.tx.send(ChatEvent::Token { text: shown }).await.is_ok()
    }

    pub async fn skill_event(&mut self, event: SkillEvent) {
        if !self.sources_sent {
            self.sources(Vec::new()).await;
        }
        let _ = self.tx.send(ChatEvent::Skill(event)).await;
    }

    /// Flushes the output filter, sends `done`, and saves the turn.
    pub async fn finish(mut self, done: DoneInfo) -> Result<(), TurnError> {
        let rest = self.output.finish(&self.session);
        if !rest.is_empty() {
            let _ = self.tx.send(ChatEvent::Token { text: rest }).await;
        }
        let sessions = self.state.sessions.clone();
        let session = self.session;
        let masked = self.masked;
        // The history keeps what the reply said with the user's values masked again.
        let reply = guard::mask_known(&self.reply, &session);
        tokio::task::spawn_blocking(move || {
            sessions.append_exchange(&session.id, &masked, &reply)?;
            sessions.save_state(&session)
        })
        .await
        .map_err(|e| ("internal", e.to_string()))?
        .map_err(|e| {
            (
                "storage_error",
                format!("the conversation could not be saved: {e}"),
            )
        })?;
        tracing::info!(route = ?done.route, declined = done.declined, skill = done.skill.as_deref(), "chat turn answered");
        let _ = self.tx.send(ChatEvent::Done(done)).await;
        Ok(())
    }
}

async fn run(
    state: Arc<AppState>,
    request: ChatRequest,
    tx: &mpsc::Sender<ChatEvent>,
) -> Result<(), TurnError> {
    state.metrics.chat_requests.inc();
    let sessions = state.sessions.clone();
    let requested = request.session_id;
    let mut session =
        tokio::task::spawn_blocking(move || sessions.resume_or_start(requested.as_deref()))
            .await
            .map_err(|e| ("internal", e.to_string()))?
            .map_err(|e| {
                (
                    "storage_error",
                    format!("the conversation could not be loaded: {e}"),
                )
            })?;
    let session_id = session.id.clone();

    // Nothing below this line sees a personal value except through the session's vault.
    if !request.history.is_empty() {
        seed_history(&state, &mut session, &request.history).await?;
    }
    let masked = guard::mask_into_session(&request.message, &mut session);
    let lang = request
        .lang
        .unwrap_or_else(|| guard::detect_lang(&request.message, session.lang));
    session.lang = Some(lang);
    let output = guard::OutputFilter::new(lang, state.guard.clone());
    let mut cx = TurnCx {
        state: &state,
        tx,
        session,
        lang,
        masked,
        caller: request.caller,
        reply: String::new(),
        output,
        sources_sent: false,
    };

    if state.guard.has_sensitive(&cx.masked) {
        return decline(cx, DeclineReason::Sensitive).await;
    }
    if let Some(pending) = cx.session.dialog.take() {
        if replies::is_cancel(&cx.masked) {
            cx.say(&replies::dialog_cancelled(lang)).await;
            let mut done = DoneInfo::new(&session_id, RouteTaken::Cancelled);
            done.skill = Some(pending.skill);
            return cx.finish(done).await;
        }
        if let Some(done) = dialog::continue_dialog(&mut cx, pending).await? {
            return cx.finish(done).await;
        }
    }
    // A cancel with nothing pending (the dialog ended, or never began) is answered as such, not
    // judged as a question: a bare 取消 sits near no service question.
    if replies::is_cancel(&cx.masked) {
        cx.say(&replies::nothing_to_cancel(lang)).await;
        return cx
            .finish(DoneInfo::new(&session_id, RouteTaken::Cancelled))
            .await;
    }
    if replies::wants_human(&cx.masked) {
        let handoff = create_handoff(&cx, "requested").await?;
        cx.say(&replies::handoff_created(lang, handoff)).await;
        let mut done = DoneInfo::new(&session_id, RouteTaken::Handoff);
        done.handoff_id = Some(handoff);
        return cx.finish(done).await;
    }
    // One embedding of the message serves both the scope check and the skill router.
    let query = embed_message(&state, &cx.masked).await;
    let (guard, text, vector) = (state.guard.clone(), cx.masked.clone(), query.clone());
    let mut declined = tokio::task::spawn_blocking(move || {
        guard.out_of_scope(&text, vector.as_deref().map(Vec::as_slice))
    })
    .await
    .map_err(|e| ("internal", e.to_string()))?;
    // Only broad vocabularies stood against it, and its request names an entry: a chatty opening
    // before a real question (`好无聊啊。广东艺术剧院最近有惠民演出吗？`).
    if let Some(request) = declined
        .as_ref()
        .and_then(|decline| decline.unnamed_service.clone())
    {
        // A failed lookup leaves the decline standing: the turn still gets its reply.
        let hits = search_knowledge_base(&state, request.clone(), NAMED_ENTRY_HITS)
            .await
            .unwrap_or_default();
        if guard::names_an_entry(&request, &hits) {
            declined = None;
        }
    }
    let query = match declined {
        None => query,
        Some(guard::Decline {
            reason, rest: None, ..
        }) => return decline(cx, reason).await,
        // Decline the one request, answer the others (`…需要什么材料？另外哪只股票能买？`).
        Some(guard::Decline {
            reason,
            rest: Some(rest),
            ..
        }) => {
            state_metrics_decline(&cx);
            cx.say(&replies::decline_part(reason, lang)).await;
            // Answered as if only the rest had been asked; the history keeps the whole message.
            let whole = std::mem::replace(&mut cx.masked, rest);
            let mut done = match answer_rest(&mut cx).await? {
                Some(done) => done,
                None => answer_from_knowledge_base(&mut cx, &request.message).await?,
            };
            cx.masked = whole;
            done.declined = true;
            done.decline_reason = Some(reason.code());
            return cx.finish(done).await;
        }
    };
    if let Some(done) = dialog::start_if_routed(&mut cx, query).await? {
        return cx.finish(done).await;
    }
    let done = answer_from_knowledge_base(&mut cx, &request.message).await?;
    cx.finish(done).await
}

/// The skill route for what is left of a partly declined message (embedded anew: the message's
/// embedding carried the declined request too); `None` when no skill takes it.
async fn answer_rest(cx: &mut TurnCx<'_>) -> Result<Option<DoneInfo>, TurnError> {
    let query = embed_message(cx.state, &cx.masked).await;
    dialog::start_if_routed(cx, query).await
}

/// The message's query embedding, `None` without an embedding model (or if it fails: the
/// rules and the lexical router still work).
async fn embed_message(state: &Arc<AppState>, masked: &str) -> Option<Arc<Vec<f32>>> {
    let (kb, text) = (state.kb.clone(), masked.to_owned());
    tokio::task::spawn_blocking(move || kb.embed_query(&text).ok().flatten())
        .await
        .ok()
        .flatten()
        .map(Arc::new)
}

async fn decline(mut cx: TurnCx<'_>, reason: DeclineReason) -> Result<(), TurnError> {
    state_metrics_decline(&cx);
    cx.say(&replies::decline(reason, cx.lang)).await;
    let mut done = DoneInfo::new(&cx.session.id, RouteTaken::Declined);
    done.declined = true;
    done.decline_reason = Some(reason.code());
    cx.finish(done).await
}

fn state_metrics_decline(cx: &TurnCx<'_>) {
    cx.state.metrics.chat_declined.inc();
}

pub(crate) async fn create_handoff(
    cx: &TurnCx<'_>,
    reason: &'static str,
) -> Result<i64, TurnError> {
    let sessions = cx.state.sessions.clone();
    let (id, question, lang) = (cx.session.id.clone(), cx.masked.clone(), cx.lang);
    tokio::task::spawn_blocking(move || sessions.create_handoff(&id, &question, lang, reason))
        .await
        .map_err(|e| ("internal", e.to_string()))?
        .map_err(|e| {
            (
                "storage_error",
                format!("the handoff could not be recorded: {e}"),
            )
        })
}

/// Stores turns the client sent along (masked) as the session's history, and takes the topic from
/// the last reply's source list (`[1] 护照签发（1144…）`), so that "那要多久？" is read as it was
/// meant. The listed item must be one the knowledge base has (a client cannot plant a topic); a
/// reply not written by us simply names none.
async fn seed_history(
    state: &AppState,
    session: &mut Session,
    history: &[(Speaker, String)],
) -> Result<(), TurnError> {
    let masked: Vec<(Speaker, String)> = history
        .iter()
        .map(|(speaker, text)| (*speaker, guard::mask_into_session(text, session)))
        .collect();
    let listed = masked
        .iter()
        .rev()
        .find(|(speaker, _)| *speaker == Speaker::Assistant)
        .and_then(|(_, reply)| first_listed_source(reply));
    let sessions = state.sessions.clone();
    let kb = state.kb.clone();
    let id = session.id.clone();
    let topic = tokio::task::spawn_blocking(move || {
        let turns: Vec<(Speaker, &str)> = masked
            .iter()
            .map(|(speaker, text)| (*speaker, text.as_str()))
            .collect();
        sessions.append_turns(&id, &turns)?;
        // Found by its own name, the item is among the first hits; kinds other than service items
        // are not topics (see `answer_from_knowledge_base`).
        let known = listed.filter(|topic| {
            kb.search(&topic.title, 5).is_ok_and(|hits| {
                hits.iter()
                    .any(|h| h.doc_id == topic.id && h.kind == DocKind::ServiceItem)
            })
        });
        Ok::<_, crate::store::StoreError>(known)
    })
    .await
    .map_err(|e| ("internal", e.to_string()))?
    .map_err(|e| {
        (
            "storage_error",
            format!("the conversation could not be saved: {e}"),
        )
    })?;
    if topic.is_some() {
        session.topic = topic;
    }
    Ok(())
}

/// The first entry of a reply's source list as [`sources_footer`] writes it, in any language.
fn first_listed_source(reply: &str) -> Option<Topic> {
    let footer = [Lang::Simplified, Lang::Traditional, Lang::English]
        .iter()
        .filter_map(|&lang| {
            reply
                .rfind(&format!("{}：", replies::sources_label(lang)))
                .map(|at| (lang, at))
        })
        .max_by_key(|&(_, at)| at)
        .map(|(lang, at)| &reply[at + replies::sources_label(lang).len() + "：".len()..])?;
    let first = footer.split('；').next()?.trim();
    let (title, id) = first.split_once("] ")?.1.rsplit_once('（')?;
    let id = id.strip_suffix('）')?;
    (!title.is_empty() && !id.is_empty()).then(|| Topic {
        id: id.to_owned(),
        title: title.to_owned(),
    })
}

/// The search query for a message: a short follow-up ("那要多久？") is read
/// together with the service item the conversation is about.
///
/// `question` is what to search for the message `masked` (itself, or its translation and itself).
fn retrieval_query(masked: &str, question: &str, topic: Option<&Topic>) -> String {
    let short = masked.chars().filter(|c| c.is_alphanumeric()).count() <= 8;
    match topic {
        Some(topic) if short => format!("{} {}", topic.title, question),
        _ => question.to_owned(),
    }
}

/// What to search for an English message: its Chinese translation by the chat model, then the
/// message ([`translate`]). Any failure searches the message alone; the answer goes on.
async fn translated_for_search(engine: Arc<govassist_llm::Engine>, masked: &str) -> String {
    let prompt = translate::prompt(masked);
    let generation = tokio::task::spawn_blocking(move || {
        let mut output = String::new();
        engine
            .generate(&prompt, &translate::params(), &mut |piece: &str| {
                output.push_str(piece);
                true
            })
            .map(|_| output)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|result| result);
    match generation {
        Ok(output) => {
            // The message is masked already: no personal data reaches the log.
            tracing::debug!(
                translation = output.trim(),
                "question translated for search"
            );
            translate::search_query(&output, masked)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot translate the question; searching it as written");
            masked.to_owned()
        }
    }
}

async fn search_knowledge_base(
    state: &Arc<AppState>,
    query: String,
    k: usize,
) -> Result<Vec<Hit>, TurnError> {
    let kb = state.kb.clone();
    tokio::task::spawn_blocking(move || kb.search(&query, k))
        .await
        .map_err(|e| ("internal", e.to_string()))?
        .map_err(|e| (e.code(), e.to_string()))
}

async fn answer_from_knowledge_base(
    cx: &mut TurnCx<'_>,
    _original: &str,
) -> Result<DoneInfo, TurnError> {
    let state = cx.state.clone();
    let lang = cx.lang;
    let session_id = cx.session.id.clone();
    // A few more than the prompt carries: the quote under the answer may come from them.
    let prompt_passages = state.config.kb.chat_passages.max(1);
    let k = prompt_passages.max(QUOTE_POOL);
    // The search ranks this many entries whatever it is asked for; the ones past `k` are looked
    // through for copies of the first ones (see `companions`).
    let depth = k.max(govassist_kb::title_match::DEPTH);
    let topic = cx.session.topic.clone();
    let mut hits = search_knowledge_base(
        &state,
        retrieval_query(&cx.masked, &cx.masked, topic.as_ref()),
        depth,
    )
    .await?;
    // What the quote under the answer is chosen by: the question, with its translation when it
    // has one and names no Chinese term itself (the guides are Chinese; an English question
    // shares few characters with them, but one that writes 跨域通办 is best quoted by that).
    let mut quote_question = cx.masked.clone();

    // Whether there is evidence at all is decided on the user's own words: a translation of
    // gibberish may well contain real words. With evidence, an English question is searched
    // again with its translation, which ranks the Chinese guides far better.
    if let Some(engine) = state.engine.clone().filter(|_| {
        !hits.is_empty() && lang == Lang::English && state.config.chat.translate_english
    }) {
        let question = translated_for_search(engine, &cx.masked).await;
        if question != cx.masked {
            hits = search_knowledge_base(
                &state,
                retrieval_query(&cx.masked, &question, topic.as_ref()),
                depth,
            )
            .await?;
            if !cx.masked.chars().any(translate::is_han) {
                quote_question = question;
            }
        }
    }

    let reserve = hits.split_off(k.min(hits.len()));
    let companions = companions(&hits, reserve);

    // No evidence, no generation: a model asked without sources invents them.
    if hits.is_empty() {
        cx.sources(Vec::new()).await;
        let handoff = create_handoff(cx, "no_evidence").await?;
        cx.say(&replies::no_evidence(lang, None, Some(handoff)))
            .await;
        let mut done = DoneInfo::new(&session_id, RouteTaken::NoEvidence);
        done.handoff_id = Some(handoff);
        return Ok(done);
    }

    let Some(engine) = state.engine.clone() else {
        cx.sources(source_refs(&hits)).await;
        return Err((
            "model_unavailable",
            "the language model is not loaded on this server; the sources above may still help"
                .into(),
        ));
    };
    let sessions = state.sessions.clone();
    let id = session_id.clone();
    let history: Vec<Turn> =
        tokio::task::spawn_blocking(move || sessions.recent_turns(&id, HISTORY_TURNS))
            .await
            .map_err(|e| ("internal", e.to_string()))?
            .unwrap_or_default();
    let max_tokens = state.config.llm.max_tokens;
    let context = engine.context_length();
    let shown = &hits[..prompt_passages.min(hits.len())];
    let (messages, used) = grounding::fit_prompt(&cx.masked, lang, shown, &history, |m| {
        engine.prompt_tokens(m) + max_tokens.min(context / 4) < context
    });
    // The model saw `hits[..used]` as [1]..[used]; the rest are numbered after them, and the
    // companions after those.
    let listed: Vec<Hit> = hits.iter().cloned().chain(companions).collect();
    let sources = source_refs(&listed);
    if !cx.sources(sources.clone()).await {
        return Ok(DoneInfo::new(&session_id, RouteTaken::Answer));
    }

    let params = GenerationParams {
        max_tokens,
        temperature: state.config.llm.temperature,
        ..GenerationParams::default()
    };
    let (piece_tx, mut piece_rx) = mpsc::channel::<String>(64);
    let started = Instant::now();
    let generation = tokio::task::spawn_blocking(move || {
        engine.generate(&messages, &params, &mut |piece: &str| {
            piece_tx.blocking_send(piece.to_owned()).is_ok()
        })
    });
    // What the model wrote, and `answer`, what the reader may see of it: the same, but for a
    // made-up phone or ID number, replaced by a note (see `grounding::NumberGate`).
    let mut written = String::new();
    let mut answer = String::new();
    let passages: Vec<&str> = hits.iter().map(|h| h.passage.as_str()).collect();
    let checkable: Vec<String> = hits.iter().map(grounding::checkable).collect();
    let checkable: Vec<&str> = checkable.iter().map(String::as_str).collect();
    let ids: Vec<&str> = hits.iter().map(|h| h.doc_id.as_str()).collect();
    let mut gate =
        grounding::NumberGate::new(&checkable, &ids, &cx.masked, replies::number_removed(lang));
    // How much of `answer` the reader has seen. A small model sometimes writes nothing but its
    // markers (`[1] [2]`), restates the question or refuses in its own canned words: all are held
    // back until the answer says something else, and a reply of nothing else is introduced in words
    // instead (the guide's own words under it answer).
    let mut streamed = 0;
    let mut generating = true;
    while generating {
        let piece = match piece_rx.recv().await {
            Some(piece) => {
                written.push_str(&piece);
                if grounding::cites_beyond(&written, used) {
                    tracing::warn!(
                        passages = used,
                        "the model cited a source it was not given; generation stopped"
                    );
                    generating = false;
                    gate.finish()
                } else if grounding::runs_in_a_loop(&written) {
                    tracing::warn!("the model repeats itself; generation stopped");
                    generating = false;
                    let mut rest = gate.push(&piece);
                    rest.push_str(&gate.finish());
                    rest
                } else {
                    gate.push(&piece)
                }
            }
            None => {
                generating = false;
                gate.finish()
            }
        };
        answer.push_str(&piece);
        if streamed == 0
            && (!grounding::has_words(&answer)
                || grounding::repeats_question(&answer, &cx.masked)
                || grounding::is_model_refusal(&answer))
        {
            continue;
        }
        if streamed == answer.len() {
            continue;
        }
        if !cx.stream(&answer[streamed..]).await {
            break; // the client went away: dropping the receiver stops generation
        }
        streamed = answer.len();
    }
    drop(piece_rx);
    // An answer of nothing but markers, the question itself or the model's canned refusal is
    // replaced by a pointer to the guide.
    let says_nothing = streamed == 0
        && (!grounding::has_words(&answer)
            || grounding::restates_question(&answer, &cx.masked)
            || grounding::is_model_refusal(&answer));
    if streamed == 0 {
        let shown = if says_nothing {
            replies::see_the_guide(lang)
        } else {
            &answer
        };
        cx.stream(shown).await;
    }
    let stats = generation
        .await
        .map_err(|e| ("internal", e.to_string()))?
        .map_err(|e| (e.code(), e.to_string()))?;
    state
        .metrics
        .generated_tokens
        .add(stats.generated_tokens as u64);

    // A pointer to the guide points to the best-ranked one, quoted: the markers of an answer that
    // said nothing else are weak evidence (of `devmix_25`'s 15 such replies, the first hit was the
    // asked item in 14, and one of those cited only the second, marked and quoted), and the
    // answer's claims were never shown.
    let check = if says_nothing {
        grounding::CitationCheck {
            cited: vec![1],
            flagged: Vec::new(),
        }
    } else {
        grounding::check_citations(&answer, &checkable[..used])
    };
    let mut cited = check.cited.clone();
    // A small model does not always write its markers; attribute the answer to the source it
    // repeats (or the best-ranked one), so the reader always sees where it came from.
    if cited.is_empty() {
        cited.push(grounding::unmarked_source(
            &answer,
            &cx.masked,
            &passages[..used],
        ));
    }
    let mut footer = String::new();
    let handoff = if says_unknown(&answer) {
        let phone = hits
            .iter()
            .find_map(|h| h.phone.as_deref())
            .map(str::to_owned);
        let handoff = create_handoff(cx, "no_evidence").await?;
        footer.push_str(&replies::unknown_addendum(
            lang,
            phone.as_deref(),
            Some(handoff),
        ));
        Some(handoff)
    } else {
        None
    };
    if !check.flagged.is_empty() || !gate.dropped().is_empty() {
        footer.push_str(replies::unverified_note(lang));
    }
    // The source's own words under the model's, cited: the lines of the fields the question asks
    // for, or else the sentence that bears most on it (see `grounding::best_quote`); under a pointer
    // to the guide, the first hit's.
    let quoted = if says_nothing {
        &passages[..1]
    } else {
        &passages[..]
    };
    if let Some((n, quotes)) = grounding::best_quote(&quote_question, quoted, QUOTE_CHARS) {
        let quotes: String = quotes.iter().map(|quote| format!("「{quote}」")).collect();
        footer.push_str(&format!(
            "\n\n{}：{quotes}[{n}]",
            replies::quote_label(lang)
        ));
        if !cited.contains(&n) {
            cited.push(n);
        }
    }
    let alternatives = [uncited_first_hit(&hits, &cited), close_alternative(&hits)];
    for n in alternatives.into_iter().flatten() {
        if !cited.contains(&n) {
            footer.push_str(&replies::alternative_note(lang, n, &hits[n - 1]));
            cited.push(n);
        }
    }
    if let Some(n) = other_copy(&listed, &cited) {
        footer.push_str(&replies::other_copy_note(lang, n, &listed[n - 1]));
        cited.push(n);
    }
    if let Some(n) = parent_item(&listed, &cited) {
        footer.push_str(&replies::parent_item_note(lang, n, &listed[n - 1]));
        cited.push(n);
    }
    let cited_refs: Vec<&SourceRef> = cited.iter().map(|n| &sources[n - 1]).collect();
    footer.push_str(&sources_footer(lang, &cited_refs));
    cx.say(&footer).await;

    // What "that" means in the next turn: the first cited service item.
    if let Some(item) = cited
        .iter()
        .map(|n| &listed[n - 1])
        .find(|h| h.kind == DocKind::ServiceItem)
    {
        cx.session.topic = Some(Topic {
            id: item.doc_id.clone(),
            title: item.title.clone(),
        });
    }
    let mut done = DoneInfo::new(&session_id, RouteTaken::Answer);
    done.citations = cited_documents(&cited_refs);
    done.flagged = check.flagged;
    done.flagged.extend_from_slice(gate.dropped());
    done.handoff_id = handoff;
    done.prompt_tokens = stats.prompt_tokens;
    done.cached_prompt_tokens = stats.cached_prompt_tokens;
    done.generated_tokens = stats.generated_tokens;
    done.time_to_first_token_ms = stats.time_to_first_token_ms;
    done.tokens_per_s = stats.decode_tokens_per_s;
    tracing::debug!(
        lang = lang.code(),
        sources = sources.len(),
        generated = done.generated_tokens,
        flagged = done.flagged.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "answer generated"
    );
    Ok(done)
}

/// How close (in search score) a sibling of the first hit must be for [`close_alternative`].
/// Scores are fused ranks plus name evidence ([`govassist_kb::title_match`]); on the retrieval
/// holdouts and `devmix_1`/`_2` a sibling within 0.02 of the first hit was the asked item instead of
/// it in about one case in five (62 of 330), and further down rarely (3 of the next 113). (Under stop
/// 21's hand-set weights, which spread scores less, the same held at 0.01.)
const SIBLING_CLOSENESS: f32 = 0.02;

/// How close any other entry of the first hit's kind must be for [`close_alternative`]. Over the
/// 5,690 service and FAQ questions of every question set (stop 28), the next entry within 0.01 of the
/// first was the asked one instead of it in 291 of 1,130 cases, one in four: more often than a
/// sibling within 0.02 (134 of 808). Within 0.02, one in six (371 of 2,088), for twice the notes.
const ALTERNATIVE_CLOSENESS: f32 = 0.01;

/// The source number of the entry the search could not tell from the first hit: the next hit that
/// is another service (not a copy at another level) or another FAQ entry, of the first hit's kind,
/// scored within [`ALTERNATIVE_CLOSENESS`] of it, or, for a sibling item (names sharing most of their
/// beginning and end: 补发 / 换发), within [`SIBLING_CLOSENESS`]. The reply shows both.
fn close_alternative(hits: &[Hit]) -> Option<usize> {
    let first = hits
        .first()
        .filter(|h| matches!(h.kind, DocKind::ServiceItem | DocKind::Faq))?;
    let (i, next) = hits
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, h)| !same_service(first, h))?;
    let gap = first.score - next.score;
    let sibling = first.kind == DocKind::ServiceItem
        && gap <= SIBLING_CLOSENESS
        && govassist_kb::title_match::are_siblings(&first.title, &next.title);
    (next.kind == first.kind && (gap <= ALTERNATIVE_CLOSENESS || sibling)).then_some(i + 1)
}

/// The best-ranked entry (`1`) when the answer and its quote lean on other sources only (not on a
/// copy of it at another level): the reply names it too, for the reader to check against. The
/// small model now and then answers from a lower passage; in `devmix_25`, of the six replies that
/// left the first hit out, it was the asked item in four, and the cited one in two.
fn uncited_first_hit(hits: &[Hit], cited: &[usize]) -> Option<usize> {
    let first = hits
        .first()
        .filter(|h| matches!(h.kind, DocKind::ServiceItem | DocKind::Faq))?;
    let leaned_on = cited.iter().any(|&n| {
        n == 1
            || n.checked_sub(1)
                .and_then(|i| hits.get(i))
                .is_some_and(|h| same_service(first, h))
    });
    (!leaned_on).then_some(1)
}

/// The source number of another copy of the first entry cited, when the search found it and the
/// answer did not cite it: the other agency's guide to the same service (the province's and
/// Guangzhou's, which differ in counter, phone and at times time limit), or the same FAQ question
/// posted twice (35 Taipei questions are). The reader is shown both and picks the one for their case.
/// Over devmix_59–62 and in_scope_77–80, 9 of the 85 replies that missed the asked item had cited
/// such a copy instead.
fn other_copy(hits: &[Hit], cited: &[usize]) -> Option<usize> {
    related_to_first_cited(hits, cited, is_other_copy)
}

/// The source number of the item that the first service item cited is a case of (`X` for
/// `X(Y)`: 联营变更许可 for 联营变更许可(合伙联营章程变更审核)), when the search found it and the
/// answer did not cite it: the general guide, beside the case the answer took. Over devmix_59–63 and
/// in_scope_77–81, 8 of the 106 replies that missed the asked item had cited a case of it instead.
fn parent_item(hits: &[Hit], cited: &[usize]) -> Option<usize> {
    related_to_first_cited(hits, cited, is_parent)
}

/// The first hit, not cited, that stands in `relation` to the first service item or FAQ entry cited.
fn related_to_first_cited(
    hits: &[Hit],
    cited: &[usize],
    relation: fn(&Hit, &Hit) -> bool,
) -> Option<usize> {
    let first = cited
        .iter()
        .filter_map(|&n| hits.get(n.checked_sub(1)?))
        .find(|h| matches!(h.kind, DocKind::ServiceItem | DocKind::Faq))?;
    hits.iter()
        .position(|h| relation(first, h))
        .map(|i| i + 1)
        .filter(|n| !cited.contains(n))
}

/// The entries past the first hits that are another copy of one of them, or the item one of them is
/// a case of: the search ranks them a little lower (the city's copy of a province item at 6, say),
/// and the reply may name them (`other_copy`, `parent_item`).
fn companions(hits: &[Hit], reserve: Vec<Hit>) -> Vec<Hit> {
    reserve
        .into_iter()
        .filter(|r| hits.iter().any(|h| is_other_copy(h, r) || is_parent(h, r)))
        .collect()
}

/// Whether `other` is another copy of `entry`: the same service at another agency, or the same FAQ
/// question under another id.
fn is_other_copy(entry: &Hit, other: &Hit) -> bool {
    let agency = |hit: &Hit| hit.id.chars().take(18).collect::<String>();
    matches!(entry.kind, DocKind::ServiceItem | DocKind::Faq)
        && other.kind == entry.kind
        && other.doc_id != entry.doc_id
        && (entry.kind == DocKind::Faq || agency(other) != agency(entry))
        && same_service(entry, other)
}

/// Whether `other` is the service item that `entry` is a case of (see [`without_last_bracket`]).
fn is_parent(entry: &Hit, other: &Hit) -> bool {
    entry.kind == DocKind::ServiceItem
        && other.kind == DocKind::ServiceItem
        && without_last_bracket(&entry.title) == Some(other.title.as_str())
}

/// A name without the bracketed case at its end (`高等职业学校设立（含设置分校区）` for
/// `高等职业学校设立（含设置分校区）(民办高等职业学校设置异地校区)`), brackets of either width
/// nesting; `None` when the name does not end in one or is nothing else.
fn without_last_bracket(name: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (at, c) in name.char_indices().rev() {
        match c {
            ')' | '）' => depth += 1,
            '(' | '（' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    let parent = name[..at].trim_end();
                    return (!parent.is_empty()).then_some(parent);
                }
            }
            _ if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// Whether two hits are one service: the same name up to punctuation (`…(执业类别变更)` and
/// `…(（执业类别变更）)`), or the same base code at another agency (a province item and the
/// city's copy, which the search places right after it; one agency's sub-items share their base
/// code too, and they are different services). Where both names end in a case, the cases must
/// agree: the city's `律师执业变更审核(执业类别变更并跨市转所)` is no copy of the province's
/// `律师执业变更审核(跨市转所（执业机构变更）)`, though its base code is.
fn same_service(a: &Hit, b: &Hit) -> bool {
    let letters = |title: &str| {
        title
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
    };
    let base_code = |hit: &Hit| hit.service.as_ref().and_then(|s| s.base_code.clone());
    let agency = |hit: &Hit| hit.id.chars().take(18).collect::<String>();
    let case =
        |title: &str| without_last_bracket(title).map(|parent| letters(&title[parent.len()..]));
    let other_cases = matches!((case(&a.title), case(&b.title)), (Some(x), Some(y)) if x != y);
    letters(&a.title) == letters(&b.title)
        || (base_code(a).is_some_and(|code| Some(code) == base_code(b))
            && agency(a) != agency(b)
            && !other_cases)
}

/// The model admits the passages do not answer the question.
fn says_unknown(answer: &str) -> bool {
    let folded = govassist_kb::text::fold(answer);
    [
        "不知道",
        "没有找到",
        "没有相关",
        "未找到",
        "无法回答",
        "没有提到",
        "未提及",
        "没有提供",
        "i don't know",
        "not mentioned",
        "no information",
    ]
    .iter()
    .any(|cue| folded.contains(cue))
}

fn source_refs(hits: &[Hit]) -> Vec<SourceRef> {
    hits.iter()
        .enumerate()
        .map(|(i, hit)| SourceRef {
            n: i + 1,
            id: hit.id.clone(),
            doc_id: hit.doc_id.clone(),
            title: hit.title.clone(),
            url: hit.url.clone(),
        })
        .collect()
}

/// The documents cited, in order, each once: two passages of one staff report are one document.
fn cited_documents(cited: &[&SourceRef]) -> Vec<String> {
    let mut documents: Vec<String> = Vec::new();
    for source in cited {
        if !documents.contains(&source.doc_id) {
            documents.push(source.doc_id.clone());
        }
    }
    documents
}

fn sources_footer(lang: Lang, cited: &[&SourceRef]) -> String {
    let listed: Vec<String> = cited
        .iter()
        .map(|s| format!("[{}] {}（{}）", s.n, s.title, s.doc_id))
        .collect();
    format!(
        "\n\n{}：{}",
        replies::sources_label(lang),
        listed.join("；")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search hit of `kind`, scored 0.5, with nothing but its id and title.
    fn entry(id: &str, title: &str, kind: DocKind) -> Hit {
        Hit {
            id: id.into(),
            doc_id: id.into(),
            kind,
            title: title.into(),
            passage: String::new(),
            score: 0.5,
            url: None,
            phone: None,
            service: None,
        }
    }

    #[test]
    fn an_entry_scored_as_high_as_the_first_hit_is_shown_too() {
        let hit = |id: &str, title: &str, score: f32| Hit {
            score,
            ..entry(id, title, DocKind::ServiceItem)
        };
        let first = hit("a", "补发外国人永久居留身份证", 0.50);
        let city_copy = hit("a2", "补发外国人永久居留身份证（）", 0.50);
        let sibling = hit("b", "换发外国人永久居留身份证", 0.495);
        let other = hit("c", "外国人来华工作许可", 0.489);
        assert_eq!(
            close_alternative(&[first.clone(), city_copy.clone(), sibling.clone()]),
            Some(3)
        );
        // Another agency's copy of the first item, named a little differently, is the same service.
        let coded = |hit: Hit| Hit {
            service: Some(govassist_kb::ServiceItemFields {
                base_code: Some("440109002004".into()),
                ..Default::default()
            }),
            ..hit
        };
        let at = |id: &str, hit: Hit| Hit {
            id: id.into(),
            ..hit
        };
        let first_coded = coded(at("11440000006940116U2442", first.clone()));
        let renamed_copy = coded(at(
            "11440100007482567N3440",
            hit("", "补发外国人永久居留身份证(市级)", 0.50),
        ));
        assert_eq!(
            close_alternative(&[first_coded.clone(), renamed_copy.clone(), sibling.clone()]),
            Some(3)
        );
        assert_eq!(close_alternative(&[first.clone(), renamed_copy]), Some(2));
        // A sub-item of the same agency shares the base code, and is another service.
        let sub_item = coded(at(
            "11440000006940116U2443",
            hit("", "补发外国人永久居留身份证(业余)", 0.50),
        ));
        assert_eq!(close_alternative(&[first_coded, sub_item.clone()]), Some(2));
        // Another agency's item of another case is another service, whatever its base code.
        let case_at_first = coded(at(
            "11440000006940116U2442",
            hit("", "补发外国人永久居留身份证(专业)", 0.50),
        ));
        let other_case_copy = coded(at(
            "11440100007482567N3440",
            hit("", "补发外国人永久居留身份证(（业余）)", 0.50),
        ));
        assert_eq!(
            close_alternative(&[case_at_first.clone(), other_case_copy]),
            Some(2)
        );
        let same_case_copy = coded(at(
            "11440100007482567N3440",
            hit("", "补发外国人永久居留身份证(（专业）)", 0.50),
        ));
        assert_eq!(
            close_alternative(&[case_at_first, same_case_copy, sibling.clone()]),
            Some(3)
        );
        // Another service is shown only closer than a sibling.
        assert_eq!(
            close_alternative(&[first.clone(), other.clone(), sibling.clone()]),
            None
        );
        assert_eq!(
            close_alternative(&[
                first.clone(),
                Hit {
                    score: 0.492,
                    ..other
                },
                sibling.clone()
            ]),
            Some(2)
        );
        // FAQ entries alike, but never an entry of another kind.
        let faq = |hit: Hit| Hit {
            kind: DocKind::Faq,
            ..hit
        };
        let (question, related) = (
            faq(hit("q", "保母人員為何要辦理登記？", 0.50)),
            faq(hit("r", "那些人可以辦理居家式托育服務者登記？", 0.492)),
        );
        assert_eq!(
            close_alternative(&[question.clone(), related.clone()]),
            Some(2)
        );
        assert_eq!(
            close_alternative(&[
                question.clone(),
                Hit {
                    score: 0.485,
                    ..related
                }
            ]),
            None
        );
        assert_eq!(
            close_alternative(&[first.clone(), faq(sibling.clone())]),
            None
        );
        assert_eq!(close_alternative(&[question, sibling.clone()]), None);
        let far = Hit {
            score: 0.45,
            ..sibling
        };
        assert_eq!(close_alternative(&[first.clone(), far]), None);
        assert_eq!(close_alternative(&[first]), None);
    }

    #[test]
    fn a_first_hit_the_answer_left_out_is_shown_too() {
        let hits = [
            entry("a", "医师资格考试的报名资格审核", DocKind::ServiceItem),
            entry("a2", "医师资格考试的报名资格审核（）", DocKind::ServiceItem),
            entry("b", "报考执业兽医资格条件审查", DocKind::ServiceItem),
        ];
        assert_eq!(uncited_first_hit(&hits, &[3]), Some(1));
        assert_eq!(uncited_first_hit(&hits, &[3, 1]), None);
        // Its copy at another level stands for it.
        assert_eq!(uncited_first_hit(&hits, &[2]), None);
        // A staff report's passage is no entry to check against.
        let staff = [
            entry("s1", "2024年工作总结", DocKind::StaffDoc),
            entry("s2", "2023年工作总结", DocKind::StaffDoc),
        ];
        assert_eq!(uncited_first_hit(&staff, &[2]), None);
    }

    #[test]
    fn another_copy_of_the_first_cited_entry_is_shown_too() {
        let province = "114400000069401674244010900200401";
        let city = "11440100007483180K344010900200401";
        let hits = [
            entry(
                "114400000069401674244010900200403",
                "律师执业变更审核(执业类别变更)",
                DocKind::ServiceItem,
            ),
            entry(
                province,
                "律师执业变更审核(市内转所（执业机构变更）)",
                DocKind::ServiceItem,
            ),
            entry(
                city,
                "律师执业变更审核(（市内转所（执业机构变更）))",
                DocKind::ServiceItem,
            ),
        ];
        // The first cited item decides, not the first hit.
        assert_eq!(other_copy(&hits, &[2, 1]), Some(3));
        assert_eq!(other_copy(&hits, &[3]), Some(2));
        // Already cited: nothing to add; no copy found: nothing either.
        assert_eq!(other_copy(&hits, &[2, 3]), None);
        assert_eq!(other_copy(&hits, &[1, 2]), None);
        // One agency's two entries are no copies at two levels.
        let same_agency = [
            hits[1].clone(),
            entry(
                "114400000069401674244010900200499",
                "律师执业变更审核(市内转所(执业机构变更))",
                DocKind::ServiceItem,
            ),
        ];
        assert_eq!(other_copy(&same_agency, &[1]), None);
        // A FAQ question posted twice is shown twice; a similar one, or a service named alike, is not.
        let faqs = [
            entry("GIP_1", "如何申請停車證？", DocKind::Faq),
            entry("GIP_3", "如何申請停車證明？", DocKind::Faq),
            entry("11440100", "如何申請停車證", DocKind::ServiceItem),
            entry("GIP_2", "如何申請停車證?", DocKind::Faq),
        ];
        assert_eq!(other_copy(&faqs, &[1]), Some(4));
        assert_eq!(other_copy(&faqs[..3], &[1]), None);
    }

    #[test]
    fn the_item_a_cited_case_belongs_to_is_shown_too() {
        let hit = |id: &str, title: &str| entry(id, title, DocKind::ServiceItem);
        let hits = [
            hit(
                "a",
                "高等职业学校设立（含设置分校区）(民办高等职业学校设置异地校区)",
            ),
            hit("b", "高等职业学校设立"),
            hit("c", "高等职业学校设立（含设置分校区）"),
        ];
        assert_eq!(parent_item(&hits, &[1]), Some(3));
        assert_eq!(parent_item(&hits, &[1, 3]), None);
        // A name with no bracket at its end is no case.
        assert_eq!(parent_item(&hits, &[2, 1]), None);
        assert_eq!(
            without_last_bracket("律师执业变更审核(（市内转所（执业机构变更））)"),
            Some("律师执业变更审核")
        );
        assert_eq!(without_last_bracket("(（个人）)"), None);
        assert_eq!(without_last_bracket("护照(普通)签发"), None);
        assert_eq!(without_last_bracket("不配对)"), None);
    }

    #[test]
    fn companions_are_the_copies_and_parents_of_the_first_hits() {
        let hit = |id: &str, title: &str| entry(id, title, DocKind::ServiceItem);
        let first = [hit(
            "114400000069401674244010901400402",
            "联营变更许可(合伙联营章程变更审核)",
        )];
        let reserve = vec![
            hit(
                "114400000069401674244010901400405",
                "联营变更许可(合伙联营协议变更审核)",
            ),
            hit("11440100007483180K3440109014004", "联营变更许可"),
            hit(
                "11440100007483180K344010901400402",
                "联营变更许可(合伙联营章程变更审核)",
            ),
        ];
        let found: Vec<String> = companions(&first, reserve)
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(
            found,
            [
                "11440100007483180K3440109014004",
                "11440100007483180K344010901400402"
            ]
        );
    }

    #[test]
    fn follow_ups_are_searched_with_the_topic() {
        let topic = Topic {
            id: "1".into(),
            title: "护照签发".into(),
        };
        assert_eq!(
            retrieval_query("那要多久？", "那要多久？", Some(&topic)),
            "护照签发 那要多久？"
        );
        let long = "办理营业执照需要带哪些申请材料";
        assert_eq!(retrieval_query(long, long, Some(&topic)), long);
        assert_eq!(retrieval_query("要多久", "要多久", None), "要多久");
        // A translated follow-up keeps the topic; the length is the message's own.
        assert_eq!(
            retrieval_query("How long?", "要多久 How long?", Some(&topic)),
            "护照签发 要多久 How long?"
        );
    }

    #[test]
    fn the_topic_is_read_back_from_a_reply_we_wrote() {
        let refs = [SourceRef {
            n: 1,
            id: "1144X".into(),
            doc_id: "1144X".into(),
            title: "护照签发".into(),
            url: None,
        }];
        for lang in [Lang::Simplified, Lang::Traditional, Lang::English] {
            let reply = format!("需要身份证[1]。{}", sources_footer(lang, &[&refs[0]]));
            let topic = first_listed_source(&reply).unwrap_or_else(|| panic!("{reply}"));
            assert_eq!(
                (topic.id.as_str(), topic.title.as_str()),
                ("1144X", "护照签发")
            );
        }
        assert_eq!(first_listed_source("Hello from another assistant."), None);
        assert_eq!(first_listed_source("来源：随便写的"), None);
    }

    #[test]
    fn a_report_cited_by_two_passages_is_one_citation() {
        let passage = |n: usize, id: &str, doc_id: &str| SourceRef {
            n,
            id: id.into(),
            doc_id: doc_id.into(),
            title: "工作总结".into(),
            url: None,
        };
        let refs = [
            passage(1, "001.txt#3", "001.txt"),
            passage(2, "1144X", "1144X"),
            passage(3, "001.txt#7", "001.txt"),
        ];
        assert_eq!(
            cited_documents(&refs.iter().collect::<Vec<_>>()),
            ["001.txt", "1144X"]
        );
    }

    #[test]
    fn admitting_ignorance_is_recognised() {
        assert!(says_unknown("参考资料中没有提到收费标准。"));
        assert!(!says_unknown("需要身份证[1]。"));
    }
}
