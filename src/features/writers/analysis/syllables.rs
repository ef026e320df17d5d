//! English syllable counts, for the Flesch readability figures.

use std::ops::Range;


/// English syllable estimate: vowel groups (`y` counts as a vowel except at the start of a word
/// and between vowels), a silent final `e` (but consonant + `le`/`re` is a syllable: table,
/// acre), silent `-es`/`-ed` (makes, jumped; but wishes, wanted), a silent `e` before
/// `-ly/-ful/-less/-ness/-ment` (lovely, movement), common two-syllable vowel pairs (`ia`, `io`,
/// `iu`, `ua`, `uo`, `ue`, `eo`, `oe`, `-ea`, `-ier`, `-iet`, vowel + `-ing`: piano, violin,
/// medium, actual, cruel, video, poem, idea, happier, quiet, being), final `-sm`/`-thm`
/// (prism, rhythm), compounds of a few silent-e words (sometimes, therefore), and a short
/// override list. At least 1; a word without Latin letters (digits, other scripts) counts 1.
///
/// Known misses (the heuristic is right on roughly nine English words in ten): words such as
/// "every" (3, often said 2), "ratio" (2, is 3), "lion" and "million" (the `io` rule is tuned
/// for million/union/opinion, so "lion" gets 1), "element" (2, is 3), "create"/"react" outside
/// the override list, "aches", "recipe", foreign words and numbers written as digits.
pub fn count_syllables(word: &str) -> u32 {
    let mut w: Vec<u8> = Vec::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' => w.push(c as u8),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => w.push(b'a'),
            // An accented e is sounded (café, Noël) and a diaeresis starts a syllable (naïve):
            // marked with capitals, which the silent-e and vowel-pair rules do not match.
            'è' | 'é' | 'ê' | 'ë' => w.push(b'E'),
            'ï' => w.push(b'I'),
            'ē' => w.push(b'e'),
            'ì' | 'í' | 'î' | 'ī' => w.push(b'i'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => w.push(b'o'),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' => w.push(b'u'),
            'ý' | 'ÿ' => w.push(b'y'),
            'ç' => w.push(b'c'),
            'ñ' => w.push(b'n'),
            'ß' => w.extend_from_slice(b"ss"),
            'æ' => w.extend_from_slice(b"ae"),
            'œ' => w.extend_from_slice(b"oe"),
            _ => {}
        }
    }
    if w.is_empty() {
        return 1;
    }
    syllables_of(&w).max(1)
}

const SYLLABLE_OVERRIDES: &[(&str, u32)] = &[
    ("business", 2),
    ("businesses", 3),
    ("create", 2),
    ("created", 3),
    ("creates", 2),
    ("creating", 3),
    ("creation", 3),
    ("creative", 3),
    ("creature", 2),
    ("creatures", 2),
    ("moreover", 3),
    ("react", 2),
    ("reality", 4),
    ("science", 2),
    ("wherever", 3),
    ("whenever", 3),
];

/// Silent-e words that start compounds (some+times, there+fore); the rest is counted alone.
const COMPOUND_HEADS: &[&str] = &[
    "some", "there", "where", "home", "fire", "life", "time", "care", "side", "else", "none", "more", "house", "space",
    "whole", "stone", "lone", "base", "grave", "wise", "like", "love", "name", "make",
];

fn syllables_of(w: &[u8]) -> u32 {
    if let Some(&(_, n)) = SYLLABLE_OVERRIDES.iter().find(|(o, _)| o.as_bytes() == w) {
        return n;
    }
    for head in COMPOUND_HEADS {
        let h = head.as_bytes();
        if w.len() > h.len() + 1 && w.starts_with(h) {
            let rest = &w[h.len()..];
            let rest_ok = (!is_plain_vowel(rest[0]) && rest.iter().any(|&b| is_plain_vowel(b) || b == b'y'))
                || rest == b"one"
                || rest == b"ones";
            if rest_ok {
                return 1 + syllables_of(rest).max(1);
            }
        }
    }
    core_syllables(w)
}

fn is_plain_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'E' | b'I')
}

