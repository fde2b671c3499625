//! 统一社会信用代码 (unified social credit code), GB 32100-2015 (R-ORG-2).
//!
//! 18 characters: registration authority (1), organisation category (1), region code (6),
//! organisation code (9), check character (1). The check character is computed over the first 17
//! characters with weights 3^i mod 31 over a 31-character alphabet that omits I, O, Z, S and V.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// Registration authorities defined by GB 32100 (1 机构编制, 5 民政, 9 工商, Y 其他, …).
const AUTHORITIES: &[u8] = b"123456789ANY";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The GB 32100 check character for the first 17 characters, or `None` if one is outside the alphabet.
pub fn check_character(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize] as char)
}

impl CreditCode {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let code = input.trim().to_ascii_uppercase();
        let field = "credit_code";
        if code.chars().count() != 18 {
            return Err(ValidationError::new(
                field,
                "length",
                format!("统一社会信用代码应为 18 位，收到 {} 位", code.chars().count()),
            ));
        }
        let bytes = code.as_bytes();
        if let Some((pos, ch)) = code.char_indices().find(|&(_, c)| !c.is_ascii() || value_of(c as u8).is_none()) {
            return Err(ValidationError::new(
                field,
                "character",
                format!(
                    "统一社会信用代码第 {} 位「{ch}」不是允许的字符（数字或除 I、O、Z、S、V 以外的大写字母）",
                    pos + 1
                ),
            ));
        }
        if !AUTHORITIES.contains(&bytes[0]) {
            return Err(ValidationError::new(
                field,
                "registration_authority",
                format!("统一社会信用代码第 1 位「{}」不是有效的登记管理部门代码", bytes[0] as char),
            ));
        }
        if !bytes[2..8].iter().all(u8::is_ascii_digit) {
            return Err(ValidationError::new(field, "region", "统一社会信用代码第 3–8 位应为行政区划代码（6 位数字）"));
        }
        let expected = check_character(&bytes[..17]).expect("alphabet checked above");
        if bytes[17] as char != expected {
            return Err(ValidationError::new(
                field,
                "check_character",
                format!(
                    "统一社会信用代码校验位错误：第 18 位应为「{expected}」，实际为「{}」，请核对代码是否抄错",
                    bytes[17] as char
                ),
            ));
        }
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CreditCode::parse(&value)
    }
}

impl From<CreditCode> for String {
    fn from(value: CreditCode) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The worked example of GB 32100-2015 and two codes whose check characters were computed by hand.
    const WELL_FORMED: [&str; 3] = ["91350100M000100Y43", "113300000024820769", "91110000100007486X"];

    #[test]
    fn accepts_well_formed_codes() {
        for code in WELL_FORMED {
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
        assert_eq!(CreditCode::parse(" 91350100m000100y43 ").unwrap().as_str(), "91350100M000100Y43");
    }

    #[test]
    fn wrong_check_character_is_named() {
        let err = CreditCode::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(err.rule, "check_character");
        assert!(err.message.contains("应为「3」"), "{}", err.message);
    }

    #[test]
    fn other_rules() {
        assert_eq!(CreditCode::parse("9135").unwrap_err().rule, "length");
        assert_eq!(CreditCode::parse("91350100M000100I43").unwrap_err().rule, "character");
        assert_eq!(CreditCode::parse("B1350100M000100Y43").unwrap_err().rule, "registration_authority");
        assert_eq!(CreditCode::parse("9135A100M000100Y43").unwrap_err().rule, "region");
    }

    proptest! {
        /// Any 17-character body with its computed check character parses, and every other
        /// check character is refused.
        #[test]
        fn check_character_is_exactly_one(body in "[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NP-RTUWXY]{9}", wrong in 0usize..31) {
            let check = check_character(body.as_bytes()).unwrap();
            let good = format!("{body}{check}");
            prop_assert!(CreditCode::parse(&good).is_ok());
            let other = ALPHABET[wrong] as char;
            prop_assume!(other != check);
            let bad = format!("{body}{other}");
            prop_assert_eq!(CreditCode::parse(&bad).unwrap_err().rule, "check_character");
        }
    }
}
