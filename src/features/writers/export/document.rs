//! The parsed structure of a manuscript: chapters of paragraphs, found in plain text.

/// A manuscript split into chapters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub chapters: Vec<Chapter>,
}

/// One chapter: an optional heading and its paragraphs. Inside a paragraph, `'\n'` is a line
/// break the author typed (poetry, screenplays); paragraphs themselves were separated by blank
/// lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chapter {
    pub title: Option<String>,
    pub paragraphs: Vec<String>,
}

/// Longest line taken for a "Chapter …"/"Prologue …" heading; longer lines are prose.
const MAX_WORD_HEADING_CHARS: usize = 120;

/// Splits text into chapters.
///
/// A chapter starts at a line that is
/// - a Markdown heading of level 1 or 2 (`# Title`, `## Title`; closing `#`s are dropped;
///   `###` and deeper stay ordinary text), or
/// - "Chapter" (any case) followed by a number in digits, Roman numerals or English words, then
///   nothing or a separator (`:` `.` `-` `–` `—`) and a title: "Chapter 1", "CHAPTER ONE",
///   "Chapter 12: The Storm", "Chapter Twenty-One. Home" (but not "Chapter 3 was the worst."),
/// - "Prologue" or "Epilogue" (any case), alone or followed by a separator and a title.
///
/// The heading line is the chapter title as written (without the `#`s). Text before the first
/// heading is an untitled opening chapter, dropped when empty. Paragraphs are separated by
/// blank lines; the lines inside one are trimmed and joined with `'\n'`. Windows (`\r\n`) and
/// old Mac (`\r`) line endings, a byte-order mark and control characters (other than tab,
/// which becomes a space) are cleaned up first, so every string in the result is safe to put
/// in XML.
pub fn parse(text: &str) -> Document {
    let text = normalize(text);
    let mut chapters = Vec::new();
    let mut current = Chapter::default();
    let mut lines: Vec<&str> = Vec::new();

    for raw in text.split('\n') {
        let line = raw.trim();
        if line.is_empty() {
            flush_paragraph(&mut lines, &mut current);
        } else if let Some(title) = heading(line) {
            flush_paragraph(&mut lines, &mut current);
            let done = std::mem::replace(
                &mut current,
                Chapter {
                    title: Some(title),
                    paragraphs: Vec::new(),
                },
            );
            if done.title.is_some() || !done.paragraphs.is_empty() {
                chapters.push(done);
            }
        } else {
            lines.push(line);
        }
    }
    flush_paragraph(&mut lines, &mut current);
    if current.title.is_some() || !current.paragraphs.is_empty() {
        chapters.push(current);
    }
    Document { chapters }
}

fn flush_paragraph(lines: &mut Vec<&str>, chapter: &mut Chapter) {
    if !lines.is_empty() {
        chapter.paragraphs.push(lines.join("\n"));
        lines.clear();
    }
}

/// One `'\n'` per line break, no control characters except `'\n'`, no BOM or XML-invalid
/// non-characters, tabs as spaces; Unicode line/paragraph separators become line breaks.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\u{2028}' => out.push('\n'),
            '\u{2029}' => out.push_str("\n\n"),
            '\t' => out.push(' '),
            '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The chapter title if `line` (already trimmed, non-empty) is a chapter heading.
fn heading(line: &str) -> Option<String> {
    if line.starts_with('#') {
        return markdown_heading(line);
    }
    if line.chars().count() > MAX_WORD_HEADING_CHARS {
        return None;
    }
    let (first, rest) = split_word(line);
    let lower = first.to_lowercase();
    let rest = match lower.as_str() {
        "chapter" => {
            // "Chapter1" is not taken: a space must come before the number.
            if !rest.starts_with(char::is_whitespace) {
                return None;
            }
            let (number, after) = split_number(rest.trim_start())?;
            if !is_number(number) {
                return None;
            }
            after
        }
        "prologue" | "epilogue" => rest,
        _ => return None,
    };
    after_number_ok(rest).then(|| line.to_string())
}

