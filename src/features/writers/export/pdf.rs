//! PDF (printpdf 0.12, built-in fonts only): A4 pages, a title page, every chapter on a new
//! page under a centred heading, paragraphs word-wrapped with the real Times widths, automatic
//! page breaks, page numbers in the footer and a bookmark (outline entry) per chapter.
//!
//! **Non-Latin text comes out as `?`.** The base-14 fonts need no font file but are
//! WinAnsi-encoded: Latin-1 plus the typographic punctuation of Windows-1252 (curly quotes,
//! dashes, `…`, `€`, `™`, …). Every other character (Cyrillic, CJK, emoji, combining accents)
//! is replaced with `?` in the page text. The document outline and the document-info title
//! and author are UTF-16 and keep the real characters. Full Unicode needs an embedded TTF
//! (e.g. DejaVu under `static/fonts/`, see docs/crates.md): swap the `PdfFontHandle::Builtin`
//! uses for `External` and measure with that font's widths.

use printpdf::{
    BuiltinFont, OffsetDateTime, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Pt,
    TextItem, TextMatrix,
};

use super::document::Document;
use super::{ExportError, Front};

/// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 72.0;
const MARGIN_TOP: f32 = 72.0;
const MARGIN_BOTTOM: f32 = 72.0;
const FOOTER_BASELINE: f32 = 40.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

/// Where the title block starts on the title page, and how far a chapter heading drops.
const TITLE_TOP: f32 = PAGE_H - 230.0;
const CHAPTER_DROP: f32 = 72.0;
const PARAGRAPH_GAP: f32 = 8.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Face {
    Roman,
    Bold,
    Italic,
}

impl Face {
    fn builtin(self) -> BuiltinFont {
        match self {
            Face::Roman => BuiltinFont::TimesRoman,
            Face::Bold => BuiltinFont::TimesBold,
            Face::Italic => BuiltinFont::TimesItalic,
        }
    }

