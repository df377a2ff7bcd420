//! Personal data in user text: finding it, masking it before it is logged or reaches the model, and
//! putting it back for a skill that is granted it.
//!
//! A citizen asking about a service often pastes exactly what should not travel further: an ID number,
//! a mobile number, a bank card. [`mask`] replaces each value with a readable placeholder
//! (`〔身份证号1〕`, `〔手机号1〕`) so the model can still refer to "the ID number you gave" without ever
//! seeing it; [`Masked::unmask`] restores the values in text bound for a skill whose manifest grants
//! that kind of field; [`redact`] is for logs (kind only, no numbering that could correlate turns).
//!
//! Precision is as important as recall here: the knowledge base is full of long codes (service item
//! codes such as `11440000MB2C92345K2440125017014`, 12-digit base codes, the hotline 12345), and
//! masking them would break retrieval. So every value is validated by its own rules — check digits
//! (ID: ISO 7064 MOD 11-2; credit code: GB 32100-2015; bank card: Luhn; Taiwan ID: its letter
//! checksum), a plausible birth date, real number plans for phones — and a match must cover a whole
//! run of letters and digits: `4403011990…` inside a longer code is never a match.
//!
//! Input is normalised first (full-width digits and letters, full-width parentheses and dashes), so
//! `１３８ １２３４ ５６７８` is caught like `13812345678`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fold::half_width;

/// The kinds of personal data this module finds. The snake_case names are the personal-field names
/// skill manifests use to request a kind (`id_number`, `phone`, `uscc`, `bank_card`, `email`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Resident ID number: the 18-character PRC number, or a Taiwan national ID.
    IdNumber,
    /// Mobile or landline number (mainland China or Taiwan).
    Phone,
    /// Unified social credit code (统一社会信用代码) of a company or organisation.
    Uscc,
    /// Bank card number.
    BankCard,
    /// E-mail address.
    Email,
}

impl PiiKind {
    /// Every kind, in a stable order.
    pub const ALL: [PiiKind; 5] = [
        PiiKind::IdNumber,
        PiiKind::Phone,
        PiiKind::Uscc,
        PiiKind::BankCard,
        PiiKind::Email,
    ];

    /// The stable snake_case name (as in skill manifests).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::IdNumber => "id_number",
            PiiKind::Phone => "phone",
            PiiKind::Uscc => "uscc",
            PiiKind::BankCard => "bank_card",
            PiiKind::Email => "email",
        }
    }

    /// The label [`redact`] writes for this kind.
    fn redaction(self) -> &'static str {
        match self {
            PiiKind::IdNumber => "〔身份证号〕",
            PiiKind::Phone => "〔电话号码〕",
            PiiKind::Uscc => "〔统一社会信用代码〕",
            PiiKind::BankCard => "〔银行卡号〕",
            PiiKind::Email => "〔邮箱〕",
        }
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A personal-field name that is not one of [`PiiKind`]'s (for example a typo in a skill manifest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown personal data kind `{0}` (expected one of: id_number, phone, uscc, bank_card, email)"
)]
pub struct UnknownPiiKind(pub String);

impl UnknownPiiKind {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "unknown_pii_kind"
    }
}

impl FromStr for PiiKind {
    type Err = UnknownPiiKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        PiiKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownPiiKind(name.to_string()))
    }
}

/// The concrete form a value was written in; decides the placeholder's label (a landline and a
/// mobile are both [`PiiKind::Phone`], but the model answers better knowing which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Form {
    IdCard,
    TaiwanId,
    Mobile,
    TaiwanMobile,
    Landline,
    Uscc,
    BankCard,
    Email,
}

impl Form {
    fn kind(self) -> PiiKind {
        match self {
            Form::IdCard | Form::TaiwanId => PiiKind::IdNumber,
            Form::Mobile | Form::TaiwanMobile | Form::Landline => PiiKind::Phone,
            Form::Uscc => PiiKind::Uscc,
            Form::BankCard => PiiKind::BankCard,
            Form::Email => PiiKind::Email,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Form::IdCard | Form::TaiwanId => "身份证号",
            Form::Mobile | Form::TaiwanMobile => "手机号",
            Form::Landline => "固定电话",
            Form::Uscc => "统一社会信用代码",
            Form::BankCard => "银行卡号",
            Form::Email => "邮箱",
        }
    }
}