/// `# Title` / `## Title`, with optional closing hashes. `#tag`, `###` and empty headings are
/// not chapter headings.
fn markdown_heading(line: &str) -> Option<String> {
    let level = line.chars().take_while(|&c| c == '#').count();
    if level > 2 {
        return None;
    }
    let rest = &line[level..];
    if !rest.starts_with(' ') {
        return None;
    }
    let title = rest.trim();
    // Closing sequence: spaces then only '#'s ("# Title ##"); a title that is only '#'s stays.
    let stripped = title.trim_end_matches('#');
    let title = if stripped.len() < title.len() && stripped.ends_with(' ') {
        stripped.trim_end()
    } else {
        title
    };
    (!title.is_empty()).then(|| title.to_string())
}

/// The first word (letters only) and what follows it.
fn split_word(line: &str) -> (&str, &str) {
    let end = line
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(line.len(), |(i, _)| i);
    (&line[..end], &line[end..])
}

/// Splits off the number token: digits, or letters and hyphens ("Twenty-One", "XII").
fn split_number(rest: &str) -> Option<(&str, &str)> {
    let end = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '-'))
        .map_or(rest.len(), |(i, _)| i);
    let number = rest[..end].trim_end_matches('-');
    if number.is_empty() {
        return None;
    }
    Some((number, &rest[number.len()..]))
}

fn is_number(token: &str) -> bool {
    if token.chars().all(|c| c.is_ascii_digit()) {
        return token.len() <= 4;
    }
    let lower = token.to_ascii_lowercase();
    if is_roman(&lower) {
        return true;
    }
    lower.split('-').all(|w| NUMBER_WORDS.contains(&w))
}

/// A canonical Roman numeral from 1 to 3999 ("xiv" yes, "did" or "iiii" no).
fn is_roman(lower: &str) -> bool {
    const VALUES: [(&str, i64); 13] = [
        ("m", 1000),
        ("cm", 900),
        ("d", 500),
        ("cd", 400),
        ("c", 100),
        ("xc", 90),
        ("l", 50),
        ("xl", 40),
        ("x", 10),
        ("ix", 9),
        ("v", 5),
        ("iv", 4),
        ("i", 1),
    ];
    if lower.is_empty() || lower.len() > 15 || !lower.chars().all(|c| "ivxlcdm".contains(c)) {
        return false;
    }
    let digit = |c: char| match c {
        'i' => 1,
        'v' => 5,
        'x' => 10,
        'l' => 50,
        'c' => 100,
        'd' => 500,
        _ => 1000,
    };
    let digits: Vec<i64> = lower.chars().map(digit).collect();
    let mut value = 0i64;
    for (i, d) in digits.iter().enumerate() {
        if digits.get(i + 1).is_some_and(|next| next > d) {
            value -= d;
        } else {
            value += d;
        }
    }
    if !(1..=3999).contains(&value) {
        return false;
    }
    let mut canonical = String::new();
    let mut rest = value;
    for (symbol, v) in VALUES {
        while rest >= v {
            canonical.push_str(symbol);
            rest -= v;
        }
    }
    canonical == lower
}

const NUMBER_WORDS: &[&str] = &[
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
];

