use std::borrow::Cow;
use std::fmt;

/// Bad input: which field, which rule it broke (a stable English code), and a message for people (Chinese).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The input field at fault, e.g. `credit_code` or `items[2].code`.
    pub field: Cow<'static, str>,
    pub rule: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<Cow<'static, str>>, rule: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), rule, message: message.into() }
    }

    /// The same error, reported against another field (when a shared parser is used for a named input).
    pub fn for_field(self, field: impl Into<Cow<'static, str>>) -> Self {
        Self { field: field.into(), ..self }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}: {})", self.message, self.field, self.rule)
    }
}

impl std::error::Error for ValidationError {}

/// Keeps a checked value, or adds its problem to the form's list: the way a parser that reports every problem at
/// once goes through its fields.
pub fn keep<T>(problems: &mut Vec<ValidationError>, checked: Result<T, ValidationError>) -> Option<T> {
    checked.map_err(|problem| problems.push(problem)).ok()
}

/// As [`keep`], for a part of the form checked as a whole (its problems are all added).
pub fn keep_all<T>(problems: &mut Vec<ValidationError>, checked: Result<T, Vec<ValidationError>>) -> Option<T> {
    checked.map_err(|mut found| problems.append(&mut found)).ok()
}

/// A date as people type it, `YYYY-MM-DD` (trimmed), or the `date_format` problem naming the field by `label`.
pub fn ymd(field: impl Into<Cow<'static, str>>, label: &str, raw: &str) -> Result<chrono::NaiveDate, ValidationError> {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, "date_format", format!("{label}格式应为 YYYY-MM-DD")))
}

/// Trims and checks a required free-text field for presence and length (in characters, not bytes).
pub fn required_text(
    field: impl Into<Cow<'static, str>>,
    label: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "required", format!("{label}不能为空")));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(ValidationError::new(
            field,
            "too_long",
            format!("{label}最多 {max_chars} 个字符，当前 {chars} 个"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "control_character", format!("{label}不能包含控制字符")));
    }
    let field = field.into();
    check_characters(field.clone(), value)?;
    Ok(value.to_owned())
}

/// A character no text input may hold: NUL and the other C0 and C1 control characters except tab, line feed
/// and carriage return (which free text may use), DEL, and the bidirectional embedding, override and isolate
/// characters (U+202A–U+202E, U+2066–U+2069), which make a name display differently from what it is
/// ("Trojan Source").
pub fn forbidden_character(c: char) -> Option<&'static str> {
    match c {
        '\t' | '\n' | '\r' => None,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Some("control_character"),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => Some("bidi_control"),
        _ => None,
    }
}

/// Refuses text holding a [`forbidden_character`], naming the field, the rule and the character.
pub fn check_characters(field: impl Into<Cow<'static, str>>, value: &str) -> Result<(), ValidationError> {
    let Some((c, rule)) = value.chars().find_map(|c| forbidden_character(c).map(|r| (c, r))) else {
        return Ok(());
    };
    let field = field.into();
    let what = if rule == "bidi_control" { "文字方向控制字符" } else { "控制字符" };
    let message = format!("「{field}」含有不允许的{what}（U+{:04X}），请删除后重试", c as u32);
    Err(ValidationError::new(field, rule, message))
}

/// The longest message an error report repeats, in characters: messages quote the offending value, and a
/// hostile file full of long cells must not turn into a huge report.
pub const MAX_MESSAGE_CHARS: usize = 200;

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters, marked with an ellipsis when cut.
pub fn clip_message(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message,
        Some((end, _)) => format!("{}…", &message[..end]),
    }
}

#[cfg(test)]
mod clip_tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_by_name() {
        assert!(check_characters("name", "浙江省公安厅\t第一行\n第二行\r").is_ok());
        let e = check_characters("username", "a\u{0}b").unwrap_err();
        assert_eq!((e.field.as_ref(), e.rule), ("username", "control_character"));
        assert!(e.message.contains("U+0000"), "{}", e.message);
        let e = check_characters("name", "exe.\u{202e}fdp").unwrap_err();
        assert_eq!(e.rule, "bidi_control");
        for c in ['\u{1b}', '\u{7f}', '\u{85}', '\u{2066}', '\u{2069}'] {
            assert!(forbidden_character(c).is_some(), "{c:?}");
        }
        for c in ['a', '张', '\u{200b}', '…', '\u{3000}'] {
            assert!(forbidden_character(c).is_none(), "{c:?}");
        }
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(clip_message("短".into()), "短");
        let long = "值".repeat(MAX_MESSAGE_CHARS + 5);
        let clipped = clip_message(long);
        assert_eq!(clipped.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }
}
