//! Words: what a word is (see the module docs of `analysis`), their byte ranges, the word count
//! used everywhere, and the normal form words are compared in.

use std::ops::Range;

/// The word count used everywhere (manuscripts, sessions, quotas). See the module docs for
/// what a word is.
pub fn count_words(text: &str) -> u64 {
    WordRanges::new(text).count() as u64
}

/// Byte ranges of the words of `text`, in order (the same words [`count_words`] counts).
pub(in crate::features::writers) struct WordRanges<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> WordRanges<'a> {
    pub(in crate::features::writers) fn new(text: &'a str) -> Self {
        WordRanges { text, pos: 0 }
    }
}

impl Iterator for WordRanges<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let text = self.text;
        let Some((offset, first)) = text[self.pos..].char_indices().find(|&(_, c)| c.is_alphanumeric()) else {
            self.pos = text.len();
            return None;
        };
        let start = self.pos + offset;
        let mut end = start + first.len_utf8();
        if is_cjk(first) {
            while let Some(c) = text[end..].chars().next().filter(|&c| is_mark(c)) {
                end += c.len_utf8();
            }
            self.pos = end;
            return Some(start..end);
        }
        let mut prev = first;
        loop {
            let mut rest = text[end..].chars();
            let Some(c) = rest.next() else { break };
            if c.is_alphanumeric() && !is_cjk(c) {
                prev = c;
                end += c.len_utf8();
            } else if is_mark(c) {
                end += c.len_utf8();
            } else if rest.next().is_some_and(|next| joins(prev, c, next)) {
                // The joiner; the letter after it is taken on the next turn.
                end += c.len_utf8();
            } else {
                break;
            }
        }
        self.pos = end;
        Some(start..end)
    }
}

/// Whether `c` between `prev` and `next` keeps a word together.
fn joins(prev: char, c: char, next: char) -> bool {
    if !next.is_alphanumeric() || is_cjk(next) {
        return false;
    }
    match c {
        '\'' | '\u{2019}' | '\u{02BC}' | '-' | '\u{2010}' | '\u{2011}' => true,
        '.' | ',' => prev.is_numeric() && next.is_numeric(),
        _ => false,
    }
}

/// Ideographs and kana: one word per character.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0x20000..=0x2FA1F)
}

/// Combining marks and joiners that belong to the letter before them (the common blocks; the
/// standard library has no general-category lookup).
fn is_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0670 | 0x06D6..=0x06ED | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957
        | 0x0962..=0x0963 | 0x0981..=0x0983 | 0x09BC..=0x09D7 | 0x0A01..=0x0A03 | 0x0A3C..=0x0A51
        | 0x0A81..=0x0A83 | 0x0ABC..=0x0ACD | 0x0B01..=0x0B03 | 0x0B3C..=0x0B57 | 0x0BBE..=0x0BCD
        | 0x0C00..=0x0C04 | 0x0C3E..=0x0C56 | 0x0C81..=0x0C83 | 0x0CBC..=0x0CD6 | 0x0D00..=0x0D03
        | 0x0D3B..=0x0D4D | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E | 0x0EB1 | 0x0EB4..=0x0EBC
        | 0x0EC8..=0x0ECD | 0x0F71..=0x0F84 | 0x102B..=0x103E | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF
        | 0x200C..=0x200D | 0x20D0..=0x20FF | 0x302A..=0x302F | 0x3099..=0x309A | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F | 0xE0100..=0xE01EF)
}

/// Lowercase, with typographic apostrophes and hyphens made plain, so variants count together.
pub(super) fn normalize_word(w: &str) -> String {
    w.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '\u{2019}' | '\u{02BC}' => '\'',
            '\u{2010}' | '\u{2011}' => '-',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_unicode_aware_with_internal_apostrophes_and_hyphens() {
        assert_eq!(count_words(""), 0);
        assert_eq!(count_words("   \n\t "), 0);
        assert_eq!(count_words("Hello, world!"), 2);
        assert_eq!(count_words("Don't stop—it's a well-known fact."), 6);
        assert_eq!(count_words("don’t rock ’n’ roll"), 4);
        assert_eq!(count_words("-- 'quoted' -- well- -known"), 3);
        assert_eq!(count_words("It costs 3.50 or 1,000 dollars."), 6);
        assert_eq!(count_words("Ça va? Très bien, naïve café."), 6);
        assert_eq!(count_words("Cafe\u{301} au lait"), 3);
        assert_eq!(count_words("Привет, мир! Γειά σου κόσμε"), 5);
        assert_eq!(count_words("東京に行きます"), 7);
        assert_eq!(count_words("emoji 🎉 don't count 🎉🎉"), 3);
        let ranges: Vec<_> = WordRanges::new("a-b, c'd e").map(|r| r.start..r.end).collect();
        assert_eq!(ranges, vec![0..3, 5..8, 9..10]);
    }
}
