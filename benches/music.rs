//! Seconds of audio the local music provider produces per second of CPU: compose, render the
//! four parts, mix, encode the WAV stems, the MP3 mix and the preview.
//!
//! `cargo bench --bench music` (release build). Prints one line per case and a summary.

use std::time::Instant;

use optima::ai::music::composer::{MusicParams, Style, seed_for};
use optima::ai::music::Steps;
use optima::ai::music::local::generate_blocking;

/// CPU time of this process (user + system), from /proc.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("comm field").1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let cases = [
        (Style::Pop, "sunny summer road trip with guitar", 30),
        (Style::Electronic, "neon city rain at night", 30),
        (Style::Jazz, "smoky late night piano bar", 30),
        (Style::Ambient, "calm ocean at dawn", 30),
        (Style::Rock, "energetic stadium anthem", 180),
    ];
    let (mut audio_total, mut cpu_total) = (0.0, 0.0);
    for (style, prompt, secs) in cases {
        let mut params = MusicParams {
            prompt: prompt.into(),
            style,
            mood: None,
            bpm: None,
            key: None,
            duration_secs: secs,
            instrument: None,
            seed: 0,
        };
        params.seed = seed_for(&params);
        let (wall, cpu) = (Instant::now(), cpu_secs());
        let music = generate_blocking(&params, &Steps::unwatched()).expect("generation succeeds");
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_secs() - cpu);
        audio_total += music.duration_secs;
        cpu_total += cpu;
        println!(
            "{:<10} {:>4} s of audio: {:>6.3} s wall, {:>6.3} s CPU, {:>7.1} s audio per CPU second ({} stems, mix {} KiB)",
            style.as_str(),
            secs,
            wall,
            cpu,
            music.duration_secs / cpu.max(0.01),
            music.stems.len(),
            music.mix_mp3.len() / 1024
        );
    }
    println!("overall: {:.1} s of audio per CPU second", audio_total / cpu_total.max(0.01));
}
