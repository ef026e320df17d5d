//! Fuzz entry points for the parsers that take raw request input: blob paths, signed URL
//! parameters, tRPC envelopes and `Range` headers, and the probe of uploaded audio.
//!
//! They live in the library, not in `fuzz/`, so that the `cargo fuzz` targets (one line each,
//! run with `scripts/fuzz.sh`) and the plain `cargo test` regression test
//! (`tests/fuzz_corpus.rs`, which replays `fuzz/corpus/` and `fuzz/regressions/`) run exactly
//! the same checks. Each function takes arbitrary bytes, must never panic on bad input, and
//! `assert!`s the parser's invariants on what it accepts.

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use poem::http::HeaderValue;
use serde_json::Value;

use crate::features::storage::cdn::{RangeAsked, byte_range, signature_from_query};
use crate::features::storage::service::{decode_path, parse_object_url};
use crate::blobs::signing::{SignedMethod, UrlSigner};
use crate::blobs::{BlobPath, Bucket};
use crate::trpc::wire::{self, TrpcError};

/// The raw bytes as text, the way a server sees them after UTF-8 decoding.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// What every accepted object path must be, whichever parser produced it.
fn assert_safe_path(path: &BlobPath) {
    let s = path.as_str();
    assert!(!s.is_empty(), "empty path accepted");
    assert!(s.len() <= 1024, "overlong path accepted: {} bytes", s.len()); // storage::path::MAX_PATH_BYTES
    assert!(!s.starts_with('/'), "absolute path accepted: {s:?}");
    assert!(!s.contains('\\'), "backslash accepted: {s:?}");
    assert!(!s.contains('%'), "percent sign accepted: {s:?}");
    assert!(!s.chars().any(char::is_control), "control character accepted: {s:?}");
    for segment in s.split('/') {
        assert!(!matches!(segment, "" | "." | ".."), "segment {segment:?} accepted in {s:?}");
        assert!(!segment.starts_with('.'), "hidden segment accepted in {s:?}");
    }
    let again = BlobPath::parse(s).expect("an accepted path parses again");
    assert_eq!(&again, path, "parsing is not idempotent");
    // The URL form decodes back to the same path.
    assert_eq!(decode_path(&path.url_encoded()).expect("url_encoded decodes").as_str(), s);
    if let Some(owner) = path.owner() {
        assert!(s.starts_with(&format!("users/{owner}/")), "owner {owner:?} of {s:?}");
    }
}

/// `BlobPath::parse`, `decode_path` and `parse_object_url` on the same text.
pub fn blob_path(data: &[u8]) {
    let raw = text(data);
    if let Ok(path) = BlobPath::parse(&raw) {
        assert_eq!(path.as_str(), raw, "parse changed the path");
        assert_safe_path(&path);
    }
    if let Ok(path) = decode_path(&raw) {
        assert_safe_path(&path);
    }
    if let Ok((bucket, path)) = parse_object_url(&raw) {
        assert_safe_path(&path);
        // The canonical URL of what was parsed names the same object.
        let url = format!("https://cdn.example/cdn/{}/{}", bucket.name(), path.url_encoded());
        assert_eq!(parse_object_url(&url).expect("canonical URL parses"), (bucket, path));
    }
}

/// The fixed object and the one real signature `signed_url` knows.
pub const SIGNED_PATH: &str = "users/u1/projects/p1/stems/a.wav";
pub const SIGNED_EXPIRES: i64 = 1_900_000_000;
const SIGNED_NOW: i64 = 1_800_000_000;

struct Signed {
    signer: UrlSigner,
    path: BlobPath,
    query: String,
}

fn signed() -> &'static Signed {
    static SIGNED: OnceLock<Signed> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let signer = UrlSigner::new(b"fuzzing-key-fuzzing-key-fuzzing!".to_vec());
        let path = BlobPath::parse(SIGNED_PATH).expect("fixed path");
        let query = signer.query(SignedMethod::Get, Bucket::Media, &path, SIGNED_EXPIRES);
        let sig = signature_from_query(&query).expect("the real query parses");
        assert!(signer.verify(SignedMethod::Get, Bucket::Media, &path, &sig, SIGNED_NOW).is_ok(), "the real signature verifies");
        Signed { signer, path, query }
    })
}

/// The real query string for `SIGNED_PATH` (GET, media bucket): the seed of the corpus.
pub fn real_signed_query() -> &'static str {
    &signed().query
}

