//! Checks of the identifiers citizens type into government forms: the
//! 18-digit resident ID number, the unified social credit code, and phone
//! numbers.
//!
//! Every check normalizes first (full-width characters from Chinese input
//! methods become ASCII, spaces and separators go, letters are upper-cased),
//! because a citizen who types `４４０３…ｘ` means the same number. Every error
//! has a [`message`](ResidentIdError::message) in the user's language that
//! says what is wrong, so a skill can ask again precisely.
//!
//! ```
//! use govassist_skill_sdk::validate::{CreditCode, Phone, ResidentId};
//! assert!(ResidentId::parse("11010519491231002x").is_ok());
//! assert!(CreditCode::parse("91440300708461136T").is_ok());
//! assert_eq!(Phone::parse("+86 138 0013 8000").unwrap().as_str(), "13800138000");
//! ```

use crate::date::Date;
use crate::Lang;

/// Full-width ASCII (U+FF01..U+FF5E) to ASCII, the ideographic space to a
/// space; everything else unchanged.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Folded, without whitespace, upper-cased: the form all identifiers are
/// checked in.
fn compact_upper(s: &str) -> String {
    fold_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

// ---------------------------------------------------------------------------
// Resident ID number (GB 11643-1999)

/// A checked 18-digit 居民身份证号码.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentId {
    number: String,
    birth_date: Date,
}

/// Sex as encoded in the 17th digit (odd: male).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Sex::Male => lang.pick("男", "男", "male"),
            Sex::Female => lang.pick("女", "女", "female"),
        }
    }
}

/// Why a resident ID number was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResidentIdError {
    /// Not 18 characters.
    Length,
    /// Not 17 digits followed by a digit or `X`.
    Characters,
    /// The first two digits are no province, autonomous region or
    /// municipality.
    Region,
    /// Digits 7-14 are no date between 1900 and today.
    BirthDate,
    /// The ISO 7064 MOD 11-2 check character does not match: a typo.
    CheckDigit,
}

impl ResidentIdError {
    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            ResidentIdError::Length => lang.pick(
                "身份证号码应为18位",
                "身份證號碼應為18位",
                "a resident ID number has 18 characters",
            ),
            ResidentIdError::Characters => lang.pick(
                "身份证号码应为17位数字加1位数字或X",
                "身份證號碼應為17位數字加1位數字或X",
                "a resident ID number is 17 digits followed by a digit or X",
            ),
            ResidentIdError::Region => lang.pick(
                "身份证号码的地区码（前两位）无效",
                "身份證號碼的地區碼（前兩位）無效",
                "the region code (first two digits) of the ID number is not valid",
            ),
            ResidentIdError::BirthDate => lang.pick(
                "身份证号码中的出生日期（第7-14位）无效",
                "身份證號碼中的出生日期（第7-14位）無效",
                "the birth date in the ID number (digits 7-14) is not a valid date",
            ),
            ResidentIdError::CheckDigit => lang.pick(
                "身份证号码校验位不符，可能有输入错误",
                "身份證號碼校驗位不符，可能有輸入錯誤",
                "the ID number's check digit does not match; it probably has a typo",
            ),
        }
    }
}

