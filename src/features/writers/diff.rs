//! Differences between two manuscript versions, shaped for a UI to render directly.
//!
//! Built on `similar` (Myers' algorithm) with a deadline: past [`DIFF_TIMEOUT`] the algorithm
//! stops refining and reports the remaining middle as deleted + inserted, so a diff of any size
//! finishes in bounded time and is still exact (only less fine-grained).

use std::time::{Duration, Instant};

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffTag, TextDiffConfig};

use super::analysis::WordRanges;

/// How long one [`diff`] call may spend refining before it settles for a coarser result.
pub const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum DiffGranularity {
    /// Lines (a paragraph is a line in most manuscripts): a changed line is deleted and
    /// inserted whole. Line breaks are compared on their own, so a last line that gains or loses
    /// its newline is not reported as changed.
    Line,
    /// Words, with whitespace and each punctuation mark as separate tokens.
    Word,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum DiffOp {
    Equal,
    Insert,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct DiffSpan {
    pub op: DiffOp,
    pub text: String,
}

/// A diff a UI can render directly: consecutive spans of the same op merged; concatenating
/// equal+delete spans gives `old`, equal+insert gives `new` exactly. Within a change, the
/// delete span comes before the insert span.
#[derive(Debug, Clone, Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TextDiff {
    pub granularity: DiffGranularity,
    pub hunks: Vec<DiffSpan>,
    /// Words added. Words are counted as in the manuscript word count and compared word by
    /// word whatever the granularity: a one-word edit in a long paragraph is 1 removed + 1
    /// added even though the line view marks the whole paragraph.
    pub added_words: u64,
    /// Words removed; `unchangedWords + removedWords` is the old version's word count.
    pub removed_words: u64,
    /// Words kept; `unchangedWords + addedWords` is the new version's word count.
    pub unchanged_words: u64,
}

/// Diff `old` against `new` (see [`TextDiff`]), refining for at most [`DIFF_TIMEOUT`].
pub fn diff(old: &str, new: &str, granularity: DiffGranularity) -> TextDiff {
    diff_within(old, new, granularity, DIFF_TIMEOUT)
}

/// [`diff`] with another time budget. Past it the result stays exact but gets coarser (the
/// unrefined middle is reported as one deletion and one insertion) and the word counts count
/// that middle as removed and added.
pub fn diff_within(old: &str, new: &str, granularity: DiffGranularity, timeout: Duration) -> TextDiff {
    let mut config = TextDiffConfig::default();
    config.algorithm(Algorithm::Myers);
    if let Some(deadline) = Instant::now().checked_add(timeout) {
        config.deadline(deadline);
    }

    let (segments, counts) = match granularity {
        DiffGranularity::Word => {
            let (old_tokens, new_tokens) = (word_tokens(old), word_tokens(new));
            let d = config.diff_slices(&old_tokens, &new_tokens);
            let changes = flatten_ops(d.ops(), &old_tokens, &new_tokens);
            let counts = count_changes(&changes);
            let same_line_space = |s: &str| s.chars().all(|c| c.is_whitespace() && c != '\n' && c != '\r');
            (fold_separators(segments_of(&changes), same_line_space), counts)
        }
        DiffGranularity::Line => {
            let (old_lines, new_lines) = (line_tokens(old), line_tokens(new));
            let d = config.diff_slices(&old_lines, &new_lines);
            let changes = flatten_ops(d.ops(), &old_lines, &new_lines);
            let segments = fold_separators(segments_of(&changes), |s| matches!(s, "\n" | "\r\n" | "\r"));
            // Words: unchanged lines count as they are; each changed block is diffed word by word.
            let mut counts = Counts::default();
            for s in &segments {
                match s {
                    Segment::Equal(text) => counts.unchanged += super::analysis::count_words(text),
                    Segment::Change { del, ins } => {
                        let (o, n) = (word_tokens(del), word_tokens(ins));
                        let d = config.diff_slices(&o, &n);
                        let c = count_changes(&flatten_ops(d.ops(), &o, &n));
                        counts.added += c.added;
                        counts.removed += c.removed;
                        counts.unchanged += c.unchanged;
                    }
                }
            }
            (segments, counts)
        }
    };

    let mut hunks = Vec::new();
    for s in segments {
        match s {
            Segment::Equal(text) => hunks.push(DiffSpan { op: DiffOp::Equal, text }),
            Segment::Change { del, ins } => {
                if !del.is_empty() {
                    hunks.push(DiffSpan { op: DiffOp::Delete, text: del });
                }
                if !ins.is_empty() {
                    hunks.push(DiffSpan { op: DiffOp::Insert, text: ins });
                }
            }
        }
    }
    TextDiff {
        granularity,
        hunks,
        added_words: counts.added,
        removed_words: counts.removed,
        unchanged_words: counts.unchanged,
    }
}

/// Line contents and line breaks (`\n`, `\r\n`, `\r`) as separate tokens.
fn line_tokens(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if matches!(bytes[i], b'\n' | b'\r') {
            if start < i {
                out.push(&text[start..i]);
            }
            let end = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') { i + 2 } else { i + 1 };
            out.push(&text[i..end]);
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < bytes.len() {
        out.push(&text[start..]);
    }
    out
}

/// Words (as `count_words` finds them), whitespace runs, and every other character alone.
fn word_tokens(text: &str) -> Vec<&str> {
    fn gap<'a>(g: &'a str, out: &mut Vec<&'a str>) {
        let mut ws_start: Option<usize> = None;
        for (i, c) in g.char_indices() {
            if c.is_whitespace() {
                ws_start.get_or_insert(i);
            } else {
                if let Some(s) = ws_start.take() {
                    out.push(&g[s..i]);
                }
                out.push(&g[i..i + c.len_utf8()]);
            }
        }
        if let Some(s) = ws_start {
            out.push(&g[s..]);
        }
    }
    let mut out = Vec::new();
    let mut pos = 0;
    for r in WordRanges::new(text) {
        gap(&text[pos..r.start], &mut out);
        out.push(&text[r.clone()]);
        pos = r.end;
    }
    gap(&text[pos..], &mut out);
    out
}

/// The diff as a flat list of (op, token) in output order: for a replacement, the deleted
/// tokens before the inserted ones.
fn flatten_ops<'a>(ops: &[similar::DiffOp], old: &[&'a str], new: &[&'a str]) -> Vec<(DiffOp, &'a str)> {
    let mut out = Vec::new();
    for op in ops {
        let (tag, o, n) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => out.extend(old[o].iter().map(|&t| (DiffOp::Equal, t))),
            DiffTag::Delete => out.extend(old[o].iter().map(|&t| (DiffOp::Delete, t))),
            DiffTag::Insert => out.extend(new[n].iter().map(|&t| (DiffOp::Insert, t))),
            DiffTag::Replace => {
                out.extend(old[o].iter().map(|&t| (DiffOp::Delete, t)));
                out.extend(new[n].iter().map(|&t| (DiffOp::Insert, t)));
            }
        }
    }
    out
}

