//! Reading back a QR code that the console drew with half blocks (see `moat::tui::qr`):
//! each cell holds two modules, a drawn half is a light module and a blank half a dark
//! one (`█` both light, `▀` upper light, `▄` lower light, ` ` both dark).
//!
//! A screen holds more than the code, so the code is looked for first: a QR code drawn
//! this way is framed by its quiet zone, a ring of drawn halves, so it is one connected
//! patch of cells holding `█`, `▀` or `▄`. Each such patch (largest first) is cut out by
//! its bounding box and rasterized on its own, every module a 4×4 square of pixels, with
//! a light margin around it, then handed to `rqrr`. Text beside the code, a title above
//! it or a stray block character elsewhere on the screen is never part of the image.

use unicode_width::UnicodeWidthChar;

/// Pixels per module, each way.
const SCALE: usize = 4;
/// Light margin around the cut-out patch, in modules.
const MARGIN: usize = 4;

fn is_block(c: char) -> bool {
    matches!(c, '█' | '▀' | '▄')
}

/// Whether the (upper, lower) halves of a cell inside the code are light. Blanks are
/// dark; any other character counts as light paper.
fn halves(c: char) -> (bool, bool) {
    match c {
        ' ' => (false, false),
        '▀' => (true, false),
        '▄' => (false, true),
        _ => (true, true),
    }
}

/// Decode the QR code drawn with half blocks in `screen` (the lines of a vt100 screen's
/// contents, one String per terminal row). Returns the decoded text, or None.
pub fn decode_screen(rows: &[String]) -> Option<String> {
    // Cells by terminal column: a wide character fills two (its second, a NUL, counts as
    // light), a zero-width one none; a row's missing tail is blank.
    let grid: Vec<Vec<char>> = rows
        .iter()
        .map(|row| {
            let mut cells = Vec::new();
            for c in row.chars() {
                match c.width() {
                    Some(0) => {}
                    Some(2) => cells.extend([c, '\0']),
                    _ => cells.push(c),
                }
            }
            cells
        })
        .collect();
    let at = |x: usize, y: usize| grid[y].get(x).copied().unwrap_or(' ');

    // Bounding boxes of the patches of block characters (8-connected), largest first.
    let mut seen: Vec<Vec<bool>> = grid.iter().map(|r| vec![false; r.len()]).collect();
    let mut boxes = Vec::new();
    for y0 in 0..grid.len() {
        for x0 in 0..grid[y0].len() {
            if seen[y0][x0] || !is_block(grid[y0][x0]) {
                continue;
            }
            seen[y0][x0] = true;
            let (mut left, mut right, mut top, mut bottom) = (x0, x0, y0, y0);
            let mut stack = vec![(x0, y0)];
            while let Some((x, y)) = stack.pop() {
                (left, right) = (left.min(x), right.max(x));
                (top, bottom) = (top.min(y), bottom.max(y));
                for ny in y.saturating_sub(1)..=(y + 1).min(grid.len() - 1) {
                    for nx in x.saturating_sub(1)..=x + 1 {
                        if nx < grid[ny].len() && !seen[ny][nx] && is_block(grid[ny][nx]) {
                            seen[ny][nx] = true;
                            stack.push((nx, ny));
                        }
                    }
                }
            }
            boxes.push((left, top, right + 1 - left, bottom + 1 - top));
        }
    }
    boxes.sort_by_key(|&(_, _, w, h)| std::cmp::Reverse(w * h));

    boxes.into_iter().find_map(|(left, top, cols, rows)| {
        // The smallest QR code is 21 modules: 21 columns and 11 rows.
        if cols < 21 || rows < 11 {
            return None;
        }
        let (w, h) = ((cols + 2 * MARGIN) * SCALE, (2 * rows + 2 * MARGIN) * SCALE);
        // `true` is a dark pixel.
        let mut img = rqrr::PreparedImage::prepare_from_bitmap(w, h, |px, py| {
            let (mx, my) = (px / SCALE, py / SCALE);
            let (Some(x), Some(y)) = (mx.checked_sub(MARGIN), my.checked_sub(MARGIN)) else {
                return false;
            };
            if x >= cols || y >= 2 * rows {
                return false;
            }
            let (upper, lower) = halves(at(left + x, top + y / 2));
            !if y % 2 == 0 { upper } else { lower }
        });
        img.detect_grids()
            .into_iter()
            .find_map(|grid| grid.decode().ok().map(|(_meta, text)| text))
    })
}
