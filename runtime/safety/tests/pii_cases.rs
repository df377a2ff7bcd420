//! Data-driven masking cases (`tests/data/pii_cases.txt`), plus what must hold for every case:
//! unmasking restores every value and redaction leaves none.

use govassist_safety::pii;

fn cases() -> Vec<(usize, String, String)> {
    include_str!("data/pii_cases.txt")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            let (input, expected) = l
                .split_once(" ⇒ ")
                .unwrap_or_else(|| panic!("line {}: no ` ⇒ `", n + 1));
            (n + 1, input.to_string(), expected.to_string())
        })
        .collect()
}

#[test]
fn masking_cases() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (line, input, expected) in &cases {
        let masked = pii::mask(input);
        if &masked.text != expected {
            failures.push(format!(
                "line {line}: {input}\n   got:      {}\n   expected: {expected}",
                masked.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_value_comes_back_and_redaction_hides_them() {
    for (line, input, _) in cases() {
        let masked = pii::mask(&input);
        let restored = masked.unmask(&masked.text);
        let redacted = pii::redact(&input);
        for value in &masked.found {
            assert!(restored.contains(&value.value), "line {line}: {restored}");
            assert!(!redacted.contains(&value.value), "line {line}: {redacted}");
            assert!(
                !masked.text.contains(&value.value),
                "line {line}: {}",
                masked.text
            );
        }
        assert_eq!(masked.found.is_empty(), redacted == input, "line {line}");
    }
}
