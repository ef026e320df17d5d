//! Criterion benchmarks of the hot pure parts: bearer-token verification, signed-URL checks,
//! object-path validation, the tRPC request/response path, and the two offline generators
//! (procedural images, composed music).
//!
//! `cargo bench --bench hot_paths` (release build; about 2 minutes). Filter with a name, e.g.
//! `cargo bench --bench hot_paths -- blob_path`. Figures land in `target/criterion/`.
//!
//! The tRPC wire functions (`trpc::wire::parse_calls`, `result_envelope`, the error envelope)
//! are private to the crate, so the `trpc_endpoint` group times them through the public
//! `optima::trpc::endpoint` handler, in process (no socket), on a throwaway data folder.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use optima::ai::image::procedural::{ImageStyle, paint};
use optima::ai::music::composer::{MusicParams, Style, seed_for};
use optima::ai::music::Steps;
use optima::ai::music::local::generate_blocking;
use optima::app::AppState;
use optima::auth::{Role, TokenService};
use optima::config::Config;
use optima::features::storage::service::{decode_path, parse_object_url};
use optima::blobs::signing::{Signature, SignedMethod, UrlSigner};
use optima::blobs::{BlobPath, Bucket};
use poem::http::Method;
use poem::{Endpoint, EndpointExt, Request, Route};

/// Quick settings for the microsecond-scale groups: the whole run has to stay short.
fn quick<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

/// Settings for the generators (tens to hundreds of milliseconds per call): ten samples of
/// one or a few calls each.
fn slow<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group
}

fn tokens(c: &mut Criterion) {
    let service = TokenService::new(b"0123456789abcdef0123456789abcdef", "optima", 3600);
    let (token, _) = service.mint("test_user", Role::User, 3600).expect("mint");
    // Alter one character in the middle of the signature: well-formed, wrong MAC.
    let mut forged = token.clone().into_bytes();
    let i = token.rfind('.').expect("three parts") + 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ASCII");
    assert!(
        service.verify(&forged).is_err(),
        "the forged token must be rejected"
    );

    let mut group = quick(c, "token_verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("valid", |b| {
        b.iter(|| service.verify(black_box(&token)).expect("valid"))
    });
    group.bench_function("bad_signature", |b| {
        b.iter(|| service.verify(black_box(&forged)).expect_err("rejected"))
    });
    group.finish();
}

fn signed_urls(c: &mut Criterion) {
    let signer = UrlSigner::new(b"k".repeat(32));
    let path = BlobPath::parse(
        "users/test_user/projects/p1/stems/0190a3c2-7b1e-7c4d-9f2a-3b5c6d7e8f90.wav",
    )
    .unwrap();
    let expires = 4_000_000_000;
    let query = signer.query(SignedMethod::Get, Bucket::Music, &path, expires);
    let signature = query
        .split_once("signature=")
        .expect("a signature")
        .1
        .to_owned();
    let valid = Signature {
        expires,
        signature: signature.clone(),
    };
    // Same length and alphabet, different MAC.
    let invalid = Signature {
        expires,
        signature: signature.chars().rev().collect(),
    };
    let now = 1_700_000_000;
    assert!(
        signer
            .verify(SignedMethod::Get, Bucket::Music, &path, &valid, now)
            .is_ok()
    );
    assert!(
        signer
            .verify(SignedMethod::Get, Bucket::Music, &path, &invalid, now)
            .is_err()
    );

    let mut group = quick(c, "signed_url_verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("valid", |b| {
        b.iter(|| {
            signer
                .verify(
                    SignedMethod::Get,
                    Bucket::Music,
                    black_box(&path),
                    black_box(&valid),
                    now,
                )
                .expect("valid")
        })
    });
    group.bench_function("bad_signature", |b| {
        b.iter(|| {
            signer
                .verify(
                    SignedMethod::Get,
                    Bucket::Music,
                    black_box(&path),
                    black_box(&invalid),
                    now,
                )
                .expect_err("rejected")
        })
    });
    group.finish();
}

