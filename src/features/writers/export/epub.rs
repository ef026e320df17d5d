//! EPUB 3 (epub-builder, with its own ZIP writer): a title page, one XHTML file per chapter,
//! the EPUB 3 navigation document plus an NCX table of contents for older readers.
//!
//! All text is XHTML-escaped here; epub-builder escapes the metadata and TOC labels itself.
//! The language is declared as English (`en`): the manuscript carries no language yet.

use epub_builder::{EpubBuilder, EpubContent, EpubVersion, ReferenceType, ZipLibrary};

use super::document::Document;
use super::{ExportError, Front, escape_xml, paragraph_html};

const STYLE: &str = "\
body{font-family:serif;line-height:1.5;margin:0 5%}\n\
.title-page{text-align:center;margin-top:30%}\n\
.title-page h1{font-size:2em;line-height:1.2;margin:0 0 1em}\n\
.author{font-style:italic;font-size:1.2em}\n\
.description{font-size:.95em;margin-top:3em}\n\
h2{text-align:center;margin:3em 0 1.5em;page-break-after:avoid}\n\
p{margin:0 0 .8em;text-indent:0}\n";

pub(crate) fn render(front: &Front, doc: &Document) -> Result<Vec<u8>, ExportError> {
    build(front, doc).map_err(|e| ExportError(format!("epub: {e}")))
}

/// The file of chapter `i` (0-based) inside `OEBPS/`.
pub(crate) fn chapter_file(i: usize) -> String {
    format!("chapter-{:03}.xhtml", i + 1)
}

fn build(front: &Front, doc: &Document) -> epub_builder::Result<Vec<u8>> {
    let mut b = EpubBuilder::new(ZipLibrary::new()?)?;
    b.epub_version(EpubVersion::V30);
    b.set_title(front.title.as_str());
    b.add_author(front.author.as_str());
    b.add_language("en");
    b.set_generator("Optima");
    b.set_toc_name("Contents");
    if !front.description.is_empty() {
        b.add_description(front.description.join("\n\n"));
    }
    b.stylesheet(STYLE.as_bytes())?;

    let mut title_body = format!(
        "<section class=\"title-page\" epub:type=\"titlepage\">\n<h1>{}</h1>\n<p class=\"author\">by {}</p>\n",
        escape_xml(&front.title),
        escape_xml(&front.author)
    );
    for p in &front.description {
        title_body.push_str(&format!("<p class=\"description\">{}</p>\n", escape_xml(p)));
    }
    title_body.push_str("</section>\n");
    let title_page = xhtml(&front.title, &title_body);
    b.add_content(
        EpubContent::new("title.xhtml", title_page.as_bytes())
            .title("Title Page")
            .reftype(ReferenceType::TitlePage),
    )?;

    for (i, chapter) in doc.chapters.iter().enumerate() {
        let mut body = String::with_capacity(
            chapter
                .paragraphs
                .iter()
                .map(|p| p.len() + 16)
                .sum::<usize>()
                + 256,
        );
        body.push_str(&format!(
            "<section epub:type=\"chapter\" id=\"chapter-{}\">\n",
            i + 1
        ));
        if let Some(t) = &chapter.title {
            body.push_str(&format!("<h2>{}</h2>\n", escape_xml(t)));
        }
        for p in &chapter.paragraphs {
            body.push_str("<p>");
            body.push_str(&paragraph_html(p));
            body.push_str("</p>\n");
        }
        body.push_str("</section>\n");
        // Only the opening can be untitled: the TOC names it after the book.
        let label = chapter.title.as_deref().unwrap_or(&front.title);
        let page = xhtml(label, &body);
        let mut content = EpubContent::new(chapter_file(i), page.as_bytes()).title(label);
        if i == 0 {
            content = content.reftype(ReferenceType::Text);
        }
        b.add_content(content)?;
    }

    let mut out = Vec::new();
    b.generate(&mut out)?;
    Ok(out)
}

fn xhtml(title: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:epub=\"http://www.idpf.org/2007/ops\" lang=\"en\" xml:lang=\"en\">\n\
<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n\
<link rel=\"stylesheet\" type=\"text/css\" href=\"stylesheet.css\"/>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape_xml(title)
    )
}

#[cfg(test)]
mod tests {
    use super::chapter_file;
    use crate::features::writers::export::tests::sample;
    use crate::features::writers::export::testzip::Zip;
    use crate::features::writers::export::{Format, Manuscript, export};

