//! The policy file's checks and the pure engine: each filter type,
//! collections, inclusion and exclusion, resource targets, priorities and
//! each fallback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use policy::{Action, FallbackCase, FileRequest, Platform, RatingLookup};
use std::time::Duration;
use verdict::Verdict;

const EXAMPLE: &str = include_str!("../../../docs/policies/privilege-manager.toml");
const EICAR: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn req(path: &str) -> FileRequest {
    FileRequest {
        sha256: Some(EICAR.into()),
        path: Some(path.into()),
        user: Some("CORP\\bob".into()),
        host: Some("WS-17".into()),
        ..FileRequest::default()
    }
    .normalised()
    .unwrap()
}

fn problems(text: &str) -> Vec<String> {
    match policy::parse(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_docs_show_the_example_file_verbatim() {
    let docs = include_str!("../../../docs/application-control.md");
    assert!(
        docs.contains(&format!("```toml\n{EXAMPLE}```")),
        "docs/application-control.md repeats docs/policies/privilege-manager.toml"
    );
}

#[test]
fn the_documented_example_is_accepted() {
    let set = policy::parse(EXAMPLE).unwrap();
    assert_eq!(set.policies().len(), 1);
    assert!(set.uses_ratings());
}

#[test]
fn the_example_denies_bad_files_in_downloads_and_temp_only() {
    let set = policy::parse(EXAMPLE).unwrap();
    let downloads = req("C:\\Users\\bob\\Downloads\\eicar.com");
    assert_eq!(
        set.rating_needed(&downloads),
        Some(Duration::from_millis(3000))
    );
    let d = set.decide(&downloads, RatingLookup::Rated(Verdict::Bad));
    assert_eq!(d.decision, Action::Deny);
    assert!(!d.allowed);
    assert_eq!(
        d.policy.as_deref(),
        Some("Allow Applications – VirusTotal Rating")
    );
    assert!(d
        .message
        .as_deref()
        .unwrap()
        .starts_with("VirusTotal rates this application"));
    assert_eq!(d.rating, Some(Verdict::Bad));
    assert!(
        d.reasons
            .iter()
            .any(|r| r.contains("Downloads and Temp Folders")),
        "{:?}",
        d.reasons
    );
    // Forward slashes and another case are the same Windows folder.
    let temp = req("c:/USERS/bob/AppData/Local/Temp/x/../eicar.com");
    assert_eq!(
        set.decide(&temp, RatingLookup::Rated(Verdict::Bad))
            .decision,
        Action::Deny
    );
    // Elsewhere the rating is not even asked for.
    let program_files = req("C:\\Program Files\\App\\eicar.com");
    assert_eq!(set.rating_needed(&program_files), None);
    let d = set.decide(&program_files, RatingLookup::NotAsked);
    assert_eq!((d.decision, d.policy.as_deref()), (Action::Allow, None));
    // `..` does not climb out of Downloads into a match, nor into one.
    let escaped = req("C:\\Users\\bob\\Downloads\\..\\eicar.com");
    assert_eq!(set.rating_needed(&escaped), None);
    // Good and suspect files in Downloads run.
    for v in [Verdict::Good, Verdict::Suspect] {
        let d = set.decide(&downloads, RatingLookup::Rated(v));
        assert_eq!(d.decision, Action::Allow, "{v}");
        assert_eq!(d.fallback, None);
    }
}

#[test]
fn each_fallback_case_is_named_and_applied() {
    let set = policy::parse(EXAMPLE).unwrap();
    let r = req("C:\\Users\\bob\\Downloads\\new.exe");
    let cases = [
        (
            RatingLookup::Rated(Verdict::Unknown),
            FallbackCase::Unknown,
            Action::Audit,
        ),
        (RatingLookup::Pending, FallbackCase::Pending, Action::Allow),
        (
            RatingLookup::Unreachable,
            FallbackCase::Unreachable,
            Action::Allow,
        ),
        (
            RatingLookup::BudgetSpent,
            FallbackCase::BudgetSpent,
            Action::Allow,
        ),
    ];
    for (lookup, case, action) in cases {
        let d = set.decide(&r, lookup);
        assert_eq!(d.fallback, Some(case), "{lookup:?}");
        assert_eq!(d.decision, action, "{lookup:?}");
        assert!(
            d.reasons.iter().any(|x| x.contains(case.as_str())),
            "{:?}",
            d.reasons
        );
    }
    // The same fallbacks set to deny.
    let strict = EXAMPLE
        .replace("unknown = \"audit\"", "unknown = \"deny\"")
        .replace("pending = \"allow\"", "pending = \"deny\"")
        .replace("unreachable = \"allow\"", "unreachable = \"deny\"")
        .replace("budget_spent = \"allow\"", "budget_spent = \"deny\"");
    let set = policy::parse(&strict).unwrap();
    for lookup in [
        RatingLookup::Rated(Verdict::Unknown),
        RatingLookup::Pending,
        RatingLookup::Unreachable,
        RatingLookup::BudgetSpent,
    ] {
        let d = set.decide(&r, lookup);
        assert_eq!(d.decision, Action::Deny, "{lookup:?}");
        assert!(d.message.is_some());
    }
}

#[test]
fn without_an_unknown_fallback_the_rating_filter_sees_unknown() {
    let text = r#"
[[filters]]
name = "dl"
kind = "file"
path = '^c:\\users\\[^\\]+\\downloads\\'
[[filters]]
name = "not good"
kind = "rating"
ratings = ["bad", "suspect", "unknown"]
[[policies]]
name = "greylist"
targets = ["dl"]
include = ["not good"]
action = "deny"
"#;
    let set = policy::parse(text).unwrap();
    let r = req("C:\\Users\\ann\\Downloads\\x.exe");
    let d = set.decide(&r, RatingLookup::Rated(Verdict::Unknown));
    assert_eq!((d.decision, d.fallback), (Action::Deny, None));
    assert_eq!(
        d.message.as_deref(),
        Some("blocked by the policy \"greylist\"")
    );
    assert_eq!(
        set.decide(&r, RatingLookup::Rated(Verdict::Good)).decision,
        Action::Allow
    );
}

const FILTERS: &str = r#"
[[filters]]
name = "exe"
kind = "file"
file_name = "*.exe"
[[filters]]
name = "tools"
kind = "file"
platform = "linux"
path = '^/opt/tools/'
[[filters]]
name = "known"
kind = "file"
sha256 = ["275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F"]
[[filters]]
name = "signed-by-us"
kind = "file"
publisher = "Example Corp*"
signed = true
[[filters]]
name = "any-tool"
kind = "collection"
members = ["tools", "nested"]
[[filters]]
name = "nested"
kind = "collection"
members = ["builtin:linux-temp"]
"#;

fn one_policy(targets: &str, extra: &str) -> policy::PolicySet {
    let text = format!(
        "{FILTERS}\n[[policies]]\nname = \"p\"\ntargets = [{targets}]\naction = \"deny\"\nmessage = \"no\"\n{extra}"
    );
    policy::parse(&text).unwrap_or_else(|e| panic!("{:?}", e.problems()))
}

fn denied(set: &policy::PolicySet, r: &FileRequest) -> bool {
    set.decide(r, RatingLookup::NotAsked).decision == Action::Deny
}

#[test]
fn each_file_filter_criterion_and_collections_match() {
    let exe = one_policy("\"exe\"", "");
    assert!(
        denied(&exe, &req("C:\\x\\SETUP.EXE")),
        "Windows names fold case"
    );
    assert!(
        denied(&exe, &req("/home/bob/SETUP.EXE")),
        "a filter for no platform in particular folds case everywhere"
    );
    assert!(!denied(&exe, &req("/home/bob/setup.exe.txt")));

    let tools = one_policy("\"any-tool\"", "");
    assert!(denied(&tools, &req("/opt/tools/x")));
    assert!(
        denied(&tools, &req("/tmp/x")),
        "a built-in filter through two collections"
    );
    assert!(!denied(&tools, &req("/opt/other/x")));
    let mut windows = req("/opt/tools/x");
    windows.platform = Some(Platform::Windows);
    assert!(
        !denied(&tools, &windows),
        "a linux filter does not match another platform"
    );

    let known = one_policy("\"known\"", "");
    assert!(
        denied(&known, &req("C:\\anywhere.exe")),
        "hash lists compare lower-case"
    );
    let mut other = req("C:\\anywhere.exe");
    other.sha256 = Some("0".repeat(64));
    assert!(!denied(&known, &other));

    let signed = one_policy("\"signed-by-us\"", "");
    let mut r = req("C:\\a.exe");
    assert!(!denied(&signed, &r), "no publisher sent: no match");
    r.publisher = Some("example corp ltd".into());
    r.signed = Some(true);
    assert!(denied(&signed, &r));
    r.signed = Some(false);
    assert!(!denied(&signed, &r));
}

#[test]
fn inclusion_and_exclusion_filters() {
    let set = one_policy("\"exe\"", "include = [\"any-tool\"]\nexclude = [\"known\"]");
    let mut r = req("/opt/tools/a.exe");
    r.sha256 = Some("1".repeat(64));
    assert!(
        denied(&set, &r),
        "target and inclusion match, exclusion does not"
    );
    assert!(
        !denied(&set, &req("/opt/tools/a.exe")),
        "the exclusion (hash) matches"
    );
    let mut elsewhere = r.clone();
    elsewhere.path = Some("/srv/a.exe".into());
    assert!(
        !denied(&set, &elsewhere),
        "the inclusion filter does not match"
    );
}

#[test]
fn resource_targets_with_exclusions() {
    let set = one_policy(
        "\"exe\"",
        "[policies.resources]\nusers = [\"corp\\\\bob\"]\ngroups = [\"Contractors\"]\nhosts = [\"ws-17\", \"ws-18\"]\nexclude_users = [\"corp\\\\admin\"]\nexclude_groups = [\"IT\"]\n",
    );
    let base = req("C:\\a.exe");
    assert!(denied(&set, &base), "user (any case) on a listed host");
    let mut r = base.clone();
    r.user = Some("corp\\alice".into());
    assert!(!denied(&set, &r), "another user, in no listed group");
    r.groups = vec!["contractors".into()];
    assert!(denied(&set, &r), "a listed group");
    r.groups.push("it".into());
    assert!(!denied(&set, &r), "an excluded group wins");
    let mut r = base.clone();
    r.host = Some("ws-99".into());
    assert!(!denied(&set, &r), "another host");
    r.host = None;
    assert!(!denied(&set, &r), "no host given, hosts listed");
    let mut r = base;
    r.user = Some("CORP\\admin".into());
    r.groups = vec!["contractors".into()];
    assert!(!denied(&set, &r), "an excluded user");
}

#[test]
fn priorities_decide_which_policy_applies_first() {
    let text = format!(
        r#"{FILTERS}
[[policies]]
name = "deny exe"
priority = 20
targets = ["exe"]
action = "deny"
[[policies]]
name = "allow known"
priority = 5
targets = ["known"]
action = "audit"
[[policies]]
name = "disabled"
enabled = false
priority = 1
targets = ["exe"]
action = "notify"
"#
    );
    let set = policy::parse(&text).unwrap();
    let names: Vec<&str> = set.policies().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["disabled", "allow known", "deny exe"]);
    let d = set.decide(&req("C:\\a.exe"), RatingLookup::NotAsked);
    assert_eq!(
        (d.decision, d.policy.as_deref()),
        (Action::Audit, Some("allow known"))
    );
    let mut other = req("C:\\a.exe");
    other.sha256 = Some("2".repeat(64));
    let d = set.decide(&other, RatingLookup::NotAsked);
    assert_eq!(
        (d.decision, d.policy.as_deref()),
        (Action::Deny, Some("deny exe"))
    );
}

#[test]
fn a_policy_decided_before_the_rating_matters_needs_no_lookup() {
    let text = r#"
[[filters]]
name = "trusted"
kind = "file"
publisher = "Example Corp"
[[filters]]
name = "bad"
kind = "rating"
ratings = ["bad"]
[[policies]]
name = "trust ours"
priority = 1
targets = ["trusted"]
action = "allow"
[[policies]]
name = "deny bad"
priority = 2
targets = ["builtin:windows-downloads"]
include = ["bad"]
action = "deny"
[policies.fallback]
wait_ms = 0
"#;
    let set = policy::parse(text).unwrap();
    let mut ours = req("C:\\Users\\bob\\Downloads\\tool.exe");
    ours.publisher = Some("Example Corp".into());
    assert_eq!(set.rating_needed(&ours), None);
    let theirs = req("C:\\Users\\bob\\Downloads\\tool.exe");
    assert_eq!(set.rating_needed(&theirs), Some(Duration::ZERO));
}

#[test]
fn broken_files_are_refused_with_every_problem_and_its_line() {
    let text = r#"default_action = "maybe"

[[filters]]
name = "dl"
kind = "file"
path = '(?i)^c:\\users\\[^\\+\\downloads\\'

[[filters]]
name = "a"
kind = "collection"
members = ["b", "nowhere"]

[[filters]]
name = "b"
kind = "collection"
members = ["a"]

[[filters]]
name = "r"
kind = "rating"
ratings = ["evil"]

[[policies]]
name = "no targets"
action = "deny"

[[policies]]
name = "first"
targets = ["dl"]
action = "deny"

[[policies]]
name = "second"
targets = ["dl"]
include = ["r", "missing"]
action = "block"
"#;
    let found = problems(text);
    let expect = [
        "1:18: default_action must be allow or deny",
        "6:8: bad path regular expression",
        "9:8: collection \"a\" contains itself",
        "11:17: unknown filter \"nowhere\" in a collection",
        "14:8: collection \"b\" contains itself",
        "21:12: unknown rating \"evil\"",
        "24:8: policy \"no targets\" has no targets",
        "33:8: policy \"second\" is shadowed by \"first\"",
        "35:17: unknown filter \"missing\" in include",
        "36:10: unknown action \"block\"",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn syntax_errors_and_unknown_keys_have_positions_too() {
    assert_eq!(
        problems("[[filters]\nname = 1"),
        ["1:10: invalid table header"]
    );
    let typo = problems("[[filters]]\nname = \"x\"\nkind = \"file\"\npaht = 'x'\n");
    assert_eq!(typo.len(), 1);
    assert!(typo[0].starts_with("4:1: unknown field `paht`"), "{typo:?}");
    let platforms = problems(
        "[[filters]]\nname = \"w\"\nkind = \"file\"\nplatform = \"windows\"\n[[filters]]\nname = \"m\"\nkind = \"file\"\nplatform = \"macos\"\n[[policies]]\nname = \"never\"\ntargets = [\"w\"]\ninclude = [\"m\"]\naction = \"deny\"\n",
    );
    assert_eq!(platforms.len(), 1, "{platforms:?}");
    assert!(platforms[0].contains("unreachable"), "{platforms:?}");
}
