//! Text measuring and line breaking shared by the outputs.

/// Whether a character is wide (takes a full em: Han, kana, Hangul, full-width forms and CJK punctuation).
pub(crate) fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2014 | 0x2018 | 0x2019 | 0x201C | 0x201D | 0x2026
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD)
}

/// Width of a text in display columns, a wide character counting two (as Excel's column widths do).
pub(crate) fn display_columns(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// An estimate of a text's advance in ems for a CJK sans-serif face whose Latin glyphs are proportional
/// (Noto Sans CJK, Source Han Sans, Microsoft YaHei); used where no font is at hand (the SVG charts).
pub(crate) fn estimate_ems(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            c if is_wide(c) => 1.0,
            ' ' => 0.26,
            '0'..='9' => 0.56,
            '.' | ',' | ':' | ';' | '\'' | '!' | '|' | 'i' | 'j' | 'l' => 0.28,
            'A'..='Z' | '%' | '#' | '&' | '@' => 0.66,
            'm' | 'w' => 0.82,
            _ => 0.54,
        })
        .sum()
}

/// Characters that must not start a line: they stay with the character before.
fn is_closing(c: char) -> bool {
    "，。、；：？！）》」』】〕〉’”…—％,.;:?!)]}%·".contains(c)
}

/// Characters that must not end a line: they go with the character after.
fn is_opening(c: char) -> bool {
    "（《「『【〔〈‘“([{".contains(c)
}

/// Splits a text into the pieces a line may break between: a wide character each, a run of Latin text
/// (a word, a figure like `93.5%`) each, and single spaces. Punctuation that must not start a line is glued
/// to the piece before it, punctuation that must not end one to the piece after it.
pub(crate) fn break_units(text: &str) -> Vec<String> {
    let mut units: Vec<String> = Vec::new();
    let mut latin = String::new();
    let mut opening = String::new();
    let flush_latin = |latin: &mut String, opening: &mut String, units: &mut Vec<String>| {
        if !latin.is_empty() {
            units.push(std::mem::take(opening) + latin);
            latin.clear();
        }
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush_latin(&mut latin, &mut opening, &mut units);
            if !opening.is_empty() {
                units.push(std::mem::take(&mut opening));
            }
            if units.last().is_some_and(|u| u != " ") {
                units.push(" ".to_owned());
            }
        } else if is_opening(c) {
            flush_latin(&mut latin, &mut opening, &mut units);
            opening.push(c);
        } else if is_closing(c) {
            if !latin.is_empty() {
                latin.push(c);
            } else if !opening.is_empty() {
                opening.push(c);
            } else {
                match units.last_mut() {
                    Some(last) if last != " " => last.push(c),
                    _ => units.push(c.to_string()),
                }
            }
        } else if is_wide(c) {
            flush_latin(&mut latin, &mut opening, &mut units);
            units.push(std::mem::take(&mut opening) + &c.to_string());
        } else {
            latin.push(c);
        }
    }
    flush_latin(&mut latin, &mut opening, &mut units);
    if !opening.is_empty() {
        units.push(opening);
    }
    while units.last().is_some_and(|u| u == " ") {
        units.pop();
    }
    units
}

/// Greedy line breaking: `width` measures a piece of text, `first` is the room on the first line and `rest`
/// the room on the following ones. A piece wider than a whole line is cut between characters.
pub(crate) fn wrap(text: &str, first: f32, rest: f32, width: &dyn Fn(&str) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0;
    let room = |lines: &Vec<String>| if lines.is_empty() { first } else { rest };
    for unit in break_units(text) {
        if unit == " " {
            if !line.is_empty() {
                line.push(' ');
                used += width(" ");
            }
            continue;
        }
        let w = width(&unit);
        if used + w <= room(&lines) + 0.01 {
            line.push_str(&unit);
            used += w;
            continue;
        }
        if !line.trim_end().is_empty() {
            lines.push(line.trim_end().to_owned());
            line.clear();
            used = 0.0;
        }
        if w <= room(&lines) + 0.01 {
            line.push_str(&unit);
            used = w;
            continue;
        }
        // Wider than a whole line: cut it character by character.
        for c in unit.chars() {
            let cw = width(c.encode_utf8(&mut [0; 4]));
            if used + cw > room(&lines) + 0.01 && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            line.push(c);
            used += cw;
        }
    }
    if !line.trim_end().is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ems(s: &str) -> f32 {
        s.chars().map(|c| if is_wide(c) { 1.0 } else { 0.5 }).sum()
    }

    #[test]
    fn units_split_cjk_per_character_and_latin_per_word() {
        assert_eq!(break_units("共享 API 调用"), ["共", "享", " ", "API", " ", "调", "用"]);
        assert_eq!(break_units("达到93.5%，较上月"), ["达", "到", "93.5%，", "较", "上", "月"]);
        assert_eq!(break_units("（一）数据。"), ["（一）", "数", "据。"]);
        assert_eq!(break_units("a  b "), ["a", " ", "b"]);
    }

    #[test]
    fn cjk_wraps_per_character_and_punctuation_never_starts_a_line() {
        let lines = wrap("数据共享，按时办结。", 4.0, 4.0, &ems);
        assert_eq!(lines, ["数据共", "享，按时", "办结。"]);
        for line in &lines {
            assert!(ems(line) <= 4.0);
        }
    }

    #[test]
    fn latin_wraps_per_word_and_long_words_are_cut() {
        assert_eq!(wrap("open data sharing", 4.0, 4.0, &ems), ["open", "data", "sharing"]);
        assert_eq!(wrap("open data sharing", 6.0, 6.0, &ems), ["open data", "sharing"]);
        assert_eq!(wrap("abcdefghij", 2.0, 2.0, &ems), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("首行缩进两字", 4.0, 6.0, &ems), ["首行缩进", "两字"]);
        assert!(wrap("", 4.0, 4.0, &ems).is_empty());
    }
}
