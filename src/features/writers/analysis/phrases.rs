//! Repeated phrases: 3- to 5-word sequences that occur more than once within sentences.

use std::collections::HashMap;

use super::lexicon::is_stop;
use super::{PhraseCount, Word};

/// 3- to 5-word phrases repeated within sentences (non-overlapping occurrences).
pub(super) fn repeated_phrases(sentences: &[Vec<Word>]) -> Vec<PhraseCount> {
    const NONE: u32 = u32::MAX;
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut vocab: Vec<&str> = Vec::new();
    let mut encoded: Vec<Vec<u32>> = Vec::with_capacity(sentences.len());
    for s in sentences {
        encoded.push(
            s.iter()
                .map(|w| {
                    *ids.entry(&w.norm).or_insert_with(|| {
                        vocab.push(&w.norm);
                        (vocab.len() - 1) as u32
                    })
                })
                .collect(),
        );
    }
    let stop: Vec<bool> = vocab.iter().map(|w| is_stop(w)).collect();
    // key → (count, first global position where a new occurrence may start)
    let mut counts: HashMap<[u32; 5], (u64, usize)> = HashMap::new();
    let mut global = 0usize;
    for s in &encoded {
        for len in 3..=5usize {
            for (i, window) in s.windows(len).enumerate() {
                if window.iter().all(|&id| stop[id as usize]) {
                    continue;
                }
                let mut key = [NONE; 5];
                key[..len].copy_from_slice(window);
                let pos = global + i;
                let entry = counts.entry(key).or_insert((0, 0));
                if pos >= entry.1 {
                    entry.0 += 1;
                    entry.1 = pos + len;
                }
            }
        }
        global += s.len();
    }
    let mut candidates: Vec<(usize, u64, String)> = counts
        .into_iter()
        .filter(|(_, (c, _))| *c >= 2)
        .map(|(key, (c, _))| {
            let words: Vec<&str> = key.iter().take_while(|&&id| id != NONE).map(|&id| vocab[id as usize]).collect();
            (words.len(), c, words.join(" "))
        })
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then_with(|| a.2.cmp(&b.2)));
    let mut kept: Vec<PhraseCount> = Vec::new();
    for (_, count, phrase) in candidates {
        let padded = format!(" {phrase} ");
        let inside_longer = kept.iter().any(|k| k.count >= count && format!(" {} ", k.phrase).contains(&padded));
        if !inside_longer {
            kept.push(PhraseCount { phrase, count });
            if kept.len() == 10 {
                break;
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::super::{WordCount, analyze};
    use super::*;

    #[test]
    fn repeated_phrases_and_overused_words() {
        let t = "She stood in the middle of the road. A deer stood in the middle of the field. \
                 Later, in the middle of the night, the deer came back. The deer was gone by morning. \
                 The deer had left tracks.";
        let a = analyze(t);
        assert_eq!(
            a.repeated_phrases[0],
            PhraseCount { phrase: "in the middle of the".into(), count: 3 }
        );
        // Sub-phrases occurring only inside it are left out; stop-word-only phrases never appear.
        assert!(a.repeated_phrases.iter().all(|p| p.phrase != "in the middle of" && p.phrase != "the middle of"));
        assert!(a.repeated_phrases.iter().all(|p| p.phrase != "in the" && p.phrase.split(' ').count() >= 3));
        assert!(a.repeated_phrases.iter().any(|p| p.phrase == "stood in the middle of" && p.count == 2));
        assert_eq!(a.overused_words[0], WordCount { word: "deer".into(), count: 4 });
        assert!(a.overused_words.iter().any(|w| w.word == "middle" && w.count == 3));
        assert!(a.overused_words.iter().all(|w| w.word != "the"));
        let b = analyze("Punctuation, ignored: one big dog; One big dog!");
        assert_eq!(b.repeated_phrases, vec![PhraseCount { phrase: "one big dog".into(), count: 2 }]);
    }
}
