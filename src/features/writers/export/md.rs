//! Markdown: `# Title`, `*by Author*`, the description as a quote, `## Chapter` headings.
//!
//! Paragraph text is written as is (writers often type Markdown emphasis already); title,
//! author and chapter headings are escaped so they stay plain text. Line breaks inside a
//! paragraph become hard breaks (two trailing spaces).

use super::Front;
use super::document::Document;

pub(crate) fn render(front: &Front, doc: &Document) -> String {
    let mut out = String::with_capacity(
        doc.chapters
            .iter()
            .flat_map(|c| &c.paragraphs)
            .map(|p| p.len() + 4)
            .sum::<usize>()
            + 1024,
    );
    out.push_str("# ");
    out.push_str(&escape_inline(&front.title));
    out.push_str("\n\n*by ");
    out.push_str(&escape_inline(&front.author));
    out.push_str("*\n");
    for p in &front.description {
        out.push_str("\n> ");
        out.push_str(&escape_inline(p));
        out.push('\n');
    }
    for chapter in &doc.chapters {
        out.push('\n');
        if let Some(title) = &chapter.title {
            out.push_str("## ");
            out.push_str(&escape_inline(title));
            out.push_str("\n\n");
        }
        for p in &chapter.paragraphs {
            out.push_str(&p.replace('\n', "  \n"));
            out.push_str("\n\n");
        }
        if out.ends_with("\n\n") {
            out.pop();
        }
    }
    out
}

/// Backslash-escapes the characters that would turn plain text into Markdown or HTML.
fn escape_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::features::writers::export::tests::sample;
    use crate::features::writers::export::{Format, Manuscript, export};

    #[test]
    fn sample_md() {
        let out = String::from_utf8(export(&sample(), Format::Md).unwrap()).unwrap();
        assert!(out.starts_with("# The \\<Tale\\> \\& Ж漢\n\n*by Ann O'Nymous*\n\n> A story about \\<things\\> \\& more.\n\n> Second blurb paragraph.\n\nA short opening"), "{out}");
        assert!(out.contains("\n## Chapter One: \\<script\\>alert(1)\\</script\\>\n\nTom & Jerry ran. Ж and 漢 came along.\n\nLine one of a poem  \nline two of a poem\n"), "{out}");
        assert!(out.contains("\n## Chapter 2: Rain \\& Шторм\n\n"));
        assert!(
            out.ends_with("## Epilogue\n\nThe end. 漢字 Жизнь — fin…\n"),
            "{out}"
        );
        assert_eq!(out.matches("\n## ").count(), 3);
    }

    #[test]
    fn empty_md() {
        let m = Manuscript {
            title: "T",
            author: "A",
            description: None,
            text: "",
        };
        let out = String::from_utf8(export(&m, Format::Md).unwrap()).unwrap();
        assert_eq!(out, "# T\n\n*by A*\n");
    }
}