    fn widths(self) -> &'static [u16; 256] {
        match self {
            Face::Roman => &TIMES_ROMAN,
            Face::Bold => &TIMES_BOLD,
            Face::Italic => &TIMES_ITALIC,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Style {
    face: Face,
    size: f32,
    leading: f32,
}

const BODY: Style = Style {
    face: Face::Roman,
    size: 12.0,
    leading: 16.5,
};
const HEADING: Style = Style {
    face: Face::Bold,
    size: 20.0,
    leading: 26.0,
};
const TITLE: Style = Style {
    face: Face::Bold,
    size: 28.0,
    leading: 34.0,
};
const AUTHOR: Style = Style {
    face: Face::Italic,
    size: 16.0,
    leading: 22.0,
};
const FOOTER: Style = Style {
    face: Face::Roman,
    size: 10.0,
    leading: 12.0,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Align {
    Left,
    Center,
}

pub(crate) fn render(front: &Front, doc: &Document) -> Result<Vec<u8>, ExportError> {
    let mut w = Writer::default();

    // Title page.
    w.new_page();
    w.y = TITLE_TOP;
    w.paragraph(&front.title, TITLE, Align::Center);
    w.space(18.0);
    w.paragraph(&format!("by {}", front.author), AUTHOR, Align::Center);
    w.space(36.0);
    for p in &front.description {
        w.paragraph(p, BODY, Align::Center);
        w.space(PARAGRAPH_GAP);
    }

    let mut bookmarks = Vec::new();
    for chapter in &doc.chapters {
        w.new_page();
        if let Some(title) = &chapter.title {
            bookmarks.push((title.clone(), w.pages.len() + 1));
            w.space(CHAPTER_DROP);
            w.paragraph(title, HEADING, Align::Center);
            w.space(24.0);
        }
        for p in &chapter.paragraphs {
            w.paragraph(p, BODY, Align::Left);
            w.space(PARAGRAPH_GAP);
        }
    }
    let pages = w.finish();

    let mut pdf = PdfDocument::new(&front.title);
    let now = OffsetDateTime::now_utc();
    let info = &mut pdf.metadata.info;
    info.author = front.author.clone();
    info.creator = "Optima".to_string();
    info.producer = "Optima (printpdf)".to_string();
    if let Some(d) = front.description.first() {
        info.subject = d.clone();
    }
    info.creation_date = now;
    info.modification_date = now;
    info.metadata_date = now;
    for (title, page) in &bookmarks {
        pdf.add_bookmark(title, *page);
    }
    let pages = pages
        .into_iter()
        .map(|ops| PdfPage::new(Pt(PAGE_W).into(), Pt(PAGE_H).into(), ops))
        .collect();
    let mut warnings = Vec::new();
    let bytes = pdf
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    if !bytes.starts_with(b"%PDF-") {
        return Err(ExportError("pdf: the writer produced no PDF".to_string()));
    }
    Ok(bytes)
}

/// Lays out lines top to bottom, opening a new page when the next line would cross the
/// bottom margin. `y` is the top of the next line box.
#[derive(Default)]
struct Writer {
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    open: bool,
    y: f32,
    font: Option<(Face, f32)>,
    /// Whether a line was drawn on the current page: a page is never broken before its first
    /// line, so an oversized block cannot loop.
    drawn: bool,
}

impl Writer {
    fn new_page(&mut self) {
        self.finish_page();
        self.ops = vec![Op::StartTextSection];
        self.open = true;
        self.y = PAGE_H - MARGIN_TOP;
        self.font = None;
        self.drawn = false;
    }

    /// Closes the current page; every page after the title page gets its number.
    fn finish_page(&mut self) {
        if !self.open {
            return;
        }
        let number = self.pages.len() + 1;
        if number > 1 {
            let label = number.to_string();
            let x = (PAGE_W - text_width(&label, FOOTER)) / 2.0;
            self.show(&label, FOOTER, x, FOOTER_BASELINE);
        }
        self.ops.push(Op::EndTextSection);
        self.pages.push(std::mem::take(&mut self.ops));
        self.open = false;
    }

    fn finish(mut self) -> Vec<Vec<Op>> {
        self.finish_page();
        self.pages
    }

    fn space(&mut self, points: f32) {
        self.y -= points;
    }

    /// Word-wraps `text` (its `'\n'`s are forced line breaks) and draws it.
    fn paragraph(&mut self, text: &str, style: Style, align: Align) {
        let text = pdf_text(text);
        for hard_line in text.split('\n') {
            for line in wrap(hard_line, style, TEXT_W) {
                self.line(&line, style, align);
            }
        }
    }

    fn line(&mut self, text: &str, style: Style, align: Align) {
        if self.y - style.leading < MARGIN_BOTTOM && self.drawn {
            self.new_page();
        }
        let baseline = self.y - style.size;
        let x = match align {
            Align::Left => MARGIN_X,
            Align::Center => MARGIN_X + ((TEXT_W - text_width(text, style)) / 2.0).max(0.0),
        };
        self.show(text, style, x, baseline);
        self.y -= style.leading;
        self.drawn = true;
    }

    fn show(&mut self, text: &str, style: Style, x: f32, baseline: f32) {
        if self.font != Some((style.face, style.size)) {
            self.ops.push(Op::SetFont {
                font: PdfFontHandle::Builtin(style.face.builtin()),
                size: Pt(style.size),
            });
            self.font = Some((style.face, style.size));
        }
        self.ops.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(x), Pt(baseline)),
        });
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        });
    }
}

