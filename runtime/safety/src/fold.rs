//! Folding text for matching while remembering where each character came from.
//!
//! Word lists and rules are written once, but citizens type the same word in Simplified or Traditional
//! script, with full-width letters and digits from a phone keyboard, in any letter case. Matching runs
//! on a folded copy (Traditional → Simplified with `fast2s`, full-width → half-width, lower case), the
//! same folding the knowledge base applies (`govassist_kb::text::fold`), so one entry catches every
//! variant. Unlike the knowledge base, callers here must point back into the *original* text (to censor
//! a word in place), so [`Folded`] keeps, for every folded byte, the original byte it came from.

/// Maps a full-width ASCII form (U+FF01..=U+FF5E) or the ideographic space to its half-width form;
/// other characters are returned unchanged.
pub(crate) fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Lower case that never changes the number of characters (a few letters lower-case to two
/// characters; they are left alone so that positions stay one-to-one).
fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lowered = c.to_lowercase();
    match (lowered.next(), lowered.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Characters before 著 that make it the 著 of a word (显著, 名著, 土著), not the particle.
const ZHU_BEFORE: &str = "显卓土名巨编论专遗拙原合昭撰新大";
/// Characters after 著 that make it the 著 of a word (著名, 著作, 著称).
const ZHU_AFTER: &str = "名作称录述者书";

/// Writes the particle 著 as Simplified 着. Taiwan writes the particle 著 (接著打, 睡不著, 拿著),
/// which `fast2s` keeps, since Simplified text still writes 著名 and 著作权: without this, a rule
/// term 接着打 never matches the Traditional question.
fn particle_zhe(text: &str) -> String {
    if !text.contains('著') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len())
        .map(|i| {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            let word = before.is_some_and(|c| ZHU_BEFORE.contains(c))
                || after.is_some_and(|c| ZHU_AFTER.contains(c));
            if chars[i] == '著' && !word {
                '着'
            } else {
                chars[i]
            }
        })
        .collect()
}

/// Folds a string for matching (see the module documentation). Used for word lists and rule terms,
/// which need no way back to an original.
pub(crate) fn fold(text: &str) -> String {
    Folded::new(text, |_| false).text
}

/// Text folded for matching, with the way back to the original.
pub(crate) struct Folded {
    /// The folded text: what patterns are matched against.
    pub text: String,
    /// For the folded character starting at byte `i` of `text`: the original byte range it came
    /// from (`spans[i]`). Entries at bytes inside a character are unused.
    spans: Vec<(usize, usize)>,
}

impl Folded {
    /// Folds `original`, leaving out the characters for which `skip` returns true (after folding),
    /// so that `诈 骗` or `诈*骗` can match `诈骗`.
    pub fn new(original: &str, skip: impl Fn(char) -> bool) -> Folded {
        let half: String = original.chars().map(half_width).collect();
        // fast2s converts character by character (with a look at the neighbours for a handful of
        // words), so the converted text has exactly as many characters as the input. If a later
        // version ever broke that, fall back to converting characters one by one.
        let mut simplified = fast2s::convert(&half);
        if simplified.chars().count() != half.chars().count() {
            simplified = half
                .chars()
                .map(|c| {
                    let one = fast2s::convert(c.encode_utf8(&mut [0; 4]));
                    one.chars().next().unwrap_or(c)
                })
                .collect();
        }
        let simplified = particle_zhe(&simplified);
        let mut text = String::with_capacity(simplified.len());
        let mut spans = Vec::with_capacity(simplified.len());
        for ((start, original_char), folded) in original.char_indices().zip(simplified.chars()) {
            let folded = lower(folded);
            if skip(folded) {
                continue;
            }
            let span = (start, start + original_char.len_utf8());
            spans.extend(std::iter::repeat_n(span, folded.len_utf8()));
            text.push(folded);
        }
        Folded { text, spans }
    }

    /// The original byte range covered by the folded byte range `start..end` (both on character
    /// boundaries of the folded text, `start < end`).
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        let last = self.text[..end]
            .char_indices()
            .next_back()
            .map_or(start, |(i, _)| i);
        (self.spans[start].0, self.spans[last].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_scripts_widths_and_case() {
        assert_eq!(fold("臺北市ＡＢＣ１２３　Hello"), "台北市abc123 hello");
    }

    #[test]
    fn folds_the_particle_zhe_but_not_the_zhu_of_words() {
        assert_eq!(
            fold("回來後要怎麼接著打，睡不著"),
            "回来后要怎么接着打,睡不着"
        );
        assert_eq!(fold("著作權很顯著，名著"), "著作权很显著,名著");
    }

    #[test]
    fn maps_back_to_the_original_across_skipped_characters() {
        let original = "說 Ｘ詐*騙！";
        let folded = Folded::new(original, |c| c == ' ' || c == '*');
        assert_eq!(folded.text, "说x诈骗!");
        let start = folded.text.find("诈骗").unwrap();
        let (s, e) = folded.original_range(start, start + "诈骗".len());
        assert_eq!(&original[s..e], "詐*騙");
    }
}
