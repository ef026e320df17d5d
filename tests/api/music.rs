//! Music Studio over HTTP: tier gates and project limits, generation with the local composer
//! (files in the seed's layout, real audio checked with the audio toolkit, determinism), the
//! Hugging Face provider against a fake Inference API on 127.0.0.1 (success, model loading,
//! failures), stem uploads, ownership, listing, versions and remixes, sharing and the public
//! page, and bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use optima::audio::{self, AudioFormat};
use optima::auth::Role;
use optima::features::subscription::plan::Limit;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::fake_hf::{FakeHf, HfMode};
use crate::helpers::{TestApp, client_error, eventually, expect, files_under, mirrors_written, names_field, ok, refused, set_tier, user_on};

// ---------------------------------------------------------------------------------------------
// Helpers

const CREATE: &str = "/api/music/project/create";
const GENERATE: &str = "/api/music/generate";
const UPLOAD: &str = "/api/music/stem/upload";

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    expect(app.post_json(CREATE, Some(token), &body).await, 201).await
}

async fn generate(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json(GENERATE, Some(token), &body).await
}

async fn project(app: &TestApp, token: &str, id: &str) -> Value {
    ok(app.get(&format!("/api/music/project/{id}"), Some(token)).await).await
}

async fn versions(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let body = ok(app.get(&format!("/api/music/project/{id}/versions"), Some(token)).await).await;
    assert_eq!(body["projectId"], id);
    body["versions"].as_array().unwrap().clone()
}

async fn stems(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    ok(app.get(&format!("/api/music/project/{id}/stems"), Some(token)).await).await.as_array().unwrap().clone()
}

/// GETs an absolute URL from an answer without any token; asserts 200 and returns the bytes.
async fn fetch(app: &TestApp, url: &str) -> Vec<u8> {
    assert!(url.starts_with(&app.base), "URLs point at this server: {url}");
    app.fetch_bytes(url).await
}

fn project_rows(app: &TestApp, user: &str) -> i64 {
    app.count("SELECT count(*) FROM music_projects WHERE user_id = ?1", &[&user])
}

fn version_rows(app: &TestApp, project: &str) -> i64 {
    app.count("SELECT count(*) FROM music_mix_versions WHERE project_id = ?1", &[&project])
}

fn stem_rows(app: &TestApp, project: &str) -> i64 {
    app.count("SELECT count(*) FROM music_stems WHERE project_id = ?1", &[&project])
}

/// `music_generation` in usage_counters, summed over windows: (used, reserved).
fn music_counters(app: &TestApp, user: &str) -> (i64, i64) {
    app.usage(user, "music_generation")
}

/// `musicGenerated` of GET /api/premium/usage/{user}.
async fn music_generated(app: &TestApp, token: &str, user: &str) -> i64 {
    ok(app.get(&format!("/api/premium/usage/{user}"), Some(token)).await).await["musicGenerated"].as_i64().unwrap()
}

/// Asserts the quota stands at `used` with nothing held, in the summary and in the table.
async fn assert_charged(app: &TestApp, token: &str, user: &str, used: i64) {
    assert_eq!(music_generated(app, token, user).await, used, "musicGenerated of {user}");
    assert_eq!(music_counters(app, user), (used, 0), "usage_counters (used, reserved) of {user}");
}

fn music_bucket(app: &TestApp) -> PathBuf {
    app.bucket_dir("r3al-studio-music")
}

fn project_dir(app: &TestApp, user: &str, project: &str) -> PathBuf {
    music_bucket(app).join(format!("users/{user}/projects/{project}"))
}

