//! config.yaml: any text is a configuration or an error naming where it went wrong, never a
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/fuzz/config.yaml");
    if let Err(error) = tributary::Config::parse(path, text) {
        let message = error.to_string();
        assert!(!message.is_empty());
    }
});
