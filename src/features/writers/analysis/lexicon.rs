//! Word lists and the judgements made with them: stop words, -ly manner adverbs, and passive
//! constructions (a form of "to be" followed by a past participle).

use std::collections::HashSet;
use std::sync::LazyLock;


const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "ain't", "all", "also", "although", "am", "among", "an", "and",
    "another", "any", "are", "aren't", "around", "as", "at", "away", "back", "be", "because", "been", "before", "being",
    "below", "between", "both", "but", "by", "can", "can't", "cannot", "could", "couldn't", "did", "didn't", "do", "does",
    "doesn't", "doing", "don't", "down", "during", "each", "either", "else", "even", "ever", "every", "few", "for",
    "from", "further", "get", "gets", "got", "had", "hadn't", "has", "hasn't", "have", "haven't", "having", "he",
    "he'd", "he'll", "he's", "her", "here", "here's", "hers", "herself", "him", "himself", "his", "how", "how's", "i",
    "i'd", "i'll", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it'd", "it'll", "it's", "its", "itself",
    "let", "let's", "may", "me", "might", "mine", "more", "most", "much", "must", "mustn't", "my", "myself", "neither",
    "no", "nor", "not", "now", "of", "off", "oh", "on", "once", "one", "only", "onto", "or", "other", "others", "ought",
    "our", "ours", "ourselves", "out", "over", "own", "per", "rather", "said", "same", "say", "says", "shall", "shan't",
    "she", "she'd", "she'll", "she's", "should", "shouldn't", "since", "so", "some", "still", "such", "than", "that",
    "that's", "the", "their", "theirs", "them", "themselves", "then", "there", "there's", "these", "they", "they'd",
    "they'll", "they're", "they've", "this", "those", "though", "through", "thus", "to", "too", "toward", "towards",
    "under", "until", "up", "upon", "us", "was", "wasn't", "we", "we'd", "we'll", "we're", "we've", "were", "weren't",
    "what", "what's", "when", "when's", "where", "where's", "whether", "which", "while", "who", "who's", "whom", "whose",
    "why", "why's", "will", "with", "within", "without", "won't", "would", "wouldn't", "yes", "yet", "you", "you'd",
    "you'll", "you're", "you've", "your", "yours", "yourself", "yourselves",
];

static STOP_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOP_WORDS.iter().copied().collect());

pub(super) fn is_stop(w: &str) -> bool {
    STOP_SET.contains(w)
}

/// Words ending in -ly that are not manner adverbs.
const LY_NOT_ADVERBS: &[&str] = &[
    "ally", "anomaly", "apply", "assembly", "belly", "billy", "bodily", "bully", "burly", "butterfly", "chilly",
    "comely", "comply", "costly", "cowardly", "crinkly", "cuddly", "curly", "daily", "deadly", "dolly", "dragonfly",
    "early", "earthly", "elderly", "emily", "family", "fatherly", "firefly", "folly", "friendly", "gadfly", "ghastly", "ghostly",
    "giggly", "gnarly", "grisly", "gristly", "grizzly", "gully", "heavenly", "hilly", "holly", "holy", "homely",
    "hourly", "housefly", "imply", "italy", "jelly", "jolly", "july", "kelly", "kimberly", "likely", "lily", "lively", "lolly", "lonely", "lovely", "lowly",
    "manly", "mayfly", "measly", "melancholy", "molly", "monopoly", "monthly", "motherly", "multiply", "neighborly",
    "neighbourly", "nightly", "oily", "only", "orderly", "pearly", "polly", "prickly", "rally", "rely", "reply", "sally", "scholarly", "shelly",
    "sickly", "silly", "sisterly", "smelly", "sparkly", "stately", "sully", "supply", "surly", "tally", "timely",
    "ugly", "unfriendly", "unholy", "unlikely", "untimely", "weekly", "wily", "wobbly", "womanly", "woolly", "wooly",
    "worldly", "wrinkly", "yearly",
];

/// Forms of "to be" that can start a passive.
const BE_FORMS: &[&str] = &[
    "am", "is", "are", "was", "were", "be", "been", "being", "isn't", "aren't", "wasn't", "weren't", "i'm", "you're",
    "we're", "they're",
];