fn read(dir: &std::path::Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The project's `metadata.json`, once every pending mirror is written.
async fn metadata(app: &TestApp, user: &str, project: &str) -> Value {
    mirrors_written(app).await;
    serde_json::from_slice(&read(&project_dir(app, user, project), "metadata.json")).expect("metadata.json is JSON")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string, got {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number, got {v}"))
}

/// 16-bit mono PCM WAV of a sine at `rate` Hz (hound).
fn sine_wav(secs: f32, rate: u32, freq: f32, amplitude: f32) -> Vec<u8> {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..(secs * rate as f32) as usize {
        let x = amplitude * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin();
        w.write_sample((x * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

fn sine(secs: f32, freq: f32) -> Vec<f32> {
    (0..(secs * 44_100.0) as usize).map(|i| 0.4 * (std::f32::consts::TAU * freq * i as f32 / 44_100.0).sin()).collect()
}

struct WavFmt {
    audio_format: u16,
    channels: u16,
    sample_rate: u32,
    bits_per_sample: u16,
    data: std::ops::Range<usize>,
}

/// Walks the RIFF chunks: the `fmt ` fields and where `data` is.
fn wav_fmt(bytes: &[u8]) -> WavFmt {
    assert_eq!(&bytes[0..4], b"RIFF", "a RIFF file");
    assert_eq!(&bytes[8..12], b"WAVE", "a WAVE file");
    let (mut fmt, mut data) = (None, None);
    let mut i = 12;
    while i + 8 <= bytes.len() {
        let id = &bytes[i..i + 4];
        let len = u32::from_le_bytes(bytes[i + 4..i + 8].try_into().unwrap()) as usize;
        let body = i + 8;
        if id == b"fmt " {
            let b = &bytes[body..body + len];
            fmt = Some((
                u16::from_le_bytes([b[0], b[1]]),
                u16::from_le_bytes([b[2], b[3]]),
                u32::from_le_bytes(b[4..8].try_into().unwrap()),
                u16::from_le_bytes([b[14], b[15]]),
            ));
        } else if id == b"data" {
            data = Some(body..(body + len).min(bytes.len()));
        }
        i = body + len + (len & 1);
    }
    let (audio_format, channels, sample_rate, bits_per_sample) = fmt.expect("a fmt chunk");
    WavFmt { audio_format, channels, sample_rate, bits_per_sample, data: data.expect("a data chunk") }
}

/// The chunk ids of a Standard MIDI File, checking each length fits.
fn midi_chunks(bytes: &[u8]) -> Vec<[u8; 4]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        assert!(i + 8 <= bytes.len(), "a truncated MIDI chunk header at {i}");
        let id: [u8; 4] = bytes[i..i + 4].try_into().unwrap();
        let len = u32::from_be_bytes(bytes[i + 4..i + 8].try_into().unwrap()) as usize;
        assert!(i + 8 + len <= bytes.len(), "MIDI chunk {:?} overruns the file", String::from_utf8_lossy(&id));
        out.push(id);
        i += 8 + len;
    }
    out
}

fn within(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!((actual - expected).abs() <= tolerance, "{what}: {actual} is not {expected} ± {tolerance}");
}

/// Every file of a project folder (relative), without the metadata.
/// The project's files, once every pending mirror is written.
async fn project_files(app: &TestApp, user: &str, project: &str) -> Vec<String> {
    mirrors_written(app).await;
    files_under(&project_dir(app, user, project))
}

/// A premium user's fresh draft project: (token, project id).
async fn premium_project(app: &TestApp, user: &str, body: Value) -> (String, String) {
    let token = user_on(app, user, "premium").await;
    let mut body = body;
    body["userId"] = json!(user);
    let p = create(app, &token, body).await;
    (token, s(&p["projectId"]).to_owned())
}

fn by_instrument(g: &Value) -> BTreeMap<String, Value> {
    g["stems"].as_array().unwrap().iter().map(|st| (s(&st["instrument"]).to_owned(), st.clone())).collect()
}

async fn stem_bytes(app: &TestApp, g: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (instrument, st) in by_instrument(g) {
        out.insert(instrument, fetch(app, s(&st["url"])).await);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Tier gates and project limits

#[tokio::test]
async fn free_users_cannot_create_projects_or_generate() {
    let app = TestApp::spawn().await;
    let free = user_on(&app, "f1", "free").await;

    let body = refused(app.post_json(CREATE, Some(&free), &json!({"userId": "f1", "title": "My first song"})).await, 403, "upgrade_required").await;
    assert_eq!(body["error"]["details"]["upgradeTo"], "premium", "{body}");
    assert_eq!(project_rows(&app, "f1"), 0, "no row for a refused project");
    assert_eq!(files_under(&music_bucket(&app)), Vec::<String>::new(), "no file for a refused project");
    // An admin cannot create one for a free user either: the limit is the owner's.
    let admin = app.token("ops", Role::Admin);
    refused(app.post_json(CREATE, Some(&admin), &json!({"userId": "f1", "title": "For f1"})).await, 403, "upgrade_required").await;
    assert_eq!(project_rows(&app, "f1"), 0);

    // A project made while premium, then the user is moved back to free: generation is refused.
    set_tier(&app, "f1", "premium").await;
    let p = create(&app, &free, json!({"userId": "f1", "title": "Made while premium"})).await;
    let id = s(&p["projectId"]).to_owned();
    set_tier(&app, "f1", "free").await;
    let body = refused(generate(&app, &free, json!({"projectId": id, "userId": "f1", "prompt": "a calm piano", "duration": 10})).await, 403, "upgrade_required").await;
    assert_eq!(body["error"]["details"]["upgradeTo"], "premium", "{body}");
    let after = project(&app, &free, &id).await;
    assert_eq!(after["status"], "draft");
    assert_eq!(after["lastError"], Value::Null, "a refused request is not a failed generation");
    assert_eq!(version_rows(&app, &id), 0);
    assert_eq!(stem_rows(&app, &id), 0);
    assert_eq!(project_files(&app, "f1", &id).await, ["metadata.json"]);
    assert_charged(&app, &free, "f1", 0).await;
}

#[tokio::test]
async fn premium_allows_five_active_projects_and_archiving_frees_a_place() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "p1", "premium").await;
    let mut ids = Vec::new();
    for i in 1..=5 {
        let p = create(&app, &token, json!({"userId": "p1", "title": format!("Song {i}"), "genre": "pop", "bpm": 100 + i, "mood": "happy", "key": "Am"})).await;
        assert_eq!(p["status"], "draft");
        assert_eq!(p["visibility"], "private");
        assert_eq!(p["userId"], "p1");
        assert_eq!(p["title"], format!("Song {i}"));
        assert_eq!(p["bpm"], 100 + i);
        assert_eq!(p["key"], "Am");
        assert_eq!(p["stemCount"], 0);
        assert_eq!(p["totalPlays"], 0);
        assert_eq!(p["currentVersionId"], Value::Null);
        assert_eq!(p["previewUrl"], Value::Null);
        let id = s(&p["projectId"]).to_owned();
        assert_eq!(project_files(&app, "p1", &id).await, ["metadata.json"], "a new project describes itself in the bucket");
        ids.push(id);
    }
    let body = refused(app.post_json(CREATE, Some(&token), &json!({"userId": "p1", "title": "Song 6"})).await, 403, "project_limit_reached").await;
    assert_eq!(body["error"]["details"]["limit"], 5, "{body}");
    assert_eq!(body["error"]["details"]["used"], 5, "{body}");
    assert_eq!(body["error"]["details"]["upgradeTo"], "unlimited", "{body}");
    assert_eq!(project_rows(&app, "p1"), 5, "the refused project left no row");
    assert_eq!(files_under(&music_bucket(&app)).len(), 5, "nor a file");

    // Archiving (DELETE without purge) keeps the project but frees a place.
    let archived = ok(app.delete(&format!("/api/music/project/{}", ids[0]), Some(&token)).await).await;
    assert_eq!(archived, json!({"projectId": ids[0], "status": "archived", "purged": false, "filesRemoved": 0}));
    assert_eq!(project(&app, &token, &ids[0]).await["status"], "archived");
    assert_eq!(s(&metadata(&app, "p1", &ids[0]).await["project"]["status"]), "archived", "metadata.json follows the row");
    let sixth = create(&app, &token, json!({"userId": "p1", "title": "Song 6"})).await;
    refused(app.post_json(CREATE, Some(&token), &json!({"userId": "p1", "title": "Song 7"})).await, 403, "project_limit_reached").await;
    assert_eq!(project_rows(&app, "p1"), 6);

    // Restoring the archived one would make six active projects.
    refused(app.put_json(&format!("/api/music/project/{}", ids[0]), Some(&token), &json!({"status": "draft"})).await, 403, "project_limit_reached").await;
    assert_eq!(project(&app, &token, &ids[0]).await["status"], "archived");

    // Purging one removes its row and files; then the archived one can come back.
    mirrors_written(&app).await;
    let purged = ok(app.delete(&format!("/api/music/project/{}?purge=true", s(&sixth["projectId"])), Some(&token)).await).await;
    assert_eq!(purged["purged"], true);
    assert_eq!(purged["filesRemoved"], 1);
    assert_eq!(project_rows(&app, "p1"), 5);
    assert!(project_files(&app, "p1", s(&sixth["projectId"])).await.is_empty());
    refused(app.get(&format!("/api/music/project/{}", s(&sixth["projectId"])), Some(&token)).await, 404, "project_not_found").await;
    let restored = ok(app.put_json(&format!("/api/music/project/{}", ids[0]), Some(&token), &json!({"status": "draft"})).await).await;
    assert_eq!(restored["status"], "draft");
}

#[tokio::test]
async fn generation_is_charged_once_per_success_and_stops_at_the_quota() {
    let app = TestApp::spawn_with(|c| c.subscription.tiers.premium.music_generation.limit = Limit::Count(1)).await;
    let (token, id) = premium_project(&app, "q1", json!({"title": "Quota", "genre": "ambient"})).await;
    assert_charged(&app, &token, "q1", 0).await;
    ok(generate(&app, &token, json!({"projectId": id, "userId": "q1", "prompt": "slow pads", "duration": 10})).await).await;
    assert_charged(&app, &token, "q1", 1).await;

    let body = refused(generate(&app, &token, json!({"projectId": id, "userId": "q1", "prompt": "more pads", "duration": 10})).await, 429, "quota_exceeded").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("music_generation"), "{body}");
    assert_eq!(version_rows(&app, &id), 1, "the refused generation stored nothing");
    assert_eq!(project(&app, &token, &id).await["status"], "completed");
    assert_charged(&app, &token, "q1", 1).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Generation with the local provider

/// Checks a generated WAV stem: 16-bit 44.1 kHz mono PCM, the asked length, audible, unclipped.
fn check_wav_stem(bytes: &[u8], seconds: f64, what: &str) {
    let fmt = wav_fmt(bytes);
    assert_eq!(fmt.audio_format, 1, "{what}: PCM");
    assert_eq!(fmt.channels, 1, "{what}: mono");
    assert_eq!(fmt.sample_rate, 44_100, "{what}: 44.1 kHz");
    assert_eq!(fmt.bits_per_sample, 16, "{what}: 16-bit");
    let info = audio::probe(bytes).unwrap_or_else(|e| panic!("{what} probes: {e}"));
    assert_eq!(info.format, AudioFormat::Wav, "{what}");
    assert_eq!((info.sample_rate, info.channels), (44_100, 1), "{what}");
    within(info.duration_secs, seconds, 1.0, &format!("{what} duration"));
    let samples = audio::decode_mono(bytes).unwrap();
    let (rms, peak) = (audio::rms(&samples), audio::peak(&samples));
    assert!(rms > 0.01, "{what} is not silent: rms {rms}");
    assert!(peak < 1.0, "{what} does not clip: peak {peak}");
    // A 16-bit file cannot show a peak of 1.0; clipping shows as full-scale samples.
    let full_scale = bytes[fmt.data].chunks_exact(2).filter(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs() >= 32767).count();
    assert_eq!(full_scale, 0, "{what}: no sample at full scale (clipped)");
}

fn check_mp3(bytes: &[u8], seconds: f64, what: &str) -> Vec<f32> {
    let info = audio::probe(bytes).unwrap_or_else(|e| panic!("{what} probes: {e}"));
    assert_eq!(info.format, AudioFormat::Mp3, "{what}");
    within(info.duration_secs, seconds, 1.0, &format!("{what} duration"));
    let samples = audio::decode_mono(bytes).unwrap();
    assert!(audio::rms(&samples) > 0.01, "{what} is not silent: rms {}", audio::rms(&samples));
    assert!(audio::peak(&samples) <= 1.0, "{what}: peak {}", audio::peak(&samples));
    samples
}

#[tokio::test]
async fn local_generation_writes_the_seed_layout_with_real_audio() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "g1", json!({"title": "Summer", "genre": "pop", "bpm": 120, "mood": "happy", "key": "C"})).await;
    let g = ok(generate(&app, &token, json!({"projectId": id, "userId": "g1", "prompt": "upbeat summer pop with bright synths", "duration": 20, "style": "pop"})).await).await;

    // The answer.
    assert_eq!(g["status"], "completed");
    assert_eq!(g["projectId"], id);
    assert_eq!(g["model"], "optima-composer");
    assert_eq!(g["bpm"], 120, "the project's bpm is used");
    assert!(s(&g["key"]).starts_with("C "), "the project's key is used: {}", g["key"]);
    within(f(&g["durationSeconds"]), 20.0, 1.0, "durationSeconds");
    let vid = s(&g["versionId"]).to_owned();
    let stems = g["stems"].as_array().unwrap();
    let instruments: BTreeSet<&str> = stems.iter().map(|st| s(&st["instrument"])).collect();
    assert_eq!(instruments, BTreeSet::from(["bass", "chords", "drums", "lead"]), "pop has the four parts as stems");
    assert_eq!(stems.len(), 4);
    let urls: Vec<&str> = stems.iter().map(|st| s(&st["url"])).collect();
    assert_eq!(g["stemUrls"].as_array().unwrap().iter().map(s).collect::<Vec<_>>(), urls, "stemUrls are the stems' URLs");
    for st in stems {
        assert_eq!(st["source"], "generated");
        assert_eq!(st["format"], "wav");
        assert_eq!(st["versionId"], vid);
        within(f(&st["duration"]), 20.0, 1.0, "a stem's duration");
        assert!(s(&st["url"]).contains("signature="), "stem URLs are signed: {}", st["url"]);
    }
    for key in ["mixUrl", "previewUrl", "midiUrl"] {
        assert!(s(&g[key]).contains("signature="), "{key} is signed: {}", g[key]);
    }

    // The project.
    let p = project(&app, &token, &id).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(p["currentVersionId"], vid);
    assert_eq!(p["stemCount"], 4);
    assert_eq!(p["lastError"], Value::Null);
    within(f(&p["duration"]), 20.0, 1.0, "the project's duration");
    assert!(p["previewUrl"].is_string());

    // The files, in the seed's layout.
    let dir = project_dir(&app, "g1", &id);
    let mut expected: Vec<String> = stems.iter().map(|st| format!("stems/{}.wav", s(&st["stemId"]))).collect();
    expected.extend([
        "metadata.json".to_owned(),
        format!("midi/{vid}.mid"),
        format!("mixed/{vid}.mp3"),
        format!("mixed/{vid}_preview.mp3"),
        format!("preview/{id}_preview.mp3"),
    ]);
    expected.sort();
    assert_eq!(project_files(&app, "g1", &id).await, expected);

    // Every URL plays without a token, and serves the stored bytes.
    for st in stems {
        let bytes = fetch(&app, s(&st["url"])).await;
        assert_eq!(bytes, read(&dir, &format!("stems/{}.wav", s(&st["stemId"]))));
        assert_eq!(st["sizeBytes"], bytes.len());
        check_wav_stem(&bytes, 20.0, &format!("the {} stem", st["instrument"]));
    }
    let mix = fetch(&app, s(&g["mixUrl"])).await;
    assert_eq!(mix, read(&dir, &format!("mixed/{vid}.mp3")));
    check_mp3(&mix, 20.0, "the mix");
    let preview = fetch(&app, s(&g["previewUrl"])).await;
    assert_eq!(preview, read(&dir, &format!("preview/{id}_preview.mp3")));
    check_mp3(&preview, 20.0, "the preview of a 20 s track");
    assert_eq!(fetch(&app, s(&p["previewUrl"])).await, preview, "the project's previewUrl is the same preview");

    let midi = fetch(&app, s(&g["midiUrl"])).await;
    assert_eq!(&midi[0..4], b"MThd");
    let chunks = midi_chunks(&midi);
    assert_eq!(chunks[0], *b"MThd");
    assert_eq!(chunks.iter().filter(|c| **c == *b"MTrk").count(), 5, "a tempo track and four parts");
    let smf = midly::Smf::parse(&midi).expect("midly reads the score");
    assert_eq!(smf.tracks.len(), 5);
    for (i, track) in smf.tracks.iter().enumerate().skip(1) {
        let notes = track.iter().filter(|e| matches!(e.kind, midly::TrackEventKind::Midi { message: midly::MidiMessage::NoteOn { .. }, .. })).count();
        assert!(notes > 0, "part track {i} has notes");
    }

    // Without the signature (and without a token) the files are private.
    let bare = s(&g["mixUrl"]).split('?').next().unwrap().to_owned();
    assert_eq!(app.client.get(&bare).send().await.unwrap().status(), 401);
    // Range on the mix: players can seek.
    let resp = app.client.get(s(&g["mixUrl"])).header("range", "bytes=100-1099").send().await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], format!("bytes 100-1099/{}", mix.len()).as_str());
    assert_eq!(resp.headers()["content-type"], "audio/mpeg");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &mix[100..1100]);

    // metadata.json names the project, its stems and versions, and follows edits.
    let meta = metadata(&app, "g1", &id).await;
    assert_eq!(meta["project"]["projectId"], id);
    assert_eq!(meta["project"]["title"], "Summer");
    assert_eq!(meta["project"]["status"], "completed");
    assert_eq!(meta["project"]["currentVersionId"], vid);
    let meta_stems: BTreeSet<&str> = meta["stems"].as_array().unwrap().iter().map(|st| s(&st["stemId"])).collect();
    assert_eq!(meta_stems, stems.iter().map(|st| s(&st["stemId"])).collect::<BTreeSet<_>>());
    let meta_versions: Vec<&str> = meta["versions"].as_array().unwrap().iter().map(|v| s(&v["versionId"])).collect();
    assert_eq!(meta_versions, [vid.as_str()]);
    let edited = ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"title": "Endless Summer", "mood": "dreamy"})).await).await;
    assert_eq!(edited["title"], "Endless Summer");
    let meta = metadata(&app, "g1", &id).await;
    assert_eq!(meta["project"]["title"], "Endless Summer", "metadata.json is rewritten on every change");
    assert_eq!(meta["project"]["mood"], "dreamy");

    assert_charged(&app, &token, "g1", 1).await;
}

