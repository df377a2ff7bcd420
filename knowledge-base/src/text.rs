//! Text normalisation shared by indexing, querying and evaluation.
//!
//! Citizens write in Simplified or Traditional script, on phones whose input methods happily emit
//! full-width Latin letters and digits (`ＡＢＣ１２３`). The bundled sources mix scripts too (the Taipei
//! FAQ is Traditional, the Guangdong items Simplified). [`fold`] maps all of them onto one form so
//! that a term matches whatever way it was typed. It must be applied identically at index time and at
//! query time; [`crate::tokenizer`] does that for the index, and [`crate::eval`] uses it to compare
//! expected answers with passages.

/// Folds text for matching: Traditional → Simplified (fast2s, from OpenCC's tables), full-width ASCII
/// forms and the ideographic space → their half-width counterparts, and lowercase.
///
/// Folding is per character, so the number of characters is preserved for CJK text; the output is
/// meant for matching, never for display.
pub fn fold(text: &str) -> String {
    let half_width: String = text.chars().map(to_half_width).collect();
    fast2s::convert(&half_width).to_lowercase()
}

/// Traditional → Simplified only (fast2s, from OpenCC's tables): for telling which script a user
/// writes in, or for display, where [`fold`]'s other changes are unwanted.
pub fn to_simplified(text: &str) -> String {
    fast2s::convert(text)
}

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E) or the ideographic space (U+3000) to its
/// half-width form; any other character is returned unchanged.
pub fn to_half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Removes pinyin glosses such as `區(qū)` → `區` that a faulty conversion left after characters in
/// one of the bundled staff documents. Only a parenthesised run of lowercase Latin letters that
/// contains a tone-marked vowel (or `ü`) is removed, so ordinary parentheses like `(一)` or
/// `(Social Engineering)` survive.
pub fn strip_pinyin_glosses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close) if is_pinyin_syllable(&after[..close]) => {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('(');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_pinyin_syllable(s: &str) -> bool {
    const TONED: &str = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü";
    let len = s.chars().count();
    (1..=7).contains(&len)
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || TONED.contains(c))
        && s.chars().any(|c| TONED.contains(c))
}

/// Splits text into passages of whole sentences, each about `target` characters and at most `max`
/// (a single sentence longer than `max` is cut at `max`).
///
/// Passages are the unit a staff answer is grounded on: small enough that the one fact asked about
/// dominates its score and fits the model's context, large enough to keep a sentence's context.
/// Sentences end at `。！？；!?;` or a line break; whitespace-only passages are dropped.
pub fn split_passages(text: &str, target: usize, max: usize) -> Vec<String> {
    let mut passages = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for sentence in sentences(text) {
        let sentence = sentence.trim();
        let chars = sentence.chars().count();
        if chars == 0 {
            continue;
        }
        if current_chars > 0 && current_chars + chars > max.max(target) {
            passages.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if chars > max {
            // One overlong sentence: cut it into max-sized pieces.
            let chars_vec: Vec<char> = sentence.chars().collect();
            for piece in chars_vec.chunks(max) {
                passages.push(piece.iter().collect());
            }
            continue;
        }
        if current_chars > 0 && !current.ends_with('\n') {
            current.push('\n');
        }
        current.push_str(sentence);
        current_chars += chars;
        if current_chars >= target {
            passages.push(std::mem::take(&mut current));
            current_chars = 0;
        }
    }
    if current_chars > 0 {
        passages.push(current);
    }
    passages
}

/// Sentences of `text`, each including its terminator.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(['。', '！', '？', '；', '!', '?', ';', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_maps_scripts_widths_and_case() {
        let cases = [
            ("營業執照", "营业执照"),
            ("ＡＢＣ１２３", "abc123"),
            ("辦理　時限", "办理 时限"),
            ("Hong Kong", "hong kong"),
            ("已经是简体", "已经是简体"),
        ];
        for (input, expected) in cases {
            assert_eq!(fold(input), expected, "fold({input:?})");
        }
    }

    #[test]
    fn strips_only_pinyin_glosses() {
        let cases = [
            ("龍崗區(qū)政務(wù)服務(wù)", "龍崗區政務服務"),
            ("(一) 根據", "(一) 根據"),
            (
                "社交工程(Social Engineering)",
                "社交工程(Social Engineering)",
            ),
            ("未闭合(qū", "未闭合(qū"),
            ("20(工作日)", "20(工作日)"),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_pinyin_glosses(input), expected, "strip({input:?})");
        }
    }

    #[test]
    fn passages_respect_sentence_boundaries_and_limits() {
        let text = "第一句很短。第二句也不长！第三句？".repeat(20);
        let passages = split_passages(&text, 40, 60);
        assert!(passages.len() > 1);
        for p in &passages {
            let n = p.chars().count();
            assert!(n <= 60, "passage of {n} chars: {p}");
            assert!(
                p.ends_with(['。', '！', '？']),
                "passage cut mid-sentence: {p}"
            );
        }
        let joined: String = passages.concat().replace('\n', "");
        assert_eq!(joined, text);
    }

    #[test]
    fn overlong_sentence_is_cut() {
        let text = "长".repeat(250);
        let passages = split_passages(&text, 50, 100);
        assert_eq!(
            passages
                .iter()
                .map(|p| p.chars().count())
                .collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }
}
