//! A complete, self-contained HTML5 document: title page, a table of contents when there are
//! chapter headings, one `<section>` per chapter.
//!
//! Every piece of text is escaped; there are no scripts, event handlers, `style` attributes or
//! external resources, and a `<meta>` Content-Security-Policy (`default-src 'none'`, only the
//! inline stylesheet allowed) makes the file inert even if opened straight from disk. When it
//! is served inline rather than as an attachment, a strict server CSP must allow
//! `style-src 'unsafe-inline'` or the page just shows unstyled.

use super::document::Document;
use super::{Front, escape_xml, paragraph_html};

const STYLE: &str = "\
body{max-width:40em;margin:0 auto;padding:2em 1.25em;font-family:Georgia,'Times New Roman',serif;\
font-size:1.1rem;line-height:1.6;color:#222;background:#fff}\
header.title-page{text-align:center;margin:4em 0 5em}\
h1{font-size:2.4em;line-height:1.2;margin:0 0 .5em}\
.author{font-style:italic;font-size:1.25em}\
.description{color:#555}\
nav{margin:0 0 4em}nav ol{padding-left:1.5em}\
section.chapter{margin:0 0 4em}\
h2{font-size:1.6em;line-height:1.3;margin:2em 0 1em;text-align:center}\
p{margin:0 0 1em}\
@media print{section.chapter{break-before:page}nav{display:none}}";

pub(crate) fn render(front: &Front, doc: &Document) -> String {
    let body_len: usize = doc
        .chapters
        .iter()
        .flat_map(|c| &c.paragraphs)
        .map(|p| p.len() + p.len() / 16 + 8)
        .sum();
    let mut out = String::with_capacity(body_len + 4096);
    let title = escape_xml(&front.title);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<meta name=\"author\" content=\"{}\">\n",
        escape_xml(&front.author)
    ));
    if !front.description.is_empty() {
        out.push_str(&format!(
            "<meta name=\"description\" content=\"{}\">\n",
            escape_xml(&front.description.join(" "))
        ));
    }
    out.push_str(&format!(
        "<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    ));

    out.push_str(&format!(
        "<header class=\"title-page\">\n<h1>{title}</h1>\n<p class=\"author\">by {}</p>\n",
        escape_xml(&front.author)
    ));
    for p in &front.description {
        out.push_str(&format!("<p class=\"description\">{}</p>\n", escape_xml(p)));
    }
    out.push_str("</header>\n");

    if doc.chapters.iter().filter(|c| c.title.is_some()).count() > 1 {
        out.push_str("<nav aria-label=\"Contents\">\n<ol>\n");
        for (i, chapter) in doc.chapters.iter().enumerate() {
            if let Some(t) = &chapter.title {
                out.push_str(&format!(
                    "<li><a href=\"#chapter-{}\">{}</a></li>\n",
                    i + 1,
                    escape_xml(t)
                ));
            }
        }
        out.push_str("</ol>\n</nav>\n");
    }

    out.push_str("<main>\n");
    for (i, chapter) in doc.chapters.iter().enumerate() {
        out.push_str(&format!(
            "<section class=\"chapter\" id=\"chapter-{}\">\n",
            i + 1
        ));
        if let Some(t) = &chapter.title {
            out.push_str(&format!("<h2>{}</h2>\n", escape_xml(t)));
        }
        for p in &chapter.paragraphs {
            out.push_str("<p>");
            out.push_str(&paragraph_html(p));
            out.push_str("</p>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use crate::features::writers::export::tests::sample;
    use crate::features::writers::export::{Format, Manuscript, export};

    #[test]
    fn sample_html_is_escaped_and_structured() {
        let out = String::from_utf8(export(&sample(), Format::Html).unwrap()).unwrap();
        assert!(out.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(out.ends_with("</html>\n"));
        assert!(out.contains("<title>The &lt;Tale&gt; &amp; Ж漢</title>"));
        assert!(out.contains("<h1>The &lt;Tale&gt; &amp; Ж漢</h1>"));
        assert!(out.contains("<p class=\"author\">by Ann O&#39;Nymous</p>"));
        assert!(
            out.contains("<p class=\"description\">A story about &lt;things&gt; &amp; more.</p>")
        );
        assert!(out.contains("<h2>Chapter One: &lt;script&gt;alert(1)&lt;/script&gt;</h2>"));
        assert!(out.contains("<p>Tom &amp; Jerry ran. Ж and 漢 came along.</p>"));
        assert!(out.contains("<p>Line one of a poem<br/>\nline two of a poem</p>"));
        assert!(out.contains(
            "<p>It rained. &lt;b&gt;bold?&lt;/b&gt; &quot;quoted&quot; &#39;single&#39;</p>"
        ));
        assert_eq!(out.matches("<h1>").count(), 1);
        assert_eq!(out.matches("<h2>").count(), 3);
        assert_eq!(out.matches("<section class=\"chapter\"").count(), 4);
        assert_eq!(out.matches("<style>").count(), 1);
        // Nothing executable survives: the only tags are our own.
        let lower = out.to_lowercase();
        assert!(!lower.contains("<script"));
        assert!(!lower.contains("<b>"));
        assert!(!lower.contains("style=\""));
        assert!(lower.contains("content-security-policy"));
        const OURS: &[&str] = &[
            "!doctype", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2",
            "p", "nav", "ol", "li", "a", "main", "section", "br",
        ];
        for (i, _) in out.match_indices('<') {
            let name: String = out[i + 1..]
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
                .collect();
            assert!(
                OURS.contains(&name.to_lowercase().as_str()),
                "unexpected tag <{name}"
            );
        }
        // Tags are balanced for the elements we emit.
        for tag in ["p", "h2", "section", "li", "ol", "nav", "header", "main"] {
            assert_eq!(
                out.matches(&format!("<{tag}>")).count() + out.matches(&format!("<{tag} ")).count(),
                out.matches(&format!("</{tag}>")).count(),
                "{tag}"
            );
        }
    }

    #[test]
    fn empty_html_has_title_page_only() {
        let m = Manuscript {
            title: "T",
            author: "A",
            description: None,
            text: "",
        };
        let out = String::from_utf8(export(&m, Format::Html).unwrap()).unwrap();
        assert!(out.contains("<h1>T</h1>"));
        assert!(!out.contains("<section"));
        assert!(!out.contains("<nav"));
    }
}
