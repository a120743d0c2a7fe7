//! Undoing the "defanging" analysts apply so indicators are not clickable.

/// Replaces the common defanging notations with the characters they stand
/// for: `hxxp`→`http`, `[.]`/`(.)`/`{.}`/`[dot]`→`.`, `[:]`→`:`, `[/]`→`/`.
///
/// The scheme rewrite only applies at the start, so a path that happens to
/// contain `hxxp` is left alone.
pub fn refang(input: &str) -> String {
    // One pass that re-checks the end after every character and every
    // replacement, so what a replacement uncovers is replaced too
    // ("[[.]]" -> "[.]" -> "."): the result holds none of the notations and
    // refanging it again changes nothing (a replace-each-notation-once
    // version left "[:]" out of "[[:]]", found by the fuzzer). Linear: each
    // check looks at a few characters at the end.
    // Matched ignoring ASCII case: `[DOT]` and `(Dot)` are common, and a
    // URL's host is lower-cased after refanging, so a `(doT)` left alone
    // became `(dot)` in the normal form (fuzzer).
    const NOTATIONS: [(&str, &str); 8] = [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[/]", "/"),
    ];
    let mut s = String::with_capacity(input.len());
    for c in input.chars() {
        s.push(c);
        // Every notation ends in `]`, `)` or `}`; no replacement does.
        while matches!(s.chars().last(), Some(']' | ')' | '}')) {
            let ends_with = |from: &str| {
                s.len() >= from.len()
                    && s.is_char_boundary(s.len() - from.len())
                    && s[s.len() - from.len()..].eq_ignore_ascii_case(from)
            };
            let Some((from, to)) = NOTATIONS.iter().find(|(from, _)| ends_with(from)) else {
                break;
            };
            s.truncate(s.len() - from.len());
            s.push_str(to);
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