/// A `/cdn` query string → `Signature` → `UrlSigner::verify`, as `cdn::target` does it.
pub fn signed_url(data: &[u8]) {
    let Signed { signer, path, query } = signed();
    let raw = text(data);
    if !raw.contains("signature=") {
        return;
    }
    let Some(sig) = signature_from_query(&raw) else { return };
    let real = signature_from_query(query).expect("the real query parses");
    let is_real = sig.expires == real.expires && sig.signature == real.signature;
    let verified = signer.verify(SignedMethod::Get, Bucket::Media, path, &sig, SIGNED_NOW);
    assert_eq!(verified.is_ok(), is_real, "signature {:?} expires {}: {verified:?}", sig.signature, sig.expires);
    if !is_real {
        assert_eq!(verified.unwrap_err().code(), "invalid_signature");
    }
    // Never valid for another method, another bucket, or after it expires.
    assert!(signer.verify(SignedMethod::Put, Bucket::Media, path, &sig, SIGNED_NOW).is_err());
    assert!(signer.verify(SignedMethod::Get, Bucket::Images, path, &sig, SIGNED_NOW).is_err());
    assert!(signer.verify(SignedMethod::Get, Bucket::Media, path, &sig, sig.expires).is_err());
}

/// Polls a future that has nothing to wait for (a response body already in memory).
fn now_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory body was not ready"),
    }
}

fn response_json(resp: poem::Response) -> Value {
    let body = now_ready(resp.into_body().into_vec()).expect("in-memory body");
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("envelope is not JSON ({e}): {body:?}"))
}

/// How deeply arrays and objects nest in `v`.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// serde_json parses at most 128 levels; an envelope adds up to 4 around the output, so
/// the parse-back checks apply to outputs that stay within the limit once wrapped.
const CHECKABLE_DEPTH: usize = 128 - 4;

/// The same value after one JSON round trip (so floats compare as the wire carries them).
fn through_json(v: &Value) -> Value {
    serde_json::from_str(&serde_json::to_string(v).expect("values serialize")).expect("serialized values parse")
}

/// `wire::parse_calls` then the result and error envelopes. The first byte chooses batching
/// (bit 0) and whether the input comes from a GET query string (bit 1) or a POST body; up to
/// the first newline are the procedure paths, the rest is the input.
pub fn trpc_envelope(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else { return };
    let batch = flags & 1 != 0;
    let (paths, input) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let paths = text(paths);
    let raw_input: Option<String> = match input {
        None => None,
        Some(bytes) if flags & 2 != 0 => {
            let query = format!("batch={}&input={}", u8::from(batch), text(bytes));
            wire::query_param(Some(&query), "input")
        }
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.to_owned()),
            Err(_) => return, // the endpoint refuses a non-UTF-8 body before parsing
        },
    };
    let calls = match wire::parse_calls(&paths, batch, raw_input.as_deref()) {
        Ok(calls) => calls,
        Err(e) => {
            assert!(matches!(e.code, "PARSE_ERROR" | "BAD_REQUEST"), "unexpected code {}", e.code);
            // Whole-request errors name all the paths; a batch call's own error names its path.
            assert!(e.path == paths || (batch && paths.split(',').any(|p| p == e.path)), "error path {:?}", e.path);
            let env = response_json(wire::error_response(&e));
            assert_eq!(env["error"]["json"]["data"]["path"], Value::String(e.path.clone()));
            assert_eq!(env["error"]["json"]["data"]["httpStatus"], e.http_status);
            return;
        }
    };
    if batch {
        let expected: Vec<&str> = paths.split(',').collect();
        assert_eq!(calls.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), expected);
    } else {
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].path, paths);
    }
    let mut outcomes = Vec::with_capacity(calls.len());
    let mut checkable = true;
    for (i, call) in calls.iter().enumerate() {
        assert_ne!(call.input, Some(Value::Null), "a null input must read as absent");
        // Echo the input as the output: every encoding of it must be JSON that carries it.
        let output = call.input.clone().unwrap_or(Value::Null);
        let env = wire::result_envelope(output.clone());
        assert_eq!(env["result"]["data"]["json"], output);
        if depth(&output) > CHECKABLE_DEPTH {
            checkable = false;
            continue;
        }
        let env = through_json(&env);
        assert_eq!(env["result"]["data"]["json"], through_json(&output));
        if let Some(meta) = env["result"]["data"].get("meta") {
            let values = meta["values"].as_object().expect("meta.values is an object");
            assert!(!values.is_empty());
            assert!(values.values().all(|v| *v == serde_json::json!(["Date"])));
        }
        outcomes.push(if i % 2 == 0 {
            Ok(output)
        } else {
            Err(TrpcError::new("NOT_FOUND", format!("No procedure found on path \"{}\"", call.path), &call.path))
        });
    }
    if !checkable {
        return;
    }
    let count = outcomes.len();
    let body = if batch {
        response_json(wire::batch_response(outcomes))
    } else {
        response_json(wire::single_response(outcomes.into_iter().next().expect("one call")))
    };
    match body {
        Value::Array(items) => assert!(batch && items.len() == count),
        Value::Object(_) => assert!(!batch),
        other => panic!("envelope is neither an object nor an array: {other}"),
    }
}