#[tokio::test]
async fn the_preview_of_a_long_track_is_thirty_seconds() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "g2", json!({"title": "Long", "genre": "electronic"})).await;
    let g = ok(generate(&app, &token, json!({"projectId": id, "userId": "g2", "prompt": "driving techno", "duration": 45})).await).await;
    within(f(&g["durationSeconds"]), 45.0, 1.0, "durationSeconds");
    let mix = audio::probe(&fetch(&app, s(&g["mixUrl"])).await).unwrap();
    assert_eq!(mix.format, AudioFormat::Mp3);
    within(mix.duration_secs, 45.0, 1.0, "the mix");
    let preview = fetch(&app, s(&g["previewUrl"])).await;
    let info = audio::probe(&preview).unwrap();
    assert_eq!(info.format, AudioFormat::Mp3);
    assert!(info.duration_secs <= 30.5, "the preview is at most 30 s: {}", info.duration_secs);
    assert!(info.duration_secs >= 29.0, "the preview is the first 30 s: {}", info.duration_secs);
    for st in g["stems"].as_array().unwrap() {
        // (From the header: decoding 45 s stems is slow in debug builds.)
        let bytes = fetch(&app, s(&st["url"])).await;
        let fmt = wav_fmt(&bytes);
        let secs = fmt.data.len() as f64 / f64::from(fmt.sample_rate) / f64::from(fmt.channels) / f64::from(fmt.bits_per_sample / 8);
        within(secs, 45.0, 1.0, "a stem of a 45 s track");
    }
}

#[tokio::test]
async fn the_same_inputs_and_seed_give_the_same_stems_and_other_inputs_other_music() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "d1", json!({"title": "Seeds", "genre": "pop", "bpm": 110})).await;
    let gen_with = |extra: Value| {
        let mut body = json!({"projectId": id, "userId": "d1", "prompt": "warm nostalgic pop", "duration": 12, "style": "pop"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let a = ok(generate(&app, &token, gen_with(json!({"seed": 42}))).await).await;
    let b = ok(generate(&app, &token, gen_with(json!({"seed": 42}))).await).await;
    assert_ne!(a["versionId"], b["versionId"], "each generation is its own version");
    let (sa, sb) = (stem_bytes(&app, &a).await, stem_bytes(&app, &b).await);
    assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
    for (instrument, bytes) in &sa {
        assert!(bytes == &sb[instrument], "seed 42 twice: the {instrument} stems are byte-identical");
    }
    let mix_a = fetch(&app, s(&a["mixUrl"])).await;
    assert_eq!(mix_a, fetch(&app, s(&b["mixUrl"])).await, "and so is the mix");

    // Another seed, another prompt, another style: other music.
    let other_seed = ok(generate(&app, &token, gen_with(json!({"seed": 43}))).await).await;
    let other_prompt = ok(generate(&app, &token, gen_with(json!({"prompt": "dark brooding midnight rain, slow and sparse"}))).await).await;
    let other_style = ok(generate(&app, &token, gen_with(json!({"seed": 42, "style": "jazz"}))).await).await;
    let pcm_a = audio::decode_mono(&mix_a).unwrap();
    let rms_a = audio::rms(&pcm_a);
    for (what, g) in [("another seed", &other_seed), ("another prompt", &other_prompt), ("another style", &other_style)] {
        let mix = fetch(&app, s(&g["mixUrl"])).await;
        assert_ne!(mix, mix_a, "{what} gives another mix");
        let stems = stem_bytes(&app, g).await;
        assert_ne!(stems.get("drums").or(stems.get("bass")), sa.get("drums").or(sa.get("bass")), "{what} gives other stems");
        // Not just other bytes: other sound (the difference signal is far from silence).
        let pcm = audio::decode_mono(&mix).unwrap();
        let difference: Vec<f32> = pcm.iter().zip(&pcm_a).map(|(x, y)| x - y).collect();
        let rms = audio::rms(&difference);
        assert!(rms > 0.25 * rms_a, "{what}: the mixes sound different (difference rms {rms}, mix rms {rms_a})");
    }
    assert_charged(&app, &token, "d1", 5).await;
}

// ---------------------------------------------------------------------------------------------
// 3. Hugging Face MusicGen, against the fake Inference API (`fake_hf.rs`)

fn musicgen_wav() -> Vec<u8> {
    sine_wav(12.0, 32_000, 440.0, 0.5)
}

/// Sends a generation in the background and waits until the (gated) provider has been called;
/// returns the request, which answers once the fake lets the provider answer.
async fn generating(app: &TestApp, fake: &FakeHf, token: &str, body: &Value) -> tokio::task::JoinHandle<reqwest::Response> {
    let (client, url, token, body) = (app.client.clone(), app.url(GENERATE), token.to_owned(), body.clone());
    let running = tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await.unwrap() });
    eventually(10, "the provider is called", || async { (!fake.calls().is_empty()).then_some(()) }).await;
    running
}