fn blob_paths(c: &mut Criterion) {
    let typical = "users/test_user/projects/0190a3c2-0000-7000-8000-000000000001/stems/0190a3c2-7b1e-7c4d-9f2a-3b5c6d7e8f90.wav";
    // ~1000 bytes (just under MAX_PATH_BYTES) of multi-byte characters over 27 segments.
    let long_unicode = format!(
        "users/ünïcødé/{}/mix ♫ 最終版.wav",
        ["Überlänge-日本語-ñandú-♫-曲"; 25].join("/")
    );
    assert!(
        long_unicode.len() > 900 && BlobPath::parse(&long_unicode).is_ok(),
        "{}",
        long_unicode.len()
    );
    let traversal = "users/test_user/projects/../../../etc/passwd";
    assert!(BlobPath::parse(traversal).is_err());

    let mut group = quick(c, "blob_path_parse");
    for (name, raw) in [
        ("typical", typical),
        ("long_unicode", long_unicode.as_str()),
    ] {
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| BlobPath::parse(black_box(raw)).expect("valid"))
        });
    }
    group.throughput(Throughput::Bytes(traversal.len() as u64));
    group.bench_function("rejected_dotdot", |b| {
        b.iter(|| BlobPath::parse(black_box(traversal)).expect_err("rejected"))
    });
    group.finish();

    let encoded = "users/test_user/projects/p1/stems/My%20Song%20%E2%99%AB%20take%202.wav";
    let url = "https://cdn.example.com/cdn/r3al-studio-music/users/test_user/projects/p1/stems/My%20Song%20%E2%99%AB%20take%202.wav?expires=4000000000&signature=abc";
    let mut group = quick(c, "storage_service");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_path", |b| {
        b.iter(|| decode_path(black_box(encoded)).expect("valid"))
    });
    group.bench_function("parse_object_url", |b| {
        b.iter(|| parse_object_url(black_box(url)).expect("valid"))
    });
    group.finish();
}

/// `trpc::wire` is private: time a whole call through the public handler instead (request
/// decoding, procedure lookup, envelope encoding to JSON bytes), without a socket.
fn trpc_endpoint(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let state = rt
        .block_on(AppState::build(config, "http://127.0.0.1:8080".into(), optima::clock::system()))
        .expect("state");
    let app = Route::new()
        .at("/api/trpc/*path", optima::trpc::endpoint)
        .data(state);

    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let single_input = enc(
        r#"{"json":{"userId":"test_user","limit":20,"cursor":null},"meta":{"values":{"cursor":["undefined"]},"v":1}}"#,
    );
    let batch_input = enc(
        r#"{"0":{"json":{"userId":"test_user"}},"1":{"json":{"projectId":"0190a3c2-0000-7000-8000-000000000001","limit":50}},"2":{"json":{"feature":"music_generation"}}}"#,
    );
    let cases = [
        // An unknown procedure answers NOT_FOUND without touching the database: parse the
        // input, look up, encode the error envelope.
        (
            "single_get_error_envelope",
            format!("/api/trpc/r3al.bench.nope?input={single_input}"),
        ),
        (
            "batch3_get_error_envelopes",
            format!("/api/trpc/r3al.bench.a,r3al.bench.b,r3al.bench.c?batch=1&input={batch_input}"),
        ),
        // A real query: success envelope with superjson Date meta (includes a database ping).
        (
            "single_get_result_envelope_health",
            "/api/trpc/r3al.system.health".to_owned(),
        ),
    ];
    let call = |uri: &str| {
        let app = &app;
        let req = Request::builder()
            .method(Method::GET)
            .uri(uri.parse().expect("uri"))
            .finish();
        async move {
            let resp = app.call(req).await.expect("a response");
            resp.into_body().into_bytes().await.expect("body")
        }
    };
    for (name, uri) in &cases {
        let body = rt.block_on(call(uri));
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains(if name.contains("error") {
                "NOT_FOUND"
            } else {
                "\"result\""
            }),
            "{name}: {text}"
        );
    }

    let mut group = quick(c, "trpc_endpoint");
    group.throughput(Throughput::Elements(1));
    for (name, uri) in &cases {
        group.bench_function(*name, |b| b.iter(|| rt.block_on(call(black_box(uri)))));
    }
    group.finish();
}

fn images(c: &mut Criterion) {
    let mut group = slow(c, "image_paint");
    for side in [512u32, 1024] {
        group.throughput(Throughput::Bytes(u64::from(side * side * 3)));
        group.bench_function(format!("{side}x{side}"), |b| {
            b.iter(|| {
                paint(
                    black_box("sunset over the ocean with neon city lights"),
                    ImageStyle::Vivid,
                    side,
                    side,
                )
            })
        });
    }
    group.finish();
}

fn music(c: &mut Criterion) {
    let mut group = slow(c, "music_generate");
    for secs in [10u32, 30] {
        let mut params = MusicParams {
            prompt: "sunny summer road trip with guitar".into(),
            style: Style::Pop,
            mood: None,
            bpm: None,
            key: None,
            duration_secs: secs,
            instrument: None,
            seed: 0,
        };
        params.seed = seed_for(&params);
        // Elements = seconds of audio: criterion's elem/s is audio seconds per wall second.
        group.throughput(Throughput::Elements(u64::from(secs)));
        group.bench_function(format!("{secs}s"), |b| {
            b.iter(|| generate_blocking(black_box(&params), &Steps::unwatched()).expect("generated"))
        });
    }
    group.finish();
}

criterion_group!(fast, tokens, signed_urls, blob_paths, trpc_endpoint);
criterion_group!(generators, images, music);
criterion_main!(fast, generators);
