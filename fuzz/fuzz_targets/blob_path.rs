#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| optima::fuzzing::blob_path(data));