#[tokio::test]
async fn huggingface_audio_is_stored_as_the_stem_and_mixed() {
    let wav = musicgen_wav();
    let (app, fake) = FakeHf::app(HfMode::Audio(wav.clone()), 2, 5).await;
    let (token, id) = premium_project(&app, "h1", json!({"title": "MusicGen", "genre": "ambient", "mood": "calm"})).await;
    let prompt = "gentle ambient drones over soft rain";
    let g = ok(generate(&app, &token, json!({"projectId": id, "userId": "h1", "prompt": prompt, "duration": 12})).await).await;

    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.path, "/models/facebook/musicgen-small");
    assert_eq!(call.authorization.as_deref(), Some("Bearer hf_test"));
    assert!(call.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")), "{call:?}");
    assert!(call.body["inputs"].as_str().is_some_and(|i| i.contains(prompt)), "the inputs carry the prompt: {}", call.body);
    assert_eq!(call.body["parameters"]["max_new_tokens"], 12 * 50, "MusicGen makes 50 tokens a second: {}", call.body);

    assert_eq!(g["status"], "completed");
    assert_eq!(g["model"], "facebook/musicgen-small");
    assert_eq!(g["midiUrl"], Value::Null, "MusicGen writes no score");
    within(f(&g["durationSeconds"]), 12.0, 0.5, "durationSeconds");
    let stems = g["stems"].as_array().unwrap();
    assert_eq!(stems.len(), 1);
    assert_eq!(stems[0]["format"], "wav");
    assert_eq!(stems[0]["source"], "generated");
    within(f(&stems[0]["duration"]), 12.0, 0.05, "the stem's duration");
    let stem = fetch(&app, s(&stems[0]["url"])).await;
    assert!(stem == wav, "the stored stem is the provider's WAV, byte for byte");
    let vid = s(&g["versionId"]);
    let stem_path = format!("stems/{}.wav", s(&stems[0]["stemId"]));
    let mut expected = vec![
        stem_path.clone(),
        "metadata.json".to_owned(),
        format!("mixed/{vid}.mp3"),
        format!("mixed/{vid}_preview.mp3"),
        format!("preview/{id}_preview.mp3"),
    ];
    expected.sort();
    assert_eq!(project_files(&app, "h1", &id).await, expected, "no MIDI from MusicGen");
    assert!(read(&project_dir(&app, "h1", &id), &stem_path) == wav);
    check_mp3(&fetch(&app, s(&g["mixUrl"])).await, 12.0, "the mix");
    check_mp3(&fetch(&app, s(&g["previewUrl"])).await, 12.0, "the preview");
    let p = project(&app, &token, &id).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(p["currentVersionId"], vid);
    let v = versions(&app, &token, &id).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["provider"], "huggingface");
    assert_eq!(v[0]["prompt"], prompt);
    assert_charged(&app, &token, "h1", 1).await;

    // A failure after a success: the project stays completed with its mix, the error is noted.
    fake.set(HfMode::ServerError);
    let files = project_files(&app, "h1", &id).await;
    refused(generate(&app, &token, json!({"projectId": id, "userId": "h1", "prompt": "another take", "duration": 12})).await, 502, "provider_failed").await;
    let p = project(&app, &token, &id).await;
    assert_eq!(p["status"], "completed", "back to the status before the attempt");
    assert_eq!(p["currentVersionId"], vid);
    assert!(p["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{p}");
    assert_eq!(version_rows(&app, &id), 1);
    assert_eq!(stem_rows(&app, &id), 1);
    assert_eq!(project_files(&app, "h1", &id).await, files);
    assert_eq!(fetch(&app, s(&p["previewUrl"])).await, fetch(&app, s(&g["previewUrl"])).await);
    assert_charged(&app, &token, "h1", 1).await;

    // The next success clears the error.
    fake.set(HfMode::Audio(wav));
    ok(generate(&app, &token, json!({"projectId": id, "userId": "h1", "prompt": "third take", "duration": 12})).await).await;
    assert_eq!(project(&app, &token, &id).await["lastError"], Value::Null);
    assert_charged(&app, &token, "h1", 2).await;
}

#[tokio::test]
async fn huggingface_model_loading_is_waited_out() {
    let (app, fake) = FakeHf::app(HfMode::LoadingThenAudio(musicgen_wav()), 2, 10).await;
    let (token, id) = premium_project(&app, "h2", json!({"title": "Patience"})).await;
    let g = ok(generate(&app, &token, json!({"projectId": id, "userId": "h2", "prompt": "lofi beats", "duration": 12})).await).await;
    assert_eq!(fake.calls().len(), 2, "one 503 while loading, then the answer");
    assert_eq!(g["status"], "completed");
    assert_eq!(project(&app, &token, &id).await["status"], "completed");
    assert_charged(&app, &token, "h2", 1).await;
}

/// After a failed generation of a draft: draft again with `lastError`, nothing stored or charged.
async fn assert_failed_cleanly(app: &TestApp, token: &str, user: &str, id: &str) {
    let p = project(app, token, id).await;
    assert_eq!(p["status"], "draft", "back to draft: {p}");
    assert!(p["lastError"].as_str().is_some_and(|e| !e.is_empty()), "lastError is set: {p}");
    assert_eq!(p["currentVersionId"], Value::Null);
    assert_eq!(p["stemCount"], 0);
    assert_eq!(version_rows(app, id), 0);
    assert_eq!(stem_rows(app, id), 0);
    assert!(versions(app, token, id).await.is_empty());
    assert!(stems(app, token, id).await.is_empty());
    assert_eq!(project_files(app, user, id).await, ["metadata.json"], "no new files");
    let meta = metadata(app, user, id).await;
    assert_eq!(meta["project"]["status"], "draft");
    assert_eq!(meta["project"]["lastError"], p["lastError"], "metadata.json follows the row");
    assert_charged(app, token, user, 0).await;
}

#[tokio::test]
async fn huggingface_failures_leave_the_project_as_it_was() {
    let (app, fake) = FakeHf::app(HfMode::AlwaysLoading, 2, 1).await;
    let (token, id) = premium_project(&app, "h3", json!({"title": "Trouble"})).await;
    let body = json!({"projectId": id, "userId": "h3", "prompt": "epic orchestral trailer", "duration": 10});

    // Still loading when the wait is up.
    let resp = generate(&app, &token, body.clone()).await;
    assert!(resp.headers().get("retry-after").is_some(), "503 provider_busy says when to retry");
    let err = refused(resp, 503, "provider_busy").await;
    assert!(s(&err["error"]["message"]).contains("loading"), "{err}");
    assert!(fake.calls().len() >= 2, "it retried once the estimated time had passed: {} calls", fake.calls().len());
    assert_failed_cleanly(&app, &token, "h3", &id).await;

    fake.set(HfMode::ServerError);
    refused(generate(&app, &token, body.clone()).await, 502, "provider_failed").await;
    assert_eq!(fake.calls().len(), 1, "a 500 is not retried");
    assert_failed_cleanly(&app, &token, "h3", &id).await;

    fake.set(HfMode::NotAudio);
    let err = refused(generate(&app, &token, body.clone()).await, 502, "provider_failed").await;
    assert!(s(&err["error"]["message"]).contains("audio"), "{err}");
    assert_failed_cleanly(&app, &token, "h3", &id).await;

    fake.set(HfMode::Unauthorized);
    refused(generate(&app, &token, body.clone()).await, 503, "provider_unconfigured").await;
    assert_failed_cleanly(&app, &token, "h3", &id).await;

    fake.set(HfMode::Slow(musicgen_wav(), 3.5));
    let err = refused(generate(&app, &token, body.clone()).await, 502, "provider_failed").await;
    assert!(s(&err["error"]["message"]).contains("did not answer"), "a timeout: {err}");
    assert_failed_cleanly(&app, &token, "h3", &id).await;
}

#[tokio::test]
async fn a_project_is_generating_while_the_provider_works() {
    let (app, fake) = FakeHf::app(HfMode::Gated(musicgen_wav()), 20, 5).await;
    let (token, id) = premium_project(&app, "h4", json!({"title": "In progress"})).await;
    let body = json!({"projectId": id, "userId": "h4", "prompt": "slow blues", "duration": 12});
    let running = generating(&app, &fake, &token, &body).await;

    let p = project(&app, &token, &id).await;
    assert_eq!(p["status"], "generating");
    assert_eq!(music_counters(&app, "h4"), (0, 1), "the generation holds one unit of quota");
    let listed = ok(app.get("/api/music/user/h4/projects?status=generating", Some(&token)).await).await;
    assert_eq!(listed["total"], 1);
    refused(generate(&app, &token, body.clone()).await, 409, "generation_in_progress").await;
    refused(app.delete(&format!("/api/music/project/{id}"), Some(&token)).await, 409, "generation_in_progress").await;
    refused(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"status": "draft"})).await, 409, "generation_in_progress").await;
    assert_eq!(music_counters(&app, "h4"), (0, 1), "the refused attempt gave its hold back");
    assert_eq!(fake.calls().len(), 1, "the second attempt never reached the provider");

    fake.open.store(true, Ordering::SeqCst);
    let resp = running.await.unwrap();
    let g = ok(resp).await;
    assert_eq!(g["status"], "completed");
    assert_eq!(project(&app, &token, &id).await["status"], "completed");
    assert_charged(&app, &token, "h4", 1).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Stem uploads

async fn upload(app: &TestApp, token: &str, project: &str, instrument: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new()
        .text("projectId", project.to_owned())
        .text("instrument", instrument.to_owned())
        .part("file", Part::bytes(bytes).file_name(name.to_owned()));
    app.client.post(app.url(UPLOAD)).bearer_auth(token).multipart(form).send().await.expect("request")
}

