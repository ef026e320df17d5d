//! Manuscript export: one manuscript text, six downloadable formats (PDF, DOCX, EPUB, Markdown,
//! HTML, plain text), each a real file with a title page, chapters and paragraphs.
//!
//! The text is first split into chapters by [`document::parse`]; every format then renders
//! the same [`document::Document`]. Everything runs in memory and is CPU-bound (a 200,000-word
//! novel takes a moment in a debug build): call [`export`] from `tokio::task::spawn_blocking`.

pub mod document;
mod docx;
mod epub;
mod html;
mod md;
mod pdf;
mod txt;

#[cfg(test)]
mod testzip;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Docx,
    Epub,
    Md,
    Html,
    Txt,
}

impl Format {
    /// All formats, in a stable order (for listings and documentation).
    pub const ALL: [Format; 6] = [
        Format::Pdf,
        Format::Docx,
        Format::Epub,
        Format::Md,
        Format::Html,
        Format::Txt,
    ];

    /// Parses a format name or file extension, case-insensitively, with or without a leading
    /// dot: `pdf`, `docx`, `epub`, `md`/`markdown`, `html`/`htm`, `txt`/`text`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s.strip_prefix('.').unwrap_or(s).to_ascii_lowercase();
        Some(match s.as_str() {
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            "epub" => Format::Epub,
            "md" | "markdown" => Format::Md,
            "html" | "htm" => Format::Html,
            "txt" | "text" => Format::Txt,
            _ => return None,
        })
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Epub => "epub",
            Format::Md => "md",
            Format::Html => "html",
            Format::Txt => "txt",
        }
    }

    /// The `Content-Type` of the exported file.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Epub => "application/epub+zip",
            Format::Md => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Txt => "text/plain; charset=utf-8",
        }
    }
}

/// What is exported.
#[derive(Debug, Clone, Copy)]
pub struct Manuscript<'a> {
    pub title: &'a str,
    /// Pen name, or the user id when there is none.
    pub author: &'a str,
    pub description: Option<&'a str>,
    pub text: &'a str,
}

#[derive(Debug, thiserror::Error)]
#[error("export failed: {0}")]
pub struct ExportError(pub String);

/// Renders the manuscript as a real file of the given format: a title page (title, author,
/// description when there is one), then the chapters found by [`document::parse`], each
/// starting on a new page where the format has pages, with their paragraphs.
///
/// A blank title becomes "Untitled", a blank author "Anonymous". Text with no chapters still
/// gives a valid file with just the title page. Characters outside Latin-1/WinAnsi come out as
/// `?` in the PDF only (its built-in fonts cover no more); every other format keeps all of Unicode.
pub fn export(m: &Manuscript, format: Format) -> Result<Vec<u8>, ExportError> {
    let front = Front::new(m);
    let doc = document::parse(m.text);
    match format {
        Format::Pdf => pdf::render(&front, &doc),
        Format::Docx => docx::render(&front, &doc),
        Format::Epub => epub::render(&front, &doc),
        Format::Md => Ok(md::render(&front, &doc).into_bytes()),
        Format::Html => Ok(html::render(&front, &doc).into_bytes()),
        Format::Txt => Ok(txt::render(&front, &doc).into_bytes()),
    }
}

/// Longest file-name stem [`file_name`] makes.
const MAX_STEM: usize = 80;

/// The download file name: the title made safe plus the extension. ASCII letters, digits,
/// `_` and `-` are kept, whitespace becomes `-` (runs of `-` collapse to one, none at either
/// end), everything else is dropped; at most 80 characters; "manuscript" when nothing is left
/// (and a `-manuscript` suffix on Windows device names like `CON`).
pub fn file_name(title: &str, format: Format) -> String {
    let mut stem = String::with_capacity(title.len().min(MAX_STEM));
    for c in title.chars() {
        let c = if c.is_whitespace() { '-' } else { c };
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            continue;
        }
        if c == '-' && (stem.is_empty() || stem.ends_with('-')) {
            continue;
        }
        if stem.len() == MAX_STEM {
            break;
        }
        stem.push(c);
    }
    let mut stem = stem.trim_matches('-').to_string();
    if stem.is_empty() {
        stem.push_str("manuscript");
    } else if is_windows_device_name(&stem) {
        stem.push_str("-manuscript");
    }
    format!("{stem}.{}", format.extension())
}

fn is_windows_device_name(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit())
}

/// The title-page facts, cleaned: single-line title and author (never empty), description
/// split into paragraphs.
#[derive(Debug, Clone)]
pub(crate) struct Front {
    pub title: String,
    pub author: String,
    pub description: Vec<String>,
}