/// One personal value found in a text.
#[derive(Clone, PartialEq, Eq)]
pub struct Found {
    /// What it is.
    pub kind: PiiKind,
    /// Byte range in the text it was found in.
    pub range: std::ops::Range<usize>,
    /// The value in a canonical form: digits only for mobiles and cards (`+86`, spaces and dashes
    /// removed), `area-number[-extension]` for landlines, upper-case `X` in ID numbers, the address
    /// as written for e-mail.
    pub value: String,
    form: Form,
}

impl fmt::Debug for Found {
    // Never print the value: a debug print must not become the log line that leaks it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Found")
            .field("kind", &self.kind)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// A personal value replaced by a placeholder in [`Masked::text`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalValue {
    /// What it is.
    pub kind: PiiKind,
    /// The placeholder standing for it, e.g. `〔手机号1〕`.
    pub placeholder: String,
    /// The value in canonical form (see [`Found::value`]).
    pub value: String,
}

impl fmt::Debug for PersonalValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalValue")
            .field("kind", &self.kind)
            .field("placeholder", &self.placeholder)
            .finish_non_exhaustive()
    }
}

/// Text with its personal values replaced by placeholders, and the values themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Masked {
    /// The text with placeholders (`〔身份证号1〕`, `〔手机号1〕`, `〔固定电话1〕`, `〔银行卡号1〕`,
    /// `〔统一社会信用代码1〕`, `〔邮箱1〕`). The same value gets the same placeholder each time it
    /// occurs; numbering counts per label in order of first occurrence.
    pub text: String,
    /// One entry per distinct value, in order of first occurrence.
    pub found: Vec<PersonalValue>,
}

impl Masked {
    /// Whether the text held no personal data.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Puts every value back in place of its placeholder in `text` (for instance model-written
    /// arguments bound for a skill). Only call this for what a skill is granted; see
    /// [`Masked::unmask_kinds`].
    pub fn unmask(&self, text: &str) -> String {
        self.unmask_where(text, |_| true)
    }

    /// Puts back only values of the given kinds (a skill's granted personal fields); placeholders of
    /// other kinds stay as they are.
    pub fn unmask_kinds(&self, text: &str, kinds: &[PiiKind]) -> String {
        self.unmask_where(text, |kind| kinds.contains(&kind))
    }

    fn unmask_where(&self, text: &str, granted: impl Fn(PiiKind) -> bool) -> String {
        if !text.contains('〔') {
            return text.to_string();
        }
        let mut out = text.to_string();
        // Placeholders include both brackets, so `〔手机号1〕` can never match inside `〔手机号10〕`.
        for value in self.found.iter().filter(|v| granted(v.kind)) {
            if out.contains(&value.placeholder) {
                out = out.replace(&value.placeholder, &value.value);
            }
        }
        out
    }
}

/// Replaces personal data in `text` with numbered placeholders; see [`Masked`].
pub fn mask(text: &str) -> Masked {
    let found = find(text);
    if found.is_empty() {
        return Masked {
            text: text.to_string(),
            found: Vec::new(),
        };
    }
    let mut values: Vec<PersonalValue> = Vec::new();
    let mut by_value: HashMap<(Form, &str), usize> = HashMap::new();
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len() + 16 * found.len());
    let mut at = 0;
    for item in &found {
        out.push_str(&text[at..item.range.start]);
        // Mobile forms share a label, so they share the numbering and the same-value lookup.
        let label = item.form.label();
        let key_form = match item.form {
            Form::TaiwanMobile => Form::Mobile,
            Form::TaiwanId => Form::IdCard,
            form => form,
        };
        let index = *by_value
            .entry((key_form, item.value.as_str()))
            .or_insert_with(|| {
                let n = counts.entry(label).or_insert(0);
                *n += 1;
                values.push(PersonalValue {
                    kind: item.kind,
                    placeholder: format!("〔{label}{n}〕"),
                    value: item.value.clone(),
                });
                values.len() - 1
            });
        out.push_str(&values[index].placeholder);
        at = item.range.end;
    }
    out.push_str(&text[at..]);
    Masked {
        text: out,
        found: values,
    }
}

