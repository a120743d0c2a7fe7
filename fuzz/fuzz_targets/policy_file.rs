//! The policy file reader on any text: never panics; a refusal names at
//! least one problem, each with a position inside the text; what it
//! accepts decides any request without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match policy::parse(&text) {
        Ok(set) => {
            let request = policy::FileRequest {
                sha256: Some("0".repeat(64)),
                path: Some(r"C:\Users\bob\Downloads\x.exe".into()),
                user: Some("bob".into()),
                ..policy::FileRequest::default()
            }
            .normalised()
            .unwrap_or_default();
            let _ = set.rating_needed(&request);
            for lookup in [
                policy::RatingLookup::NotAsked,
                policy::RatingLookup::Rated(verdict::Verdict::Bad),
                policy::RatingLookup::Rated(verdict::Verdict::Unknown),
                policy::RatingLookup::Pending,
                policy::RatingLookup::Unreachable,
                policy::RatingLookup::BudgetSpent,
            ] {
                let _ = set.decide(&request, lookup);
            }
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            if let policy::PolicyError::Invalid(problems) = &e {
                assert!(!problems.is_empty(), "a refusal with no problem");
                for p in problems {
                    assert!(p.line >= 1 && p.line <= lines + 1, "{p} past the end ({lines} lines)");
                    assert!(p.column >= 1, "{p}");
                }
            }
        }
    }
});
