//! Word (DOCX, docx-rs): a Title paragraph and the author (Subtitle) on the first page, then
//! every chapter starting on a new page with a `Heading1` paragraph (outline level 0, so it
//! shows in Word's navigation pane), body paragraphs in Times New Roman 12 pt, line breaks
//! inside a paragraph as `<w:br/>`, A4 pages with 2.5 cm margins and a centred page number.

use docx_rs::{
    AlignmentType, BreakType, Docx, Footer, LineSpacing, PageMargin, PageNum, Paragraph, Run,
    RunFonts, Style, StyleType,
};

use super::document::Document;
use super::{ExportError, Front};

/// Twentieths of a point.
const A4_WIDTH: u32 = 11906;
const A4_HEIGHT: u32 = 16838;
const MARGIN: i32 = 1417;

pub(crate) fn render(front: &Front, doc: &Document) -> Result<Vec<u8>, ExportError> {
    let mut docx = Docx::new()
        .page_size(A4_WIDTH, A4_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(MARGIN)
                .bottom(MARGIN)
                .left(MARGIN)
                .right(MARGIN)
                .header(708)
                .footer(708),
        )
        .default_fonts(
            RunFonts::new()
                .ascii("Times New Roman")
                .hi_ansi("Times New Roman")
                .cs("Times New Roman"),
        )
        .default_size(24)
        .default_line_spacing(LineSpacing::new().after(160).line(276))
        .add_style(
            Style::new("Title", StyleType::Paragraph)
                .name("Title")
                .based_on("Normal")
                .next("Normal")
                .size(56)
                .bold()
                .align(AlignmentType::Center)
                .line_spacing(LineSpacing::new().before(3600).after(480)),
        )
        .add_style(
            Style::new("Subtitle", StyleType::Paragraph)
                .name("Subtitle")
                .based_on("Normal")
                .next("Normal")
                .size(32)
                .italic()
                .align(AlignmentType::Center)
                .line_spacing(LineSpacing::new().after(720)),
        )
        .add_style(
            Style::new("Heading1", StyleType::Paragraph)
                .name("heading 1")
                .based_on("Normal")
                .next("Normal")
                .size(36)
                .bold()
                .align(AlignmentType::Center)
                .outline_lvl(0)
                .line_spacing(LineSpacing::new().before(1440).after(480)),
        )
        .footer(
            Footer::new().add_paragraph(
                Paragraph::new()
                    .align(AlignmentType::Center)
                    .add_page_num(PageNum::new()),
            ),
        );

    docx = docx
        .add_paragraph(text_paragraph(&front.title).style("Title"))
        .add_paragraph(text_paragraph(&format!("by {}", front.author)).style("Subtitle"));
    for p in &front.description {
        docx = docx.add_paragraph(text_paragraph(p).align(AlignmentType::Center));
    }

    for chapter in &doc.chapters {
        let mut paragraphs = chapter.paragraphs.iter();
        match &chapter.title {
            Some(t) => {
                docx =
                    docx.add_paragraph(text_paragraph(t).style("Heading1").page_break_before(true));
            }
            // An untitled opening is never empty: its first paragraph takes the page break.
            None => {
                if let Some(first) = paragraphs.next() {
                    docx = docx.add_paragraph(text_paragraph(first).page_break_before(true));
                }
            }
        }
        for p in paragraphs {
            docx = docx.add_paragraph(text_paragraph(p));
        }
    }

    let mut out = std::io::Cursor::new(Vec::new());
    docx.build()
        .pack(&mut out)
        .map_err(|e| ExportError(format!("docx: {e}")))?;
    Ok(out.into_inner())
}

/// One run; each `'\n'` becomes a text-wrapping break.
fn text_paragraph(text: &str) -> Paragraph {
    let mut run = Run::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            run = run.add_break(BreakType::TextWrapping);
        }
        run = run.add_text(line);
    }
    Paragraph::new().add_run(run)
}

#[cfg(test)]
mod tests {
    use docx_rs::{DocumentChild, read_docx};

    use crate::features::writers::export::tests::sample;
    use crate::features::writers::export::{Format, Manuscript, export};

    /// (style, page break before, text) of every body paragraph.
    fn read_back(bytes: &[u8]) -> Vec<(String, bool, String)> {
        let docx = read_docx(bytes).expect("docx-rs reads its own output");
        docx.document
            .children
            .iter()
            .filter_map(|c| match c {
                DocumentChild::Paragraph(p) => Some((
                    p.property
                        .style
                        .as_ref()
                        .map(|s| s.val.clone())
                        .unwrap_or_default(),
                    p.property.page_break_before.unwrap_or(false),
                    p.raw_text(),
                )),
                _ => None,
            })
            .collect()
    }

    fn row(style: &str, brk: bool, text: &str) -> (String, bool, String) {
        (style.to_string(), brk, text.to_string())
    }

    #[test]
    fn sample_docx_round_trips() {
        let bytes = export(&sample(), Format::Docx).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        let paragraphs = read_back(&bytes);
        let expected = vec![
            row("Title", false, "The <Tale> & Ж漢"),
            row("Subtitle", false, "by Ann O'Nymous"),
            row("", false, "A story about <things> & more."),
            row("", false, "Second blurb paragraph."),
            row("", true, "A short opening before any chapter."),
            row("Heading1", true, "Chapter One: <script>alert(1)</script>"),
            row("", false, "Tom & Jerry ran. Ж and 漢 came along."),
            row("", false, "Line one of a poem\nline two of a poem"),
            row("Heading1", true, "Chapter 2: Rain & Шторм"),
            row("", false, "It rained. <b>bold?</b> \"quoted\" 'single'"),
            row("Heading1", true, "Epilogue"),
            row("", false, "The end. 漢字 Жизнь — fin…"),
        ];
        // The reader may report the style of unstyled paragraphs as "Normal".
        let normalized: Vec<_> = paragraphs
            .into_iter()
            .map(|(s, b, t)| (if s == "Normal" { String::new() } else { s }, b, t))
            .collect();
        assert_eq!(normalized, expected);
    }

    #[test]
    fn empty_docx_is_title_page() {
        let m = Manuscript {
            title: "T",
            author: "A",
            description: None,
            text: "",
        };
        let paragraphs = read_back(&export(&m, Format::Docx).unwrap());
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].2, "T");
        assert_eq!(paragraphs[1].2, "by A");
    }
}
