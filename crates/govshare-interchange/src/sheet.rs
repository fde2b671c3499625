//! Reading a worksheet within bounds (R-SEC-4). calamine's `worksheet_range` makes one dense grid from the
//! first to the last used cell, so a workbook of a few kilobytes with cells at A1 and XFD1048576 asks for
//! 17 billion cells (hundreds of GiB) and aborts the process. Here the cells are streamed, every position and
//! the cell count are checked against limits before anything is kept, and only the used rows are kept, each
//! as wide as its own last used cell. The parts' declared unpacked sizes are checked first, so a
//! decompression bomb in the shared-strings part (which calamine reads whole when it opens the workbook) is
//! refused before it is inflated.

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use calamine::{Data, Xlsx};

/// How large a worksheet may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SheetLimits {
    /// Rows, counted from the sheet's first row (Excel's own limit is 1,048,576).
    pub max_rows: u32,
    /// Columns, counted from column A (Excel's own limit is 16,384).
    pub max_columns: u32,
    /// Non-empty cells.
    pub max_cells: u64,
    /// The text of all cells together, in bytes: one long shared string referenced by every cell of a small
    /// file would otherwise be copied into each of them.
    pub max_text_bytes: u64,
    /// The sum of the declared unpacked sizes of the workbook's parts.
    pub max_unpacked_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// Not a workbook, or a part is malformed.
    #[error("{0}")]
    Unreadable(String),
    /// The workbook is larger than the limits; the message names the limit and, where there is one, the cell.
    #[error("{0}")]
    TooLarge(String),
}

/// A used row: its 0-based index in the sheet and its cells' text from column A, up to its last used cell.
pub type SheetRow = (u32, Vec<String>);

/// The name of the cell at 0-based (row, column), e.g. `XFD1048576`.
pub fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut c = column + 1;
    while c > 0 {
        let rem = (c - 1) % 26;
        letters.push(b'A' + rem as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row + 1)
}

/// Refuses a workbook whose parts declare more unpacked bytes than the limit, before calamine inflates any.
pub fn check_unpacked_size<R: Read + Seek>(reader: R, limits: &SheetLimits) -> Result<(), SheetError> {
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|_| SheetError::Unreadable("不是有效的 Excel（.xlsx）文件".into()))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let part = archive
            .by_index_raw(i)
            .map_err(|_| SheetError::Unreadable("Excel 文件已损坏，无法读取其中的部件".into()))?;
        total = total.saturating_add(part.size());
    }
    if total > limits.max_unpacked_bytes {
        return Err(SheetError::TooLarge(format!(
            "Excel 文件解压后超过 {} MiB 的上限，请拆分后分批上传，或改用 CSV 格式",
            limits.max_unpacked_bytes >> 20
        )));
    }
    Ok(())
}

/// The used rows of sheet `name`, in order, with every cell as text through `text`.
pub fn read_rows<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    name: &str,
    limits: &SheetLimits,
    text: impl Fn(&Data) -> String,
) -> Result<Vec<SheetRow>, SheetError> {
    let mut cells = book
        .worksheet_cells_reader(name)
        .map_err(|e| SheetError::Unreadable(format!("工作表「{name}」无法读取：{e}")))?;
    let mut rows: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    let mut count: u64 = 0;
    let mut text_bytes: u64 = 0;
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => return Err(SheetError::Unreadable(format!("工作表「{name}」无法读取：{e}"))),
        };
        let (row, column) = cell.get_position();
        if row >= limits.max_rows || column >= limits.max_columns {
            return Err(SheetError::TooLarge(format!(
                "工作表「{name}」的单元格 {} 超出范围：最多 {} 行、{} 列",
                cell_name(row, column),
                limits.max_rows,
                limits.max_columns
            )));
        }
        let value = Data::from(cell.get_value().clone());
        if matches!(value, Data::Empty) {
            continue;
        }
        count += 1;
        if count > limits.max_cells {
            return Err(SheetError::TooLarge(format!(
                "工作表「{name}」的非空单元格超过 {} 个的上限，请拆分后分批上传，或改用 CSV 格式",
                limits.max_cells
            )));
        }
        let value = text(&value);
        text_bytes += value.len() as u64;
        if text_bytes > limits.max_text_bytes {
            return Err(SheetError::TooLarge(format!(
                "工作表「{name}」的内容超过 {} MiB 的上限，请拆分后分批上传，或改用 CSV 格式",
                limits.max_text_bytes >> 20
            )));
        }
        if !value.is_empty() {
            rows.entry(row).or_default().push((column, value));
        }
    }
    Ok(rows
        .into_iter()
        .map(|(row, mut cells)| {
            cells.sort_by_key(|(c, _)| *c);
            let width = cells.last().map_or(0, |(c, _)| *c as usize + 1);
            let mut dense = vec![String::new(); width];
            for (c, v) in cells {
                dense[c as usize] = v;
            }
            (row, dense)
        })
        .collect())
}