#[tokio::test]
async fn uploaded_stems_are_recognised_by_content_and_measured() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "u1", json!({"title": "Band"})).await;
    let dir = project_dir(&app, "u1", &id);

    let wav = sine_wav(3.0, 44_100, 220.0, 0.5);
    let stem = expect(upload(&app, &token, &id, "bass", "bass.wav", wav.clone()).await, 201).await;
    assert_eq!(stem["format"], "wav");
    assert_eq!(stem["source"], "upload");
    assert_eq!(stem["instrument"], "bass");
    assert_eq!(stem["versionId"], Value::Null);
    assert_eq!(stem["sizeBytes"], wav.len());
    within(f(&stem["duration"]), 3.0, 0.01, "the measured duration of the WAV");
    let wav_id = s(&stem["stemId"]).to_owned();
    assert!(read(&dir, &format!("stems/{wav_id}.wav")) == wav);
    assert!(fetch(&app, s(&stem["url"])).await == wav);

    let mp3 = audio::encode_mp3_stereo(&sine(4.0, 330.0), &sine(4.0, 440.0), 44_100, 128).unwrap();
    // The name says WAV; the content says MP3.
    let stem = expect(upload(&app, &token, &id, "guitar", "guitar.wav", mp3.clone()).await, 201).await;
    assert_eq!(stem["format"], "mp3", "recognised by content, not by name");
    within(f(&stem["duration"]), 4.0, 0.1, "the measured duration of the MP3");
    let mp3_id = s(&stem["stemId"]).to_owned();
    assert!(read(&dir, &format!("stems/{mp3_id}.mp3")) == mp3);

    let before = project_files(&app, "u1", &id).await;
    refused(upload(&app, &token, &id, "vocals", "song.wav", b"just some text, not a song at all".repeat(20)).await, 422, "not_audio").await;
    refused(upload(&app, &token, &id, "vocals", "empty.wav", Vec::new()).await, 422, "not_audio").await;
    names_field(upload(&app, &token, &id, "   ", "blank.wav", wav.clone()).await, "instrument").await;
    assert_eq!(project_files(&app, "u1", &id).await, before, "nothing stored for refused uploads");
    assert_eq!(stem_rows(&app, &id), 2);

    // Another user's project: as if it did not exist.
    let other = user_on(&app, "u2", "premium").await;
    refused(upload(&app, &other, &id, "drums", "drums.wav", wav.clone()).await, 404, "project_not_found").await;
    refused(upload(&app, &token, "no-such-project", "drums", "drums.wav", wav.clone()).await, 404, "project_not_found").await;
    assert_eq!(stem_rows(&app, &id), 2);
    assert_eq!(project_files(&app, "u1", &id).await, before);

    let listed = stems(&app, &token, &id).await;
    assert_eq!(listed.iter().map(|st| s(&st["stemId"])).collect::<Vec<_>>(), [wav_id.as_str(), mp3_id.as_str()]);
    let p = project(&app, &token, &id).await;
    assert_eq!(p["stemCount"], 2);
    assert_eq!(p["status"], "draft", "uploading is not generating");
    let meta = metadata(&app, "u1", &id).await;
    assert_eq!(meta["stems"].as_array().unwrap().len(), 2);

    // Uploaded stems mix into a version (not charged: nothing was generated).
    let g = ok(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({})).await).await;
    assert_eq!(g["status"], "completed");
    within(f(&g["durationSeconds"]), 4.0, 0.2, "the mix is as long as the longest stem");
    check_mp3(&fetch(&app, s(&g["mixUrl"])).await, 4.0, "the mix of the uploads");
    assert_eq!(project(&app, &token, &id).await["status"], "completed");
    assert_charged(&app, &token, "u1", 0).await;
}

/// Issue 16: a WAV whose header declares 0 Hz made symphonia panic (`TimeBase cannot have 0
/// numerator or denominator`) and the upload answered 500.
#[tokio::test]
async fn a_wav_stem_with_an_impossible_header_is_422_and_not_stored() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "u1", json!({"title": "Band"})).await;
    let before = project_files(&app, "u1", &id).await;
    let wav = sine_wav(0.5, 44_100, 220.0, 0.5);
    // The fmt chunk follows the 12-byte RIFF header and its own 8-byte header: channels at 22,
    // the sample rate at 24.
    for (what, offset, value) in [("a sample rate of 0 Hz", 24, &[0u8; 4][..]), ("0 channels", 22, &[0u8; 2][..])] {
        let mut bad = wav.clone();
        bad[offset..offset + value.len()].copy_from_slice(value);
        let body = refused(upload(&app, &token, &id, "bass", "bass.wav", bad).await, 422, "not_audio").await;
        let message = s(&body["error"]["message"]);
        assert!(message.contains(what), "{what}: the message says what is wrong: {message}");
    }
    assert_eq!(project_files(&app, "u1", &id).await, before, "nothing stored");
    assert_eq!(stem_rows(&app, &id), 0);
    // The server is still whole: a good stem goes in.
    expect(upload(&app, &token, &id, "bass", "bass.wav", wav).await, 201).await;
}

#[tokio::test]
async fn stems_over_the_limits_are_refused() {
    let app = TestApp::spawn_with(|c| {
        c.music.max_stem_bytes = 100_000;
        c.music.max_stem_secs = 1.5;
    })
    .await;
    let (token, id) = premium_project(&app, "u3", json!({"title": "Limits"})).await;
    let big = sine_wav(3.0, 44_100, 220.0, 0.5);
    assert!(big.len() > 100_000);
    refused(upload(&app, &token, &id, "bass", "bass.wav", big).await, 413, "payload_too_large").await;
    let long = sine_wav(2.0, 8_000, 220.0, 0.5);
    assert!(long.len() < 100_000);
    refused(upload(&app, &token, &id, "bass", "bass.wav", long).await, 422, "stem_too_long").await;
    assert_eq!(stem_rows(&app, &id), 0);
    assert_eq!(project_files(&app, "u3", &id).await, ["metadata.json"]);
    let fits = sine_wav(1.0, 8_000, 220.0, 0.5);
    expect(upload(&app, &token, &id, "bass", "bass.wav", fits).await, 201).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Ownership and listing

#[tokio::test]
async fn a_project_is_its_owners_alone() {
    let app = TestApp::spawn().await;
    let (owner, id) = premium_project(&app, "o1", json!({"title": "Mine", "genre": "rock"})).await;
    let other = user_on(&app, "o2", "premium").await;
    let path = format!("/api/music/project/{id}");

    refused(app.get(&path, Some(&other)).await, 404, "project_not_found").await;
    refused(app.put_json(&path, Some(&other), &json!({"title": "Stolen"})).await, 404, "project_not_found").await;
    refused(app.delete(&path, Some(&other)).await, 404, "project_not_found").await;
    refused(app.delete(&format!("{path}?purge=true"), Some(&other)).await, 404, "project_not_found").await;
    refused(generate(&app, &other, json!({"projectId": id, "userId": "o2", "prompt": "riffs", "duration": 10})).await, 404, "project_not_found").await;
    refused(generate(&app, &other, json!({"projectId": id, "userId": "o1", "prompt": "riffs", "duration": 10})).await, 403, "forbidden").await;
    refused(app.post_json(&format!("/api/music/share/{id}"), Some(&other), &json!({"platform": "facebook"})).await, 404, "project_not_found").await;
    refused(app.get(&format!("{path}/versions"), Some(&other)).await, 404, "project_not_found").await;
    refused(app.get(&format!("{path}/stems"), Some(&other)).await, 404, "project_not_found").await;
    refused(app.post_json(&format!("{path}/mix"), Some(&other), &json!({})).await, 404, "project_not_found").await;
    refused(app.post_json(&format!("{path}/versions/v1/select"), Some(&other), &json!({})).await, 404, "project_not_found").await;
    refused(app.get("/api/music/user/o1/projects", Some(&other)).await, 403, "forbidden").await;
    refused(app.get("/api/music/projects/o1", Some(&other)).await, 403, "forbidden").await;
    assert_eq!(app.get(&path, None).await.status(), 401);

    // Nothing changed.
    let p = project(&app, &owner, &id).await;
    assert_eq!(p["title"], "Mine");
    assert_eq!(p["status"], "draft");
    assert_eq!(project_rows(&app, "o1"), 1);
    assert_eq!(project_files(&app, "o1", &id).await, ["metadata.json"]);
    assert_charged(&app, &owner, "o1", 0).await;
    assert_charged(&app, &other, "o2", 0).await;

    // An admin may read.
    let admin = app.token("ops", Role::Admin);
    assert_eq!(project(&app, &admin, &id).await["title"], "Mine");
    assert!(versions(&app, &admin, &id).await.is_empty());
    assert_eq!(ok(app.get("/api/music/user/o1/projects", Some(&admin)).await).await["total"], 1);
}

#[tokio::test]
async fn listing_filters_pages_and_orders_by_last_update() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "l1", "premium").await;
    let mut ids = Vec::new();
    for title in ["A", "B", "C"] {
        ids.push(s(&create(&app, &token, json!({"userId": "l1", "title": title})).await["projectId"]).to_owned());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (a, b, c) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let list = |q: &str| {
        let q = q.to_owned();
        let (app, token) = (&app, &token);
        async move { ok(app.get(&format!("/api/music/user/l1/projects{q}"), Some(token)).await).await }
    };
    let order = |v: &Value| v["projects"].as_array().unwrap().iter().map(|p| s(&p["projectId"]).to_owned()).collect::<Vec<_>>();

    let all = list("").await;
    assert_eq!(all["userId"], "l1");
    assert_eq!(all["total"], 3);
    assert_eq!(all["hasMore"], false);
    assert_eq!(order(&all), [c.clone(), b.clone(), a.clone()], "newest first");

    ok(app.put_json(&format!("/api/music/project/{a}"), Some(&token), &json!({"mood": "melancholic"})).await).await;
    assert_eq!(order(&list("").await), [a.clone(), c.clone(), b.clone()], "an edit moves a project up");
    tokio::time::sleep(Duration::from_millis(5)).await;
    ok(generate(&app, &token, json!({"projectId": b, "userId": "l1", "prompt": "bright pop", "duration": 10})).await).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    ok(app.delete(&format!("/api/music/project/{c}"), Some(&token)).await).await;

    let all = list("").await;
    assert_eq!(order(&all), [c.clone(), b.clone(), a.clone()], "ordered by last update");
    let by_id: BTreeMap<String, Value> = all["projects"].as_array().unwrap().iter().map(|p| (s(&p["projectId"]).to_owned(), p.clone())).collect();
    assert_eq!(by_id[&b]["stemCount"], 4);
    assert_eq!(by_id[&b]["status"], "completed");
    assert_eq!(by_id[&b]["totalPlays"], 0);
    assert!(by_id[&b]["previewUrl"].is_string());
    assert_eq!(by_id[&a]["stemCount"], 0);
    assert_eq!(by_id[&a]["mood"], "melancholic");
    assert_eq!(by_id[&c]["status"], "archived");

    for (status, id) in [("completed", &b), ("draft", &a), ("archived", &c)] {
        let one = list(&format!("?status={status}")).await;
        assert_eq!(one["total"], 1, "{status}: {one}");
        assert_eq!(order(&one), [id.as_str()], "{status}");
    }
    let none = list("?status=published").await;
    assert_eq!(none["total"], 0);
    assert_eq!(none["projects"], json!([]));

    let first = list("?limit=2").await;
    assert_eq!((first["total"].as_u64(), first["hasMore"].as_bool()), (Some(3), Some(true)));
    assert_eq!(order(&first), [c.clone(), b.clone()]);
    let second = list("?limit=2&offset=2").await;
    assert_eq!((second["total"].as_u64(), second["hasMore"].as_bool()), (Some(3), Some(false)));
    assert_eq!(order(&second), [a.as_str()]);
    let past = list("?limit=2&offset=10").await;
    assert_eq!(past["projects"], json!([]));
    assert_eq!(past["hasMore"], false);

    // The app's spelling answers the same.
    let alias = ok(app.get("/api/music/projects/l1?limit=2&offset=1", Some(&token)).await).await;
    assert_eq!(order(&alias), [b.clone(), a.clone()]);
    assert_eq!(alias["total"], 3);
    let alias_status = ok(app.get("/api/music/projects/l1?status=archived", Some(&token)).await).await;
    assert_eq!(order(&alias_status), [c.as_str()]);

    client_error(app.get("/api/music/user/l1/projects?limit=0", Some(&token)).await, 400).await;
    client_error(app.get("/api/music/user/l1/projects?limit=201", Some(&token)).await, 400).await;
    client_error(app.get("/api/music/user/l1/projects?status=bogus", Some(&token)).await, 400).await;

    // Someone else's (empty) list is their own.
    let other = user_on(&app, "l2", "premium").await;
    let theirs = ok(app.get("/api/music/user/l2/projects", Some(&other)).await).await;
    assert_eq!(theirs["total"], 0);
}