    /// The structure an EPUB reader relies on, read back with the test's own ZIP reader.
    fn check_structure(bytes: &[u8], chapters: usize) -> Zip {
        // OCF: `mimetype` first, stored, no extra field, so the magic sits at offset 38.
        assert_eq!(&bytes[0..4], b"PK\x03\x04");
        assert_eq!(
            u16::from_le_bytes([bytes[8], bytes[9]]),
            0,
            "mimetype stored"
        );
        let name_len = u16::from_le_bytes([bytes[26], bytes[27]]) as usize;
        let extra_len = u16::from_le_bytes([bytes[28], bytes[29]]) as usize;
        assert_eq!(&bytes[30..30 + name_len], b"mimetype");
        assert_eq!(extra_len, 0, "no extra field on mimetype");
        assert_eq!(&bytes[38..58], b"application/epub+zip");

        let zip = Zip::read(bytes);
        assert_eq!(zip.names()[0], "mimetype");
        assert_eq!(zip.text("mimetype"), "application/epub+zip");
        let container = zip.text("META-INF/container.xml");
        let opf_path = container
            .split("full-path=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("container.xml names the OPF");
        assert!(opf_path.ends_with(".opf"));
        let opf = zip.text(opf_path);
        assert!(opf.contains("<package version=\"3.0\""), "EPUB 3");
        assert!(opf.contains("<dc:language"));
        let dir = opf_path.rsplit_once('/').map_or("", |(d, _)| d);
        let at = |href: &str| {
            if dir.is_empty() {
                href.to_string()
            } else {
                format!("{dir}/{href}")
            }
        };
        for i in 0..chapters {
            let f = chapter_file(i);
            assert!(opf.contains(&format!("href=\"{f}\"")), "OPF lists {f}");
            assert!(zip.names().contains(&at(&f)), "{f} in the zip");
        }
        assert!(!opf.contains(&format!("href=\"{}\"", chapter_file(chapters))));
        assert!(opf.contains("href=\"title.xhtml\""));
        assert!(opf.contains("properties=\"nav\""));
        let nav_href = opf
            .split("<item ")
            .find(|item| item.contains("properties=\"nav\""))
            .and_then(|item| item.split("href=\"").nth(1))
            .and_then(|s| s.split('"').next())
            .unwrap();
        let nav = zip.text(&at(nav_href));
        assert!(nav.contains("epub:type = \"toc\"") || nav.contains("epub:type=\"toc\""));
        assert!(nav.contains("href=\"title.xhtml\""));
        zip
    }

    #[test]
    fn sample_epub_structure_and_escaping() {
        let bytes = export(&sample(), Format::Epub).unwrap();
        let zip = check_structure(&bytes, 4);
        let opf = zip.text("OEBPS/content.opf");
        assert!(
            opf.contains("<dc:title>The &lt;Tale&gt; &amp; Ж漢</dc:title>"),
            "{opf}"
        );
        assert!(opf.contains(">Ann O'Nymous</dc:creator>"));
        assert!(opf.contains("A story about &lt;things&gt; &amp; more."));

        let nav = zip.text("OEBPS/nav.xhtml");
        assert!(
            nav.contains("Chapter One: &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{nav}"
        );
        assert!(!nav.contains("<script"));

        let title = zip.text("OEBPS/title.xhtml");
        assert!(title.contains("<h1>The &lt;Tale&gt; &amp; Ж漢</h1>"));
        assert!(title.contains("by Ann O&#39;Nymous"));

        let ch1 = zip.text("OEBPS/chapter-002.xhtml");
        assert!(ch1.contains("<h2>Chapter One: &lt;script&gt;alert(1)&lt;/script&gt;</h2>"));
        assert!(ch1.contains("<p>Tom &amp; Jerry ran. Ж and 漢 came along.</p>"));
        assert!(ch1.contains("Line one of a poem<br/>\nline two of a poem"));
        let ch2 = zip.text("OEBPS/chapter-003.xhtml");
        assert!(ch2.contains("&lt;b&gt;bold?&lt;/b&gt; &quot;quoted&quot; &#39;single&#39;"));
        for name in zip.names() {
            if name.ends_with(".xhtml") {
                let x = zip.text(&name);
                assert!(!x.contains("<script"), "{name}");
                assert!(!x.contains("<b>"), "{name}");
                assert!(x.starts_with("<?xml"), "{name}");
            }
        }
    }

    #[test]
    fn empty_epub_has_title_page() {
        let m = Manuscript {
            title: "",
            author: "",
            description: None,
            text: "",
        };
        let bytes = export(&m, Format::Epub).unwrap();
        let zip = check_structure(&bytes, 0);
        assert!(zip.text("OEBPS/title.xhtml").contains("<h1>Untitled</h1>"));
    }
}