/// Province-level codes (GB/T 2260), plus 71/81/82/83 used for Taiwan, Hong
/// Kong, Macao residents' residence permits.
const PROVINCE_CODES: [u8; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

impl ResidentId {
    /// Check structure, region, birth date (a real date from 1900 on) and
    /// check digit. See [`ResidentId::parse_as_of`] to also reject birth
    /// dates after today.
    pub fn parse(s: &str) -> Result<ResidentId, ResidentIdError> {
        let number = compact_upper(s);
        if number.chars().count() != 18 {
            return Err(ResidentIdError::Length);
        }
        let b = number.as_bytes();
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(ResidentIdError::Characters);
        }
        let province = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !PROVINCE_CODES.contains(&province) {
            return Err(ResidentIdError::Region);
        }
        let birth_date = Date::parse_compact(&number[6..14])
            .filter(|d| d.year() >= 1900)
            .ok_or(ResidentIdError::BirthDate)?;
        let sum: u32 = b[..17]
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        if ID_CHECK[(sum % 11) as usize] != b[17] {
            return Err(ResidentIdError::CheckDigit);
        }
        Ok(ResidentId { number, birth_date })
    }

    /// [`ResidentId::parse`], and the birth date must not be after `today`.
    pub fn parse_as_of(s: &str, today: Date) -> Result<ResidentId, ResidentIdError> {
        let id = ResidentId::parse(s)?;
        if id.birth_date > today {
            return Err(ResidentIdError::BirthDate);
        }
        Ok(id)
    }

    /// The normalized number (upper-case `X`).
    pub fn as_str(&self) -> &str {
        &self.number
    }

    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    pub fn sex(&self) -> Sex {
        if (self.number.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

// ---------------------------------------------------------------------------
// Unified social credit code (GB 32100-2015)

/// A checked 统一社会信用代码.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode(String);

/// Why a unified social credit code was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditCodeError {
    /// Not 18 characters.
    Length,
    /// A character outside digits and the 21 letters the standard uses (no
    /// I, O, Z, S or V).
    Characters,
    /// Characters 3-8 (the administrative region code) are not digits.
    Region,
    /// The MOD 31 check character does not match: a typo.
    CheckDigit,
}

impl CreditCodeError {
    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            CreditCodeError::Length => lang.pick(
                "统一社会信用代码应为18位",
                "統一社會信用代碼應為18位",
                "a unified social credit code has 18 characters",
            ),
            CreditCodeError::Characters => lang.pick(
                "统一社会信用代码只含数字和大写字母（不含I、O、Z、S、V）",
                "統一社會信用代碼只含數字和大寫字母（不含I、O、Z、S、V）",
                "a unified social credit code has only digits and capital letters other than I, O, Z, S and V",
            ),
            CreditCodeError::Region => lang.pick(
                "统一社会信用代码第3-8位应为行政区划码（数字）",
                "統一社會信用代碼第3-8位應為行政區劃碼（數字）",
                "characters 3-8 of a unified social credit code are the region code and must be digits",
            ),
            CreditCodeError::CheckDigit => lang.pick(
                "统一社会信用代码校验位不符，可能有输入错误",
                "統一社會信用代碼校驗位不符，可能有輸入錯誤",
                "the credit code's check character does not match; it probably has a typo",
            ),
        }
    }
}

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

impl CreditCode {
    pub fn parse(s: &str) -> Result<CreditCode, CreditCodeError> {
        let code = compact_upper(s);
        if code.chars().count() != 18 {
            return Err(CreditCodeError::Length);
        }
        let values = code
            .bytes()
            .map(|c| USCC_CHARS.iter().position(|&k| k == c).map(|v| v as u32))
            .collect::<Option<Vec<u32>>>()
            .ok_or(CreditCodeError::Characters)?;
        if !code.as_bytes()[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CreditCodeError::Region);
        }
        let sum: u32 = values[..17]
            .iter()
            .zip(USCC_WEIGHTS)
            .map(|(v, w)| v * w)
            .sum();
        if (31 - sum % 31) % 31 != values[17] {
            return Err(CreditCodeError::CheckDigit);
        }
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Phone numbers (mainland China)

/// A checked mainland phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    number: String,
    kind: PhoneKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneKind {
    /// 11 digits, `1[3-9]…`.
    Mobile,
    /// Area code and subscriber number, e.g. `020-34121084`.
    Landline,
}

/// Why a phone number was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// Neither a mobile number nor a landline with its area code.
    Invalid,
    /// 7 or 8 digits: a landline without its area code.
    MissingAreaCode,
    /// A landline where a mobile number is required.
    NotMobile,
}