// ---------------------------------------------------------------------------------------------
// 6. Versions and remixes

#[tokio::test]
async fn versions_can_be_selected_and_stems_remixed() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "v1", json!({"title": "Takes", "genre": "hiphop"})).await;
    let first = ok(generate(&app, &token, json!({"projectId": id, "userId": "v1", "prompt": "boom bap with vinyl crackle", "duration": 10})).await).await;
    let second = ok(generate(&app, &token, json!({"projectId": id, "userId": "v1", "prompt": "trap hi hats and deep 808", "duration": 12})).await).await;
    let (v1, v2) = (s(&first["versionId"]).to_owned(), s(&second["versionId"]).to_owned());

    let list = versions(&app, &token, &id).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["versionId"], v2, "newest first");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["versionId"], v1);
    assert_eq!(list[1]["current"], false);
    assert_eq!(list[1]["prompt"], "boom bap with vinyl crackle");
    assert_eq!(list[0]["provider"], "local");
    assert!(list[0]["midiUrl"].is_string());
    within(f(&list[0]["durationSeconds"]), 12.0, 1.0, "the second version's length");
    let p = project(&app, &token, &id).await;
    assert_eq!(p["currentVersionId"], v2);
    assert_eq!(p["stemCount"], 8, "both generations' stems are kept");
    let dir = project_dir(&app, "v1", &id);
    let preview_of = |v: &str| read(&dir, &format!("mixed/{v}_preview.mp3"));
    assert_eq!(read(&dir, &format!("preview/{id}_preview.mp3")), preview_of(&v2), "the project preview is the newest");
    assert_ne!(preview_of(&v1), preview_of(&v2));

    // Select the older one.
    let selected = ok(app.post_json(&format!("/api/music/project/{id}/versions/{v1}/select"), Some(&token), &json!({})).await).await;
    assert_eq!(selected["currentVersionId"], v1);
    within(f(&selected["duration"]), 10.0, 1.0, "the project takes the selected version's length");
    let list = versions(&app, &token, &id).await;
    let current: Vec<&str> = list.iter().filter(|v| v["current"] == true).map(|v| s(&v["versionId"])).collect();
    assert_eq!(current, [v1.as_str()], "exactly one current version");
    let older_preview = fetch(&app, s(&list[1]["previewUrl"])).await;
    assert_eq!(read(&dir, &format!("preview/{id}_preview.mp3")), older_preview, "the project preview is the selected version's");
    assert_eq!(fetch(&app, s(&selected["previewUrl"])).await, older_preview);
    assert_eq!(fetch(&app, s(&first["previewUrl"])).await, older_preview, "the preview URL serves the selected preview");
    assert_eq!(metadata(&app, "v1", &id).await["project"]["currentVersionId"], v1);
    refused(app.post_json(&format!("/api/music/project/{id}/versions/nope/select"), Some(&token), &json!({})).await, 404, "version_not_found").await;

    // Remix with the default stems: the current version's.
    let remix = ok(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({})).await).await;
    let v3 = s(&remix["versionId"]).to_owned();
    assert_eq!(remix["status"], "completed");
    assert_eq!(remix["midiUrl"], Value::Null);
    assert_eq!(remix["stems"], json!([]), "a remix makes no new stems");
    within(f(&remix["durationSeconds"]), 10.0, 1.0, "the remix of the 10 s version");
    check_mp3(&fetch(&app, s(&remix["mixUrl"])).await, 10.0, "the remix");
    let list = versions(&app, &token, &id).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["versionId"], v3);
    assert_eq!(list[0]["provider"], "remix");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list.iter().filter(|v| v["current"] == true).count(), 1);
    assert_eq!(project(&app, &token, &id).await["stemCount"], 8);

    // A chosen stem, quieter and to the left.
    let drums = first["stems"].as_array().unwrap().iter().find(|st| st["instrument"] == "drums").unwrap()["stemId"].clone();
    let solo = ok(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({"stems": [{"stemId": drums, "gain": 0.5, "pan": -0.5}]})).await).await;
    check_mp3(&fetch(&app, s(&solo["mixUrl"])).await, 10.0, "the drums alone");

    let files = project_files(&app, "v1", &id).await;
    refused(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({"stems": [{"stemId": "no-such-stem"}]})).await, 404, "stem_not_found").await;
    client_error(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({"stems": []})).await, 400).await;
    client_error(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({"stems": [{"stemId": drums, "gain": 3}]})).await, 400).await;
    assert_eq!(project_files(&app, "v1", &id).await, files);
    assert_eq!(version_rows(&app, &id), 4);
    assert_charged(&app, &token, "v1", 2).await;
}

// ---------------------------------------------------------------------------------------------
// 7. Sharing and the public page

fn query_of(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{url} parses: {e}")).query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn plays(app: &TestApp, token: &str, id: &str) -> u64 {
    project(app, token, id).await["totalPlays"].as_u64().unwrap()
}