/// Words allowed between the form of "to be" and the participle (besides -ly adverbs).
const PASSIVE_GAP: &[&str] = &[
    "not", "never", "also", "just", "already", "still", "always", "often", "then", "all", "so", "very", "too", "soon",
    "later", "ever", "even", "once", "both", "rarely", "being", "been",
];

const IRREGULAR_PARTICIPLES: &[&str] = &[
    "awoken", "beaten", "begun", "bent", "bet", "bitten", "bled", "blown", "born", "borne", "bought", "bound", "bred",
    "broadcast", "broken", "brought", "built", "burnt", "caught", "chosen", "cast", "cut", "dealt", "done", "drawn",
    "dreamt", "driven", "drunk", "dug", "eaten", "fallen", "fed", "felt", "fought", "forbidden", "forgiven",
    "forgotten", "forsaken", "found", "frozen", "given", "gone", "gotten", "ground", "grown", "heard", "held", "hidden",
    "hit", "hung", "hurt", "kept", "known", "laid", "leant", "learnt", "led", "left", "lent", "lit", "lost", "made",
    "meant", "met", "mistaken", "misunderstood", "mown", "overcome", "overtaken", "paid", "proven", "put", "quit",
    "read", "rid", "ridden", "risen", "run", "sat", "seen", "sent", "set", "sewn", "shaken", "shed", "shot", "shown",
    "shut", "slain", "slung", "sold", "sought", "sown", "sped", "spelt", "spent", "spilt", "split", "spoken", "spread",
    "sprung", "spun", "stolen", "stricken", "struck", "strung", "stuck", "stung", "sung", "sunk", "sworn", "swept",
    "swollen", "swung", "taken", "taught", "thought", "thrown", "thrust", "told", "torn", "trodden", "understood",
    "undone", "upheld", "upset", "woken", "won", "worn", "woven", "wound", "written", "wrung",
];

/// Words ending in -ed that are not past participles (or are adjectives only).
const ED_NOT_PARTICIPLES: &[&str] = &[
    "bed", "breed", "creed", "deed", "embed", "feed", "greed", "hatred", "heed", "hundred", "indeed", "kindred",
    "naked", "need", "ragged", "red", "reed", "rugged", "sacred", "seed", "shed", "shred", "sled", "speed", "steed",
    "wed", "weed", "wicked", "wretched",
];

pub(super) fn is_adverb(w: &str) -> bool {
    w.len() >= 4 && w.ends_with("ly") && w.chars().all(|c| c.is_alphabetic()) && !LY_NOT_ADVERBS.contains(&w)
}

fn is_participle(w: &str) -> bool {
    IRREGULAR_PARTICIPLES.contains(&w)
        || (w.len() >= 4 && w.ends_with("ed") && w.chars().all(|c| c.is_alphabetic()) && !ED_NOT_PARTICIPLES.contains(&w))
}

pub(super) fn has_passive(words: &[&str]) -> bool {
    words.iter().enumerate().any(|(i, w)| {
        if !BE_FORMS.contains(w) {
            return false;
        }
        match (words.get(i + 1), words.get(i + 2)) {
            (Some(a), _) if is_participle(a) => true,
            (Some(a), Some(b)) => (PASSIVE_GAP.contains(a) || is_adverb(a)) && is_participle(b),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::{analyze, round_to};

    #[test]
    fn passive_voice() {
        let a = analyze("The letter was written by hand. The photos were taken at noon. We left early. She sings.");
        assert_eq!(a.sentences, 4);
        assert_eq!(a.passive_voice_density, 50.0);
        assert_eq!(analyze("The door was quickly closed.").passive_voice_density, 100.0);
        assert_eq!(analyze("It was not known.").passive_voice_density, 100.0);
        assert_eq!(analyze("The car is being repaired.").passive_voice_density, 100.0);
        assert_eq!(analyze("She was happy. The wall is red. He was in bed. It was a hundred.").passive_voice_density, 0.0);
        assert_eq!(analyze("She was a closed book.").passive_voice_density, 0.0);
    }

    #[test]
    fn adverbs() {
        let a = analyze("He ran quickly and quietly. She only smiled. The family was friendly, early and holy. Reply softly.");
        // quickly, quietly, softly of 17 words
        assert_eq!(a.words, 17);
        assert_eq!(a.adverb_density, round_to(300.0 / 17.0, 2));
        assert_eq!(analyze("Emily met Kelly. Emily laughed.").adverb_density, 0.0);
    }
}
