//! The service area, and telling "a service of another city" from "a person from another city".
//!
//! `北京居住证怎么办理` asks about Beijing's service: decline, the knowledge base has nothing on it.
//! `我是北京户口，在福田能办居住证吗`, `从北京转到广州，社保怎么转移`, `广州北京路附近哪里能办证` all mention
//! Beijing and are local questions. So a mention of another place counts only when it is a place (not
//! a street, school or bank: 北京路, 北京大学), not where the person comes from (从北京, 北京人, 北京户口),
//! and when nothing in the question puts it here (a place in the area, 这边, 本市) or makes it a move
//! between places (转移, 迁入, 异地). The word lists for that context are directives in
//! `data/places.txt`.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, MatchKind};

use super::terms::{is_han, parse_list, Term};
use super::PlacesError;
use crate::fold::fold;

/// The bundled place list.
pub const DEFAULT_PLACES: &str = include_str!("../../data/places.txt");

/// Place names the default service area is made of: Guangdong province (with Guangzhou, Shenzhen
/// and their districts) and Taipei, which is what the bundled knowledge base covers.
pub const DEFAULT_AREA: [&str; 8] = [
    "广东", "广州", "深圳", "福田", "龙岗", "南山", "台北", "臺北",
];

/// One place of the list.
#[derive(Debug)]
struct Place {
    group: String,
    aliases: Vec<Term>,
}

/// The context directives of a place list.
#[derive(Debug, Default)]
struct Context {
    not_place: Vec<Term>,
    not_place_after: Vec<Term>,
    not_other_place_after: Vec<Term>,
    exhibition_after: Vec<Term>,
    landmark_after: Vec<Term>,
    origin_before: Vec<Term>,
    not_origin_after: Vec<Term>,
    not_origin_before: Vec<Term>,
    home_before: Vec<Term>,
    home_land: Vec<Term>,
    origin_after: Vec<Term>,
    counterpart_before: Vec<Term>,
    counterpart_after: Vec<Term>,
    destination_before: Vec<Term>,
    leaving_the_country: Vec<Term>,
    abroad_before: Vec<Term>,
    back_home: Vec<Term>,
    abroad: Vec<Term>,
    paper_for_abroad: Vec<Term>,
    plate_after: Vec<Term>,
    local: Vec<Term>,
    transfer: Vec<Term>,
    transfer_done_before: Vec<Term>,
    moved_there: Vec<Term>,
    still_here: Vec<Term>,
    left_before: Vec<Term>,
    trip_before: Vec<Term>,
    done_here_before: Vec<Term>,
    retired_after: Vec<Term>,
    shipped_after: Vec<Term>,
    insured_after: Vec<Term>,
    care_elsewhere: Vec<Term>,
    target_before: Vec<Term>,
    not_target_before: Vec<Term>,
    target_verb: Vec<Term>,
    county_suffix: Vec<Term>,
    not_county_name: Vec<Term>,
    not_county_after: Vec<Term>,
}

/// The places a deployment serves, and every other place it should recognise.
#[derive(Debug)]
pub struct ServiceArea {
    names: Vec<String>,
    /// Every alias, area and other, longest first among overlapping ones.
    matcher: AhoCorasick,
    /// Per matcher pattern, its alias.
    aliases: Vec<Alias>,
    context: Context,
}

/// A place name the matcher looks for.
#[derive(Debug)]
struct Alias {
    term: Term,
    /// Whether the place is in the service area.
    in_area: bool,
    /// Whether the place is in a country abroad (an `!abroad` group).
    abroad: bool,
}

/// What a question says about places.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PlaceMentions {
    /// Canonical names of other places the question is about (not streets, not origins).
    pub other: Vec<String>,
    /// Whether a place in the service area is mentioned.
    pub area: bool,
    /// Whether the question says "here" (这边, 本市…).
    pub local: bool,
    /// Whether it says another place's "here" (`长春这边`): the asker is there, so the end of a
    /// transfer asked about there is that place's service.
    pub here_elsewhere: bool,
    /// Whether the question is about moving something between places.
    pub transfer: bool,
    /// Whether something is sent from a place in the area (`从广东运到福建福州`, not the person's own
    /// move: `从广州调到南京`): the transfer involves this side whatever places it names.
    pub sent_from_here: bool,
    /// Whether the question asks to do a service in another place (`想在西安办结婚登记`): a place of
    /// the area elsewhere in it is then only where the person lives or comes from…
    pub target_elsewhere: bool,
    /// …unless the question asks for a service in the area too (`要去日本登记结婚，在广东怎么办理未婚公证`).
    pub target_here: bool,
    /// Whether the person is insured in another place (`烟台参保的`, `烟台的医保`): care away from
    /// there (异地就医备案) is then that place's service.
    pub insured_elsewhere: bool,
}

