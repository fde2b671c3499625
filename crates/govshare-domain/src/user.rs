//! Accounts of people (R-SEC-3).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::error::required_text;
use crate::id::define_id;
use crate::org::OrgId;
use crate::role::Role;

define_id! {
    /// Identity of a user account.
    pub struct UserId, field "user_id", message "用户标识格式错误"
}

/// A login name: 3–32 characters of lower-case letters, digits, `.`, `_` and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim().to_ascii_lowercase();
        let field = "username";
        let len = name.chars().count();
        if !(3..=32).contains(&len) {
            return Err(ValidationError::new(field, "length", format!("用户名长度应为 3–32 个字符，当前 {len} 个")));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ValidationError::new(field, "start", "用户名应以英文字母开头"));
        }
        if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
            return Err(ValidationError::new(field, "character", "用户名只能包含英文字母、数字和 . _ - 符号"));
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Username::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

/// Checks a new password against the platform's policy: at least 10 characters, with at least three of
/// lower-case letters, upper-case letters, digits and symbols, and not containing the username.
pub fn check_password_policy(password: &str, username: &Username) -> Result<(), ValidationError> {
    let field = "password";
    let len = password.chars().count();
    if len < 10 {
        return Err(ValidationError::new(field, "too_short", format!("密码至少 10 个字符，当前 {len} 个")));
    }
    if len > 128 {
        return Err(ValidationError::new(field, "too_long", "密码最多 128 个字符"));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|&&c| c).count() < 3 {
        return Err(ValidationError::new(field, "too_simple", "密码应至少包含小写字母、大写字母、数字、符号中的三类"));
    }
    if password.to_ascii_lowercase().contains(username.as_str()) {
        return Err(ValidationError::new(field, "contains_username", "密码不能包含用户名"));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    /// 受托方: staff of a contractor working for a department (Art. 36). Restricted to clerk work.
    pub contractor: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn parse(
        username: &str,
        display_name: &str,
        contractor: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        Ok(User {
            id: UserId::new(),
            username: Username::parse(username)?,
            display_name: required_text("display_name", "姓名", display_name, 50)?,
            contractor,
            disabled: false,
            created_at: now,
        })
    }
}

/// A person's role in one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Membership {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Zhang.San ").unwrap().as_str(), "zhang.san");
        assert_eq!(Username::parse("ab").unwrap_err().rule, "length");
        assert_eq!(Username::parse("1abc").unwrap_err().rule, "start");
        assert_eq!(Username::parse("张三abc").unwrap_err().rule, "start");
        assert_eq!(Username::parse("ab c").unwrap_err().rule, "character");
    }

    #[test]
    fn password_policy() {
        let user = Username::parse("zhangsan").unwrap();
        assert!(check_password_policy("Correct-Horse-9", &user).is_ok());
        assert_eq!(check_password_policy("Short1!", &user).unwrap_err().rule, "too_short");
        assert_eq!(check_password_policy("alllowercaseletters", &user).unwrap_err().rule, "too_simple");
        assert_eq!(check_password_policy("Zhangsan-2026!", &user).unwrap_err().rule, "contains_username");
    }
}