/// Replaces personal data in `text` with its kind only (`〔手机号〕` becomes `〔电话号码〕`), for logs:
/// no value, and no numbering that would tell two log lines apart.
pub fn redact(text: &str) -> String {
    let found = find(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for item in &found {
        out.push_str(&text[at..item.range.start]);
        out.push_str(item.kind.redaction());
        at = item.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Finds personal data in `text`, in order, without overlaps.
pub fn find(text: &str) -> Vec<Found> {
    // Fast path: every kind needs a digit (or `@` for e-mail); most chat turns have none.
    if !text
        .chars()
        .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c) || c == '@' || c == '＠')
    {
        return Vec::new();
    }
    Scanner::new(text).scan()
}

/// The normalised characters of a text and where each came from.
struct Scanner<'a> {
    text: &'a str,
    chars: Vec<char>,
    /// Byte offset in `text` of each character, plus `text.len()` at the end.
    offsets: Vec<usize>,
}

/// A maximal run of ASCII letters and digits (after normalisation), by character index.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: usize,
    end: usize,
}

/// A value found by one of the parsers: the runs it spans and its canonical value.
struct Hit {
    form: Form,
    value: String,
    /// Index of the first run after the value.
    next_run: usize,
    /// Character range (may extend past the runs, e.g. a leading `+` or an extension `转123`).
    start: usize,
    end: usize,
}

fn normalise(c: char) -> char {
    match half_width(c) {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' => '-',
        c => c,
    }
}

