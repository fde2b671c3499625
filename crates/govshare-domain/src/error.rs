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
        return Err(ValidationError::new(field, "too_long", format!("{label}最多 {max_chars} 个字符,当前 {chars} 个")));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "control_character", format!("{label}不能包含控制字符")));
    }
    Ok(value.to_owned())
}
