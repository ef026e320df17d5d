//! Sharing: the platforms, their share-intent links, and the public share page.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::store::ProjectRow;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Facebook,
    Twitter,
    Instagram,
    Soundcloud,
    Tiktok,
    Youtube,
    Reddit,
    Linkedin,
    Whatsapp,
    Telegram,
    Email,
}

impl Platform {
    pub const ALL: [Platform; 11] = [
        Platform::Facebook,
        Platform::Twitter,
        Platform::Instagram,
        Platform::Soundcloud,
        Platform::Tiktok,
        Platform::Youtube,
        Platform::Reddit,
        Platform::Linkedin,
        Platform::Whatsapp,
        Platform::Telegram,
        Platform::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Facebook => "facebook",
            Platform::Twitter => "twitter",
            Platform::Instagram => "instagram",
            Platform::Soundcloud => "soundcloud",
            Platform::Tiktok => "tiktok",
            Platform::Youtube => "youtube",
            Platform::Reddit => "reddit",
            Platform::Linkedin => "linkedin",
            Platform::Whatsapp => "whatsapp",
            Platform::Telegram => "telegram",
            Platform::Email => "email",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x" => Some(Platform::Twitter),
            other => Self::ALL.into_iter().find(|p| p.as_str() == other),
        }
    }
}

/// The platforms asked for, each once, in the order given.
pub fn parse_platforms(raw: &[String]) -> AppResult<Vec<Platform>> {
    if raw.is_empty() {
        return Err(AppError::invalid_field("platforms", "name at least one platform"));
    }
    let mut out = Vec::new();
    for name in raw {
        let p = Platform::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
            AppError::invalid_field("platforms", format!("unknown platform `{name}`: use {} (or x)", known.join(", ")))
        })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// The platform's own share link carrying the page and caption, or why there is none.
pub fn intent(platform: Platform, page: &str, text: &str) -> (Option<String>, Option<String>) {
    let (u, t) = (enc(page), enc(text));
    let url = match platform {
        Platform::Facebook => format!("https://www.facebook.com/sharer/sharer.php?u={u}&quote={t}"),
        Platform::Twitter => format!("https://twitter.com/intent/tweet?url={u}&text={t}"),
        Platform::Reddit => format!("https://www.reddit.com/submit?url={u}&title={t}"),
        Platform::Linkedin => format!("https://www.linkedin.com/sharing/share-offsite/?url={u}"),
        Platform::Whatsapp => format!("https://wa.me/?text={}", enc(&format!("{text} {page}"))),
        Platform::Telegram => format!("https://t.me/share/url?url={u}&text={t}"),
        Platform::Email => format!("mailto:?subject={t}&body={}", enc(&format!("{text}\n{page}"))),
        Platform::Instagram | Platform::Soundcloud | Platform::Tiktok | Platform::Youtube => {
            return (None, Some(format!("{} has no web share link: post the page link from its app", platform.as_str())));
        }
    };
    (Some(url), None)
}

pub fn page_url(public_url: &str, slug: &str) -> String {
    format!("{public_url}/s/{slug}")
}

pub fn new_slug() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const TEMPLATE: &str = include_str!("../../../static/share.html");

/// The public page: title, an audio player streaming the preview, OpenGraph and Twitter tags.
pub fn page_html(public_url: &str, p: &ProjectRow) -> String {
    let slug = p.share_slug.as_deref().unwrap_or_default();
    let page = page_url(public_url, slug);
    let mut facts: Vec<String> = Vec::new();
    facts.extend(p.genre.clone());
    facts.extend(p.mood.clone());
    facts.extend(p.bpm.map(|b| format!("{b} BPM")));
    facts.extend(p.duration.map(|d| format!("{}:{:02}", (d as u64) / 60, (d as u64) % 60)));
    let description = if facts.is_empty() { "A track made in R3AL Studio".to_owned() } else { format!("{} · made in R3AL Studio", facts.join(" · ")) };
    let value = |name: &str| match name {
        "title" => Some(escape(&p.title)),
        "description" => Some(escape(&description)),
        "page_url" => Some(escape(&page)),
        "audio_url" => Some(escape(&format!("{page}/audio"))),
        "plays" => Some(p.total_plays.to_string()),
        _ => None,
    };
    fill(TEMPLATE, value)
}

/// Replaces each `{{name}}` of the template in one pass, so text put in is never read again.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}").and_then(|end| value(&after[..end]).map(|v| (end, v))) {
            Some((end, v)) => {
                out.push_str(&v);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_are_escaped_and_honest() {
        let (url, note) = intent(Platform::Twitter, "http://h/s/abc", "Rock & roll <3");
        assert_eq!(url.unwrap(), "https://twitter.com/intent/tweet?url=http%3A%2F%2Fh%2Fs%2Fabc&text=Rock%20%26%20roll%20%3C3");
        assert!(note.is_none());
        let (url, note) = intent(Platform::Instagram, "http://h/s/abc", "x");
        assert!(url.is_none() && note.unwrap().contains("instagram"));
    }

    #[test]
    fn template_values_are_never_substituted_again() {
        let out = fill("<h1>{{title}}</h1>{{plays}} {{unknown}}", |n| match n {
            "title" => Some("Song {{plays}}".into()),
            "plays" => Some("7".into()),
            _ => None,
        });
        assert_eq!(out, "<h1>Song {{plays}}</h1>7 {{unknown}}");
    }

    #[test]
    fn platforms_parse_once_each() {
        let p = parse_platforms(&["X".into(), "twitter".into(), "facebook".into()]).unwrap();
        assert_eq!(p, [Platform::Twitter, Platform::Facebook]);
        assert!(parse_platforms(&["myspace".into()]).is_err());
        assert!(parse_platforms(&[]).is_err());
    }
}