#[tokio::test]
async fn sharing_publishes_a_public_page_with_its_audio() {
    let app = TestApp::spawn().await;
    let title = r#"Night <script>alert(1)</script> & "Drive""#;
    let (token, id) = premium_project(&app, "s1", json!({"title": title, "genre": "electronic", "bpm": 124, "mood": "dark"})).await;
    let share_path = format!("/api/music/share/{id}");

    refused(app.post_json(&share_path, Some(&token), &json!({"platform": "facebook"})).await, 409, "not_shareable").await;
    assert_eq!(app.count("SELECT count(*) FROM music_shares WHERE project_id = ?1", &[&id]), 0);
    assert_eq!(project(&app, &token, &id).await["shareUrl"], Value::Null);

    ok(generate(&app, &token, json!({"projectId": id, "userId": "s1", "prompt": "night drive synthwave", "duration": 10})).await).await;
    let caption = "Rock & roll #1 <3 tonight";
    let shared = ok(app.post_json(&share_path, Some(&token), &json!({"platforms": ["facebook", "twitter", "instagram", "x"], "caption": caption})).await).await;
    assert_eq!(shared["projectId"], id);
    assert_eq!(shared["status"], "published");
    let page = s(&shared["shareUrl"]).to_owned();
    let slug = page.strip_prefix(&format!("{}/s/", app.base)).unwrap_or_else(|| panic!("the page is {}/s/{{id}}: {page}", app.base)).to_owned();
    assert!(!slug.is_empty() && slug.chars().all(|c| c.is_ascii_alphanumeric()), "{slug}");
    let shares = shared["shares"].as_array().unwrap();
    let platforms: Vec<&str> = shares.iter().map(|e| s(&e["platform"])).collect();
    assert_eq!(platforms, ["facebook", "twitter", "instagram"], "x is twitter, counted once");
    for e in shares {
        assert_eq!(e["shareUrl"], page.as_str(), "one page for every platform");
        assert_eq!(e["shareCount"], 1);
    }
    let facebook = s(&shares[0]["externalUrl"]);
    let twitter = s(&shares[1]["externalUrl"]);
    for url in [facebook, twitter] {
        assert!(!url.contains(' ') && !url.contains('#') && !url.contains('<'), "percent-escaped: {url}");
        assert!(url.contains("%26") && url.contains("%23") && url.contains("%3C"), "the caption's & # < are escaped: {url}");
        assert_eq!(url.matches('&').count(), 1, "only the separator between the two parameters is a raw &: {url}");
    }
    assert!(facebook.starts_with("https://www.facebook.com/sharer/sharer.php?"), "{facebook}");
    assert_eq!(query_of(facebook), BTreeMap::from([("u".into(), page.clone()), ("quote".into(), caption.into())]));
    assert!(twitter.starts_with("https://twitter.com/intent/tweet?"), "{twitter}");
    assert_eq!(query_of(twitter), BTreeMap::from([("url".into(), page.clone()), ("text".into(), caption.into())]));
    assert_eq!(shares[2]["externalUrl"], Value::Null, "Instagram has no web share link");
    assert!(shares[2]["note"].as_str().is_some_and(|n| n.contains("instagram")), "{}", shares[2]);
    assert!(shares[0].get("note").is_none(), "no note where there is a link");

    let p = project(&app, &token, &id).await;
    assert_eq!(p["status"], "published");
    assert_eq!(p["visibility"], "public");
    assert_eq!(p["shareUrl"], page.as_str());
    assert_eq!(metadata(&app, "s1", &id).await["project"]["shareSlug"], slug.as_str());

    // Sharing again to x counts another twitter share on the same page.
    let again = ok(app.post_json(&share_path, Some(&token), &json!({"platform": "x"})).await).await;
    assert_eq!(again["shareUrl"], page.as_str(), "the page stays");
    assert_eq!(again["shares"].as_array().unwrap().len(), 1);
    assert_eq!(again["shares"][0]["platform"], "twitter");
    assert_eq!(again["shares"][0]["shareCount"], 2);
    let counts: BTreeMap<String, i64> = {
        let rows = app.rows("SELECT platform, share_count FROM music_shares WHERE project_id = ?1", &[&id]);
        rows.iter().map(|r| (r.text(0).unwrap(), r.int(1))).collect()
    };
    assert_eq!(counts, BTreeMap::from([("facebook".into(), 1), ("instagram".into(), 1), ("twitter".into(), 2)]));
    names_field(app.post_json(&share_path, Some(&token), &json!({"platforms": ["myspace"]})).await, "platforms").await;
    names_field(app.post_json(&share_path, Some(&token), &json!({"platforms": ["facebook", "friendster"]})).await, "platforms").await;
    names_field(app.post_json(&share_path, Some(&token), &json!({})).await, "platforms").await;
    assert_eq!(app.count("SELECT sum(share_count) FROM music_shares WHERE project_id = ?1", &[&id]), 4, "refused shares count nothing");

    // The public page, without a token.
    let resp = app.get(&format!("/s/{slug}"), None).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    let escaped = "Night &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Drive&quot;";
    assert!(html.contains(&format!(r#"<meta property="og:title" content="{escaped}">"#)), "og:title, HTML-escaped:\n{html}");
    assert!(!html.contains("<script>"), "the title's markup is not live:\n{html}");
    assert!(html.contains(&format!(r#"<meta property="og:audio" content="{page}/audio">"#)), "og:audio:\n{html}");
    assert!(html.contains(r#"<meta property="og:url" content=""#));
    assert!(html.contains(r#"<meta name="twitter:card" content="summary">"#), "twitter:card:\n{html}");
    assert!(html.contains(&format!(r#"<meta name="twitter:title" content="{escaped}">"#)));
    assert!(html.contains("124 BPM"), "the description names the facts:\n{html}");

    // Its audio: the preview, with Range; a listen from the start counts a play.
    let preview = read(&project_dir(&app, "s1", &id), &format!("preview/{id}_preview.mp3"));
    assert_eq!(plays(&app, &token, &id).await, 0, "the page itself is not a play");
    let resp = app.get(&format!("/s/{slug}/audio"), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/mpeg");
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert!(resp.bytes().await.unwrap().as_ref() == preview.as_slice());
    assert_eq!(plays(&app, &token, &id).await, 1, "a full GET is a play");
    let resp = app.client.get(app.url(&format!("/s/{slug}/audio"))).header("range", "bytes=1000-").send().await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], format!("bytes 1000-{}/{}", preview.len() - 1, preview.len()).as_str());
    assert!(resp.bytes().await.unwrap().as_ref() == &preview[1000..]);
    assert_eq!(plays(&app, &token, &id).await, 1, "seeking (Range from byte 1000) is not another play");
    let resp = app.client.get(app.url(&format!("/s/{slug}/audio"))).header("range", "bytes=0-1023").send().await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(plays(&app, &token, &id).await, 2, "a player starting at byte 0 is a play");
    let listed = ok(app.get("/api/music/user/s1/projects", Some(&token)).await).await;
    assert_eq!(listed["projects"][0]["totalPlays"], 2);
    assert!(app.get(&format!("/s/{slug}"), None).await.text().await.unwrap().contains("2 plays"));

    assert_eq!(app.get("/s/doesnotexist", None).await.status(), 404);
    assert_eq!(app.get("/s/doesnotexist/audio", None).await.status(), 404);

    // Unpublished (back to completed), private, archived: the page is gone.
    ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"status": "completed"})).await).await;
    assert_eq!(app.get(&format!("/s/{slug}"), None).await.status(), 404);
    assert_eq!(app.get(&format!("/s/{slug}/audio"), None).await.status(), 404);
    assert_eq!(plays(&app, &token, &id).await, 2);
    let republished = ok(app.post_json(&share_path, Some(&token), &json!({"platform": "reddit"})).await).await;
    assert_eq!(republished["shareUrl"], page.as_str(), "sharing again brings the same page back");
    assert_eq!(app.get(&format!("/s/{slug}"), None).await.status(), 200);
    ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"visibility": "private"})).await).await;
    assert_eq!(app.get(&format!("/s/{slug}"), None).await.status(), 404);
    ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"visibility": "public"})).await).await;
    assert_eq!(app.get(&format!("/s/{slug}"), None).await.status(), 200);
    ok(app.delete(&format!("/api/music/project/{id}"), Some(&token)).await).await;
    assert_eq!(app.get(&format!("/s/{slug}"), None).await.status(), 404, "an archived project's page is gone");
    assert_eq!(app.get(&format!("/s/{slug}/audio"), None).await.status(), 404);
    refused(app.post_json(&share_path, Some(&token), &json!({"platform": "facebook"})).await, 409, "not_shareable").await;
}

// ---------------------------------------------------------------------------------------------
// 8. Bad input

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_stored_or_charged() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "b1", "premium").await;
    let token2 = user_on(&app, "b2", "premium").await;

    // Creating.
    let bad_creates = [
        (json!({"userId": "b1", "title": "Loud", "bpm": 500}), "bpm"),
        (json!({"userId": "b1", "title": "Slow", "bpm": 39}), "bpm"),
        (json!({"userId": "b1", "title": "Keyless", "key": "H#"}), "key"),
        (json!({"userId": "b1", "title": "Keyless", "key": "C#x"}), "key"),
        (json!({"userId": "b1", "title": ""}), "title"),
        (json!({"userId": "b1", "title": "   "}), "title"),
        (json!({"userId": "b1"}), "title"),
        (json!({"userId": "b1", "title": "x".repeat(501)}), "title"),
        (json!({"userId": "b1", "title": "Shouty", "bpm": "fast"}), "bpm"),
    ];
    for (body, field) in bad_creates {
        names_field(app.post_json(CREATE, Some(&token), &body).await, field).await;
    }
    refused(app.post_json(CREATE, Some(&token), &json!({"userId": "b2", "title": "For someone else"})).await, 403, "forbidden").await;
    // Even an admin cannot make a user id into a path out of the user's folder.
    let admin = app.token("ops", Role::Admin);
    names_field(app.post_json(CREATE, Some(&admin), &json!({"userId": "../b1", "title": "Escape"})).await, "userId").await;
    assert_eq!(project_rows(&app, "b1"), 0);
    assert_eq!(project_rows(&app, "b2"), 0);
    assert_eq!(files_under(&music_bucket(&app)), Vec::<String>::new());

    // Limits are inclusive.
    let edge = create(&app, &token, json!({"userId": "b1", "title": "Edge", "bpm": 40, "key": "F# minor"})).await;
    assert_eq!(edge["bpm"], 40);
    ok(app.delete(&format!("/api/music/project/{}?purge=true", s(&edge["projectId"])), Some(&token)).await).await;

    let p = create(&app, &token, json!({"userId": "b1", "title": "Target", "genre": "jazz", "bpm": 90, "key": "Bb"})).await;
    let id = s(&p["projectId"]).to_owned();
    let gen_body = |extra: Value| {
        let mut body = json!({"projectId": id, "userId": "b1", "prompt": "smoky late night jazz", "duration": 10});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let bad_generations = [
        (json!({"duration": 5000}), "duration"),
        (json!({"duration": 9}), "duration"),
        (json!({"duration": 0}), "duration"),
        (json!({"duration": -5}), "duration"),
        (json!({"style": "polka"}), "style"),
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "   "}), "prompt"),
        (json!({"prompt": "x".repeat(1001)}), "prompt"),
        (json!({"seed": -1}), "seed"),
    ];
    for (extra, field) in bad_generations {
        names_field(generate(&app, &token, gen_body(extra)).await, field).await;
    }
    let mut missing = gen_body(json!({}));
    missing.as_object_mut().unwrap().remove("prompt");
    names_field(generate(&app, &token, missing).await, "prompt").await;
    refused(generate(&app, &token, gen_body(json!({"userId": "b2"}))).await, 403, "forbidden").await;
    refused(generate(&app, &token, gen_body(json!({"projectId": "no-such-project"}))).await, 404, "project_not_found").await;

    // Editing.
    let path = format!("/api/music/project/{id}");
    names_field(app.put_json(&path, Some(&token), &json!({"key": "H#"})).await, "key").await;
    names_field(app.put_json(&path, Some(&token), &json!({"bpm": 39})).await, "bpm").await;
    names_field(app.put_json(&path, Some(&token), &json!({"bpm": 201})).await, "bpm").await;
    names_field(app.put_json(&path, Some(&token), &json!({"title": ""})).await, "title").await;
    names_field(app.put_json(&path, Some(&token), &json!({"title": "  "})).await, "title").await;
    names_field(app.put_json(&path, Some(&token), &json!({"status": "generating"})).await, "status").await;
    client_error(app.put_json(&path, Some(&token), &json!({"status": "finished"})).await, 400).await;
    refused(app.put_json(&path, Some(&token), &json!({"status": "completed"})).await, 409, "no_mix").await;
    refused(app.put_json(&path, Some(&token), &json!({"status": "published"})).await, 409, "no_mix").await;

    // Nothing changed, nothing stored, nothing charged.
    let after = project(&app, &token, &id).await;
    assert_eq!(after["status"], "draft");
    assert_eq!(after["lastError"], Value::Null);
    assert_eq!((after["title"].as_str(), after["bpm"].as_u64(), after["key"].as_str()), (Some("Target"), Some(90), Some("Bb")));
    assert_eq!(version_rows(&app, &id), 0);
    assert_eq!(stem_rows(&app, &id), 0);
    assert_eq!(project_rows(&app, "b1"), 1);
    mirrors_written(&app).await;
    assert_eq!(files_under(&music_bucket(&app)), [format!("users/b1/projects/{id}/metadata.json")]);
    assert_charged(&app, &token, "b1", 0).await;
    assert_charged(&app, &token2, "b2", 0).await;

    // Archived projects are not generated.
    ok(app.delete(&path, Some(&token)).await).await;
    refused(generate(&app, &token, gen_body(json!({}))).await, 409, "project_archived").await;
    assert_charged(&app, &token, "b1", 0).await;
    assert_eq!(version_rows(&app, &id), 0);
}