/// Greedy word wrap on spaces; a word wider than the line is cut between characters.
/// `text` must already be WinAnsi-safe ([`pdf_text`]). Never returns an empty list, so an
/// empty line still takes its height.
fn wrap(text: &str, style: Style, max: f32) -> Vec<String> {
    let space = char_width(' ', style);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut width = 0.0f32;
    for word in text.split_whitespace() {
        let w = text_width(word, style);
        if !line.is_empty() && width + space + w <= max {
            line.push(' ');
            line.push_str(word);
            width += space + w;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if w <= max {
            line.push_str(word);
            width = w;
            continue;
        }
        // Hard-cut an over-long word (URLs, "aaaa…").
        width = 0.0;
        for c in word.chars() {
            let cw = char_width(c, style);
            if !line.is_empty() && width + cw > max {
                lines.push(std::mem::take(&mut line));
                width = 0.0;
            }
            line.push(c);
            width += cw;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn text_width(text: &str, style: Style) -> f32 {
    text.chars().map(|c| char_width(c, style)).sum()
}

fn char_width(c: char, style: Style) -> f32 {
    let units = win_ansi(c).map_or(0, |b| style.face.widths()[b as usize]);
    let units = if units == 0 { 500 } else { units };
    f32::from(units) * style.size / 1000.0
}

/// The text as the built-in fonts can show it: every character without a WinAnsi code
/// becomes `?` (see the module docs).
fn pdf_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => '\n',
            c if win_ansi(c).is_some() => c,
            _ => '?',
        })
        .collect()
}

/// The WinAnsiEncoding (Windows-1252) byte for `c`, as printpdf encodes it.
fn win_ansi(c: char) -> Option<u8> {
    let cp = c as u32;
    if (0x20..=0x7E).contains(&cp) || (0xA0..=0xFF).contains(&cp) {
        return Some(cp as u8);
    }
    Some(match c {
        '\u{20AC}' => 0x80,
        '\u{201A}' => 0x82,
        '\u{0192}' => 0x83,
        '\u{201E}' => 0x84,
        '\u{2026}' => 0x85,
        '\u{2020}' => 0x86,
        '\u{2021}' => 0x87,
        '\u{02C6}' => 0x88,
        '\u{2030}' => 0x89,
        '\u{0160}' => 0x8A,
        '\u{2039}' => 0x8B,
        '\u{0152}' => 0x8C,
        '\u{017D}' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201C}' => 0x93,
        '\u{201D}' => 0x94,
        '\u{2022}' => 0x95,
        '\u{2013}' => 0x96,
        '\u{2014}' => 0x97,
        '\u{02DC}' => 0x98,
        '\u{2122}' => 0x99,
        '\u{0161}' => 0x9A,
        '\u{203A}' => 0x9B,
        '\u{0153}' => 0x9C,
        '\u{017E}' => 0x9E,
        '\u{0178}' => 0x9F,
        _ => return None,
    })
}

// Advance widths in 1/1000 em per WinAnsi byte, read from the Times faces printpdf ships and
// checked against Adobe's core-14 AFM metrics, which win where the two differ (space,
// no-break space, U+201D, a few italic glyphs): viewers draw the standard fonts with those.
// 0 = no glyph (control codes, unused bytes).
#[rustfmt::skip]
const TIMES_ROMAN: [u16; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278,
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444,
    921, 722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722, 611, 889, 722, 722,
    556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469, 500,
    333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500,
    500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541, 0,
    500, 0, 333, 500, 444, 1000, 500, 500, 333, 1000, 556, 333, 889, 0, 611, 0,
    0, 333, 333, 444, 444, 350, 500, 1000, 333, 980, 389, 333, 722, 0, 444, 722,
    250, 333, 500, 500, 500, 500, 200, 500, 333, 760, 276, 500, 564, 333, 760, 500,
    400, 549, 300, 300, 333, 576, 453, 250, 333, 300, 310, 500, 750, 750, 750, 444,
    722, 722, 722, 722, 722, 722, 889, 667, 611, 611, 611, 611, 333, 333, 333, 333,
    722, 722, 722, 722, 722, 722, 722, 564, 722, 722, 722, 722, 722, 722, 556, 500,
    444, 444, 444, 444, 444, 444, 667, 444, 444, 444, 444, 444, 278, 278, 278, 278,
    500, 500, 500, 500, 500, 500, 500, 549, 500, 500, 500, 500, 500, 500, 500, 500,
];

#[rustfmt::skip]
const TIMES_BOLD: [u16; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    250, 333, 555, 500, 500, 1000, 833, 278, 333, 333, 500, 570, 250, 333, 250, 278,
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 333, 333, 570, 570, 570, 500,
    930, 722, 667, 722, 722, 667, 611, 778, 778, 389, 500, 778, 667, 944, 722, 778,
    611, 778, 722, 556, 667, 722, 722, 1000, 722, 722, 667, 333, 278, 333, 581, 500,
    333, 500, 556, 444, 556, 444, 333, 500, 556, 278, 333, 556, 278, 833, 556, 500,
    556, 556, 444, 389, 333, 556, 500, 722, 500, 500, 444, 394, 220, 394, 520, 0,
    500, 0, 333, 500, 500, 1000, 500, 500, 333, 1000, 556, 333, 1000, 0, 667, 0,
    0, 333, 333, 500, 500, 350, 500, 1000, 333, 1000, 389, 333, 722, 0, 444, 722,
    250, 333, 500, 500, 500, 500, 220, 500, 333, 747, 300, 500, 570, 333, 747, 500,
    400, 549, 300, 300, 333, 576, 540, 250, 333, 300, 330, 500, 750, 750, 750, 500,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 389, 389, 389, 389,
    722, 722, 778, 778, 778, 778, 778, 570, 778, 722, 722, 722, 722, 722, 611, 556,
    500, 500, 500, 500, 500, 500, 722, 444, 444, 444, 444, 444, 278, 278, 278, 278,
    500, 556, 500, 500, 500, 500, 500, 549, 500, 556, 556, 556, 556, 500, 556, 500,
];

