#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| optima::fuzzing::audio_probe(data));
