//! The five logical buckets of the seed, by full name or the app's short alias.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Music,
    Writing,
    Images,
    Tactical,
    Media,
}

impl Bucket {
    pub const ALL: [Bucket; 5] =
        [Bucket::Music, Bucket::Writing, Bucket::Images, Bucket::Tactical, Bucket::Media];

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Music => "r3al-studio-music",
            Bucket::Writing => "r3al-writers-guild",
            Bucket::Images => "r3al-premium-images",
            Bucket::Tactical => "r3al-tactical-secure",
            Bucket::Media => "r3al-user-media",
        }
    }

    pub fn alias(self) -> &'static str {
        match self {
            Bucket::Music => "music",
            Bucket::Writing => "writing",
            Bucket::Images => "images",
            Bucket::Tactical => "tactical",
            Bucket::Media => "media",
        }
    }

    /// Accepts the full bucket name or its alias.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == s || b.alias() == s)
    }

    /// Buckets whose objects belong to one user under `users/{userId}/`.
    pub fn is_per_user(self) -> bool {
        !matches!(self, Bucket::Tactical)
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Bucket;

    #[test]
    fn parses_names_and_aliases() {
        for b in Bucket::ALL {
            assert_eq!(Bucket::parse(b.name()), Some(b));
            assert_eq!(Bucket::parse(b.alias()), Some(b));
        }
        assert_eq!(Bucket::parse("r3al-unknown"), None);
        assert_eq!(Bucket::parse(""), None);
    }
}
