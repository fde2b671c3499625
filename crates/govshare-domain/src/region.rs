//! Administrative divisions, identified by GB/T 2260 six-digit codes (R-ORG-1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::error::required_text;

/// The first two digits of every province-level division in GB/T 2260.
const PROVINCE_PREFIXES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82,
];

/// A six-digit GB/T 2260 administrative division code, e.g. `330100` (杭州市).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
}

impl RegionLevel {
    pub fn label(self) -> &'static str {
        match self {
            RegionLevel::Province => "省级",
            RegionLevel::City => "市级",
            RegionLevel::County => "县级",
        }
    }
}

impl RegionCode {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let input = input.trim();
        if input.len() != 6 || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(
                "region_code",
                "format",
                format!("行政区划代码应为 6 位数字（GB/T 2260），收到「{input}」"),
            ));
        }
        let value: u32 =
            input.parse().map_err(|_| ValidationError::new("region_code", "format", "行政区划代码应为 6 位数字"))?;
        let province = (value / 10_000) as u8;
        if !PROVINCE_PREFIXES.contains(&province) {
            return Err(ValidationError::new(
                "region_code",
                "unknown_province",
                format!("行政区划代码前两位「{province:02}」不是有效的省级代码"),
            ));
        }
        Ok(RegionCode(value))
    }

    pub fn level(self) -> RegionLevel {
        if self.0.is_multiple_of(10_000) {
            RegionLevel::Province
        } else if self.0.is_multiple_of(100) {
            RegionLevel::City
        } else {
            RegionLevel::County
        }
    }

    /// The code of the division this one belongs to by its digits: a county's city, a city's province.
    /// Municipalities' counties (e.g. 110101) have the pseudo-city 110100 as parent, as in GB/T 2260.
    pub fn parent(self) -> Option<RegionCode> {
        match self.level() {
            RegionLevel::Province => None,
            RegionLevel::City => Some(RegionCode(self.0 / 10_000 * 10_000)),
            RegionLevel::County => Some(RegionCode(self.0 / 100 * 100)),
        }
    }

    /// Whether `other` is this region or lies inside it.
    pub fn contains(self, other: RegionCode) -> bool {
        match self.level() {
            RegionLevel::Province => self.0 / 10_000 == other.0 / 10_000,
            RegionLevel::City => self.0 / 100 == other.0 / 100,
            RegionLevel::County => self == other,
        }
    }

    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// This region and the ones it lies in, nearest first: a county, its city, its province.
    pub fn ancestry(self) -> impl Iterator<Item = RegionCode> {
        std::iter::successors(Some(self), |r| r.parent())
    }

    /// The lowest region both lie in (the lowest common ancestor in the region tree): the region itself for two
    /// departments of one region, the city for a county and its city, the province for two cities of one
    /// province; `None` across provinces (their common superior is national, above every node's region tree).
    pub fn common_superior(self, other: RegionCode) -> Option<RegionCode> {
        self.ancestry().find(|r| r.contains(other))
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&value)
    }
}

impl From<RegionCode> for String {
    fn from(value: RegionCode) -> Self {
        value.to_string()
    }
}

/// A node of the region tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub parent: Option<RegionCode>,
}

impl Region {
    /// Validates a new region. The parent must exist; that the store checks, because only it knows.
    pub fn parse(code: &str, name: &str) -> Result<Self, ValidationError> {
        let code = RegionCode::parse(code)?;
        let name = required_text("name", "行政区划名称", name, 64)?;
        Ok(Region { code, name, parent: code.parent() })
    }

    pub fn level(&self) -> RegionLevel {
        self.code.level()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A region tree built by structure (province → city → county), apart from the codes' arithmetic.
    fn tree_node() -> impl Strategy<Value = (u8, u32, u32)> {
        (prop::sample::select(PROVINCE_PREFIXES.to_vec()), 0u32..4, 0u32..4)
    }

    /// The node's path from the root of the explicit tree: its province, then its city, then its county.
    fn path((p, c, k): (u8, u32, u32)) -> Vec<RegionCode> {
        let mut out = vec![RegionCode(p as u32 * 10_000)];
        if c > 0 {
            out.push(RegionCode(p as u32 * 10_000 + c * 100));
            if k > 0 {
                out.push(RegionCode(p as u32 * 10_000 + c * 100 + k));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn the_common_superior_is_the_lowest_common_ancestor(a in tree_node(), b in tree_node()) {
            let (pa, pb) = (path(a), path(b));
            // The LCA by the tree: the last node the two root paths share.
            let lca = pa.iter().zip(&pb).take_while(|(x, y)| x == y).last().map(|(x, _)| *x);
            let (ra, rb) = (*pa.last().unwrap(), *pb.last().unwrap());
            prop_assert_eq!(ra.common_superior(rb), lca);
            prop_assert_eq!(rb.common_superior(ra), lca, "symmetric");
            prop_assert_eq!(ra.common_superior(ra), Some(ra), "a region is its own for one region's departments");
        }
    }

    #[test]
    fn levels_and_parents() {
        let zhejiang = RegionCode::parse("330000").unwrap();
        let hangzhou = RegionCode::parse("330100").unwrap();
        let xihu = RegionCode::parse("330106").unwrap();
        assert_eq!(zhejiang.level(), RegionLevel::Province);
        assert_eq!(hangzhou.level(), RegionLevel::City);
        assert_eq!(xihu.level(), RegionLevel::County);
        assert_eq!(xihu.parent(), Some(hangzhou));
        assert_eq!(hangzhou.parent(), Some(zhejiang));
        assert_eq!(zhejiang.parent(), None);
        assert!(zhejiang.contains(xihu));
        assert!(hangzhou.contains(xihu));
        assert!(!hangzhou.contains(RegionCode::parse("330206").unwrap()));
        assert!(!xihu.contains(hangzhou));
    }

    #[test]
    fn rejects_malformed_codes_naming_the_rule() {
        for bad in ["33010", "3301000", "33A100", "", "990000"] {
            let err = RegionCode::parse(bad).unwrap_err();
            assert_eq!(err.field, "region_code", "{bad}");
        }
        assert_eq!(RegionCode::parse("990000").unwrap_err().rule, "unknown_province");
        assert_eq!(RegionCode::parse("33A100").unwrap_err().rule, "format");
    }

    #[test]
    fn display_keeps_six_digits() {
        assert_eq!(RegionCode::parse("110101").unwrap().to_string(), "110101");
    }
}