#[derive(Default)]
struct Counts {
    added: u64,
    removed: u64,
    unchanged: u64,
}

fn count_changes(changes: &[(DiffOp, &str)]) -> Counts {
    let mut c = Counts::default();
    for &(op, text) in changes {
        let n = super::analysis::count_words(text);
        match op {
            DiffOp::Equal => c.unchanged += n,
            DiffOp::Insert => c.added += n,
            DiffOp::Delete => c.removed += n,
        }
    }
    c
}

/// Alternating runs of equal text and changes (what was deleted and what was inserted there).
enum Segment {
    Equal(String),
    Change { del: String, ins: String },
}

fn segments_of(changes: &[(DiffOp, &str)]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for &(op, text) in changes {
        match (op, out.last_mut()) {
            (DiffOp::Equal, Some(Segment::Equal(s))) => s.push_str(text),
            (DiffOp::Equal, _) => out.push(Segment::Equal(text.to_owned())),
            (DiffOp::Delete, Some(Segment::Change { del, .. })) => del.push_str(text),
            (DiffOp::Insert, Some(Segment::Change { ins, .. })) => ins.push_str(text),
            (DiffOp::Delete, _) => out.push(Segment::Change { del: text.to_owned(), ins: String::new() }),
            (DiffOp::Insert, _) => out.push(Segment::Change { del: String::new(), ins: text.to_owned() }),
        }
    }
    out
}