fn core_syllables(w: &[u8]) -> u32 {
    let n = w.len();
    let vowel: Vec<bool> = (0..n)
        .map(|i| match w[i] {
            b'a' | b'e' | b'i' | b'o' | b'u' | b'E' | b'I' => true,
            // y is a consonant at the start (yes) and between vowels (beyond, player).
            b'y' => i > 0 && !(is_plain_vowel(w[i - 1]) && i + 1 < n && is_plain_vowel(w[i + 1])),
            _ => false,
        })
        .collect();
    let at = |i: usize| w.get(i).copied().unwrap_or(0);
    let ends_with = |s: &[u8]| w.ends_with(s);

    // Vowel groups, split where two adjacent vowels are usually two syllables.
    let mut groups: Vec<Range<usize>> = Vec::new();
    for i in 0..n {
        if !vowel[i] {
            continue;
        }
        let starts_group = i == 0 || !vowel[i - 1] || {
            let (a, b) = (w[i - 1], w[i]);
            let before = if i >= 2 { at(i - 2) } else { 0 };
            let after = at(i + 1);
            let rest = &w[i + 1..];
            match (a, b) {
                (_, b'E' | b'I') | (b'y', _) => true,
                (b'i', b'a') => !matches!(before, b'c' | b't' | b's') && !rest.starts_with(b"ge"),
                (b'i', b'o') => !matches!(before, b't' | b's' | b'c' | b'g' | b'x' | b'l' | b'n'),
                (b'i', b'u') => true,
                (b'u', b'a') | (b'u', b'o') => !matches!(before, b'q' | b'g'),
                (b'u', b'e') => !matches!(before, b'q' | b'g') && !matches!(rest, b"" | b"s" | b"d"),
                (b'e', b'o') => before != b'g' && after != b'p',
                (b'o', b'e') => !matches!(rest, b"" | b"s"),
                (b'e', b'a') => i + 1 == n && groups.len() >= 2,
                (b'i', b'e') => {
                    after == b't'
                        || (rest.starts_with(b"nt") && !matches!(before, b't' | b'c' | b's'))
                        || (n >= 6 && matches!(rest, b"r" | b"st"))
                }
                (_, b'i') => matches!(rest, b"ng" | b"ngs"),
                _ => false,
            }
        };
        if starts_group {
            groups.push(i..i + 1);
        } else if let Some(g) = groups.last_mut() {
            g.end = i + 1;
        }
    }
    let mut count = groups.len() as i64;
    let consonant = |i: usize| i < n && !vowel[i];
    // A single-letter `e` group at index i (preceded by a consonant).
    let lone_e = |i: usize| w.get(i) == Some(&b'e') && groups.iter().any(|g| g.start == i && g.end == i + 1);

    if count > 1 {
        if ends_with(b"e") && lone_e(n - 1) {
            let syllabic = n >= 3
                && ((w[n - 2] == b'l' && consonant(n - 3)) || (w[n - 2] == b'r' && consonant(n - 3) && w[n - 3] != b'r'));
            if !syllabic {
                count -= 1;
            }
        } else if (ends_with(b"es") || ends_with(b"ed")) && lone_e(n - 2) {
            let c = if n >= 3 { w[n - 3] } else { 0 };
            let syllabic_l_r = n >= 4 && ((c == b'l' && consonant(n - 4)) || (c == b'r' && consonant(n - 4) && w[n - 4] != b'r'));
            let keep = syllabic_l_r
                || if w[n - 1] == b'd' {
                    matches!(c, b't' | b'd')
                } else {
                    matches!(c, b's' | b'x' | b'z' | b'c' | b'g') || (n >= 4 && c == b'h' && matches!(w[n - 4], b'c' | b's'))
                };
            if !keep {
                count -= 1;
            }
        } else {
            for suffix in [&b"ly"[..], b"ful", b"fully", b"less", b"lessly", b"ness", b"ment", b"ments"] {
                if n > suffix.len() + 2 && ends_with(suffix) {
                    let e = n - suffix.len() - 1;
                    let syllabic = w[e - 1] == b'l' && e >= 2 && consonant(e - 2);
                    if lone_e(e) && !syllabic {
                        count -= 1;
                    }
                    break;
                }
            }
        }
    }
    if ends_with(b"sm") || ends_with(b"thm") {
        count += 1;
    }
    count.max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_of_a_word_list() {
        let cases = [
            ("cat", 1),
            ("the", 1),
            ("table", 2),
            ("beautiful", 3),
            ("readability", 5),
            ("queue", 1),
            ("a", 1),
            ("I", 1),
            ("be", 1),
            ("make", 1),
            ("makes", 1),
            ("jumped", 1),
            ("wanted", 2),
            ("wishes", 2),
            ("horses", 2),
            ("tables", 2),
            ("tickled", 2),
            ("hundred", 2),
            ("acre", 2),
            ("fire", 1),
            ("agree", 2),
            ("agreed", 2),
            ("free", 1),
            ("canoe", 2),
            ("poem", 2),
            ("does", 1),
            ("goes", 1),
            ("movie", 2),
            ("happy", 2),
            ("yes", 1),
            ("beyond", 2),
            ("player", 2),
            ("eye", 1),
            ("flying", 2),
            ("being", 2),
            ("seeing", 2),
            ("going", 2),
            ("piano", 3),
            ("social", 2),
            ("nation", 2),
            ("violin", 3),
            ("medium", 3),
            ("actual", 3),
            ("cruel", 2),
            ("issues", 2),
            ("video", 3),
            ("people", 2),
            ("idea", 3),
            ("area", 3),
            ("quiet", 2),
            ("client", 2),
            ("patient", 2),
            ("happier", 3),
            ("lovely", 2),
            ("completely", 3),
            ("immediately", 5),
            ("hopeful", 2),
            ("movement", 2),
            ("sometimes", 2),
            ("someone", 2),
            ("therefore", 2),
            ("rhythm", 2),
            ("organism", 4),
            ("naïve", 2),
            ("café", 2),
            ("Noël", 2),
            ("fiancée", 3),
            ("don't", 1),
            ("well-known", 2),
            ("unbelievable", 5),
            ("communication", 5),
            ("extraordinary", 5),
            ("university", 5),
            ("syllable", 3),
            ("education", 4),
            ("business", 2),
            ("1984", 1),
            ("мир", 1),
            ("", 1),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(w, n)| count_syllables(w) != *n)
            .map(|(w, n)| format!("{w}: expected {n}, got {}", count_syllables(w)))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        // Documented misses: assert the heuristic's actual answer so a change is noticed.
        assert_eq!(count_syllables("every"), 3); // often said with 2
        assert_eq!(count_syllables("ratio"), 2); // 3
        assert_eq!(count_syllables("lion"), 1); // 2
        assert_eq!(count_syllables("element"), 2); // 3
    }
}