/// Characters that may separate the parts of one number (`138 1234 5678`, `(020)8888-8888`).
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}')
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let mut chars = Vec::with_capacity(text.len());
        let mut offsets = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            chars.push(normalise(c));
            offsets.push(i);
        }
        offsets.push(text.len());
        Scanner {
            text,
            chars,
            offsets,
        }
    }

    fn scan(&self) -> Vec<Found> {
        let mut spans: Vec<(usize, usize, Form, String)> = self.emails();
        let runs = self.runs(&spans);
        for chain in self.chains(&runs) {
            let mut i = 0;
            while i < chain.len() {
                match self.parse_at(&chain, i) {
                    Some(hit) => {
                        spans.push((hit.start, hit.end, hit.form, hit.value));
                        i = hit.next_run;
                    }
                    None => i += 1,
                }
            }
        }
        spans.sort_by_key(|s| s.0);
        // Parsers work on disjoint runs and e-mail runs are excluded, so spans cannot overlap; an
        // extension or prefix reaching into a neighbour is the only risk, so keep the first.
        let mut found: Vec<Found> = Vec::with_capacity(spans.len());
        for (start, end, form, value) in spans {
            if found
                .last()
                .is_some_and(|last| self.offsets[start] < last.range.end)
            {
                continue;
            }
            found.push(Found {
                kind: form.kind(),
                range: self.offsets[start]..self.offsets[end],
                value,
                form,
            });
        }
        found
    }

    fn is_alnum(&self, i: usize) -> bool {
        self.chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric())
    }

    /// E-mail addresses: `local@domain.tld`, the domain with at least one dot and an alphabetic
    /// top-level label of two or more letters.
    fn emails(&self) -> Vec<(usize, usize, Form, String)> {
        let local_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
        let domain_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        let mut found = Vec::new();
        let mut after = 0;
        for at in 0..self.chars.len() {
            if self.chars[at] != '@' || at < after {
                continue;
            }
            let mut start = at;
            while start > after && local_char(self.chars[start - 1]) {
                start -= 1;
            }
            while start < at && matches!(self.chars[start], '.' | '-' | '+') {
                start += 1;
            }
            let mut end = at + 1;
            while end < self.chars.len() && domain_char(self.chars[end]) {
                end += 1;
            }
            while end > at + 1 && matches!(self.chars[end - 1], '.' | '-') {
                end -= 1;
            }
            if start == at || end == at + 1 {
                continue;
            }
            let domain: String = self.chars[at + 1..end].iter().collect();
            let labels: Vec<&str> = domain.split('.').collect();
            let tld = labels.last().copied().unwrap_or("");
            if labels.len() < 2
                || labels.iter().any(|l| l.is_empty())
                || tld.len() < 2
                || !tld.chars().all(|c| c.is_ascii_alphabetic())
            {
                continue;
            }
            let value = self.text[self.offsets[start]..self.offsets[end]].to_string();
            found.push((start, end, Form::Email, value));
            after = end;
        }
        found
    }

    /// Maximal runs of ASCII letters and digits outside the given spans.
    fn runs(&self, taken: &[(usize, usize, Form, String)]) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut i = 0;
        let n = self.chars.len();
        while i < n {
            if let Some(span) = taken.iter().find(|s| s.0 == i) {
                i = span.1;
                continue;
            }
            if !self.chars[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && self.chars[i].is_ascii_alphanumeric() && !taken.iter().any(|s| s.0 == i)
            {
                i += 1;
            }
            runs.push(Run { start, end: i });
        }
        runs
    }

    /// Groups runs that are separated by at most three separator characters (one number written in
    /// parts); a value never spans two chains.
    fn chains(&self, runs: &[Run]) -> Vec<Vec<Run>> {
        let mut chains: Vec<Vec<Run>> = Vec::new();
        for run in runs {
            let joined = chains.last().and_then(|c| c.last()).is_some_and(|prev| {
                let gap = &self.chars[prev.end..run.start];
                !gap.is_empty() && gap.len() <= 3 && gap.iter().all(|&c| is_separator(c))
            });
            if joined {
                chains
                    .last_mut()
                    .expect("joined implies a chain")
                    .push(*run);
            } else {
                chains.push(vec![*run]);
            }
        }
        chains
    }

    fn run_str(&self, run: Run) -> String {
        self.chars[run.start..run.end].iter().collect()
    }

    fn gap(&self, a: Run, b: Run) -> String {
        self.chars[a.end..b.start].iter().collect()
    }

    /// Concatenates runs `i..` until they hold exactly `len` characters; `None` if they overshoot,
    /// run out, or need more than `max_runs` runs. Returns the text and the index after the last run.
    fn join(
        &self,
        chain: &[Run],
        i: usize,
        len: usize,
        max_runs: usize,
    ) -> Option<(String, usize)> {
        let mut joined = String::new();
        for (j, run) in chain.iter().enumerate().skip(i).take(max_runs) {
            joined.push_str(&self.run_str(*run));
            if joined.len() == len {
                return Some((joined, j + 1));
            }
            if joined.len() > len {
                return None;
            }
        }
        None
    }

    fn parse_at(&self, chain: &[Run], i: usize) -> Option<Hit> {
        self.id_card(chain, i)
            .or_else(|| self.single_run(chain, i))
            .or_else(|| self.mobile(chain, i))
            .or_else(|| self.taiwan_mobile(chain, i))
            .or_else(|| self.landline(chain, i))
            .or_else(|| self.bank_card(chain, i))
    }

    fn hit(&self, chain: &[Run], i: usize, next_run: usize, form: Form, value: String) -> Hit {
        Hit {
            form,
            value,
            next_run,
            start: chain[i].start,
            end: chain[next_run - 1].end,
        }
    }

    /// PRC resident ID, possibly written in groups (`440301 19900101 123X`).
    fn id_card(&self, chain: &[Run], i: usize) -> Option<Hit> {
        let (joined, next) = self.join(chain, i, 18, 5)?;
        let value = joined.to_ascii_uppercase();
        prc_id_valid(&value).then(|| self.hit(chain, i, next, Form::IdCard, value))
    }

    /// Values written as one run: Taiwan ID and unified social credit code.
    fn single_run(&self, chain: &[Run], i: usize) -> Option<Hit> {
        let run = self.run_str(chain[i]).to_ascii_uppercase();
        if run.len() == 10 && taiwan_id_valid(&run) {
            return Some(self.hit(chain, i, i + 1, Form::TaiwanId, run));
        }
        if run.len() == 18 && !prc_id_shaped(&run) && uscc_valid(&run) {
            return Some(self.hit(chain, i, i + 1, Form::Uscc, run));
        }
        None
    }

    /// Mainland mobile: `1[3-9]` + 9 digits, optionally after `+86`/`0086`, in up to three groups.
    fn mobile(&self, chain: &[Run], i: usize) -> Option<Hit> {
        let first = self.run_str(chain[i]);
        let plus_before = chain[i].start > 0 && self.chars[chain[i].start - 1] == '+';
        let mut start_run = i;
        let mut leading = String::new();
        if (first == "86" && plus_before) || first == "0086" {
            start_run = i + 1;
        } else if (first.starts_with("86") && plus_before && first.len() > 11)
            || first.starts_with("0086")
        {
            leading = first[if first.starts_with("86") { 2 } else { 4 }..].to_string();
        }
        let (number, next) = if !leading.is_empty() {
            if leading.len() == 11 {
                (leading, i + 1)
            } else {
                return None;
            }
        } else {
            self.join(chain, start_run, 11, 3)?
        };
        let b = number.as_bytes();
        let valid =
            b.iter().all(u8::is_ascii_digit) && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        if !valid {
            return None;
        }
        let mut hit = self.hit(chain, i, next, Form::Mobile, number);
        self.extend_prefix(&mut hit, start_run != i || plus_before);
        Some(hit)
    }

    /// Taiwan mobile: `09` + 8 digits (`0912-345-678`), or `+886 912 345 678`.
    fn taiwan_mobile(&self, chain: &[Run], i: usize) -> Option<Hit> {
        let first = self.run_str(chain[i]);
        let plus_before = chain[i].start > 0 && self.chars[chain[i].start - 1] == '+';
        let (number, next, prefixed) = if first == "886" && plus_before {
            let (rest, next) = self.join(chain, i + 1, 9, 3)?;
            (format!("0{rest}"), next, true)
        } else {
            let (number, next) = self.join(chain, i, 10, 3)?;
            (number, next, false)
        };
        let valid = number.starts_with("09") && number.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return None;
        }
        let mut hit = self.hit(chain, i, next, Form::TaiwanMobile, number);
        self.extend_prefix(&mut hit, prefixed);
        Some(hit)
    }

    /// Includes a `+` (and an opening parenthesis before it) written right before a country code.
    fn extend_prefix(&self, hit: &mut Hit, prefixed: bool) {
        if !prefixed {
            return;
        }
        if hit.start > 0 && self.chars[hit.start - 1] == '+' {
            hit.start -= 1;
            if hit.start > 0 && self.chars[hit.start - 1] == '(' {
                hit.start -= 1;
            }
        }
    }

    /// Landline: area code (`0` + 1–3 digits, from the mainland and Taiwan number plans) and a local
    /// number of 7–8 digits not starting with 0 or 1; written apart (`(020) 8888 8888`,
    /// `0755-2345678`) or together (`02088888888`); optionally an extension (`-123`, `转123`).
    fn landline(&self, chain: &[Run], i: usize) -> Option<Hit> {
        let first = self.run_str(chain[i]);
        if !first.starts_with('0') || !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (area, local, mut next) = if area_code_valid(&first) && i + 1 < chain.len() {
            let (local, next) = [8, 7]
                .into_iter()
                .find_map(|len| self.join(chain, i + 1, len, 2))?;
            (first.clone(), local, next)
        } else {
            let area_len = match first.len() {
                10 if (b'2'..=b'8').contains(&first.as_bytes()[1]) => 2,
                11 if first.starts_with("010") || first.starts_with("02") => 3,
                11 | 12 if (b'3'..=b'9').contains(&first.as_bytes()[1]) => 4,
                _ => return None,
            };
            (
                first[..area_len].to_string(),
                first[area_len..].to_string(),
                i + 1,
            )
        };
        if !local.bytes().all(|b| b.is_ascii_digit())
            || !(b'2'..=b'9').contains(&local.as_bytes()[0])
        {
            return None;
        }
        let mut value = format!("{area}-{local}");
        // An extension joined by a dash or introduced by `ext`.
        if next < chain.len() {
            let run = self.run_str(chain[next]);
            let gap = self.gap(chain[next - 1], chain[next]);
            if gap == "-" && (1..=5).contains(&run.len()) && run.bytes().all(|b| b.is_ascii_digit())
            {
                value = format!("{value}-{run}");
                next += 1;
            } else if run.eq_ignore_ascii_case("ext") && next + 1 < chain.len() {
                let ext = self.run_str(chain[next + 1]);
                if (1..=5).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit()) {
                    value = format!("{value}-{ext}");
                    next += 2;
                }
            }
        }
        let mut hit = self.hit(chain, i, next, Form::Landline, value);
        self.extension_in_words(&mut hit);
        // A parenthesised area code: include the opening parenthesis.
        if hit.start > 0 && self.chars[hit.start - 1] == '(' {
            hit.start -= 1;
        }
        Some(hit)
    }

    /// An extension written in words right after the number: `转123`, `轉 123`, `分机123`.
    fn extension_in_words(&self, hit: &mut Hit) {
        if hit.value.matches('-').count() > 1 {
            return;
        }
        let mut at = hit.end;
        let rest = &self.chars[at..];
        let word_len = if rest.starts_with(&['转']) || rest.starts_with(&['轉']) {
            1
        } else if rest.starts_with(&['分', '机']) || rest.starts_with(&['分', '機']) {
            2
        } else {
            return;
        };
        at += word_len;
        while self.chars.get(at) == Some(&' ') {
            at += 1;
        }
        let digits_start = at;
        while self.chars.get(at).is_some_and(|c| c.is_ascii_digit()) {
            at += 1;
        }
        let len = at - digits_start;
        if (1..=5).contains(&len) && !self.is_alnum(at) {
            let ext: String = self.chars[digits_start..at].iter().collect();
            hit.value = format!("{}-{ext}", hit.value);
            hit.end = at;
        }
    }

    /// Bank card: 13–19 digits passing Luhn, with an issuer prefix of the card schemes used in China
    /// (UnionPay `62`, Visa `4`, Mastercard `51`–`55`/`22`–`27`, Amex/JCB `34`/`37`/`35`, domestic
    /// `9`); as one run or in groups of four.
    fn bank_card(&self, chain: &[Run], i: usize) -> Option<Hit> {
        let first = self.run_str(chain[i]);
        if !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Candidate extents, longest first: one run, or groups of four with a shorter last group.
        let mut candidates: Vec<(String, usize)> = Vec::new();
        if first.len() == 4 {
            let mut joined = first.clone();
            for (j, run) in chain.iter().enumerate().skip(i + 1) {
                let part = self.run_str(*run);
                if !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 4 {
                    break;
                }
                joined.push_str(&part);
                if (13..=19).contains(&joined.len()) {
                    candidates.push((joined.clone(), j + 1));
                }
                if part.len() < 4 || joined.len() >= 19 {
                    break;
                }
            }
            candidates.reverse();
        } else {
            candidates.push((first, i + 1));
        }
        candidates
            .into_iter()
            .find(|(digits, _)| bank_card_valid(digits))
            .map(|(digits, next)| self.hit(chain, i, next, Form::BankCard, digits))
    }
}