#[rustfmt::skip]
const TIMES_ITALIC: [u16; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    250, 333, 420, 500, 500, 833, 778, 214, 333, 333, 500, 675, 250, 333, 250, 278,
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 333, 333, 675, 675, 675, 500,
    920, 611, 611, 667, 722, 611, 611, 722, 722, 333, 444, 667, 556, 833, 667, 722,
    611, 722, 611, 500, 556, 722, 611, 833, 611, 556, 556, 389, 278, 389, 422, 500,
    333, 500, 500, 444, 500, 444, 278, 500, 500, 278, 278, 444, 278, 722, 500, 500,
    500, 500, 389, 389, 278, 500, 444, 667, 444, 444, 389, 400, 275, 400, 541, 0,
    500, 0, 333, 500, 556, 889, 500, 500, 333, 1000, 500, 333, 944, 0, 556, 0,
    0, 333, 333, 556, 556, 350, 500, 889, 333, 980, 389, 333, 667, 0, 389, 556,
    250, 389, 500, 500, 500, 500, 275, 500, 333, 760, 276, 500, 675, 333, 760, 500,
    400, 549, 300, 300, 333, 576, 523, 250, 333, 300, 310, 500, 750, 750, 750, 500,
    611, 611, 611, 611, 611, 611, 889, 667, 611, 611, 611, 611, 333, 333, 333, 333,
    722, 667, 722, 722, 722, 722, 722, 675, 722, 722, 722, 722, 722, 556, 611, 500,
    500, 500, 500, 500, 500, 500, 667, 444, 444, 444, 444, 444, 278, 278, 278, 278,
    500, 500, 500, 500, 500, 500, 500, 549, 500, 500, 500, 500, 500, 444, 500, 444,
];

#[cfg(test)]
mod tests {
    use printpdf::{PdfDocument, PdfParseOptions};

    use super::*;
    use crate::features::writers::export::tests::sample;
    use crate::features::writers::export::{Format, Manuscript, export};

    fn parse(bytes: &[u8]) -> PdfDocument {
        PdfDocument::parse(bytes, &PdfParseOptions::default(), &mut Vec::new())
            .expect("printpdf parses the PDF back")
    }

