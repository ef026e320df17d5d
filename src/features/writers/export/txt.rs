//! Plain text: the title block, then each chapter under a ruled heading.

use super::Front;
use super::document::Document;

/// Width of the rule between the title block and the chapters.
const RULE: usize = 60;

/// ```text
/// THE TITLE (as written)
/// by Author
///
/// Description…
///
/// ============================================================
///
///
/// Chapter 1
/// =========
///
/// Paragraph.
/// ```
pub(crate) fn render(front: &Front, doc: &Document) -> String {
    let mut out = String::with_capacity(estimate(doc));
    out.push_str(&front.title);
    out.push('\n');
    out.push_str("by ");
    out.push_str(&front.author);
    out.push('\n');
    for p in &front.description {
        out.push('\n');
        out.push_str(p);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&"=".repeat(RULE));
    out.push('\n');

    for (i, chapter) in doc.chapters.iter().enumerate() {
        out.push_str("\n\n");
        match &chapter.title {
            Some(title) => {
                out.push_str(title);
                out.push('\n');
                out.push_str(&"=".repeat(title.chars().count().clamp(3, RULE)));
                out.push_str("\n\n");
            }
            // Only the opening can be untitled; set it apart from the title block anyway.
            None if i > 0 => out.push_str("* * *\n\n"),
            None => {}
        }
        for p in &chapter.paragraphs {
            out.push_str(p);
            out.push_str("\n\n");
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn estimate(doc: &Document) -> usize {
    doc.chapters
        .iter()
        .flat_map(|c| &c.paragraphs)
        .map(|p| p.len() + 2)
        .sum::<usize>()
        + 1024
}

#[cfg(test)]
mod tests {
    use crate::features::writers::export::tests::sample;
    use crate::features::writers::export::{Format, Manuscript, export};

    #[test]
    fn sample_txt() {
        let out = String::from_utf8(export(&sample(), Format::Txt).unwrap()).unwrap();
        assert!(out.starts_with("The <Tale> & Ж漢\nby Ann O'Nymous\n\nA story about <things> & more.\n\nSecond blurb paragraph.\n\n===="), "{out}");
        assert!(out.contains("\n\nChapter One: <script>alert(1)</script>\n====="));
        assert!(out.contains(
            "Tom & Jerry ran. Ж and 漢 came along.\n\nLine one of a poem\nline two of a poem\n"
        ));
        assert!(out.contains(&format!(
            "\n\nChapter 2: Rain & Шторм\n{}\n\n",
            "=".repeat(23)
        )));
        assert!(out.contains("\n\nEpilogue\n========\n\nThe end. 漢字 Жизнь — fin…\n"));
        assert!(out.ends_with("fin…\n"));
        // The opening sits after the rule, without a heading.
        assert!(out.contains("=\n\n\nA short opening before any chapter.\n"));
    }

    #[test]
    fn empty_txt_is_title_block() {
        let m = Manuscript {
            title: "T",
            author: "A",
            description: None,
            text: "",
        };
        let out = String::from_utf8(export(&m, Format::Txt).unwrap()).unwrap();
        assert_eq!(out, format!("T\nby A\n\n{}\n", "=".repeat(60)));
    }
}
