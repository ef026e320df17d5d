//! Where each logical bucket lives in GCS: `storage.gcs.bucket_prefix` and
//! `storage.gcs.buckets`, checked when the configuration loads.

use std::collections::BTreeMap;

use crate::blobs::bucket::Bucket;
use crate::blobs::path::BlobPath;

/// Where one logical bucket lives in GCS: a real bucket and an object prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// Empty, or a path ending in `/` put before every object path.
    pub prefix: String,
}

/// The real location of each of the five logical buckets.
#[derive(Debug, Clone)]
pub struct GcsLocations(Vec<(Bucket, Location)>);

impl GcsLocations {
    /// Real bucket = `bucket_prefix` + seed name, unless `buckets.<seed name or alias>` gives
    /// `"bucket"` or `"bucket/object/prefix"`.
    /// Plain data in, so that the configuration can check itself with it.
    pub fn resolve(bucket_prefix: &str, buckets: &BTreeMap<String, String>) -> Result<Self, String> {
        for key in buckets.keys() {
            if Bucket::parse(key).is_none() {
                return Err(format!("`storage.gcs.buckets` names an unknown bucket `{key}`"));
            }
        }
        let mut all = Vec::with_capacity(Bucket::ALL.len());
        for bucket in Bucket::ALL {
            let named = buckets.iter().find(|(k, _)| Bucket::parse(k) == Some(bucket));
            let (key, raw) = match named {
                Some((k, v)) => (format!("storage.gcs.buckets.{k}"), v.clone()),
                None => ("storage.gcs.bucket_prefix".to_owned(), format!("{}{}", bucket_prefix, bucket.name())),
            };
            let (name, prefix) = raw.split_once('/').unwrap_or((&raw, ""));
            check_bucket_name(name).map_err(|why| format!("`{key}` gives the bucket name `{name}`, which {why}"))?;
            let prefix = prefix.trim_end_matches('/');
            if !prefix.is_empty() {
                BlobPath::parse(prefix).map_err(|e| format!("`{key}` has an invalid object prefix: {e}"))?;
            }
            let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
            all.push((bucket, Location { bucket: name.to_owned(), prefix }));
        }
        Ok(Self(all))
    }

    pub fn get(&self, bucket: Bucket) -> &Location {
        &self.0.iter().find(|(b, _)| *b == bucket).expect("every bucket is resolved").1
    }
}

/// GCS bucket naming rules (the dotted, domain-named form is not supported).
fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
        return Err("may hold only lower-case letters, digits, `-` and `_`");
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(name.as_bytes()[0]) || !edge_ok(name.as_bytes()[name.len() - 1]) {
        return Err("must start and end with a letter or digit");
    }
    if name.starts_with("goog") {
        return Err("may not start with `goog`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn gcs_with(edit: impl FnOnce(&mut crate::config::GcsConfig)) -> crate::config::GcsConfig {
        let mut config = Config::default().storage.gcs;
        edit(&mut config);
        config
    }

    #[test]
    fn real_bucket_names_come_from_the_prefix_or_the_map() {
        let config = gcs_with(|c| {
            c.bucket_prefix = "acme-".into();
            c.buckets.insert("media".into(), "shared-assets/r3al/media/".into());
            c.buckets.insert("r3al-studio-music".into(), "music-prod".into());
        });
        let locations = GcsLocations::resolve(&config.bucket_prefix, &config.buckets).unwrap();
        assert_eq!(locations.get(Bucket::Images), &Location { bucket: "acme-r3al-premium-images".into(), prefix: String::new() });
        assert_eq!(locations.get(Bucket::Media), &Location { bucket: "shared-assets".into(), prefix: "r3al/media/".into() });
        assert_eq!(locations.get(Bucket::Music), &Location { bucket: "music-prod".into(), prefix: String::new() });
    }

    #[test]
    fn bad_names_and_keys_are_refused() {
        for (edit, expected) in [
            (gcs_with(|c| c.bucket_prefix = "Acme-".into()), "storage.gcs.bucket_prefix"),
            (gcs_with(|c| drop(c.buckets.insert("video".into(), "x-video".into()))), "unknown bucket `video`"),
            (gcs_with(|c| drop(c.buckets.insert("media".into(), "ab".into()))), "3 to 63"),
            (gcs_with(|c| drop(c.buckets.insert("media".into(), "-media".into()))), "start and end"),
            (gcs_with(|c| drop(c.buckets.insert("media".into(), "google-media".into()))), "`goog`"),
            (gcs_with(|c| drop(c.buckets.insert("media".into(), "media-bucket/../up".into()))), "invalid object prefix"),
        ] {
            let err = GcsLocations::resolve(&edit.bucket_prefix, &edit.buckets).unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }
}