/// Mainland province-level region codes (the first two digits of an ID number).
fn region_valid(code: &str) -> bool {
    matches!(
        code,
        "11" | "12"
            | "13"
            | "14"
            | "15"
            | "21"
            | "22"
            | "23"
            | "31"
            | "32"
            | "33"
            | "34"
            | "35"
            | "36"
            | "37"
            | "41"
            | "42"
            | "43"
            | "44"
            | "45"
            | "46"
            | "50"
            | "51"
            | "52"
            | "53"
            | "54"
            | "61"
            | "62"
            | "63"
            | "64"
            | "65"
            | "71"
            | "81"
            | "82"
            | "83"
    )
}

fn date_valid(yyyymmdd: &str) -> bool {
    let Ok(year) = yyyymmdd[..4].parse::<u32>() else {
        return false;
    };
    let Ok(month) = yyyymmdd[4..6].parse::<u32>() else {
        return false;
    };
    let Ok(day) = yyyymmdd[6..8].parse::<u32>() else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2099).contains(&year) && (1..=days).contains(&day)
}

/// 18 characters that look like a PRC ID (region, birth date), whatever the check digit: such a
/// string is never taken for a credit code or a bank card, so a mistyped ID is not masked as one.
fn prc_id_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
        && region_valid(&s[..2])
        && date_valid(&s[6..14])
}

