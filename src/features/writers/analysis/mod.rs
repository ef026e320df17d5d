//! Text analysis for the offline writing assistant: counts, readability, sentence spread,
//! overused words, repeated phrases, -ly adverbs, passive voice and dialogue, plus suggestions
//! drawn from those figures. Pure functions, no I/O, deterministic, and total: any input
//! (empty, binary-looking, any script) gives finite figures without panicking.
//!
//! The readability, syllable, adverb and passive-voice heuristics are for English prose; other
//! languages still get word, sentence, paragraph and dialogue counts.
//!
//! Definitions used throughout:
//! - **word** ([`count_words`]): a run of letters/digits (any script), which may contain an
//!   apostrophe (`'`, `’`, `ʼ`) or hyphen between two letters/digits (`don't`, `well-known`) and a
//!   `.` or `,` between two digits (`3.14`, `1,000`); combining marks stay with their word.
//!   Chinese/Japanese ideographs and kana count one word per character (they are written
//!   without spaces; this is the usual word-count convention for them).
//! - **paragraph**: when the text has blank lines, a block of lines between blank lines;
//!   otherwise every non-blank line. Only paragraphs containing a word are counted.
//! - **sentence**: split at `.`, `!`, `?`, `…` (and `。！？`), after any closing quotes or
//!   brackets, when followed by whitespace and not by a lowercase letter; not after titles
//!   (Mr., Mrs., Dr., St., …), `e.g.`, `i.e.`, `vs.`, `cf.`, single initials before a capital
//!   (`J. R. R. Tolkien`) or `No./p./fig.` before a number. Decimals (`3.14`) never split.
//!   A paragraph end always ends a sentence. Sentences without words are ignored.
//! - **characters**: Unicode scalar values that are not whitespace.
//!
//! `words`, `syllables`, `sentences`, `lexicon` and `phrases` each compute one kind of figure;
//! [`analyze`] puts them together and writes the suggestions.

mod lexicon;
mod phrases;
mod sentences;
mod syllables;
mod words;

use std::collections::{HashMap, HashSet};

use poem_openapi::Object;
use serde::Serialize;

use lexicon::{has_passive, is_adverb, is_stop};
use phrases::repeated_phrases;
use sentences::{paragraph_ranges, sentence_ranges};
pub use syllables::count_syllables;
pub use words::count_words;
pub(super) use words::WordRanges;
use words::normalize_word;