/// Reworded passages come out as `-the +a␣-quick +slow` (words) or `-line1 +new1⏎-line2 +new2`
/// (lines); an unchanged separator between two changes (same-line whitespace for words, a single
/// line break for lines) is folded into them (`-the quick +a slow`), which reads far better and
/// keeps the reconstruction exact (the separator goes to both sides).
fn fold_separators(segments: Vec<Segment>, is_separator: impl Fn(&str) -> bool) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(segments.len());
    for seg in segments {
        if let Segment::Change { del: d2, ins: i2 } = &seg
            && let [.., Segment::Change { del: d1, ins: i1 }, Segment::Equal(ws)] = out.as_slice()
            && !ws.is_empty()
            && is_separator(ws)
            && (!d1.is_empty() || !d2.is_empty())
            && (!i1.is_empty() || !i2.is_empty())
        {
            let del = format!("{d1}{ws}{d2}");
            let ins = format!("{i1}{ws}{i2}");
            out.truncate(out.len() - 2);
            out.push(Segment::Change { del, ins });
            continue;
        }
        out.push(seg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::analysis::count_words;
    use super::*;

    fn rebuild(d: &TextDiff) -> (String, String) {
        let mut old = String::new();
        let mut new = String::new();
        for h in &d.hunks {
            match h.op {
                DiffOp::Equal => {
                    old.push_str(&h.text);
                    new.push_str(&h.text);
                }
                DiffOp::Delete => old.push_str(&h.text),
                DiffOp::Insert => new.push_str(&h.text),
            }
        }
        (old, new)
    }

    fn check(old: &str, new: &str) {
        for g in [DiffGranularity::Line, DiffGranularity::Word] {
            let d = diff(old, new, g);
            assert_eq!(d.granularity, g);
            assert_eq!(rebuild(&d), (old.to_owned(), new.to_owned()), "{g:?} {old:?} → {new:?}");
            for w in d.hunks.windows(2) {
                assert_ne!(w[0].op, w[1].op, "unmerged spans in {:?}", d.hunks);
                assert!(!(w[0].op == DiffOp::Insert && w[1].op == DiffOp::Delete), "insert before delete: {:?}", d.hunks);
            }
            assert!(d.hunks.iter().all(|h| !h.text.is_empty()));
            assert_eq!(d.unchanged_words + d.removed_words, count_words(old), "{g:?} {old:?} → {new:?}");
            assert_eq!(d.unchanged_words + d.added_words, count_words(new), "{g:?} {old:?} → {new:?}");
        }
    }

    #[test]
    fn reconstruction_holds() {
        let cases = [
            ("", ""),
            ("", "Brand new text.\nSecond line"),
            ("Everything goes.\n", ""),
            ("same", "same"),
            ("The quick brown fox.", "The slow brown fox!"),
            ("one\ntwo\nthree\n", "one\n2\nthree\nfour"),
            ("line one\r\nline two\r\nline three", "line one\r\nline 2\r\nline three\r\n"),
            ("mixed\r\nendings\nhere\r", "mixed\nendings\r\nhere"),
            ("Ünïcödé café — naïve\n東京に行きます。", "Ünïcödé cafe — naive\n京都に行きました。"),
            ("emoji 👩‍👩‍👧 family", "emoji 👩‍👩‍👦 family"),
            ("Cafe\u{301} au lait", "Cafe au lait"),
            ("a  b   c", "a b c"),
            ("no trailing newline", "no trailing newline\n"),
            ("\n\n\n", "\n\n"),
            ("She said, \"Don't.\"", "She said, “Don’t.”"),
        ];
        for (o, n) in cases {
            check(o, n);
            check(n, o);
        }
    }

    #[test]
    fn identical_texts_are_one_equal_span() {
        for g in [DiffGranularity::Line, DiffGranularity::Word] {
            let t = "Chapter one.\n\nIt was a dark and stormy night.\r\nThe end.";
            let d = diff(t, t, g);
            assert_eq!(d.hunks, vec![DiffSpan { op: DiffOp::Equal, text: t.to_owned() }]);
            assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (0, 0, 11));
            assert!(diff("", "", g).hunks.is_empty());
        }
    }

    #[test]
    fn empty_sides() {
        let d = diff("", "Two words", DiffGranularity::Word);
        assert_eq!(d.hunks, vec![DiffSpan { op: DiffOp::Insert, text: "Two words".into() }]);
        assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (2, 0, 0));
        let d = diff("Three little words", "", DiffGranularity::Line);
        assert_eq!(d.hunks, vec![DiffSpan { op: DiffOp::Delete, text: "Three little words".into() }]);
        assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (0, 3, 0));
        // No deadline overflow with an unbounded budget.
        assert_eq!(diff_within("a b", "a c", DiffGranularity::Word, Duration::MAX).added_words, 1);
    }

    #[test]
    fn word_diff_spans_and_counts() {
        let d = diff("The quick brown fox jumps.", "The slow brown fox leaps high.", DiffGranularity::Word);
        let spans: Vec<(DiffOp, &str)> = d.hunks.iter().map(|h| (h.op, h.text.as_str())).collect();
        assert_eq!(
            spans,
            vec![
                (DiffOp::Equal, "The "),
                (DiffOp::Delete, "quick"),
                (DiffOp::Insert, "slow"),
                (DiffOp::Equal, " brown fox "),
                (DiffOp::Delete, "jumps"),
                (DiffOp::Insert, "leaps high"),
                (DiffOp::Equal, "."),
            ]
        );
        assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (3, 2, 3));

        // Adjacent replaced words become one delete and one insert.
        let d = diff("I saw the big red dog today", "I saw a small blue cat today", DiffGranularity::Word);
        let spans: Vec<(DiffOp, &str)> = d.hunks.iter().map(|h| (h.op, h.text.as_str())).collect();
        assert_eq!(
            spans,
            vec![
                (DiffOp::Equal, "I saw "),
                (DiffOp::Delete, "the big red dog"),
                (DiffOp::Insert, "a small blue cat"),
                (DiffOp::Equal, " today"),
            ]
        );
        assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (4, 4, 3));
    }

    #[test]
    fn line_diff_counts_words_not_lines() {
        let old = "First paragraph stays.\nThe second paragraph has one word changed here.\nThird.\n";
        let new = "First paragraph stays.\nThe second paragraph has one term changed here.\nThird.\nA new line.\n";
        let d = diff(old, new, DiffGranularity::Line);
        let spans: Vec<(DiffOp, &str)> = d.hunks.iter().map(|h| (h.op, h.text.as_str())).collect();
        assert_eq!(
            spans,
            vec![
                (DiffOp::Equal, "First paragraph stays.\n"),
                (DiffOp::Delete, "The second paragraph has one word changed here."),
                (DiffOp::Insert, "The second paragraph has one term changed here."),
                (DiffOp::Equal, "\nThird.\n"),
                (DiffOp::Insert, "A new line.\n"),
            ]
        );
        assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (4, 1, 11));
    }

    #[test]
    fn line_diff_groups_adjacent_changed_lines_and_ignores_a_gained_final_newline() {
        let d = diff("Same.\nOld one.\nOld two.\n\nKept.", "Same.\nNew one.\nNew two.\n\nKept.\nAdded.", DiffGranularity::Line);
        let spans: Vec<(DiffOp, &str)> = d.hunks.iter().map(|h| (h.op, h.text.as_str())).collect();
        assert_eq!(
            spans,
            vec![
                (DiffOp::Equal, "Same.\n"),
                (DiffOp::Delete, "Old one.\nOld two."),
                (DiffOp::Insert, "New one.\nNew two."),
                (DiffOp::Equal, "\n\nKept."),
                (DiffOp::Insert, "\nAdded."),
            ]
        );
        assert_eq!((d.added_words, d.removed_words, d.unchanged_words), (3, 2, 4));
        let d = diff("a\r\nb", "a\r\nb\r\n", DiffGranularity::Line);
        assert_eq!(d.hunks, vec![DiffSpan { op: DiffOp::Equal, text: "a\r\nb".into() }, DiffSpan { op: DiffOp::Insert, text: "\r\n".into() }]);
    }

    #[test]
    fn granularity_serializes_lowercase() {
        assert_eq!(serde_json::to_value(diff("a", "b", DiffGranularity::Word)).unwrap()["granularity"], "word");
        assert_eq!(serde_json::from_str::<DiffGranularity>("\"line\"").unwrap(), DiffGranularity::Line);
        let v = serde_json::to_value(diff("a", "b", DiffGranularity::Line)).unwrap();
        assert_eq!(v["hunks"][0]["op"], "delete");
        assert_eq!(v["addedWords"], 1);
    }

    fn big_text(words: usize) -> String {
        const VOCAB: &[&str] = &[
            "the", "river", "ran", "past", "old", "mill", "where", "children", "played", "under", "grey", "sky", "and",
            "a", "dog", "barked", "at", "passing", "boats", "while", "rain",
        ];
        let mut s = String::new();
        let mut x: u64 = 12345;
        for i in 0..words {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push_str(VOCAB[(x % VOCAB.len() as u64) as usize]);
            s.push_str(if i % 15 == 14 { ".\n" } else { " " });
        }
        s
    }

    #[test]
    fn large_text_with_a_few_edits_completes() {
        let old = big_text(100_000);
        let mut new = old.clone();
        let at = (1_000..).find(|&i| new.as_bytes()[i] == b' ').unwrap() + 1;
        new.insert_str(at, "INSERTED WORDS HERE ");
        let mid = new.len() / 2;
        let cut = (mid..).find(|&i| new.as_bytes()[i] == b' ').unwrap();
        new.replace_range(cut..cut + 1, " CHANGED ");
        new.push_str("The end.\n");
        for g in [DiffGranularity::Word, DiffGranularity::Line] {
            let d = diff(&old, &new, g);
            assert_eq!(rebuild(&d), (old.clone(), new.clone()));
            assert_eq!(d.unchanged_words + d.removed_words, count_words(&old));
            assert_eq!(d.unchanged_words + d.added_words, count_words(&new));
            if g == DiffGranularity::Word {
                assert_eq!((d.added_words, d.removed_words), (3 + 1 + 2, 0));
                assert!(d.hunks.len() <= 7, "{}", d.hunks.len());
            }
        }
    }

    #[test]
    fn completely_different_large_texts_under_a_short_deadline_still_rebuild_both_sides() {
        let old = big_text(60_000);
        let new: String = big_text(60_000).chars().rev().collect();
        for g in [DiffGranularity::Word, DiffGranularity::Line] {
            let d = diff_within(&old, &new, g, Duration::from_millis(200));
            assert_eq!(rebuild(&d), (old.clone(), new.clone()));
            assert_eq!(d.unchanged_words + d.removed_words, count_words(&old));
            assert_eq!(d.unchanged_words + d.added_words, count_words(&new));
        }
    }

    #[test]
    fn fuzz_reconstruction() {
        const PIECES: &[&str] = &[
            "a", "b", "word", "Word", " ", "  ", "\n", "\r\n", "\r", "\n\n", ".", ",", "'", "-", "é", "\u{301}", "東",
            "👩\u{200D}👧", "\t", "don't", "3.14",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..500 {
            let mut old = String::new();
            for _ in 0..next() % 30 {
                old.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            // The new text: the old one with a few pieces inserted, removed or replaced.
            let mut new = old.clone();
            for _ in 0..next() % 4 {
                let mut at = (next() % (new.len() as u64 + 1)) as usize;
                while !new.is_char_boundary(at) {
                    at -= 1;
                }
                let piece = PIECES[(next() % PIECES.len() as u64) as usize];
                match next() % 3 {
                    0 => new.insert_str(at, piece),
                    1 => {
                        let end = new[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                        new.replace_range(at..end, "");
                    }
                    _ => {
                        let end = new[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                        new.replace_range(at..end, piece);
                    }
                }
            }
            check(&old, &new);
        }
    }
}
