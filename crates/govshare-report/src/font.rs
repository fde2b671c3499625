//! The font the PDF is set in.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ReportError;

/// How to fix a missing font, appended to every font error.
const HINT: &str = "请安装 fonts-noto-cjk 或在配置中指定 report.font";

/// Where [`Font::discover`] looks, in order, with the family wanted inside a collection. The face is chosen
/// by its family name, not by a fixed index: in Debian's `NotoSansCJK-Regular.ttc` 「Noto Sans CJK SC」 is
/// face 2 (0 is JP, 1 KR, 3 TC, 4 HK, 5–9 the Mono faces), and other packagings may order them otherwise.
const CANDIDATES: &[(&str, &str)] = &[
    // Debian, Ubuntu: fonts-noto-cjk
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    // Arch: noto-fonts-cjk; Fedora: google-noto-sans-cjk-ttc-fonts
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
    ("/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
    // fonts-wqy-microhei, fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "WenQuanYi Zen Hei"),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", "WenQuanYi Micro Hei"),
    // fonts-arphic-uming
    ("/usr/share/fonts/truetype/arphic/uming.ttc", "AR PL UMing CN"),
    // Windows, macOS
    ("C:\\Windows\\Fonts\\msyh.ttc", "Microsoft YaHei"),
    ("C:\\Windows\\Fonts\\simsun.ttc", "SimSun"),
    ("/System/Library/Fonts/PingFang.ttc", "PingFang SC"),
    ("/System/Library/Fonts/STHeiti Light.ttc", "Heiti SC"),
];

/// A font with Chinese glyphs: the bytes of a font file (TrueType, OpenType/CFF, or a collection of them)
/// and the index of the face to use within it. Cloning is cheap (the bytes are shared).
#[derive(Clone)]
pub struct Font {
    data: Arc<Vec<u8>>,
    index: u32,
    family: String,
    source: String,
}

impl fmt::Debug for Font {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Font")
            .field("source", &self.source)
            .field("index", &self.index)
            .field("family", &self.family)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Font {
    /// Loads face `index` of a font file (0 for a single font; in Debian's
    /// `/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc`, 2 is 「Noto Sans CJK SC」).
    pub fn from_file(path: &Path, index: u32) -> Result<Font, ReportError> {
        let data = std::fs::read(path)
            .map_err(|e| ReportError::Font(format!("无法读取字体文件 {}（{e}）：{HINT}", path.display())))?;
        Font::from_parts(Arc::new(data), index, path.display().to_string())
    }

    /// A font from bytes already in memory (`index` as for [`Font::from_file`]).
    pub fn from_bytes(data: Vec<u8>, index: u32) -> Result<Font, ReportError> {
        Font::from_parts(Arc::new(data), index, "<memory>".to_owned())
    }

    /// Finds a Chinese font in the standard locations of Linux distributions, Windows and macOS, Noto Sans
    /// CJK SC (Debian's `fonts-noto-cjk`) first; see the error for the full list.
    pub fn discover() -> Result<Font, ReportError> {
        let candidates: Vec<(PathBuf, &str)> = CANDIDATES.iter().map(|(p, f)| (PathBuf::from(p), *f)).collect();
        discover_among(&candidates)
    }

    /// The family name of the face, e.g. 「Noto Sans CJK SC」.
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The index of the face within its file.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Where the font was read from (a path, or `<memory>`).
    pub fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn data(&self) -> &Arc<Vec<u8>> {
        &self.data
    }

    pub(crate) fn face(&self) -> ttf_parser::Face<'_> {
        // Checked when the font was made.
        ttf_parser::Face::parse(&self.data, self.index).expect("font checked on creation")
    }

    fn from_parts(data: Arc<Vec<u8>>, index: u32, source: String) -> Result<Font, ReportError> {
        let face = ttf_parser::Face::parse(&data, index).map_err(|e| {
            ReportError::Font(format!("字体文件 {source} 中的第 {index} 号字体无法使用（{e}）：{HINT}"))
        })?;
        if !"中国数据".chars().all(|c| face.glyph_index(c).is_some()) {
            return Err(ReportError::Font(format!("字体 {source}（第 {index} 号）不含中文字形：{HINT}")));
        }
        let family = family_name(&face).unwrap_or_default();
        Ok(Font { data, index, family, source })
    }
}

/// The first usable candidate: the face whose family is the one wanted, or else the first face with Chinese
/// glyphs.
pub(crate) fn discover_among(candidates: &[(PathBuf, &str)]) -> Result<Font, ReportError> {
    for (path, family) in candidates {
        let Ok(data) = std::fs::read(path) else { continue };
        let data = Arc::new(data);
        let count = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        let wanted = (0..count).find(|&i| {
            ttf_parser::Face::parse(&data, i).ok().and_then(|face| family_name(&face)).is_some_and(|f| f == *family)
        });
        let source = path.display().to_string();
        if let Some(index) = wanted
            && let Ok(font) = Font::from_parts(data.clone(), index, source.clone())
        {
            return Ok(font);
        }
        if let Some(font) = (0..count).find_map(|i| Font::from_parts(data.clone(), i, source.clone()).ok()) {
            return Ok(font);
        }
    }
    let looked: Vec<String> = candidates.iter().map(|(p, _)| p.display().to_string()).collect();
    Err(ReportError::Font(format!("未找到中文字体（已查找：{}）：{HINT}", looked.join("、"))))
}

/// The face's family name (the typographic family where there is one), in English where there is one.
fn family_name(face: &ttf_parser::Face<'_>) -> Option<String> {
    use ttf_parser::name_id::{FAMILY, TYPOGRAPHIC_FAMILY};
    let names: Vec<_> = face.names().into_iter().filter(|n| n.is_unicode()).collect();
    [TYPOGRAPHIC_FAMILY, FAMILY].iter().find_map(|&id| {
        let of_id = || names.iter().filter(move |n| n.name_id == id);
        of_id()
            .find(|n| n.language_id == 0x0409)
            .and_then(|n| n.to_string())
            .or_else(|| of_id().find_map(|n| n.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_says_what_was_looked_for_and_how_to_fix_it() {
        let err = Font::from_file(Path::new("/nonexistent/NotoSansCJK-Regular.ttc"), 2).unwrap_err();
        let ReportError::Font(message) = &err else { panic!("not a font error: {err:?}") };
        assert!(message.contains("/nonexistent/NotoSansCJK-Regular.ttc"), "{message}");
        assert!(message.contains("fonts-noto-cjk") && message.contains("report.font"), "{message}");
    }

    #[test]
    fn discovery_without_any_font_lists_every_place_looked() {
        let candidates =
            [(PathBuf::from("/nonexistent/a.ttc"), "Noto Sans CJK SC"), (PathBuf::from("/nonexistent/b.ttf"), "X")];
        let err = discover_among(&candidates).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("未找到中文字体"), "{message}");
        assert!(message.contains("/nonexistent/a.ttc") && message.contains("/nonexistent/b.ttf"), "{message}");
        assert!(message.contains("请安装 fonts-noto-cjk 或在配置中指定 report.font"), "{message}");
    }

    #[test]
    fn bytes_that_are_no_font_are_refused() {
        let err = Font::from_bytes(b"not a font".to_vec(), 0).unwrap_err();
        assert!(matches!(err, ReportError::Font(_)), "{err:?}");
    }
}