/// Figures about a text, and suggestions that cite them.
#[derive(Debug, Clone, Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TextAnalysis {
    /// Words (see `count_words`).
    pub words: u64,
    pub sentences: u64,
    pub paragraphs: u64,
    /// Non-whitespace characters.
    pub characters: u64,
    /// Flesch reading ease: 206.835 − 1.015 × words/sentence − 84.6 × syllables/word (higher is
    /// easier; 60–70 is plain English). 0 for a text without words.
    pub flesch_reading_ease: f64,
    /// Flesch–Kincaid grade level: 0.39 × words/sentence + 11.8 × syllables/word − 15.59.
    /// 0 for a text without words.
    pub flesch_kincaid_grade: f64,
    pub avg_sentence_words: f64,
    /// Population standard deviation of the words per sentence.
    pub sentence_words_stddev: f64,
    pub longest_sentence_words: u64,
    pub shortest_sentence_words: u64,
    /// Content words (not stop words, not names) used at least 3 times and making up at least 1%
    /// of the content words; most frequent first, at most 10.
    pub overused_words: Vec<WordCount>,
    /// 3- to 5-word phrases (case and punctuation ignored, within a sentence) occurring at least
    /// twice, longest first, at most 10; phrases of stop words only and shorter phrases that only
    /// ever occur inside a listed longer one are left out.
    pub repeated_phrases: Vec<PhraseCount>,
    /// -ly adverbs per 100 words.
    pub adverb_density: f64,
    /// Sentences with a passive construction per 100 sentences.
    pub passive_voice_density: f64,
    /// Share (0 to 1) of the words that are inside quotation marks (`"…"` or `“…”`).
    pub dialogue_ratio: f64,
    /// Concrete suggestions, each citing the figure it comes from.
    pub suggestions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct WordCount {
    pub word: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct PhraseCount {
    pub phrase: String,
    pub count: u64,
}


struct Word {
    /// Normalized (lowercase) form.
    norm: String,
    capitalized: bool,
    /// First word of a sentence or of a quotation: capitalized by position, not as a name.
    initial: bool,
    in_quotes: bool,
}

fn round_to(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    let r = (x * p).round() / p;
    if r.is_finite() { r } else { 0.0 }
}

/// Analyze a text (see the module docs for the definitions).
pub fn analyze(text: &str) -> TextAnalysis {
    let characters = text.chars().filter(|c| !c.is_whitespace()).count() as u64;

    // Sentences (as word lists) and paragraph sizes.
    let mut sentences: Vec<Vec<Word>> = Vec::new();
    let mut paragraph_words: Vec<u64> = Vec::new();
    for pr in paragraph_ranges(text) {
        let para = &text[pr];
        let mut in_quotes = false;
        let mut cursor = 0;
        let mut count = 0u64;
        for sr in sentence_ranges(para) {
            let sentence = &para[sr.clone()];
            let mut words = Vec::new();
            for wr in WordRanges::new(sentence) {
                let (ws, we) = (sr.start + wr.start, sr.start + wr.end);
                let mut opened = false;
                for c in para[cursor.min(ws)..ws].chars() {
                    match c {
                        '"' => {
                            in_quotes = !in_quotes;
                            opened |= in_quotes;
                        }
                        '\u{201C}' => {
                            in_quotes = true;
                            opened = true;
                        }
                        '\u{201D}' => in_quotes = false,
                        _ => {}
                    }
                }
                cursor = we;
                let raw = &para[ws..we];
                words.push(Word {
                    norm: normalize_word(raw),
                    capitalized: raw.chars().next().is_some_and(char::is_uppercase),
                    initial: words.is_empty() || opened,
                    in_quotes,
                });
            }
            if !words.is_empty() {
                count += words.len() as u64;
                sentences.push(words);
            }
        }
        if count > 0 {
            paragraph_words.push(count);
        }
    }

    let lengths: Vec<u64> = sentences.iter().map(|s| s.len() as u64).collect();
    let words: u64 = lengths.iter().sum();
    let n_sentences = sentences.len() as u64;
    let all_words = || sentences.iter().flatten();

    let syllables: u64 = all_words().map(|w| u64::from(count_syllables(&w.norm))).sum();
    let (ease, grade, avg, stddev) = if words == 0 || n_sentences == 0 {
        (0.0, 0.0, 0.0, 0.0)
    } else {
        let wps = words as f64 / n_sentences as f64;
        let spw = syllables as f64 / words as f64;
        let var = lengths.iter().map(|&l| (l as f64 - wps).powi(2)).sum::<f64>() / n_sentences as f64;
        (206.835 - 1.015 * wps - 84.6 * spw, 0.39 * wps + 11.8 * spw - 15.59, wps, var.sqrt())
    };
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let shortest = lengths.iter().copied().min().unwrap_or(0);

    // Names: capitalized away from the start of a sentence or quotation, and never lowercase.
    let mut lowercase_seen: HashSet<&str> = HashSet::new();
    let mut capital_seen: HashSet<&str> = HashSet::new();
    for w in all_words() {
        if !w.capitalized {
            lowercase_seen.insert(&w.norm);
        } else if !w.initial {
            capital_seen.insert(&w.norm);
        }
    }
    let is_name = |w: &str| capital_seen.contains(w) && !lowercase_seen.contains(w);

    // Overused content words.
    let mut content: HashMap<&str, u64> = HashMap::new();
    let mut content_total = 0u64;
    for w in all_words() {
        let s = w.norm.as_str();
        if s.chars().any(char::is_alphabetic) && !is_stop(s) && !is_name(s) {
            *content.entry(s).or_default() += 1;
            content_total += 1;
        }
    }
    let mut overused: Vec<WordCount> = content
        .iter()
        .filter(|&(_, &c)| c >= 3 && c * 100 >= content_total)
        .map(|(&w, &c)| WordCount { word: w.to_owned(), count: c })
        .collect();
    overused.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
    overused.truncate(10);

    let repeated = repeated_phrases(&sentences);

    // Adverbs.
    let mut adverbs: HashMap<&str, u64> = HashMap::new();
    for w in all_words() {
        if is_adverb(&w.norm) && !is_name(&w.norm) {
            *adverbs.entry(&w.norm).or_default() += 1;
        }
    }
    let adverb_total: u64 = adverbs.values().sum();
    let adverb_density = if words == 0 { 0.0 } else { adverb_total as f64 * 100.0 / words as f64 };

    // Passive voice.
    let passive_sentences = sentences
        .iter()
        .filter(|s| has_passive(&s.iter().map(|w| w.norm.as_str()).collect::<Vec<_>>()))
        .count() as u64;
    let passive_density = if n_sentences == 0 { 0.0 } else { passive_sentences as f64 * 100.0 / n_sentences as f64 };

    // Dialogue.
    let quoted = all_words().filter(|w| w.in_quotes).count() as u64;
    let dialogue_ratio = if words == 0 { 0.0 } else { quoted as f64 / words as f64 };

    // Suggestions, each citing its figure.
    let mut suggestions = Vec::new();
    if avg > 20.0 {
        suggestions.push(format!(
            "Sentences average {avg:.0} words; split some of the longest (the longest has {longest} words)."
        ));
    } else if longest >= 40 {
        suggestions.push(format!(
            "The longest sentence has {longest} words against an average of {avg:.0}; consider splitting it."
        ));
    }
    if n_sentences >= 5 && stddev < 3.0 {
        suggestions.push(format!(
            "Sentence lengths barely vary (average {avg:.0} words, standard deviation {stddev:.1}); mix short and long sentences for rhythm."
        ));
    }
    if words >= 30 && ease < 30.0 {
        suggestions.push(format!(
            "Reading ease is {ease:.0} (grade level {grade:.1}), which is hard going; shorter sentences and plainer words raise it."
        ));
    }
    if passive_sentences >= 2 && passive_density >= 10.0 {
        suggestions.push(format!(
            "Passive voice in {passive_density:.0}% of sentences ({passive_sentences} of {n_sentences}); where the actor matters, make it the subject."
        ));
    }
    if adverb_total >= 3 && adverb_density > 3.0 {
        let mut top: Vec<(&str, u64)> = adverbs.iter().map(|(&w, &c)| (w, c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let examples: Vec<String> = top.iter().take(3).map(|(w, c)| format!("“{w}” ×{c}")).collect();
        suggestions.push(format!(
            "{adverb_density:.1} -ly adverbs per 100 words ({}); a precise verb often does the work of verb + adverb.",
            examples.join(", ")
        ));
    }
    for wc in overused.iter().take(3) {
        let share = wc.count as f64 * 100.0 / content_total.max(1) as f64;
        suggestions.push(format!(
            "“{}” appears {} times ({share:.1}% of the content words); vary it or cut some.",
            wc.word, wc.count
        ));
    }
    for pc in repeated.iter().take(3) {
        suggestions.push(format!("The phrase “{}” repeats {} times.", pc.phrase, pc.count));
    }
    if let Some(&p) = paragraph_words.iter().max().filter(|&&p| p > 250) {
        suggestions.push(format!("The longest paragraph runs {p} words; breaking it up gives the reader a rest."));
    }

    TextAnalysis {
        words,
        sentences: n_sentences,
        paragraphs: paragraph_words.len() as u64,
        characters,
        flesch_reading_ease: round_to(ease, 2),
        flesch_kincaid_grade: round_to(grade, 2),
        avg_sentence_words: round_to(avg, 2),
        sentence_words_stddev: round_to(stddev, 2),
        longest_sentence_words: longest,
        shortest_sentence_words: shortest,
        overused_words: overused,
        repeated_phrases: repeated,
        adverb_density: round_to(adverb_density, 2),
        passive_voice_density: round_to(passive_density, 2),
        dialogue_ratio: round_to(dialogue_ratio, 4),
        suggestions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_whitespace_give_zeros() {
        for t in ["", "   ", "\n\n\t\r\n", "...", "— * —", "🎉"] {
            let a = analyze(t);
            assert_eq!((a.words, a.sentences, a.paragraphs), (0, 0, 0), "{t:?}");
            assert_eq!(a.flesch_reading_ease, 0.0);
            assert_eq!(a.flesch_kincaid_grade, 0.0);
            assert_eq!(a.avg_sentence_words, 0.0);
            assert_eq!(a.dialogue_ratio, 0.0);
            assert_eq!((a.longest_sentence_words, a.shortest_sentence_words), (0, 0));
            assert!(a.suggestions.is_empty());
        }
        assert_eq!(analyze("").characters, 0);
        assert_eq!(analyze(" \n ").characters, 0);
        assert_eq!(analyze("ab c").characters, 3);
    }

    #[test]
    fn counts_paragraphs_and_sentence_spread() {
        let t = "One two three. Four five.\n\nSix seven eight nine.\nTen.\n\n   \n\nEleven twelve";
        let a = analyze(t);
        assert_eq!(a.words, 12);
        assert_eq!(a.paragraphs, 3);
        assert_eq!(a.sentences, 5);
        assert_eq!((a.longest_sentence_words, a.shortest_sentence_words), (4, 1));
        assert_eq!(a.avg_sentence_words, 2.4);
        // lengths 3,2,4,1,2: mean 2.4, variance (0.36+0.16+2.56+1.96+0.16)/5 = 1.04
        assert_eq!(a.sentence_words_stddev, round_to(1.04f64.sqrt(), 2));
        // Without blank lines every line is a paragraph.
        assert_eq!(analyze("Title\nFirst line.\nSecond line").paragraphs, 3);
        assert_eq!(analyze("Title\nFirst line.\nSecond line").sentences, 3);
    }

    #[test]
    fn flesch_easy_vs_academic() {
        let easy = analyze("The cat sat on the mat.");
        assert!(easy.flesch_reading_ease >= 100.0, "{}", easy.flesch_reading_ease);
        assert!((easy.flesch_reading_ease - 116.145).abs() < 0.01); // 206.835 − 1.015·6 − 84.6·1
        assert!(easy.flesch_kincaid_grade < 0.0);
        let academic = analyze(
            "The epistemological implications of poststructuralist methodologies necessitate a comprehensive \
             reconsideration of institutional frameworks governing interdisciplinary communication.",
        );
        assert!(academic.flesch_reading_ease < 30.0, "{}", academic.flesch_reading_ease);
        assert!(academic.flesch_kincaid_grade > 16.0, "{}", academic.flesch_kincaid_grade);
    }

    #[test]
    fn dialogue_ratio() {
        let a = analyze("\"Come here right now,\" she said to him firmly.");
        assert_eq!(a.words, 9);
        assert_eq!(a.dialogue_ratio, round_to(4.0 / 9.0, 4));
        let half = analyze("“One two three four.” Five six seven eight.");
        assert_eq!(half.dialogue_ratio, 0.5);
        let half_straight = analyze("\"Alpha beta gamma\" delta epsilon zeta.\n\n\"Eta theta\" iota kappa.");
        assert_eq!(half_straight.dialogue_ratio, 0.5);
        // An unclosed quote does not run past its paragraph.
        let unclosed = analyze("\"Alpha beta\n\nGamma delta.");
        assert_eq!(unclosed.dialogue_ratio, 0.5);
    }

    #[test]
    fn names_are_not_overused_words() {
        let a = analyze("Anna ran. Then Anna hid. Later Anna slept. The rain fell on the rain on the rain.");
        assert!(a.overused_words.iter().all(|w| w.word != "anna"), "{:?}", a.overused_words);
        assert!(a.overused_words.iter().any(|w| w.word == "rain" && w.count == 3));
    }

    #[test]
    fn suggestions_cite_figures() {
        let long = "The committee, having considered the many submissions received over the preceding months from \
                    residents, businesses and community organisations across the region, decided after lengthy \
                    deliberation that the proposal should be deferred until a further consultation could be held.";
        let a = analyze(long);
        assert!(a.suggestions.iter().any(|s| s.starts_with(&format!("Sentences average {} words", a.longest_sentence_words))
            && s.contains(&format!("the longest has {} words", a.longest_sentence_words))), "{:#?}", a.suggestions);
        assert!(a.suggestions.iter().any(|s| s.starts_with("Reading ease is ")), "{:#?}", a.suggestions);

        let t = "Suddenly the door opened. Suddenly he ran. Suddenly it rained. The letter was written. \
                 The photos were taken. The cake was eaten. The dog ran off happily. It was sadly late.";
        let a = analyze(t);
        let joined = a.suggestions.join("\n");
        assert!(joined.contains("“suddenly” appears 3 times"), "{joined}");
        assert!(joined.contains(&format!("Passive voice in {:.0}% of sentences (3 of 8)", a.passive_voice_density)), "{joined}");
        assert!(joined.contains("-ly adverbs per 100 words (“suddenly” ×3"), "{joined}");
        for s in &a.suggestions {
            assert!(s.chars().any(|c| c.is_ascii_digit()), "suggestion without a figure: {s}");
        }
        let p = analyze("We met in the middle of the day. We ate in the middle of the park.");
        assert!(p.suggestions.iter().any(|s| s == "The phrase “in the middle of the” repeats 2 times."), "{:#?}", p.suggestions);
        // A clean text gets no suggestions.
        assert!(analyze("The cat sat on the mat. A dog barked at night. Rain fell.").suggestions.is_empty());
    }

    #[test]
    fn deterministic() {
        let t = "beta beta beta alpha alpha alpha gamma gamma gamma delta delta delta. zeta eta theta. beta alpha gamma delta.";
        let first = serde_json::to_string(&analyze(t)).unwrap();
        for _ in 0..20 {
            assert_eq!(serde_json::to_string(&analyze(t)).unwrap(), first);
        }
        let a = analyze(t);
        let words: Vec<&str> = a.overused_words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(words, vec!["alpha", "beta", "delta", "gamma"]);
    }

    #[test]
    fn fuzz_never_panics_and_stays_finite() {
        const PIECES: &[&str] = &[
            "a", "Mr.", "e.g.", "3.14", ".", "...", "…", "!", "?", "\"", "“", "”", "'", "’", "-", "—", " ", "  ", "\n",
            "\n\n", "\r\n", "\t", "was", "written", "quickly", "the", "The", "é", "\u{301}", "東京", "。", "🎉",
            "\u{200D}", "ß", "İ", "ǅ", "\u{2029}", "(", ")", "1,000", "don't", "Ω", "ﬁ", "\u{0}", "x\u{30C}",
        ];
        let mut rng = crate::splitmix::SplitMix64::new(1);
        for _ in 0..3000 {
            let len = (rng.next_u64() % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                if rng.next_u64().is_multiple_of(4) {
                    let c = char::from_u32((rng.next_u64() % 0x11_0000) as u32).unwrap_or('?');
                    s.push(c);
                } else {
                    s.push_str(PIECES[(rng.next_u64() % PIECES.len() as u64) as usize]);
                }
            }
            let a = analyze(&s);
            for x in [
                a.flesch_reading_ease,
                a.flesch_kincaid_grade,
                a.avg_sentence_words,
                a.sentence_words_stddev,
                a.adverb_density,
                a.passive_voice_density,
                a.dialogue_ratio,
            ] {
                assert!(x.is_finite(), "{s:?}");
            }
            assert!((0.0..=1.0).contains(&a.dialogue_ratio), "{s:?}");
            assert_eq!(a.words, count_words(&s), "{s:?}");
            assert!(a.sentences <= a.words && a.paragraphs <= a.sentences, "{s:?}");
            for w in s.split_whitespace() {
                assert!(count_syllables(w) >= 1);
            }
        }
    }
}