impl Front {
    fn new(m: &Manuscript) -> Self {
        let one_line = |s: &str, fallback: &str| {
            let s = document::normalize(s)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if s.is_empty() {
                fallback.to_string()
            } else {
                s
            }
        };
        let description = m
            .description
            .map(|d| {
                document::normalize(d)
                    .split("\n\n")
                    .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Front {
            title: one_line(m.title, "Untitled"),
            author: one_line(m.author, "Anonymous"),
            description,
        }
    }
}

/// Escapes text for HTML/XHTML element content and quoted attribute values.
pub(crate) fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A paragraph as XHTML-safe inline content: escaped, line breaks as `<br/>` (valid in both
/// HTML5 and XHTML).
pub(crate) fn paragraph_html(p: &str) -> String {
    p.split('\n')
        .map(escape_xml)
        .collect::<Vec<_>>()
        .join("<br/>\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Three chapters with markup, an ampersand and non-Latin text in titles and body.
    pub(crate) const SAMPLE_TEXT: &str = "A short opening before any chapter.\n\n\
# Chapter One: <script>alert(1)</script>\n\n\
Tom & Jerry ran. Ж and 漢 came along.\n\n\
Line one of a poem\nline two of a poem\n\n\
Chapter 2: Rain & Шторм\n\n\
It rained. <b>bold?</b> \"quoted\" 'single'\n\n\
Epilogue\n\n\
The end. 漢字 Жизнь — fin…\n";

    pub(crate) fn sample() -> Manuscript<'static> {
        Manuscript {
            title: "The <Tale> & Ж漢",
            author: "Ann O'Nymous",
            description: Some("A story about <things> & more.\n\nSecond blurb paragraph."),
            text: SAMPLE_TEXT,
        }
    }

    #[test]
    fn format_parse_extension_content_type() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.extension()), Some(f));
            assert_eq!(Format::parse(&f.extension().to_uppercase()), Some(f));
            assert_eq!(Format::parse(&format!(".{}", f.extension())), Some(f));
        }
        assert_eq!(Format::parse("markdown"), Some(Format::Md));
        assert_eq!(Format::parse(" HTM "), Some(Format::Html));
        assert_eq!(Format::parse("text"), Some(Format::Txt));
        assert_eq!(Format::parse("doc"), None);
        assert_eq!(Format::parse(""), None);
        assert_eq!(Format::Pdf.content_type(), "application/pdf");
        assert_eq!(
            Format::Docx.content_type(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(Format::Epub.content_type(), "application/epub+zip");
        assert_eq!(Format::Md.content_type(), "text/markdown; charset=utf-8");
        assert_eq!(Format::Html.content_type(), "text/html; charset=utf-8");
        assert_eq!(Format::Txt.content_type(), "text/plain; charset=utf-8");
    }

    #[test]
    fn file_names() {
        assert_eq!(file_name("My Novel", Format::Pdf), "My-Novel.pdf");
        assert_eq!(
            file_name("  Chapter 12: The Storm!  ", Format::Docx),
            "Chapter-12-The-Storm.docx"
        );
        assert_eq!(file_name("a - b\t_c_", Format::Md), "a-b-_c_.md");
        assert_eq!(file_name("../../etc/passwd", Format::Txt), "etcpasswd.txt");
        assert_eq!(file_name("Ж漢", Format::Epub), "manuscript.epub");
        assert_eq!(file_name("", Format::Html), "manuscript.html");
        assert_eq!(file_name("   ", Format::Html), "manuscript.html");
        assert_eq!(file_name("---", Format::Html), "manuscript.html");
        assert_eq!(file_name("Café Noir", Format::Pdf), "Caf-Noir.pdf");
        assert_eq!(file_name("con", Format::Txt), "con-manuscript.txt");
        assert_eq!(file_name("COM1", Format::Txt), "COM1-manuscript.txt");
        assert_eq!(file_name("Console", Format::Txt), "Console.txt");
        let long = "word ".repeat(40);
        let name = file_name(&long, Format::Pdf);
        let stem = name.strip_suffix(".pdf").unwrap();
        assert!(stem.len() <= 80, "{stem}");
        assert!(!stem.ends_with('-') && stem.starts_with("word-word"));
        let long = "x".repeat(200);
        assert_eq!(
            file_name(&long, Format::Txt),
            format!("{}.txt", "x".repeat(80))
        );
        for name in [
            file_name("<script>", Format::Html),
            file_name("a/b\\c", Format::Pdf),
        ] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
                "{name}"
            );
        }
    }

    #[test]
    fn front_defaults_and_cleanup() {
        let f = Front::new(&Manuscript {
            title: "  \n ",
            author: "",
            description: Some("  "),
            text: "",
        });
        assert_eq!(f.title, "Untitled");
        assert_eq!(f.author, "Anonymous");
        assert!(f.description.is_empty());
        let f = Front::new(&Manuscript {
            title: "A\r\nB\u{0}C",
            author: " pen\tname ",
            description: Some("one\ntwo\r\n\r\nthree"),
            text: "",
        });
        assert_eq!(f.title, "A BC");
        assert_eq!(f.author, "pen name");
        assert_eq!(f.description, vec!["one two", "three"]);
    }

    #[test]
    fn every_format_exports_empty_and_sample() {
        let empty = Manuscript {
            title: "",
            author: "",
            description: None,
            text: "",
        };
        for f in Format::ALL {
            let bytes = export(&empty, f).unwrap();
            assert!(!bytes.is_empty(), "{f:?}");
            let bytes = export(&sample(), f).unwrap();
            assert!(!bytes.is_empty(), "{f:?}");
        }
    }

    /// About 200,000 words in 50 chapters, through every format. No timing assertion: it only
    /// has to finish within the test run.
    #[test]
    fn large_manuscript_exports() {
        let para = "The quick brown fox jumps over the lazy dog while the rain keeps falling \
                    on the old roof of the house by the sea, and nobody notices a thing.";
        let words_per_para = para.split_whitespace().count();
        let paras_per_chapter = 200_000 / words_per_para / 50 + 1;
        let mut text = String::new();
        for c in 1..=50 {
            text.push_str(&format!("Chapter {c}\n\n"));
            for _ in 0..paras_per_chapter {
                text.push_str(para);
                text.push_str("\n\n");
            }
        }
        assert!(text.split_whitespace().count() >= 200_000);
        let m = Manuscript {
            title: "Big Book",
            author: "Prolific",
            description: None,
            text: &text,
        };
        for f in Format::ALL {
            let started = std::time::Instant::now();
            let bytes = export(&m, f).unwrap();
            eprintln!("{f:?}: {} bytes in {:?}", bytes.len(), started.elapsed());
            assert!(bytes.len() > 10_000, "{f:?}");
        }
    }
}
