//! Paragraphs and sentences: where a text breaks into paragraphs, and a paragraph into sentences
//! (abbreviations, initials, decimals, ellipses and closing quotes taken into account).

use std::ops::Range;


fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Byte ranges of the paragraphs (see the module docs), blank ones included (filtered later).
pub(super) fn paragraph_ranges(text: &str) -> Vec<Range<usize>> {
    let mut lines: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if is_line_break(c) {
            lines.push(start..i);
            start = i + c.len_utf8();
        }
    }
    lines.push(start..text.len());
    let blank: Vec<bool> = lines.iter().map(|r| text[r.clone()].trim().is_empty()).collect();
    let first = blank.iter().position(|b| !b);
    let last = blank.iter().rposition(|b| !b);
    let has_blank_separator = match (first, last) {
        (Some(f), Some(l)) => blank[f..l].iter().any(|&b| b),
        _ => false,
    };
    let mut out = Vec::new();
    if has_blank_separator {
        let mut current: Option<Range<usize>> = None;
        for (r, &b) in lines.iter().zip(&blank) {
            if b {
                out.extend(current.take());
            } else {
                match &mut current {
                    Some(c) => c.end = r.end,
                    None => current = Some(r.clone()),
                }
            }
        }
        out.extend(current);
    } else {
        out.extend(lines.into_iter().zip(blank).filter(|(_, b)| !b).map(|(r, _)| r));
    }
    out
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '\u{2026}' | '\u{203C}' | '\u{2047}' | '\u{2048}' | '\u{2049}' | '。' | '！' | '？')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201D}' | '\u{2019}' | '\u{00BB}' | '\u{203A}' | ')' | ']' | '}')
}

fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201C}' | '\u{2018}' | '\u{00AB}' | '\u{2039}' | '(' | '[' | '{')
}

/// Abbreviations after which a period never ends a sentence.
const NEVER_FINAL: &[&str] = &[
    "mr", "mrs", "ms", "mx", "messrs", "mme", "mlle", "dr", "prof", "rev", "hon", "st", "mt", "fr", "gen", "col", "capt",
    "lt", "sgt", "cpl", "pvt", "maj", "adm", "cmdr", "gov", "sen", "pres", "supt", "det", "insp", "e.g", "i.e", "vs",
    "cf", "viz",
];

/// Abbreviations that do not end a sentence when a number follows.
const BEFORE_NUMBER: &[&str] = &["no", "nos", "vol", "p", "pp", "fig", "figs", "ch", "sec", "art", "approx", "ca", "nr", "op"];

/// Byte ranges (relative to `p`) of the sentences of one paragraph.
pub(super) fn sentence_ranges(p: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = p.char_indices().collect();
    let n = chars.len();
    let byte_at = |i: usize| chars.get(i).map_or(p.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0;
    while i < n {
        if !is_terminator(chars[i].1) {
            i += 1;
            continue;
        }
        let run_start = i;
        let mut j = i;
        while j < n && is_terminator(chars[j].1) {
            j += 1;
        }
        let mut k = j;
        while k < n && is_closer(chars[k].1) {
            k += 1;
        }
        let cjk_stop = chars[run_start..j].iter().any(|&(_, c)| matches!(c, '。' | '！' | '？'));
        if k < n && !chars[k].1.is_whitespace() && !cjk_stop {
            // "3.14", "e.g.,", "U.S.A", "Wait...what"
            i = j;
            continue;
        }
        let mut m = k;
        while m < n && chars[m].1.is_whitespace() {
            m += 1;
        }
        let next = chars.get(m).map(|&(_, c)| c);
        let run: String = chars[run_start..j].iter().map(|&(_, c)| c).collect();
        let is_break = match next {
            None => true,
            Some(c) if c.is_lowercase() => false,
            Some(c) if run == "." => {
                // The token before the period, without opening punctuation.
                let mut t = run_start;
                while t > 0 && !chars[t - 1].1.is_whitespace() {
                    t -= 1;
                }
                let token: String = chars[t..run_start].iter().map(|&(_, c)| c).skip_while(|&c| is_opener(c)).collect();
                let lower = token.to_lowercase();
                let initial = token.chars().count() == 1 && token.chars().all(char::is_uppercase) && c.is_uppercase();
                !(NEVER_FINAL.contains(&lower.as_str())
                    || (BEFORE_NUMBER.contains(&lower.as_str()) && c.is_numeric())
                    || initial)
            }
            Some(_) => true,
        };
        if is_break {
            out.push(start..byte_at(k));
            start = byte_at(m);
        }
        i = k.max(i + 1);
    }
    if start < p.len() {
        out.push(start..p.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::count_words;
    use super::*;

    fn sentence_texts(p: &str) -> Vec<&str> {
        sentence_ranges(p).into_iter().map(|r| &p[r]).filter(|s| count_words(s) > 0).collect()
    }

    #[test]
    fn sentence_splitting_handles_abbreviations_ellipses_decimals_and_quotes() {
        assert_eq!(
            sentence_texts("Mr. Smith met Dr. Jones at 3.30 p.m. on St. Mark's Square. They talked."),
            vec!["Mr. Smith met Dr. Jones at 3.30 p.m. on St. Mark's Square.", "They talked."]
        );
        assert_eq!(
            sentence_texts("Bring fruit, e.g. apples, i.e. the red ones, etc. Then go."),
            vec!["Bring fruit, e.g. apples, i.e. the red ones, etc.", "Then go."]
        );
        assert_eq!(sentence_texts("Pi is 3.14159. It never ends."), vec!["Pi is 3.14159.", "It never ends."]);
        assert_eq!(
            sentence_texts("\"We leave at dawn.\" She nodded. \"Why?\" he asked."),
            vec!["\"We leave at dawn.\"", "She nodded.", "\"Why?\" he asked."]
        );
        assert_eq!(
            sentence_texts("“Go home.” He went… slowly. I wondered... Then it rained."),
            vec!["“Go home.”", "He went… slowly.", "I wondered...", "Then it rained."]
        );
        assert_eq!(
            sentence_texts("J. R. R. Tolkien wrote it. See No. 5 and p. 12. Really?! Yes."),
            vec!["J. R. R. Tolkien wrote it.", "See No. 5 and p. 12.", "Really?!", "Yes."]
        );
        assert_eq!(sentence_texts("No terminator at all"), vec!["No terminator at all"]);
        assert_eq!(sentence_texts("今日は晴れ。明日は雨！"), vec!["今日は晴れ。", "明日は雨！"]);
    }
}
