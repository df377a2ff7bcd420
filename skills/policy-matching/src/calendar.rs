//! Calendar year from a Unix timestamp, without pulling a date crate into
//! the component.

/// The proleptic Gregorian year (UTC) containing `ms` milliseconds after the
/// Unix epoch. Uses Howard Hinnant's `civil_from_days`.
pub fn year_of_unix_ms(ms: u64) -> i32 {
    let days = (ms / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    year as i32
}

#[cfg(test)]
mod tests {
    use super::year_of_unix_ms;

    #[test]
    fn years_at_boundaries() {
        assert_eq!(year_of_unix_ms(0), 1970);
        assert_eq!(year_of_unix_ms(1_767_225_599_999), 2025); // 2025-12-31T23:59:59.999Z
        assert_eq!(year_of_unix_ms(1_767_225_600_000), 2026); // 2026-01-01T00:00:00Z
        assert_eq!(year_of_unix_ms(951_782_400_000), 2000); // 2000-02-29 (leap day)
    }
}