// ---------------------------------------------------------------------------------------------
// 9. Races and status invariants

#[tokio::test]
async fn concurrent_creates_stop_at_the_project_limit() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "c1", "premium").await;
    let attempts = (0..8).map(|i| {
        let (client, url, token) = (app.client.clone(), app.url(CREATE), token.clone());
        tokio::spawn(async move { client.post(url).bearer_auth(token).json(&json!({"userId": "c1", "title": format!("Race {i}")})).send().await.unwrap() })
    });
    let mut statuses = Vec::new();
    for a in attempts.collect::<Vec<_>>() {
        let resp = a.await.unwrap();
        let status = resp.status().as_u16();
        if status == 403 {
            assert_eq!(crate::helpers::error_code(resp).await, "project_limit_reached");
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 403, 403, 403]);
    assert_eq!(project_rows(&app, "c1"), 5);
    mirrors_written(&app).await;
    assert_eq!(files_under(&music_bucket(&app)).len(), 5);
}

#[tokio::test]
async fn remixing_or_selecting_does_not_bring_an_archived_project_back() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "a1", json!({"title": "Old song", "genre": "rock"})).await;
    let g = ok(generate(&app, &token, json!({"projectId": id, "userId": "a1", "prompt": "garage rock", "duration": 10})).await).await;
    let vid = s(&g["versionId"]).to_owned();
    ok(app.delete(&format!("/api/music/project/{id}"), Some(&token)).await).await;
    for i in 2..=6 {
        create(&app, &token, json!({"userId": "a1", "title": format!("Song {i}")})).await;
    }
    let active = || app.count("SELECT count(*) FROM music_projects WHERE user_id = ?1 AND status <> 'archived'", &[&"a1"]);
    assert_eq!(active(), 5, "five active projects, the premium limit");

    // Generating an archived project is refused; re-mixing or re-selecting one must not
    // restore it behind the project limit's back either.
    refused(generate(&app, &token, json!({"projectId": id, "userId": "a1", "prompt": "again", "duration": 10})).await, 409, "project_archived").await;
    let remix = app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({})).await;
    let remix_status = remix.status().as_u16();
    let remix_text = remix.text().await.unwrap();
    let after_remix = project(&app, &token, &id).await["status"].clone();
    let select = app.post_json(&format!("/api/music/project/{id}/versions/{vid}/select"), Some(&token), &json!({})).await;
    let select_status = select.status().as_u16();
    let select_text = select.text().await.unwrap();
    let after_select = project(&app, &token, &id).await["status"].clone();
    assert_eq!(
        (after_remix.as_str(), after_select.as_str(), active()),
        (Some("archived"), Some("archived"), 5),
        "the archived project stays archived (remix answered {remix_status} {remix_text}; select answered {select_status} {select_text})"
    );
    assert_eq!(remix_status, 409, "a remix of an archived project is refused like a generation: {remix_text}");
    assert_eq!(select_status, 409, "selecting a version of an archived project is refused: {select_text}");
}

#[tokio::test]
async fn remixing_or_selecting_during_a_generation_is_refused() {
    let (app, fake) = FakeHf::app(HfMode::Audio(musicgen_wav()), 20, 5).await;
    let (token, id) = premium_project(&app, "a2", json!({"title": "Busy"})).await;
    let body = json!({"projectId": id, "userId": "a2", "prompt": "slow blues", "duration": 12});
    let first = ok(generate(&app, &token, body.clone()).await).await;
    let vid = s(&first["versionId"]).to_owned();

    fake.set(HfMode::Gated(musicgen_wav()));
    let running = generating(&app, &fake, &token, &body).await;
    assert_eq!(project(&app, &token, &id).await["status"], "generating");

    let remix = app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({})).await;
    let remix_status = remix.status().as_u16();
    let remix_text = remix.text().await.unwrap();
    let after_remix = project(&app, &token, &id).await["status"].clone();
    let select = app.post_json(&format!("/api/music/project/{id}/versions/{vid}/select"), Some(&token), &json!({})).await;
    let select_status = select.status().as_u16();
    let select_text = select.text().await.unwrap();
    let after_select = project(&app, &token, &id).await["status"].clone();
    // While the status says `completed`, a second generation of the same project may start.
    let second = {
        let (client, url, token, body) = (app.client.clone(), app.url(GENERATE), token.clone(), body.clone());
        tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await.unwrap() })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !second.is_finished() && fake.calls().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second_reached_provider = fake.calls().len() >= 2;
    fake.open.store(true, Ordering::SeqCst);
    ok(running.await.unwrap()).await;
    let second = second.await.unwrap().status().as_u16();
    assert_eq!(project(&app, &token, &id).await["status"], "completed");
    assert_eq!(
        (after_remix.as_str(), after_select.as_str(), second_reached_provider, second),
        (Some("generating"), Some("generating"), false, 409),
        "the project stays `generating` until its generation ends, and no second generation starts meanwhile \
         (remix answered {remix_status} {remix_text}; select answered {select_status} {select_text}; a second generate answered {second})"
    );
    assert_eq!((remix_status, select_status), (409, 409), "refused with generation_in_progress");
}

#[tokio::test]
async fn the_share_page_shows_a_title_as_written_even_with_template_braces() {
    let app = TestApp::spawn().await;
    let title = "Song {{plays}} of {{description}}";
    let (token, id) = premium_project(&app, "t1", json!({"title": title, "genre": "ambient"})).await;
    ok(generate(&app, &token, json!({"projectId": id, "userId": "t1", "prompt": "soft pads", "duration": 10})).await).await;
    let shared = ok(app.post_json(&format!("/api/music/share/{id}"), Some(&token), &json!({"platform": "facebook"})).await).await;
    let page = s(&shared["shareUrl"]).to_owned();
    let html = app.client.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains(&format!(r#"<meta property="og:title" content="{title}">"#)),
        "the title is shown as written, not filled in as part of the template:\n{html}"
    );
}

#[tokio::test]
async fn a_shared_preview_cannot_be_replaced_through_the_storage_api() {
    let app = TestApp::spawn().await;
    let (token, id) = premium_project(&app, "s2", json!({"title": "Kept", "genre": "electronic"})).await;
    ok(generate(&app, &token, json!({"projectId": id, "userId": "s2", "prompt": "calm pads", "duration": 10})).await).await;
    let shared = ok(app.post_json(&format!("/api/music/share/{id}"), Some(&token), &json!({"platform": "twitter"})).await).await;
    let audio = format!("{}/audio", s(&shared["shareUrl"]));
    let preview = read(&project_dir(&app, "s2", &id), &format!("preview/{id}_preview.mp3"));
    let path = format!("users/s2/projects/{id}/preview/{id}_preview.mp3");

    let resp = app.upload(&token, "music", &path, b"<html>not the song</html>".to_vec()).await;
    refused(resp, 403, "generated_path").await;
    let signed = app.post_json("/api/storage/signed-url", Some(&token), &json!({"bucket": "music", "path": path, "method": "PUT", "expiresIn": 60})).await;
    refused(signed, 403, "generated_path").await;
    let resp = app.client.get(&audio).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().as_ref() == preview.as_slice(), "/s/{{id}}/audio still serves the generated preview");
}
