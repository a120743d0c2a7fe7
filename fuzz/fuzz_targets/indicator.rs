//! The indicator parser on any text: never panics; what it accepts is
//! normalised (parsing the normal form again gives the same indicator) and
//! its VirusTotal id and link can be made.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ioc::refang(&text);
    if let Ok(indicator) = ioc::Indicator::parse(&text) {
        let normal = indicator.to_string();
        let again = ioc::Indicator::parse(&normal)
            .unwrap_or_else(|e| panic!("normal form {normal:?} of {text:?} does not parse: {e}"));
        assert_eq!(again, indicator, "{text:?} -> {normal:?}");
        let _ = indicator.vt_id();
        let _ = indicator.gui_link();
    }
});
