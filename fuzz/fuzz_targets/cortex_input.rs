//! The Cortex job input parser (`cortex::parse_input`): any bytes give an
//! input or a refusal, never a panic; a refusal's echoed input never holds
//! the configured key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match cortex::parse_input(data) {
        Ok(input) => {
            let _ = format!("{input:?}");
        }
        Err(err) => {
            if let Some(shown) = err.input {
                if let Some(key) = shown.pointer("/config/key") {
                    assert!(key.is_null() || key == "REMOVED", "key echoed: {key}");
                }
            }
        }
    }
});
