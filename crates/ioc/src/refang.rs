//! Undoing the "defanging" analysts apply so indicators are not clickable.

/// Replaces the common defanging notations with the characters they stand
/// for: `hxxp`→`http`, `[.]`/`(.)`/`{.}`/`[dot]`→`.`, `[:]`→`:`, `[/]`→`/`.
///
/// The scheme rewrite only applies at the start, so a path that happens to
/// contain `hxxp` is left alone.
pub fn refang(input: &str) -> String {
    let mut s = input.to_owned();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[DOT]", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[/]", "/"),
    ] {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    let lower = s.get(..6).map(str::to_ascii_lowercase).unwrap_or_default();
    for (fanged, real) in [
        ("hxxps", "https"),
        ("hxxp", "http"),
        ("fxp", "ftp"),
        ("meows", "https"),
    ] {
        if lower.starts_with(fanged) && s[fanged.len()..].starts_with(':') {
            s = format!("{real}{}", &s[fanged.len()..]);
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::refang;

    #[test]
    fn refangs_common_notations() {
        let cases = [
            ("hxxp://evil[.]test", "http://evil.test"),
            ("HXXPS://a(.)b", "https://a.b"),
            ("evil[dot]test", "evil.test"),
            ("http[:]//x{.}y", "http://x.y"),
            ("http://x.y/hxxp", "http://x.y/hxxp"),
            ("plain.test", "plain.test"),
        ];
        for (input, want) in cases {
            assert_eq!(refang(input), want, "{input:?}");
        }
    }
}
