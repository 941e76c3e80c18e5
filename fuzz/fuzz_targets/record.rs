#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sqrl_fuzz::flow_record(data));
