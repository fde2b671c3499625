//! Cells written to files that people open in a spreadsheet program (CSV and Excel downloads and exports) are
//! neutralised against formula injection, as OWASP recommends: a value that begins with `=`, `+`, `-`, `@`, a
//! tab or a carriage return gets a leading `'`, so the program shows it as text instead of running it
//! (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`). A plain number such as `-12.5` is left alone: it cannot be a
//! formula, and quoting it would turn figures into text.

use std::borrow::Cow;

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn is_plain_number(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit())
}

/// Whether the value must be quoted: it starts a formula, or it is itself a quote before something that must
/// be (so that reading back removes exactly the quote that writing added).
fn needs_quote(value: &str) -> bool {
    match value.chars().next() {
        Some('\'') => needs_quote(&value[1..]),
        Some(first) => TRIGGERS.contains(&first) && !is_plain_number(value),
        None => false,
    }
}

/// The value as it is safe to write into a CSV or Excel cell.
pub fn neutralise_cell(value: &str) -> Cow<'_, str> {
    if needs_quote(value) { Cow::Owned(format!("'{value}")) } else { Cow::Borrowed(value) }
}

/// [`neutralise_cell`] for a value the caller owns: no copy when nothing changes.
pub fn neutralise_owned(value: String) -> String {
    if needs_quote(&value) { format!("'{value}") } else { value }
}

/// The value a neutralised cell stood for, when a file written by [`neutralise_cell`] is read back.
pub fn restore_cell(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => rest,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn formula_starts_are_quoted() {
        for hostile in
            ["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"点击\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
        {
            let safe = neutralise_cell(hostile);
            assert_eq!(safe, format!("'{hostile}"), "{hostile:?}");
            assert_eq!(restore_cell(&safe), hostile);
        }
    }

    #[test]
    fn ordinary_values_and_numbers_stay() {
        for plain in ["张三", "330106199001011234", "-12.5", "+86", "3.14", "", "a=b", "'quoted"] {
            assert_eq!(neutralise_cell(plain), plain, "{plain:?}");
            assert_eq!(restore_cell(plain), plain, "{plain:?}");
        }
        assert_eq!(neutralise_cell("-"), "'-", "a lone sign is not a number");
    }

    proptest! {
        /// Whatever the value, the written cell never starts a formula, and reading it back gives the value.
        #[test]
        fn written_cells_never_start_a_formula(value in "[=+@\\-\t\r'a-z0-9.]{0,8}") {
            let safe = neutralise_cell(&value);
            let starts_formula = safe.starts_with(TRIGGERS) && !is_plain_number(&safe);
            prop_assert!(!starts_formula, "{:?}", safe);
            prop_assert_eq!(restore_cell(&safe), value.as_str());
            prop_assert_eq!(neutralise_owned(value.clone()), safe.into_owned());
        }
    }
}
