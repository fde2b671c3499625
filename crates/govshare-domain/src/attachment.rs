//! Attachments of corrections and public complaints: a document or a photo sent as evidence. Only PDF, PNG and
//! JPEG are accepted, recognised by their content (never by the name or the declared type), and at most
//! [`MAX_ATTACHMENT_BYTES`]; the name is cleaned of any path.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// The largest attachment: 2 MiB.
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;

/// An attachment as kept beside its case (the bytes are stored apart, encrypted with the node key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: uuid::Uuid,
    pub name: String,
    pub content_type: String,
    pub bytes: u64,
    /// SM3 of the content, hex.
    pub sm3: String,
}

/// The content type of an accepted file, from its first bytes.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Checks an upload: not empty, not too large, one of the accepted kinds; returns the clean name and the type.
pub fn check(field: &'static str, name: &str, data: &[u8]) -> Result<(String, &'static str), ValidationError> {
    if data.is_empty() {
        return Err(ValidationError::new(field, "empty", "附件为空"));
    }
    if data.len() > MAX_ATTACHMENT_BYTES {
        return Err(ValidationError::new(
            field,
            "too_large",
            format!("附件最大 {} MB，当前 {:.1} MB", MAX_ATTACHMENT_BYTES / 1024 / 1024, data.len() as f64 / 1048576.0),
        ));
    }
    let Some(content_type) = sniff(data) else {
        return Err(ValidationError::new(field, "file_type", "附件只接受 PDF、PNG 或 JPEG 文件"));
    };
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| crate::error::forbidden_character(*c).is_none() && !c.is_control() && !"<>:\"|?*".contains(*c))
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    let clean =
        if clean.is_empty() { format!("附件.{}", content_type.rsplit('/').next().unwrap_or("bin")) } else { clean };
    Ok((clean, content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_documents_and_photos_by_content_within_the_size() {
        assert_eq!(
            check("attachment", "../../etc/证明.pdf", b"%PDF-1.7 x").unwrap(),
            ("证明.pdf".into(), "application/pdf")
        );
        assert_eq!(check("attachment", "a.png", b"\x89PNG\r\n\x1a\nrest").unwrap().1, "image/png");
        assert_eq!(check("attachment", "x.pdf", b"<html>").unwrap_err().rule, "file_type", "the name does not decide");
        assert_eq!(check("attachment", "x.pdf", b"").unwrap_err().rule, "empty");
        let big = [b"%PDF-".as_slice(), &vec![0u8; MAX_ATTACHMENT_BYTES]].concat();
        assert_eq!(check("attachment", "x.pdf", &big).unwrap_err().rule, "too_large");
        assert_eq!(check("attachment", "\u{202e}.pdf", b"%PDF-").unwrap().0, "pdf", "no bidi, no leading dot");
    }
}