/// Object sizes every `Range` value is tried against, besides the one the input names.
const RANGE_SIZES: [u64; 6] = [0, 1, 100, 1000, u64::MAX - 1, u64::MAX];

/// `byte_range` on a `Range` header value as `serve` reads it. Input: an optional decimal
/// object size and a newline, then the header value (`1000\nbytes=0-99`).
pub fn range_header(data: &[u8]) {
    let (size, value) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok().and_then(|s| s.parse::<u64>().ok()), &data[i + 1..]),
        None => (None, data),
    };
    let Ok(value) = HeaderValue::from_bytes(value) else { return };
    let is_bytes_unit = value.as_bytes().get(..6).is_some_and(|unit| unit.eq_ignore_ascii_case(b"bytes="));
    for size in size.into_iter().chain(RANGE_SIZES) {
        match byte_range(value.as_bytes(), size) {
            RangeAsked::Part(r) => {
                assert!(is_bytes_unit, "a range from another unit: {value:?}");
                assert!(r.start < r.end && r.end <= size, "range {r:?} for size {size} from {value:?}");
                // What `serve` then writes: nothing here may overflow.
                let _ = format!("bytes {}-{}/{size}", r.start, r.end - 1);
            }
            // Only `bytes` ranges are ever refused; any other unit is ignored.
            RangeAsked::Unsatisfiable => assert!(is_bytes_unit, "another unit refused: {value:?}"),
            RangeAsked::Whole => {}
        }
    }
}

/// The probe of an uploaded stem on arbitrary bytes, *without* the guard that turns a decoder
/// panic into a refusal (the server path has it): the fuzzer must see such panics to report
/// them. What the probe accepts has a real rate and channel count and a positive duration.
pub fn audio_probe(data: &[u8]) {
    if let Ok(info) = crate::audio::probe::probe_unguarded(data) {
        assert!(info.sample_rate > 0 && info.channels > 0, "accepted {info:?}");
        assert!(info.duration_secs.is_finite() && info.duration_secs > 0.0, "accepted {info:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_pass() {
        blob_path(b"users/u1/projects/p1/stems/a.wav");
        blob_path(b"https://cdn.example/cdn/media/users/u1/a%20b.png?x=1");
        signed_url(real_signed_query().as_bytes());
        signed_url(b"expires=1900000000&signature=AAAA");
        trpc_envelope(b"\x01r3al.auth.me,r3al.studio.getProjects\n{\"0\":{\"json\":{\"userId\":\"u1\"}}}");
        trpc_envelope(b"\x00r3al.x\n{\"json\":{\"createdAt\":\"2026-01-02T03:04:05Z\"}}");
        let deep = format!("\x00x\n{{\"json\":{}1{}}}", "[".repeat(126), "]".repeat(126));
        trpc_envelope(deep.as_bytes());
        trpc_envelope(b"\x01a,b\n{\"1\":5}");
        for r in ["bytes=0-99", "bytes=-500", "bytes=100-", "100\nbytes=0-0,-5", "bytes=-", "bytes=0-99999999999999999999"] {
            range_header(r.as_bytes());
        }
    }

    #[test]
    fn the_real_signature_verifies_and_a_tampered_one_does_not() {
        let Signed { signer, path, query } = signed();
        // Known answer: the seed in fuzz/corpus/signed_url/real.
        assert_eq!(query, "expires=1900000000&signature=G2EEraKobhbZUU8nhdxbtiaAnzUyATjU9I55PcwMPDU");
        let sig = signature_from_query(query).unwrap();
        assert!(signer.verify(SignedMethod::Get, Bucket::Media, path, &sig, SIGNED_NOW).is_ok());
        let tampered = query.replacen("signature=", "signature=A", 1);
        signed_url(tampered.as_bytes());
        assert!(signer.verify(SignedMethod::Get, Bucket::Media, path, &signature_from_query(&tampered).unwrap(), SIGNED_NOW).is_err());
    }
}
