//! Inputs the fuzzer (`fuzz/fuzz_targets/indicator.rs`) found, kept so
//! they stay fixed: each must parse or be refused without a panic, and
//! what parses must parse again, equal, from its normal form.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

fn check(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = ioc::refang(&text);
    if let Ok(indicator) = ioc::Indicator::parse(&text) {
        let normal = indicator.to_string();
        let again = ioc::Indicator::parse(&normal)
            .unwrap_or_else(|e| panic!("normal form {normal:?} of {text:?} does not parse: {e}"));
        assert_eq!(again, indicator, "{text:?} -> {normal:?}");
        let _ = indicator.vt_id();
        let _ = indicator.gui_link();
    }
}

#[test]
fn crash_e919f973_a_url_in_a_url_after_control_characters() {
    check(&[
        26, 10, 10, 102, 120, 112, 58, 47, 47, 112, 58, 47, 47, 43, 47, 47, 10, 47, 47, 102, 120,
        140,
    ]);
}

#[test]
fn crash_5a4a1c5d_a_defanged_dot_split_by_line_breaks() {
    check(&[
        109, 58, 47, 47, 101, 35, 199, 255, 10, 40, 46, 10, 41, 10, 255, 111,
    ]);
}

#[test]
fn line_breaks_inside_are_dropped_before_refanging() {
    let url = ioc::Indicator::parse("hxxp://evil(\n.)test/a\tb").unwrap();
    assert_eq!(url.to_string(), "http://evil.test/ab");
}

#[test]
fn crash_bf88817d_brackets_and_a_defanged_dot_in_a_url_with_userinfo() {
    check(&[
        70, 58, 47, 47, 70, 58, 47, 47, 91, 93, 93, 93, 93, 93, 91, 68, 79, 84, 93, 47, 93, 93, 93,
        93, 93, 93, 93, 93, 91, 93, 93, 93, 93, 93, 43, 93, 93, 93, 93, 93, 93, 93, 93, 93, 93, 58,
        47, 93, 93, 58, 64, 150, 0, 191, 192, 197, 208, 47, 47, 91, 29, 70, 47, 93, 91, 91, 58, 93,
        93, 93, 93, 47, 255, 255, 255, 255, 255, 93, 93, 93, 93, 93, 93, 93, 93, 91, 93, 93, 93,
        93, 93, 43, 93, 91, 93, 93, 93, 93, 93, 93, 93, 93, 58, 47, 93, 93, 58, 47, 47, 91, 93, 70,
        58, 47,
    ]);
    // The same without its control characters, which alone refuse it now.
    check(b"F://F://[]]]]][DOT]/]]]]]]]][]]]]]+]]]]]]]]]]:/]]:@\xbf\xc0\xc5\xd0//[F/][[:]]]]/]]+][]]:/]]://[]F:/");
}

#[test]
fn crash_72b44766_a_host_that_becomes_an_address_after_refanging() {
    check(b"ws:///22222222(dot)4444(doT)44444444:");
}

#[test]
fn crash_7c314ab8_a_long_url_of_replacement_characters() {
    check(include_bytes!("crash-7c314ab8.bin"));
}

#[test]
fn crash_c4ac1cf3_a_notation_assembled_by_normalising_the_host() {
    check(include_bytes!("crash-c4ac1cf3.bin"));
}