/// The name of the workbook's first sheet.
pub fn first_sheet<RS: Read + Seek>(book: &Xlsx<RS>) -> Option<String> {
    use calamine::Reader;
    book.sheet_names().first().cloned()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn workbook(cells: &[(u32, u16, &str)]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (r, c, v) in cells {
            sheet.write_string(*r, *c, *v).unwrap();
        }
        book.save_to_buffer().unwrap()
    }

    const LIMITS: SheetLimits = SheetLimits {
        max_rows: 100,
        max_columns: 10,
        max_cells: 20,
        max_text_bytes: 1000,
        max_unpacked_bytes: 1 << 20,
    };

    fn read(bytes: &[u8], limits: &SheetLimits) -> Result<Vec<SheetRow>, SheetError> {
        check_unpacked_size(Cursor::new(bytes), limits)?;
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
        let name = first_sheet(&book).unwrap();
        read_rows(&mut book, &name, limits, |d| d.to_string())
    }

    #[test]
    fn names_cells_like_excel() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(9, 25), "Z10");
        assert_eq!(cell_name(0, 26), "AA1");
        assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
    }

    #[test]
    fn keeps_only_used_rows_each_as_wide_as_its_last_cell() {
        let rows = read(&workbook(&[(0, 0, "姓名"), (0, 2, "金额"), (5, 1, "x")]), &LIMITS).unwrap();
        assert_eq!(rows, vec![(0, vec!["姓名".into(), "".into(), "金额".into()]), (5, vec!["".into(), "x".into()])]);
    }

    #[test]
    fn a_far_cell_is_refused_by_name_without_allocating_the_grid() {
        // The shape of the hostile file: A1 and XFD1048576. calamine's dense range would need ~512 GiB.
        let bytes = workbook(&[(0, 0, "a"), (1_048_575, 16_383, "b")]);
        let limits = SheetLimits { max_rows: 1_048_576, max_columns: 512, ..LIMITS };
        let err = read(&bytes, &limits).unwrap_err();
        assert!(matches!(&err, SheetError::TooLarge(m) if m.contains("XFD1048576") && m.contains("512 列")), "{err:?}");
        let err = read(&workbook(&[(100, 0, "a")]), &LIMITS).unwrap_err();
        assert!(matches!(&err, SheetError::TooLarge(m) if m.contains("A101")), "{err:?}");
    }

    #[test]
    fn too_many_cells_and_too_many_unpacked_bytes_are_refused() {
        let cells: Vec<(u32, u16, &str)> = (0..21).map(|i| (i / 5, (i % 5) as u16, "v")).collect();
        let err = read(&workbook(&cells), &LIMITS).unwrap_err();
        assert!(matches!(&err, SheetError::TooLarge(m) if m.contains("20 个")), "{err:?}");
        let long = "长".repeat(200);
        let err = read(&workbook(&[(0, 0, &long), (1, 0, &long)]), &LIMITS).unwrap_err();
        assert!(matches!(&err, SheetError::TooLarge(m) if m.contains("内容超过")), "{err:?}");
        let err = read(&workbook(&[(0, 0, "a")]), &SheetLimits { max_unpacked_bytes: 100, ..LIMITS }).unwrap_err();
        assert!(matches!(&err, SheetError::TooLarge(m) if m.contains("解压")), "{err:?}");
        assert!(matches!(read(b"not a zip", &LIMITS), Err(SheetError::Unreadable(_))));
    }
}