    /// All text of each page, whitespace-normalised.
    fn page_texts(doc: &PdfDocument) -> Vec<String> {
        doc.extract_text()
            .iter()
            .map(|chunks| {
                chunks
                    .iter()
                    .flat_map(|c| c.split_whitespace())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn check_envelope(bytes: &[u8]) {
        assert!(bytes.starts_with(b"%PDF-"));
        let end = bytes.trim_ascii_end();
        assert!(end.ends_with(b"%%EOF"), "ends with %%EOF");
    }

    #[test]
    fn sample_pdf_parses_back_with_chapters_on_their_own_pages() {
        let bytes = export(&sample(), Format::Pdf).unwrap();
        check_envelope(&bytes);
        let doc = parse(&bytes);
        let pages = page_texts(&doc);
        // Title page, untitled opening, three chapters.
        assert_eq!(pages.len(), 5, "{pages:#?}");
        assert!(pages[0].contains("The <Tale> & ??"), "{}", pages[0]);
        assert!(pages[0].contains("by Ann O'Nymous"));
        assert!(pages[0].contains("A story about <things> & more."));
        assert!(pages[1].contains("A short opening before any chapter."));
        assert!(pages[1].ends_with('2'), "page number: {}", pages[1]);
        assert!(
            pages[2].contains("Chapter One: <script>alert(1)</script>"),
            "{}",
            pages[2]
        );
        assert!(pages[2].contains("Tom & Jerry ran. ? and ? came along."));
        assert!(pages[2].contains("Line one of a poem line two of a poem"));
        assert!(pages[3].contains("Chapter 2: Rain & ?????"));
        assert!(pages[3].contains("\"quoted\" 'single'"));
        assert!(pages[4].contains("Epilogue"));
        assert!(
            pages[4].contains("The end. ?? ????? — fin…"),
            "{}",
            pages[4]
        );
        assert!(pages[4].ends_with('5'));
        assert_eq!(doc.metadata.info.author, "Ann O'Nymous");
        assert_eq!(doc.metadata.info.document_title, "The <Tale> & Ж漢");
        let mut outline: Vec<_> = doc
            .bookmarks
            .map
            .values()
            .map(|b| (b.page, b.name.clone()))
            .collect();
        outline.sort();
        assert_eq!(
            outline,
            vec![
                (3, "Chapter One: <script>alert(1)</script>".to_string()),
                (4, "Chapter 2: Rain & Шторм".to_string()),
                (5, "Epilogue".to_string()),
            ]
        );
    }

    #[test]
    fn empty_pdf_is_one_title_page() {
        let m = Manuscript {
            title: "",
            author: "",
            description: None,
            text: "",
        };
        let bytes = export(&m, Format::Pdf).unwrap();
        check_envelope(&bytes);
        let pages = page_texts(&parse(&bytes));
        assert_eq!(pages, vec!["Untitled by Anonymous".to_string()]);
    }

    #[test]
    fn long_chapter_breaks_pages_and_wraps_within_margins() {
        let para = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod \
                    tempor incididunt ut labore et dolore magna aliqua.";
        let text = format!(
            "# Long\n\n{}\n\nSupercalifragilistic{}\n",
            vec![para; 120].join("\n\n"),
            "x".repeat(300)
        );
        let m = Manuscript {
            title: "Wrap",
            author: "W",
            description: None,
            text: &text,
        };
        let bytes = export(&m, Format::Pdf).unwrap();
        let doc = parse(&bytes);
        assert!(doc.pages.len() > 5, "{} pages", doc.pages.len());
        let all = page_texts(&doc).join(" ");
        assert_eq!(all.matches("Lorem ipsum").count(), 120);

        // Every line we lay out fits between the margins, and the writer breaks pages.
        for line in wrap(&pdf_text(&text.replace('\n', " ")), BODY, TEXT_W) {
            assert!(text_width(&line, BODY) <= TEXT_W + 0.01, "{line}");
        }
        let mut w = Writer::default();
        w.new_page();
        w.paragraph(&text, BODY, Align::Left);
        assert!(w.finish().len() > 3);
    }

    #[test]
    fn wrap_and_measure() {
        assert_eq!(wrap("", BODY, 100.0), vec![String::new()]);
        assert_eq!(wrap("a b c", BODY, 1000.0), vec!["a b c"]);
        // "aaaa" is 4 × 444/1000 × 12 = 21.312 pt, a space 3 pt: both words need 45.624 pt.
        assert_eq!(wrap("aaaa aaaa", BODY, 45.7), vec!["aaaa aaaa"]);
        assert_eq!(wrap("aaaa aaaa", BODY, 45.5), vec!["aaaa", "aaaa"]);
        assert_eq!(wrap("  aaaa   aaaa ", BODY, 45.7), vec!["aaaa aaaa"]);
        let cut = wrap(&"m".repeat(100), BODY, 100.0);
        assert!(cut.len() > 1);
        assert!(cut.iter().all(|l| text_width(l, BODY) <= 100.0));
        assert_eq!(cut.concat(), "m".repeat(100));
        assert!((text_width("W", BODY) - 0.944 * 12.0).abs() < 1e-3);
        assert!(
            (text_width("W", TITLE) - 28.0).abs() < 1e-3,
            "Times-Bold W is 1000 units"
        );
        assert!(
            (text_width("Ж", BODY) - 6.0).abs() < 1e-3,
            "unmapped: 500 units"
        );
        assert_eq!(pdf_text("Ж漢é—“x”😀"), "??é—“x”?");
    }
}
