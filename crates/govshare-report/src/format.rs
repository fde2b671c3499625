//! How figures are written, the same in the PDF, the charts and the workbook's text.

use crate::MISSING;

/// A count with thousands separators: `1234` → `1,234`.
pub fn format_int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    group_thousands(&digits, &mut out);
    out
}

/// A rate (a fraction) as a percentage with one decimal: `Some(0.935)` → `93.5%`, `None` → `—`.
pub fn format_rate(rate: Option<f64>) -> String {
    match rate {
        Some(r) if r.is_finite() => {
            let text = format!("{:.1}%", r * 100.0);
            // -0.0 formats as "-0.0"; a rate that rounds to zero is simply 0.0%.
            if text == "-0.0%" { "0.0%".to_owned() } else { text }
        }
        _ => MISSING.to_owned(),
    }
}

/// A figure with thousands separators and at most two decimals, trailing zeros dropped:
/// `1234.0` → `1,234`, `12.5` → `12.5`, `0.126` → `0.13`; a non-finite value is `—`.
pub fn format_number(v: f64) -> String {
    format_decimals(v, 2)
}

/// Like [`format_number`] with at most `decimals` decimals.
pub(crate) fn format_decimals(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    let text = format!("{:.*}", decimals, v.abs());
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f.trim_end_matches('0')),
        None => (text.as_str(), ""),
    };
    let mut out = String::new();
    if v < 0.0 && (int_part.bytes().any(|b| b != b'0') || !frac_part.is_empty()) {
        out.push('-');
    }
    group_thousands(int_part, &mut out);
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(frac_part);
    }
    out
}

/// A chart value: a percentage (one decimal) when `percent`, else [`format_number`].
pub(crate) fn format_value(v: f64, percent: bool) -> String {
    if percent { format_rate(Some(v)) } else { format_number(v) }
}

fn group_thousands(digits: &str, out: &mut String) {
    let len = digits.len();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_get_thousands_separators() {
        assert_eq!(format_int(0), "0");
        assert_eq!(format_int(999), "999");
        assert_eq!(format_int(1234), "1,234");
        assert_eq!(format_int(-1234567), "-1,234,567");
        assert_eq!(format_int(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn rates_are_percentages_with_one_decimal() {
        assert_eq!(format_rate(Some(0.935)), "93.5%");
        assert_eq!(format_rate(Some(1.0)), "100.0%");
        assert_eq!(format_rate(Some(0.0)), "0.0%");
        assert_eq!(format_rate(Some(-0.0001)), "0.0%");
        assert_eq!(format_rate(None), "—");
        assert_eq!(format_rate(Some(f64::NAN)), "—");
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!(format_number(1234.0), "1,234");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(0.126), "0.13");
        assert_eq!(format_number(-0.001), "0");
        assert_eq!(format_number(-2500.25), "-2,500.25");
        assert_eq!(format_number(f64::INFINITY), "—");
    }
}