impl ServiceArea {
    /// A service area made of the given place names, recognised against the bundled place list. A
    /// province name brings in all its listed places; a name that is not in the list still counts
    /// as a place of the area.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> ServiceArea {
        Self::with_places(names, DEFAULT_PLACES).expect("the bundled place list parses (tested)")
    }

    /// Like [`ServiceArea::new`], with a place list of the same format as `data/places.txt`.
    pub fn with_places<S: AsRef<str>>(
        names: impl IntoIterator<Item = S>,
        places: &str,
    ) -> Result<ServiceArea, PlacesError> {
        let names: Vec<String> = names
            .into_iter()
            .map(|n| n.as_ref().trim().to_string())
            .collect();
        let (list, context) = parse_places(places)?;
        if let Some(unknown) = context
            .abroad
            .iter()
            .find(|t| !list.iter().any(|p| fold(&p.group) == t.text))
        {
            return Err(PlacesError::UnknownGroup(unknown.text.clone()));
        }
        let folded_names: HashSet<String> = names
            .iter()
            .map(|n| fold(n))
            .filter(|n| !n.is_empty())
            .collect();

        let is_named = |place: &Place| place.aliases.iter().any(|a| folded_names.contains(&a.text));
        // Provinces named in the area bring in all their places.
        let groups_in: HashSet<&str> = list
            .iter()
            .filter(|p| p.aliases.first().is_some_and(|a| a.text == fold(&p.group)) && is_named(p))
            .map(|p| p.group.as_str())
            .collect();

        let mut aliases: Vec<Alias> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for place in &list {
            let in_area = groups_in.contains(place.group.as_str()) || is_named(place);
            let group = fold(&place.group);
            let abroad = !in_area && context.abroad.iter().any(|t| t.text == group);
            for alias in &place.aliases {
                if seen.insert(alias.text.clone()) {
                    aliases.push(Alias {
                        term: alias.clone(),
                        in_area,
                        abroad,
                    });
                }
            }
        }
        for name in &names {
            if let Some(term) = Term::parse(name) {
                if seen.insert(term.text.clone()) {
                    aliases.push(Alias {
                        term,
                        in_area: true,
                        abroad: false,
                    });
                }
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(aliases.iter().map(|a| a.term.text.as_str()))?;
        Ok(ServiceArea {
            names,
            matcher,
            aliases,
            context,
        })
    }

    /// The names the area was made of.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the name at `start..end` of `folded` is part of a `!not_place` word (海口 in 入海口).
    fn inside_a_word(&self, folded: &str, start: usize, end: usize) -> bool {
        self.context.not_place.iter().any(|word| {
            folded
                .match_indices(word.text.as_str())
                .any(|(at, m)| at <= start && end <= at + m.len())
        })
    }

    /// What the folded question says about places.
    pub(crate) fn mentions(&self, folded: &str) -> PlaceMentions {
        let mut mentions = PlaceMentions {
            local: self.context.local.iter().any(|t| t.occurs_in(folded)),
            transfer: self.asks_about_a_move(folded),
            ..PlaceMentions::default()
        };
        let mut last_source_end: Option<usize> = None;
        let mut done_here_end: Option<usize> = None;
        let mut last_other_start: Option<usize> = None;
        // 带档案复印件去日本开会，出境审批…: leaving the country is handled here, wherever it goes.
        let leaves_the_country = self
            .context
            .leaving_the_country
            .iter()
            .any(|t| t.occurs_in(folded));
        // 去加拿大工作，那边要职业资格公证: a paper made here for use abroad is this side's service
        // (but 在日本怎么办公证 asks for it there).
        let paper_for_abroad = self
            .context
            .paper_for_abroad
            .iter()
            .any(|t| t.occurs_in(folded));
        // 在新加坡做了几年劳务刚回国, 在高雄旅游…回来补办: a place the person has come back from is
        // where they were.
        let back_home_at = self
            .context
            .back_home
            .iter()
            .filter_map(|t| t.occurrences(folded).next().map(|(at, _)| at))
            .min();
        // 我老家在泰安农村，宅基地确权以后…: land at home is where the home is, and so is its service.
        let land_at_home = self.context.home_land.iter().any(|t| t.occurs_in(folded));
        // Where a "here" word follows another place (`昆明本地`, `成都这边`): that place's here.
        let mut others_here: Vec<usize> = Vec::new();
        let mut errand_here: Vec<usize> = Vec::new();
        for place in self.places_in(folded) {
            let before = folded[..place.start].trim_end();
            let after = folded[place.end..].trim_start();
            let after_raw = &folded[place.end..];
            // 从台北车站开车回家, 臺北站的比赛: a station of the area is a spot here, whoever
            // leaves it, though a station elsewhere (北京站) is not where a service is.
            if place.in_area
                && self
                    .context
                    .landmark_after
                    .iter()
                    .any(|t| t.starts(after_raw))
            {
                mentions.area = true;
                continue;
            }
            if self
                .context
                .not_place_after
                .iter()
                .any(|t| t.starts(after_raw) || t.starts(after))
                || (!place.in_area
                    && (self.names_an_exhibition(after_raw)
                        || self
                            .context
                            .not_other_place_after
                            .iter()
                            .any(|t| t.starts(after_raw))))
                || self.inside_a_word(folded, place.start, place.end)
            {
                continue;
            }
            // 我的车是粤A牌照，要开去北京: where the car is registered, not where the service is
            // (only a province's one-character name: 杭州A类人才 is Hangzhou's).
            let one_character = place.name.chars().count() == 1;
            if one_character && self.context.plate_after.iter().any(|t| t.starts(after_raw)) {
                continue;
            }
            if place.in_area && self.context.done_here_before.iter().any(|t| t.ends(before)) {
                // 刚在广州交完医保，兰州那边…怎么缴: an errand done here is the context of a
                // question about a place named after it (decided after the loop); so is its own
                // "here" (我知道广东这边怎么弄了，可我户口在德阳…).
                done_here_end.get_or_insert(place.end);
                if self.context.local.iter().any(|t| t.starts(after_raw)) {
                    errand_here.push(place.end);
                }
                continue;
            }
            if place.in_area {
                // 从广州搬到成都: the area is where the person left, not where the service is…
                // …unless they retired from there (从广东省直单位退休后搬去成都): their pension is
                // still paid here; or plants are shipped from there (从广东调运苗木回江西): they are
                // quarantined here.
                // …but a trip that starts here (坐大巴从广州去长沙) leaves nothing: the
                // person is still here, asking about the journey.
                let left = self.context.left_before.iter().any(|t| t.ends(before))
                    && !self.context.trip_before.iter().any(|t| t.ends(before));
                if !left || self.still_involved(after_raw) {
                    mentions.area = true;
                } else if self.sends_from(after_raw) {
                    mentions.sent_from_here = true;
                }
                mentions.target_here |= self.is_target(before, after_raw);
                continue;
            }
            // 从广西、湖南引种: a place listed right after one that comes `from` is a source too.
            // (Not after a weaker cue: 我要问的是北京和上海的公积金 asks about both.)
            let listed = last_source_end
                .is_some_and(|end| LIST_SEPARATORS.contains(&folded[end..place.start].trim()));
            let source = listed || LIST_SOURCE_CUES.iter().any(|cue| before.ends_with(cue));
            last_source_end = source.then_some(place.end);
            let home_with_land =
                land_at_home && self.context.home_before.iter().any(|t| t.ends(before));
            let origin = source
                || (self.context.origin_before.iter().any(|t| t.ends(before))
                    && !home_with_land
                    && !self
                        .context
                        .not_origin_before
                        .iter()
                        .any(|t| t.ends(before)))
                || self
                    .context
                    .destination_before
                    .iter()
                    .any(|t| t.ends(before))
                || (leaves_the_country
                    && self.context.abroad_before.iter().any(|t| t.ends(before)))
                || back_home_at.is_some_and(|at| place.end <= at)
                || (place.abroad && paper_for_abroad && !self.is_target(before, after_raw))
                || (!self
                    .context
                    .not_origin_after
                    .iter()
                    .any(|t| t.starts(after))
                    && self.context.origin_after.iter().any(|t| t.starts(after)))
                // 给德国的一家咨询公司付服务费: where the company paid is, not where the service is.
                || (self
                    .context
                    .counterpart_before
                    .iter()
                    .any(|t| t.ends(before))
                    && self
                        .context
                        .counterpart_after
                        .iter()
                        .any(|t| t.starts(after)));
            if !origin {
                mentions.insured_elsewhere |=
                    self.context.insured_after.iter().any(|t| t.starts(after));
                if self.context.local.iter().any(|t| t.starts(after_raw)) {
                    others_here.push(place.end);
                }
                mentions.other.push(place.name);
                last_other_start = Some(place.start);
                mentions.target_elsewhere |= self.is_target(before, after_raw);
            }
        }
        // 刚把这边的工作居住证明开好了，准备回齐齐哈尔结婚: a "here" the errand done was about is
        // context too, like a place of the area after such a cue.
        for (at, end) in self
            .context
            .local
            .iter()
            .flat_map(|t| t.occurrences(folded))
        {
            let before = folded[..at].trim_end();
            if self.context.done_here_before.iter().any(|t| t.ends(before)) {
                errand_here.push(at);
                done_here_end = Some(done_here_end.map_or(end, |e| e.min(end)));
            }
        }
        // …but with no other place after it (公司总部在昆山，刚在广州竞得一块地…), it is still here.
        if let Some(end) = done_here_end {
            mentions.area |= !last_other_start.is_some_and(|start| start > end);
        }
        // 烟台参保的…异地就医备案: care away from the insuring place is its service, whoever asks;
        // moving the insurance itself (转到, 转移) still involves the new place.
        if mentions.insured_elsewhere && !mentions.area {
            mentions.transfer = self.asks_about_a_move_except(folded, &self.context.care_elsewhere);
        }
        mentions.here_elsewhere = !others_here.is_empty();
        if mentions.here_elsewhere || !errand_here.is_empty() {
            mentions.local = self
                .context
                .local
                .iter()
                .flat_map(|t| t.occurrences(folded))
                .any(|(at, _)| !others_here.contains(&at) && !errand_here.contains(&at));
        }
        mentions
    }
}

impl ServiceArea {
    /// Whether a transfer word occurs that is not the person's own move there, made already:
    /// 户籍上个月刚迁回金门 names where the person lives now, and the question is that place's. A
    /// move of a record out of here (社保已经转出了) or a question about what was left here
    /// (之前交的公积金, 原来的社保卡还能用吗) still involves this side.
    fn asks_about_a_move(&self, folded: &str) -> bool {
        self.asks_about_a_move_except(folded, &[])
    }

    /// [`ServiceArea::asks_about_a_move`] by the transfer words other than `skipped`.
    fn asks_about_a_move_except(&self, folded: &str, skipped: &[Term]) -> bool {
        let left_something_here = self.context.still_here.iter().any(|t| t.occurs_in(folded));
        let words = self
            .context
            .transfer
            .iter()
            .filter(|t| !skipped.contains(t));
        words.into_iter().any(|term| {
            folded.match_indices(term.text.as_str()).any(|(at, found)| {
                let end = at + found.len();
                term.fits(folded, at, end)
                    && (left_something_here
                        || !self.context.moved_there.contains(term)
                        || !self.is_done(&folded[..at], &folded[end..]))
            })
        })
    }

    /// Whether the place is what an exhibition shows (意大利的伊特鲁里亚文明展, 埃及的古代文物特展):
    /// the exhibition is held here, whatever place it is about. Asked of places elsewhere only: 来广东展出
    /// still names the area.
    fn names_an_exhibition(&self, after: &str) -> bool {
        let rest = after.strip_prefix('的').unwrap_or(after);
        let clause: String = first_clause(rest).chars().take(EXHIBITION_REACH).collect();
        self.context
            .exhibition_after
            .iter()
            .any(|t| t.occurs_in(&clause))
    }

    /// Whether the clause after a place the person left says they retired from it, or that
    /// plants or animals are shipped from it.
    fn still_involved(&self, after: &str) -> bool {
        let clause = first_clause(after);
        self.context
            .retired_after
            .iter()
            .chain(&self.context.shipped_after)
            .any(|t| t.occurs_in(clause))
    }

    /// Whether what follows a place the person left sends something from it (`从广东运到福建`,
    /// `从广州往株洲拉一台变压器…跨省`), rather than taking the person away: a `!moved_there` word
    /// in the place's own clause (`从广州调到长春工作，…失业保险关系转移`) makes it their move.
    fn sends_from(&self, after: &str) -> bool {
        let clause = first_clause(after);
        !self.context.moved_there.iter().any(|t| t.occurs_in(clause))
            && self
                .context
                .transfer
                .iter()
                .any(|t| !self.context.moved_there.contains(t) && t.occurs_in(after))
    }

    /// Whether a move word between `before` and `after` is done already: a `!transfer_done_before`
    /// word before it, or 了 after it that asks nothing (迁到了吗 asks).
    fn is_done(&self, before: &str, after: &str) -> bool {
        let before = before.trim_end();
        self.context
            .transfer_done_before
            .iter()
            .any(|t| t.ends(before))
            || (after.starts_with('了')
                && !after['了'.len_utf8()..].starts_with(['吗', '没', '么']))
    }
}

/// One place named in a question: where, its name, whether it is in the area, and whether it is
/// abroad.
struct NamedPlace {
    start: usize,
    end: usize,
    name: String,
    in_area: bool,
    abroad: bool,
}

impl ServiceArea {
    /// The places a folded question names, in order: the listed aliases, and counties that are not
    /// listed (`嵊泗县`: the list cannot hold every county of the country) where no alias covers them.
    /// An unlisted county is never in the area, so an area's own counties must be listed.
    fn places_in(&self, folded: &str) -> Vec<NamedPlace> {
        let mut places: Vec<NamedPlace> = self
            .matcher
            .find_iter(folded)
            .filter_map(|m| {
                let alias = &self.aliases[m.pattern().as_usize()];
                alias
                    .term
                    .fits(folded, m.start(), m.end())
                    .then(|| NamedPlace {
                        start: m.start(),
                        end: m.end(),
                        name: alias.term.text.clone(),
                        in_area: alias.in_area,
                        abroad: alias.abroad,
                    })
            })
            .collect();
        let listed = places.len();
        for suffix in &self.context.county_suffix {
            for (at, _) in folded.match_indices(suffix.text.as_str()) {
                let end = at + suffix.text.len();
                let Some(start) = self.county_name_start(folded, at) else {
                    continue;
                };
                let title_or_level = self
                    .context
                    .not_county_after
                    .iter()
                    .any(|t| t.starts(&folded[end..]));
                let covered = places[..listed]
                    .iter()
                    .any(|p| p.start < end && start < p.end);
                if !title_or_level && !covered {
                    let name = folded[start..end].to_string();
                    places.push(NamedPlace {
                        start,
                        end,
                        name,
                        in_area: false,
                        abroad: false,
                    });
                }
            }
        }
        places.sort_by_key(|p| p.start);
        places
    }

    /// Where the county name before the suffix at `suffix_at` starts: two Han characters back,
    /// unless they hold a word that is no name (本县, 外县市, 我们县, 贫困县, 自治县).
    fn county_name_start(&self, folded: &str, suffix_at: usize) -> Option<usize> {
        let (start, _) = folded[..suffix_at].char_indices().rev().nth(1)?;
        let name = &folded[start..suffix_at];
        let not_a_name = self
            .context
            .not_county_name
            .iter()
            .any(|t| name.contains(t.text.as_str()));
        (name.chars().all(is_han) && !not_a_name).then_some(start)
    }
}

/// What may stand between two places of one list (after folding).
/// Not the comma, which also ends a clause: 老家在武汉，武汉的医保… names Wuhan's service.
const LIST_SEPARATORS: [&str; 8] = ["、", "和", "或", "及", "与", "/", "and", "or"];

/// Words before a place that make it, and the places listed after it, where something comes from.
const LIST_SOURCE_CUES: [&str; 3] = ["从", "来自", "from"];

/// How far after a place a service verb still belongs to it (`在西安雁塔区办`), in characters.
const TARGET_REACH: usize = 12;

/// How far after a place an exhibition's name may end (`意大利的伊特鲁里亚文明展`), in characters.
const EXHIBITION_REACH: usize = 12;

/// What ends a clause (after folding, which keeps 。 and turns ， into `,`; both are listed).
const CLAUSE_ENDS: [char; 10] = ['，', ',', '。', '？', '?', '！', '!', '；', ';', '\n'];

/// `text` up to the end of its first clause.
fn first_clause(text: &str) -> &str {
    text.split(CLAUSE_ENDS).next().unwrap_or(text)
}

/// What after a service verb makes it done already (`在上海办过营业执照`, `在北京办的`), not asked for.
const DONE_AFTER_VERB: [char; 4] = ['了', '过', '的', '完'];

impl ServiceArea {
    /// Whether a place, with `before` and `after` it, is where the question wants a service done:
    /// a target cue right before it (在) and a service verb in the rest of its clause, not done
    /// already.
    fn is_target(&self, before: &str, after: &str) -> bool {
        if !self.context.target_before.iter().any(|t| t.ends(before))
            || self
                .context
                .not_target_before
                .iter()
                .any(|t| t.ends(before))
        {
            return false;
        }
        let clause: String = first_clause(after).chars().take(TARGET_REACH).collect();
        self.context.target_verb.iter().any(|verb| {
            clause
                .match_indices(verb.text.as_str())
                .any(|(at, found)| !clause[at + found.len()..].starts_with(DONE_AFTER_VERB))
        })
    }
}

impl Default for ServiceArea {
    /// [`DEFAULT_AREA`].
    fn default() -> Self {
        ServiceArea::new(DEFAULT_AREA)
    }
}

fn parse_places(source: &str) -> Result<(Vec<Place>, Context), PlacesError> {
    let mut places = Vec::new();
    let mut context = Context::default();
    for (index, raw) in source.lines().enumerate() {
        let line = raw.trim();
        let error = |message: &str| PlacesError::Syntax {
            line: index + 1,
            message: message.to_string(),
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('!') {
            let (name, list) = directive
                .split_once('=')
                .ok_or_else(|| error("expected `!name = a|b`"))?;
            let target = match name.trim() {
                "not_place" => &mut context.not_place,
                "not_place_after" => &mut context.not_place_after,
                "not_other_place_after" => &mut context.not_other_place_after,
                "exhibition_after" => &mut context.exhibition_after,
                "landmark_after" => &mut context.landmark_after,
                "origin_before" => &mut context.origin_before,
                "not_origin_after" => &mut context.not_origin_after,
                "not_origin_before" => &mut context.not_origin_before,
                "home_before" => &mut context.home_before,
                "home_land" => &mut context.home_land,
                "origin_after" => &mut context.origin_after,
                "counterpart_before" => &mut context.counterpart_before,
                "counterpart_after" => &mut context.counterpart_after,
                "destination_before" => &mut context.destination_before,
                "leaving_the_country" => &mut context.leaving_the_country,
                "abroad_before" => &mut context.abroad_before,
                "back_home" => &mut context.back_home,
                "abroad" => &mut context.abroad,
                "paper_for_abroad" => &mut context.paper_for_abroad,
                "plate_after" => &mut context.plate_after,
                "local" => &mut context.local,
                "transfer" => &mut context.transfer,
                "transfer_done_before" => &mut context.transfer_done_before,
                "moved_there" => &mut context.moved_there,
                "still_here" => &mut context.still_here,
                "left_before" => &mut context.left_before,
                "trip_before" => &mut context.trip_before,
                "done_here_before" => &mut context.done_here_before,
                "retired_after" => &mut context.retired_after,
                "shipped_after" => &mut context.shipped_after,
                "insured_after" => &mut context.insured_after,
                "care_elsewhere" => &mut context.care_elsewhere,
                "target_before" => &mut context.target_before,
                "not_target_before" => &mut context.not_target_before,
                "target_verb" => &mut context.target_verb,
                "county_suffix" => &mut context.county_suffix,
                "not_county_name" => &mut context.not_county_name,
                "not_county_after" => &mut context.not_county_after,
                _ => return Err(error("unknown directive")),
            };
            target.extend(parse_list(list));
            continue;
        }
        let (group, list) = line
            .split_once(':')
            .ok_or_else(|| error("expected `group: alias|alias`"))?;
        let aliases = parse_list(list);
        if group.trim().is_empty() || aliases.is_empty() {
            return Err(error("a place needs a group and at least one alias"));
        }
        places.push(Place {
            group: group.trim().to_string(),
            aliases,
        });
    }
    Ok((places, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(text: &str) -> Vec<String> {
        ServiceArea::default().mentions(&fold(text)).other
    }

    #[test]
    fn provinces_bring_in_their_places() {
        let area = ServiceArea::default();
        let m = area.mentions(&fold("东莞和汕头的营业执照"));
        assert!(m.area && m.other.is_empty());
        let m = area.mentions(&fold("台中市和新北市"));
        assert_eq!(m.other, ["台中", "新北"]);
        assert!(!m.area);
        let hangzhou = ServiceArea::new(["浙江"]);
        let m = hangzhou.mentions(&fold("杭州的公积金"));
        assert!(m.area && m.other.is_empty());
        let m = hangzhou.mentions(&fold("广州的公积金"));
        assert_eq!(m.other, ["广州"]);
        // Where the person left is not where the service is.
        let m = area.mentions(&fold("我从广州搬到成都了，居住证怎么办"));
        assert!(!m.area && m.other == ["成都"]);
        assert!(
            area.mentions(&fold("我从成都搬到广州了，居住证怎么办"))
                .area
        );
    }

    #[test]
    fn here_after_another_place_is_that_place() {
        let area = ServiceArea::default();
        let m = area.mentions(&fold("昆明本地的门诊特殊病种要怎么申请认定？"));
        assert!(!m.local && m.other == ["昆明"]);
        // Before it, a here-word is where the asker is (在这边湖北的医保卡能直接刷吗).
        assert!(area.mentions(&fold("在这边湖北的医保卡能直接刷吗")).local);
        assert!(
            area.mentions(&fold("成都的朋友问，本市的门诊特殊病种怎么认定？"))
                .local
        );
    }

    #[test]
    fn an_errand_done_here_is_context_for_a_place_named_after_it() {
        let area = ServiceArea::default();
        let m = area.mentions(&fold(
            "刚在广州交完今年的医保，我老家在兰州，兰州那边城乡居民医保怎么缴",
        ));
        assert!(!m.area && m.other == ["兰州"]);
        // Named before it, the other place is context, and the question is here.
        let m = area.mentions(&fold(
            "公司总部在昆山，刚在广州竞得一块工业用地，规划许可证去哪交件",
        ));
        assert!(m.area);
        // Without the cue, the place of the area still counts.
        assert!(area.mentions(&fold("在广州交了医保，兰州那边怎么缴")).area);
        // The errand's own "here" is the errand's, not the question's.
        let m = area.mentions(&fold(
            "我知道广东这边怎么弄了，可我户口在德阳，德阳那边要办吗",
        ));
        assert!(!m.area && !m.local && m.other == ["德阳", "德阳"], "{m:?}");
        assert!(
            area.mentions(&fold("我户口在德阳，想问广东这边怎么办"))
                .local
        );
        // So is a bare "here" after the cue…
        let m = area.mentions(&fold(
            "刚把这边的居住证明开好了，准备回齐齐哈尔结婚，齐齐哈尔婚姻登记要不要预约",
        ));
        assert!(!m.area && !m.local && m.other == ["齐齐哈尔"], "{m:?}");
        // …which, with no other place after it, is here.
        assert!(
            area.mentions(&fold("刚把这边的居住证办好了，社保怎么交"))
                .area
        );
    }

    #[test]
    fn land_at_home_is_where_the_home_is() {
        let area = ServiceArea::default();
        assert_eq!(
            area.mentions(&fold(
                "我老家在泰安农村，宅基地确权以后要去哪个部门办不动产证"
            ))
            .other,
            ["泰安"]
        );
        // Without land, a home place says only where the person is from.
        assert!(area
            .mentions(&fold("我老家在泰安农村，现在在广州打工，社保怎么交"))
            .other
            .is_empty());
    }

    #[test]
    fn a_place_come_back_from_is_where_the_person_was() {
        let area = ServiceArea::default();
        let m = area.mentions(&fold("在新加坡做了几年劳务刚回国，职业资格证书怎么换发"));
        assert!(m.other.is_empty(), "{m:?}");
        // So is a place at home.
        assert!(area
            .mentions(&fold("去年在高雄旅游把通行证弄丢了，回来补办后想查进度"))
            .other
            .is_empty());
        // A country named after the return is still asked about.
        assert_eq!(
            area.mentions(&fold("刚回国，日本那边的养老金怎么领")).other,
            ["日本"]
        );
    }

    #[test]
    fn a_trip_from_here_does_not_leave_it() {
        let area = ServiceArea::default();
        let m = area.mentions(&fold("坐大巴从广州去长沙，班车的资质去哪查"));
        assert!(m.area && m.other == ["长沙"]);
        // A move is a leaving.
        assert!(
            !area
                .mentions(&fold("从广州搬到长沙，长沙的公积金怎么提"))
                .area
        );
    }

    #[test]
    fn streets_origins_and_schools_are_not_other_places() {
        for text in [
            "广州北京路附近",
            "臺北市重慶南路",
            "北京大学毕业",
            "我是湖南人",
            "从北京转过来",
            "我是北京户口",
            "I moved from Shanghai",
            // A company from there, not a service there.
            "请了一家德国公司来做设备安装",
            // Taipei's own districts: 新北投 is Beitou, not 新北.
            "住在新北投，家里的温泉",
            // The end of another word: 国有 after 依法.
            "依法国有资产要登记",
        ] {
            assert!(other(text).is_empty(), "{text}: {:?}", other(text));
        }
        // …which a place of the area followed by 有 is not: it is still here.
        let area = ServiceArea::default();
        assert!(
            area.mentions(&fold("公司总部在南宁，我们在广东有条管道许可要延续"))
                .area
        );
        assert_eq!(other("上海人才引进"), ["上海"]);
        assert_eq!(other("Shanghai residence permit"), ["shanghai"]);
        assert_eq!(other("new taipei city"), ["new taipei"]);
    }

    #[test]
    fn unlisted_counties_are_other_places() {
        assert_eq!(other("嵊泗县的渔民燃油补贴怎么申请"), ["嵊泗县"]);
        assert_eq!(other("在阿勒泰福海縣承包了草场"), ["福海县"]);
        // A listed name covers its county: 新竹縣 is 新竹, once.
        assert_eq!(other("新竹縣的營業登記"), ["新竹"]);
        // The area's own counties are listed under Guangdong.
        assert!(
            ServiceArea::default()
                .mentions(&fold("怀集县的营业执照"))
                .area
        );
        for text in [
            "本县的补贴",
            "我们县有没有",
            "在外县市就读",
            "国家级贫困县",
            "乳源瑶族自治县",
            "网红县长",
            "县级以上人民政府",
            "申请百县千镇万村项目补贴",
            "隔壁县的医院",
            "产粮大县奖励资金",
            "加强县域医共体",
            "请问梅县的新农合",
        ] {
            assert!(other(text).is_empty(), "{text}: {:?}", other(text));
        }
    }

    #[test]
    fn a_service_asked_for_in_another_place_is_its_service() {
        let area = ServiceArea::default();
        let target = |text: &str| area.mentions(&fold(text)).target_elsewhere;
        assert!(target("我户口在广州，打算在西安办结婚登记"));
        assert!(target("我住在臺北市，想在高雄市申請中低收入老人生活津貼"));
        assert!(target("想在西安雁塔区办理结婚登记"));
        // Done there already, or in another clause, or here: not a service of that place.
        assert!(!target("我在上海办过营业执照，现在想在广州开分店"));
        assert!(!target("我在北京办的居住证，广州认吗"));
        assert!(!target("我在西安上学，寒假回广州能办身份证吗"));
        assert!(!target("想在广州办结婚登记"));
        assert!(!target("老家在湖南，想在广州办居住证"));
        let both = area.mentions(&fold(
            "我要去日本登记结婚，对方要未婚证明。在广东怎么办理未婚公证？",
        ));
        assert!(both.target_here);
    }

    #[test]
    fn goods_sent_from_here_involve_this_side_but_a_persons_move_does_not() {
        let area = ServiceArea::default();
        let sent = |text: &str| area.mentions(&fold(text)).sent_from_here;
        assert!(sent("苗木从广东运到福建福州卖，检疫证书怎么办"));
        assert!(!sent("我从广州调到南京工作了，南京的公积金怎么贷"));
        // Sent from elsewhere: nothing leaves from here.
        assert!(!sent("设备从湖南长沙运到广州要办什么"));
    }

    #[test]
    fn an_abroad_name_must_be_a_group() {
        let places = "!abroad = 火星\n广东: 广东|广州\n";
        assert!(matches!(
            ServiceArea::with_places(["广东"], places),
            Err(PlacesError::UnknownGroup(name)) if name == "火星"
        ));
    }

    #[test]
    fn a_place_abroad_where_a_paper_is_used_is_not_where_the_service_is() {
        let area = ServiceArea::default();
        assert!(other("准备去加拿大工作，那边要职业资格公证，找谁办").is_empty());
        assert_eq!(other("在日本怎么办公证"), ["日本"], "asked for there");
        assert_eq!(other("准备去加拿大工作，那边的工作签证怎么办"), ["加拿大"]);
        // A place at home that asks for the paper is still that place's.
        assert_eq!(other("烟台那边要不要公证委托书"), ["烟台"]);
        assert!(
            area.mentions(&fold("长春这边的公积金怎么转"))
                .here_elsewhere
        );
        assert!(
            !area
                .mentions(&fold("在这边湖北的医保卡能直接刷吗"))
                .here_elsewhere
        );
    }

    #[test]
    fn a_place_retired_from_is_still_where_the_pension_is() {
        let area = ServiceArea::default();
        let here = |text: &str| area.mentions(&fold(text)).area;
        assert!(here(
            "我从广东省直事业单位退休后搬去成都跟女儿住，养老金资格认证要填什么表"
        ));
        // Retiring in the new place, in a later clause, ties nothing here.
        assert!(!here("我从广州搬到成都，在成都退休的话养老金怎么领"));
    }

    #[test]
    fn care_away_from_another_insuring_place_is_that_places_service() {
        let area = ServiceArea::default();
        let transfer = |text: &str| area.mentions(&fold(text)).transfer;
        assert!(!transfer(
            "我是烟台参保的，长期在外地带娃，烟台的医保异地就医备案怎么办？"
        ));
        // Insured here, or moving the insurance itself: a transfer still.
        assert!(transfer(
            "我在广州参保，现在长期在成都带娃，异地就医备案怎么办？"
        ));
        assert!(transfer("我是成都参保的，想把医保转到这边，要什么材料"));
        // Care away from a place named without insurance (医保已异地备案到成都) is a transfer.
        assert!(transfer("医保已异地备案到成都，住院费用怎么直接结算？"));
    }

    #[test]
    fn a_move_already_made_is_no_transfer() {
        let area = ServiceArea::default();
        let transfer = |text: &str| area.mentions(&fold(text)).transfer;
        assert!(transfer("社保从成都转到广州怎么办"));
        assert!(transfer("户口迁回湖南老家要什么材料"));
        assert!(!transfer(
            "金門縣民每年春節配售的高粱酒要去哪裡領？我戶籍上個月剛遷回金門"
        ));
        assert!(!transfer("户口已经迁到成都了，那边的医保怎么办"));
        assert!(!transfer("我户口迁到了西安"));
        // A record moved out of here, a move asked about, or what was left here: still a transfer.
        assert!(transfer(
            "我社保已经转出了，成都那边说还没收到，怎么查进度？"
        ));
        assert!(transfer("医保已异地备案到成都，住院费用怎么直接结算？"));
        assert!(transfer("户口迁到了吗？成都那边要我问"));
        assert!(transfer("我户口刚迁到杭州，原来的社保卡还能用吗"));
        assert!(transfer(
            "我去年调到武汉工作了，之前交的住房公积金怎么提取？"
        ));
    }

    #[test]
    fn bad_place_lists_are_rejected_with_the_line() {
        let error = ServiceArea::with_places(["x"], "# c\n\n!nonsense = a").unwrap_err();
        assert_eq!(error.to_string(), "place list line 3: unknown directive");
        assert!(ServiceArea::with_places(["x"], "广东 广州").is_err());
    }
}