/// After the number (or "Prologue"): end of line, or a separator and anything.
fn after_number_ok(rest: &str) -> bool {
    let rest = rest.trim_start();
    rest.is_empty() || rest.starts_with([':', '.', '-', '–', '—'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(d: &Document) -> Vec<Option<&str>> {
        d.chapters.iter().map(|c| c.title.as_deref()).collect()
    }

    #[test]
    fn markdown_headings_split_chapters() {
        let d = parse("# One\n\nFirst para.\n\nSecond para.\n\n## Two ##\nStraight after.\n");
        assert_eq!(titles(&d), vec![Some("One"), Some("Two")]);
        assert_eq!(
            d.chapters[0].paragraphs,
            vec!["First para.", "Second para."]
        );
        assert_eq!(d.chapters[1].paragraphs, vec!["Straight after."]);
    }

    #[test]
    fn not_markdown_headings() {
        let d = parse("#hashtag here\n\n### Scene\n\n#\n");
        assert_eq!(titles(&d), vec![None]);
        assert_eq!(
            d.chapters[0].paragraphs,
            vec!["#hashtag here", "### Scene", "#"]
        );
    }

    #[test]
    fn chapter_lines() {
        let text = "Chapter 1\nIt began.\n\nCHAPTER ONE\n\nAgain.\n\nChapter 12: The Storm\n\nRain.\n\n\
                    chapter XIV. Roman\n\nx\n\nChapter Twenty-One — Late\n\ny\n";
        let d = parse(text);
        assert_eq!(
            titles(&d),
            vec![
                Some("Chapter 1"),
                Some("CHAPTER ONE"),
                Some("Chapter 12: The Storm"),
                Some("chapter XIV. Roman"),
                Some("Chapter Twenty-One — Late"),
            ]
        );
        assert_eq!(d.chapters[0].paragraphs, vec!["It began."]);
    }

    #[test]
    fn prose_mentioning_chapters_is_not_a_heading() {
        let d = parse(
            "Chapter 3 was the worst.\n\nChapter and verse.\n\nChapter1\n\nPrologues are dull.\n\nPrologue of sorts\n",
        );
        assert_eq!(titles(&d), vec![None]);
        assert_eq!(d.chapters[0].paragraphs.len(), 5);
        assert!(heading("Chapter did.").is_none());
        assert!(heading("Chapter IIII").is_none());
        assert_eq!(
            heading("Chapter MCMXCIX").as_deref(),
            Some("Chapter MCMXCIX")
        );
    }

    #[test]
    fn prologue_and_epilogue() {
        let d = parse(
            "Opening words.\n\nPROLOGUE\n\nBefore.\n\nChapter 1\n\nMiddle.\n\nEpilogue: After\n\nEnd.",
        );
        assert_eq!(
            titles(&d),
            vec![
                None,
                Some("PROLOGUE"),
                Some("Chapter 1"),
                Some("Epilogue: After")
            ]
        );
        assert_eq!(d.chapters[0].paragraphs, vec!["Opening words."]);
        assert_eq!(d.chapters[3].paragraphs, vec!["End."]);
    }

    #[test]
    fn no_headings_is_one_untitled_chapter_with_line_breaks() {
        let d = parse("Roses are red,\n  violets are blue.\n\n\n\nSecond stanza.\n");
        assert_eq!(d.chapters.len(), 1);
        assert_eq!(d.chapters[0].title, None);
        assert_eq!(
            d.chapters[0].paragraphs,
            vec!["Roses are red,\nviolets are blue.", "Second stanza."]
        );
    }

    #[test]
    fn windows_and_mac_line_endings() {
        let d = parse("\u{FEFF}# A\r\n\r\nline one\r\nline two\r\n\r\n# B\rold\r\rmac\r");
        assert_eq!(titles(&d), vec![Some("A"), Some("B")]);
        assert_eq!(d.chapters[0].paragraphs, vec!["line one\nline two"]);
        assert_eq!(d.chapters[1].paragraphs, vec!["old", "mac"]);
        assert!(
            d.chapters
                .iter()
                .flat_map(|c| &c.paragraphs)
                .all(|p| !p.contains('\r'))
        );
    }

    #[test]
    fn empty_text_and_empty_opening() {
        assert!(parse("").chapters.is_empty());
        assert!(parse(" \n\n\t\r\n").chapters.is_empty());
        let d = parse("\n\n# Only\n");
        assert_eq!(titles(&d), vec![Some("Only")]);
        assert!(d.chapters[0].paragraphs.is_empty());
    }

    #[test]
    fn control_characters_are_removed() {
        let d = parse("a\u{0}b\u{7}c\td\u{1b}");
        assert_eq!(d.chapters[0].paragraphs, vec!["abc d"]);
    }
}