/// PRC resident ID: shape, birth date and the ISO 7064 MOD 11-2 check character.
pub(crate) fn prc_id_valid(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if !prc_id_shaped(s) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == s.as_bytes()[17]
}

/// Taiwan national ID (and new-style resident certificate): a letter, `1`/`2` (or `8`/`9`), eight
/// digits, with the letter-weighted checksum.
pub(crate) fn taiwan_id_valid(s: &str) -> bool {
    const LETTERS: &[u8; 26] = b"ABCDEFGHJKLMNPQRSTUVXYWZIO";
    let b = s.as_bytes();
    if b.len() != 10 || !b[0].is_ascii_uppercase() || !b[1..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !matches!(b[1], b'1' | b'2' | b'8' | b'9') {
        return false;
    }
    let Some(position) = LETTERS.iter().position(|&l| l == b[0]) else {
        return false;
    };
    let code = position as u32 + 10;
    let mut sum = code / 10 + (code % 10) * 9;
    for (k, &d) in b[1..9].iter().enumerate() {
        sum += u32::from(d - b'0') * (8 - k as u32);
    }
    sum += u32::from(b[9] - b'0');
    #[allow(clippy::manual_is_multiple_of)]
    // is_multiple_of needs Rust 1.87; the workspace allows 1.85
    let valid = sum % 10 == 0;
    valid
}

/// Unified social credit code (GB 32100-2015): 18 characters from the code's alphabet (no I, O, S,
/// V, Z) with its MOD 31 check character, and a registering-authority digit that exists.
pub(crate) fn uscc_valid(s: &str) -> bool {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    // Registering authority (1 编办 … 9 工商, A 中央军委改革和编制办公室, N 农业, Y 其他).
    if !matches!(b[0], b'1'..=b'9' | b'A' | b'N' | b'Y') || !b[1].is_ascii_digit() {
        return false;
    }
    // The administrative division code (characters 3–8) is digits.
    if !b[2..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut values = [0u32; 18];
    for (v, c) in values.iter_mut().zip(b) {
        match ALPHABET.iter().position(|a| a == c) {
            Some(p) => *v = p as u32,
            None => return false,
        }
    }
    let sum: u32 = values[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    values[17] == check
}

/// Luhn check and an issuer prefix of a scheme in use in China.
pub(crate) fn bank_card_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    if !(13..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let prefix_ok = matches!(
        (b[0], b[1]),
        (b'6', b'2')
            | (b'4', _)
            | (b'9', _)
            | (b'5', b'1'..=b'5')
            | (b'2', b'2'..=b'7')
            | (b'3', b'4' | b'5' | b'7')
    );
    if !prefix_ok || prc_id_shaped(digits) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d - b'0');
            if k % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    #[allow(clippy::manual_is_multiple_of)]
    // is_multiple_of needs Rust 1.87; the workspace allows 1.85
    let valid = sum % 10 == 0;
    valid
}

/// Area codes written apart from the number: mainland `010`, `02x`, `0xxx`; Taiwan `02`–`08`,
/// `037`, `049`, `082`, `089`, `0836`.
fn area_code_valid(code: &str) -> bool {
    let b = code.as_bytes();
    match b.len() {
        2 => (b'2'..=b'8').contains(&b[1]),
        3 => code == "010" || b[1] == b'2' || matches!(code, "037" | "049" | "082" | "089"),
        4 => (b'3'..=b'9').contains(&b[1]) || code == "0836",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_algorithms() {
        assert!(prc_id_valid("11010519491231002X"));
        assert!(!prc_id_valid("110105194912310021"));
        assert!(uscc_valid("91350100M000100Y43"));
        assert!(!uscc_valid("91350100M000100Y44"));
        assert!(taiwan_id_valid("A123456789"));
        assert!(!taiwan_id_valid("A123456788"));
        assert!(bank_card_valid("6222021234567890123") || !bank_card_valid("6222021234567890124"));
        assert!(bank_card_valid("4111111111111111"));
        assert!(!bank_card_valid("4111111111111112"));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in PiiKind::ALL {
            assert_eq!(kind.as_str().parse::<PiiKind>(), Ok(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert_eq!(
            "phone_number".parse::<PiiKind>().unwrap_err().code(),
            "unknown_pii_kind"
        );
    }

    #[test]
    fn same_value_same_placeholder_and_unmask() {
        let masked = mask("手机13812345678，再说一遍：138 1234 5678；身份证11010519491231002x");
        assert_eq!(
            masked.text,
            "手机〔手机号1〕，再说一遍：〔手机号1〕；身份证〔身份证号1〕"
        );
        assert_eq!(masked.found.len(), 2);
        assert_eq!(masked.found[1].value, "11010519491231002X");
        assert_eq!(
            masked.unmask("请拨打〔手机号1〕，证件〔身份证号1〕"),
            "请拨打13812345678，证件11010519491231002X"
        );
        assert_eq!(
            masked.unmask_kinds("〔手机号1〕/〔身份证号1〕", &[PiiKind::Phone]),
            "13812345678/〔身份证号1〕"
        );
    }

    #[test]
    fn debug_output_never_contains_values() {
        let masked = mask("13812345678");
        let debug = format!("{masked:?} {:?}", find("13812345678"));
        assert!(!debug.contains("13812345678"), "{debug}");
    }

    #[test]
    fn redact_names_kinds_only() {
        assert_eq!(
            redact("联系13812345678或a.b@gov.cn"),
            "联系〔电话号码〕或〔邮箱〕"
        );
    }
}