impl PhoneError {
    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            PhoneError::Invalid => lang.pick(
                "电话号码格式不正确：手机号码为1开头的11位数字，固定电话需带区号（如020-12345678）",
                "電話號碼格式不正確：手機號碼為1開頭的11位數字，固定電話需帶區號（如020-12345678）",
                "the phone number is not valid: a mobile number has 11 digits starting with 1, a landline needs its area code (e.g. 020-12345678)",
            ),
            PhoneError::MissingAreaCode => lang.pick(
                "固定电话请加上区号，如020-12345678",
                "固定電話請加上區號，如020-12345678",
                "please add the area code to the landline number, e.g. 020-12345678",
            ),
            PhoneError::NotMobile => lang.pick(
                "请提供11位手机号码",
                "請提供11位手機號碼",
                "please give an 11-digit mobile number",
            ),
        }
    }
}

impl Phone {
    /// A mobile number (`+86`/`0086` prefixes allowed) or a landline with its
    /// area code (`010`/`02x` three digits, others four; then 7-8 digits not
    /// starting with 0 or 1). Spaces, dashes and brackets are ignored.
    pub fn parse(s: &str) -> Result<Phone, PhoneError> {
        let folded = fold_width(s);
        let mut digits: String = folded
            .chars()
            .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '(' | ')' | '（' | '）')))
            .collect();
        for prefix in ["+86", "0086"] {
            if let Some(rest) = digits.strip_prefix(prefix) {
                digits = rest.to_owned();
                break;
            }
        }
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(PhoneError::Invalid);
        }
        let b = digits.as_bytes();
        if b.len() == 13 && digits.starts_with("861") {
            digits.drain(..2);
            return Phone::mobile(digits);
        }
        match b[0] {
            b'1' => Phone::mobile(digits),
            b'0' => {
                let area_len = if digits.starts_with("010") || digits.starts_with("02") {
                    3
                } else {
                    4
                };
                let subscriber = digits.get(area_len..).unwrap_or("");
                let ok = (7..=8).contains(&subscriber.len()) && !subscriber.starts_with(['0', '1']);
                if !ok {
                    return Err(PhoneError::Invalid);
                }
                Ok(Phone {
                    number: format!("{}-{subscriber}", &digits[..area_len]),
                    kind: PhoneKind::Landline,
                })
            }
            _ if (7..=8).contains(&b.len()) => Err(PhoneError::MissingAreaCode),
            _ => Err(PhoneError::Invalid),
        }
    }

    /// [`Phone::parse`], and it must be a mobile number (a booking is tied
    /// to the person who holds it).
    pub fn parse_mobile(s: &str) -> Result<Phone, PhoneError> {
        let phone = Phone::parse(s)?;
        if phone.kind != PhoneKind::Mobile {
            return Err(PhoneError::NotMobile);
        }
        Ok(phone)
    }

    fn mobile(digits: String) -> Result<Phone, PhoneError> {
        let b = digits.as_bytes();
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            Ok(Phone {
                number: digits,
                kind: PhoneKind::Mobile,
            })
        } else {
            Err(PhoneError::Invalid)
        }
    }

    /// Normalized: `13800138000`, or `020-34121084` for a landline.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    pub fn kind(&self) -> PhoneKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_cases() {
        use ResidentIdError::*;
        for (input, expected) in [
            ("11010519491231002X", Ok("11010519491231002X")), // GB 11643's own example
            ("11010519491231002x", Ok("11010519491231002X")),
            (" 110105 19491231 002X ", Ok("11010519491231002X")),
            (
                "１１０１０５１９４９１２３１００２Ｘ",
                Ok("11010519491231002X"),
            ), // full-width IME input
            ("440308199901011234", Ok("440308199901011234")),
            ("110105194912310021", Err(CheckDigit)),
            ("11010519491231002", Err(Length)),
            ("11010519491231002X1", Err(Length)),
            ("1101051949123100XX", Err(Characters)),
            ("99010519491231002X", Err(Region)),
            ("110105194902300020", Err(BirthDate)), // 30 February
            ("110105189912310020", Err(BirthDate)), // before 1900
            ("", Err(Length)),
        ] {
            assert_eq!(
                ResidentId::parse(input)
                    .as_ref()
                    .map(ResidentId::as_str)
                    .map_err(|e| *e),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn resident_id_birth_date_and_sex() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date().to_string(), "1949-12-31");
        assert_eq!(id.sex(), Sex::Female); // 17th digit 2
        assert_eq!(
            ResidentId::parse("440308199901011234").unwrap().sex(),
            Sex::Male
        );
        let before_birth = Date::new(1949, 12, 30).unwrap();
        assert_eq!(
            ResidentId::parse_as_of("11010519491231002X", before_birth),
            Err(ResidentIdError::BirthDate)
        );
    }

    #[test]
    fn credit_code_cases() {
        use CreditCodeError::*;
        for (input, expected) in [
            ("91440300708461136T", Ok("91440300708461136T")), // real codes of listed companies
            ("914403001922038216", Ok("914403001922038216")),
            ("91330100716105852F", Ok("91330100716105852F")),
            ("91350100M000100Y43", Ok("91350100M000100Y43")),
            ("91440300708461136t", Ok("91440300708461136T")),
            ("9144 0300 7084 6113 6T", Ok("91440300708461136T")),
            ("91440300708461136A", Err(CheckDigit)),
            ("91440300708461163T", Err(CheckDigit)), // transposed digits
            ("9144030070846113", Err(Length)),
            ("91440300708461136TT", Err(Length)),
            ("91440300708461I36T", Err(Characters)),
            ("9144030070846113OT", Err(Characters)),
            ("91440300708461136S", Err(Characters)),
            ("914A0300708461136T", Err(Region)),
        ] {
            assert_eq!(
                CreditCode::parse(input)
                    .as_ref()
                    .map(CreditCode::as_str)
                    .map_err(|e| *e),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn phone_cases() {
        use PhoneError::*;
        use PhoneKind::*;
        for (input, expected) in [
            ("13800138000", Ok(("13800138000", Mobile))),
            ("138 0013 8000", Ok(("13800138000", Mobile))),
            ("138-0013-8000", Ok(("13800138000", Mobile))),
            ("+86 13800138000", Ok(("13800138000", Mobile))),
            ("008613800138000", Ok(("13800138000", Mobile))),
            ("8613800138000", Ok(("13800138000", Mobile))),
            ("１９９１２３４５６７８", Ok(("19912345678", Mobile))),
            ("020-34121084", Ok(("020-34121084", Landline))),
            ("(020)34121084", Ok(("020-34121084", Landline))),
            ("（0755）8312 3456", Ok(("0755-83123456", Landline))),
            ("010-6552 1234", Ok(("010-65521234", Landline))),
            ("0751-8234567", Ok(("0751-8234567", Landline))),
            ("0751-1234567", Err(Invalid)), // subscriber numbers never start with 0 or 1
            ("12800138000", Err(Invalid)),  // second digit 2
            ("1380013800", Err(Invalid)),
            ("138001380001", Err(Invalid)),
            ("020-0412108", Err(Invalid)),
            ("020-341210845", Err(Invalid)),
            ("34121084", Err(MissingAreaCode)),
            ("phone", Err(Invalid)),
            ("", Err(Invalid)),
        ] {
            assert_eq!(
                Phone::parse(input)
                    .as_ref()
                    .map(|p| (p.as_str(), p.kind()))
                    .map_err(|e| *e),
                expected,
                "{input:?}"
            );
        }
        assert_eq!(Phone::parse_mobile("020-34121084"), Err(NotMobile));
    }

    #[test]
    fn every_error_has_a_message_in_every_language() {
        for lang in [Lang::ZhHans, Lang::ZhHant, Lang::En] {
            for e in [
                ResidentIdError::Length,
                ResidentIdError::Characters,
                ResidentIdError::Region,
                ResidentIdError::BirthDate,
                ResidentIdError::CheckDigit,
            ] {
                assert!(!e.message(lang).is_empty());
            }
            for e in [
                CreditCodeError::Length,
                CreditCodeError::Characters,
                CreditCodeError::Region,
                CreditCodeError::CheckDigit,
            ] {
                assert!(!e.message(lang).is_empty());
            }
            for e in [
                PhoneError::Invalid,
                PhoneError::MissingAreaCode,
                PhoneError::NotMobile,
            ] {
                assert!(!e.message(lang).is_empty());
            }
        }
    }
}
