//! Object paths that are safe to use as relative file system paths and URL paths.

use std::fmt;

use crate::error::AppError;

pub const MAX_PATH_BYTES: usize = 1024;
const MAX_SEGMENT_BYTES: usize = 255;

/// A validated object path such as `users/u1/profile/avatar.jpg`: relative, `/`-separated,
/// no empty, `.`, `..` or hidden segments, no backslash, NUL, control character or `%`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobPath(String);

impl BlobPath {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let bad = |why: &str| Err(AppError::bad_request("invalid_path", format!("invalid object path: {why}")));
        if raw.is_empty() {
            return bad("it is empty");
        }
        if raw.len() > MAX_PATH_BYTES {
            return bad(&format!("it is longer than {MAX_PATH_BYTES} bytes"));
        }
        if raw.starts_with('/') {
            return bad("it must be relative (no leading `/`)");
        }
        if raw.contains('\\') {
            return bad("backslashes are not allowed");
        }
        if raw.contains('%') {
            return bad("percent signs are not allowed (send the decoded path)");
        }
        if raw.chars().any(char::is_control) {
            return bad("control characters (including NUL) are not allowed");
        }
        for segment in raw.split('/') {
            match segment {
                "" => return bad("empty segments (`//` or a trailing `/`) are not allowed"),
                "." | ".." => return bad("`.` and `..` segments are not allowed"),
                s if s.starts_with('.') => return bad("segments may not start with `.`"),
                s if s.len() > MAX_SEGMENT_BYTES => {
                    return bad(&format!("a segment is longer than {MAX_SEGMENT_BYTES} bytes"));
                }
                _ => {}
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user a `users/{userId}/…` path belongs to.
    pub fn owner(&self) -> Option<&str> {
        let mut segments = self.0.splitn(3, '/');
        match (segments.next(), segments.next(), segments.next()) {
            (Some("users"), Some(user), Some(_)) => Some(user),
            _ => None,
        }
    }

    /// The path with each segment percent-encoded, for use in a URL.
    pub fn url_encoded(&self) -> String {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        self.0
            .split('/')
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for BlobPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::BlobPath;

    #[test]
    fn accepts_ordinary_paths() {
        for p in ["users/u1/profile/avatar.jpg", "a", "users/u 1/ü/x.y.z", "departments/d/comms/c/message.enc"] {
            assert!(BlobPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn rejects_every_traversal_form() {
        let long = "a/".repeat(600) + "b";
        let long_segment = "x".repeat(256);
        for p in [
            "", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "a\\b", "..\\x",
            "a\0b", "%2e%2e/x", "a/%2F/b", ".hidden", "a/.optima-tmp-1", "a\nb", &long, &long_segment,
        ] {
            let err = BlobPath::parse(p).expect_err(p);
            assert_eq!(err.code(), "invalid_path");
        }
    }

    #[test]
    fn owner_is_the_second_segment_of_users_paths() {
        assert_eq!(BlobPath::parse("users/u1/x").unwrap().owner(), Some("u1"));
        assert_eq!(BlobPath::parse("users/u1").unwrap().owner(), None);
        assert_eq!(BlobPath::parse("departments/d/x").unwrap().owner(), None);
    }

    #[test]
    fn url_encoding_keeps_slashes() {
        assert_eq!(BlobPath::parse("users/u 1/ä.png").unwrap().url_encoded(), "users/u%201/%C3%A4.png");
    }
}
