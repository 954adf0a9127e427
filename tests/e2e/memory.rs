//! What each open session keeps in memory: its two screen buffers dominate (one cell per
//! character of the terminal, twice), so a cell's size is watched here.

/// A cell without `underline-color` (which moat never draws): 40 bytes instead of 48, so
/// a session at 80×24 keeps 30 KiB less (BENCHMARKS.md, "1,000 open sessions").
#[test]
fn a_screen_cell_is_40_bytes() {
    assert_eq!(std::mem::size_of::<ratatui::buffer::Cell>(), 40);
}
