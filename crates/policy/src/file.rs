//! The policy file (TOML) and its checks: every problem found is kept with
//! its line and column, so `vtc policy check` can list them all at once.

use crate::endpoint::Platform;
use crate::engine::{
    Action, FallbackActions, FileSpec, Filter, FilterId, FilterKind, Pattern, Policy, PolicySet,
    Resources,
};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;
use verdict::Verdict;

/// Largest policy file read, in bytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Longest wait for a rating a policy may ask for.
pub const MAX_WAIT_MS: u64 = 60_000;
/// Longest user message kept.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// One thing wrong with a policy file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Why a policy file cannot be used: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("the policy file has {} problem(s); the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Invalid(Vec<Problem>),
    #[error("the policy file is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge,
}

impl PolicyError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            PolicyError::Invalid(p) => p,
            PolicyError::TooLarge => &[],
        }
    }
}

// --- the file as written ------------------------------------------------

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// What happens when no policy matches: `allow` (default) or `deny`.
    default_action: Option<S<String>>,
    #[serde(default)]
    filters: Vec<RawFilter>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    name: S<String>,
    kind: S<String>,
    #[allow(dead_code)]
    description: Option<String>,
    platform: Option<S<String>>,
    file_name: Option<S<String>>,
    path: Option<S<String>>,
    sha256: Option<Vec<S<String>>>,
    sha1: Option<Vec<S<String>>>,
    md5: Option<Vec<S<String>>>,
    publisher: Option<S<String>>,
    signed: Option<S<bool>>,
    members: Option<Vec<S<String>>>,
    ratings: Option<Vec<S<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: S<String>,
    description: Option<String>,
    enabled: Option<bool>,
    priority: Option<S<i64>>,
    #[serde(default)]
    targets: Vec<S<String>>,
    #[serde(default)]
    include: Vec<S<String>>,
    #[serde(default)]
    exclude: Vec<S<String>>,
    #[serde(default)]
    resources: RawResources,
    action: S<String>,
    message: Option<S<String>>,
    #[serde(default)]
    fallback: RawFallback,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResources {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    exclude_users: Vec<String>,
    #[serde(default)]
    exclude_groups: Vec<String>,
    #[serde(default)]
    exclude_hosts: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFallback {
    wait_ms: Option<S<u64>>,
    unknown: Option<S<String>>,
    pending: Option<S<String>>,
    unreachable: Option<S<String>>,
    budget_spent: Option<S<String>>,
}

// --- built-in filters -----------------------------------------------------

/// The user Downloads and Temp folders of each platform, usable by name
/// in any policy file.
pub const BUILTIN_FILTERS: &[(&str, Platform, &str)] = &[
    (
        "builtin:windows-downloads",
        Platform::Windows,
        r"^[a-z]:\\users\\[^\\]+\\downloads\\",
    ),
    (
        "builtin:windows-temp",
        Platform::Windows,
        r"^([a-z]:\\users\\[^\\]+\\appdata\\local\\temp\\|[a-z]:\\windows\\temp\\)",
    ),
    (
        "builtin:macos-downloads",
        Platform::Macos,
        r"^/users/[^/]+/downloads/",
    ),
    (
        "builtin:macos-temp",
        Platform::Macos,
        r"^(/private)?(/var/folders/|/tmp/)",
    ),
    (
        "builtin:linux-downloads",
        Platform::Linux,
        r"^/home/[^/]+/Downloads/",
    ),
    ("builtin:linux-temp", Platform::Linux, r"^(/tmp/|/var/tmp/)"),
];

// --- reading and checking -----------------------------------------------

/// Positions in the file's text.
struct Lines<'a> {
    text: &'a str,
}

impl Lines<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
        Problem {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Reads and checks a policy file; any problem makes it unusable.
pub fn parse(text: &str) -> Result<PolicySet, PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge);
    }
    let lines = Lines { text };
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // toml's message repeats the offending line with a caret; the
            // first line says what is wrong.
            let message = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_owned();
            return Err(PolicyError::Invalid(vec![lines.at(span, message)]));
        }
    };
    let mut checker = Checker {
        lines,
        problems: Vec::new(),
    };
    let set = checker.build(raw);
    let mut problems = checker.problems;
    if problems.is_empty() {
        Ok(set)
    } else {
        problems.sort_by_key(|p| (p.line, p.column));
        Err(PolicyError::Invalid(problems))
    }
}

struct Checker<'a> {
    lines: Lines<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, span: Range<usize>, message: impl Into<String>) {
        let p = self.lines.at(span, message);
        self.problems.push(p);
    }

    fn build(&mut self, raw: RawFile) -> PolicySet {
        let default_action = match &raw.default_action {
            None => Action::Allow,
            Some(a) => match a.get_ref().as_str() {
                "allow" => Action::Allow,
                "deny" => Action::Deny,
                other => {
                    self.problem(
                        a.span(),
                        format!("default_action must be allow or deny, not {other:?}"),
                    );
                    Action::Allow
                }
            },
        };
        let mut filters: Vec<Filter> = BUILTIN_FILTERS
            .iter()
            .map(|(name, platform, path)| Filter {
                name: (*name).to_owned(),
                kind: FilterKind::File(Box::new(FileSpec {
                    platform: Some(*platform),
                    path: Pattern::regex(path, true).ok(),
                    ..FileSpec::default()
                })),
            })
            .collect();
        let mut by_name: HashMap<String, FilterId> = filters
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), FilterId(i)))
            .collect();
        // Names first, so filters may name members defined further down.
        let mut raw_members: Vec<(FilterId, Vec<S<String>>)> = Vec::new();
        for f in &raw.filters {
            let name = f.name.get_ref().trim().to_owned();
            if name.is_empty() {
                self.problem(f.name.span(), "a filter needs a name");
            } else if name.starts_with("builtin:") {
                self.problem(
                    f.name.span(),
                    format!("filter names starting with builtin: are reserved ({name:?})"),
                );
            } else if by_name.contains_key(&name) {
                self.problem(
                    f.name.span(),
                    format!("a filter named {name:?} is already defined"),
                );
            } else {
                by_name.insert(name.clone(), FilterId(filters.len()));
            }
            let kind = self.filter_kind(f);
            if let (FilterKind::Collection(_), Some(members)) = (&kind, &f.members) {
                raw_members.push((FilterId(filters.len()), members.clone()));
            }
            filters.push(Filter { name, kind });
        }
        for (id, members) in raw_members {
            let mut ids = Vec::new();
            for m in &members {
                match by_name.get(m.get_ref().trim()) {
                    Some(member) => ids.push(*member),
                    None => self.problem(
                        m.span(),
                        format!("unknown filter {:?} in a collection", m.get_ref()),
                    ),
                }
            }
            if let Some(FilterKind::Collection(slot)) = filters.get_mut(id.0).map(|f| &mut f.kind) {
                *slot = ids;
            }
        }
        self.cycles(&raw, &filters, &by_name);

        let mut policies = Vec::new();
        let mut names = BTreeSet::new();
        for (order, p) in raw.policies.iter().enumerate() {
            if !names.insert(p.name.get_ref().trim().to_owned()) {
                self.problem(
                    p.name.span(),
                    format!("a policy named {:?} is already defined", p.name.get_ref()),
                );
            }
            if let Some(policy) = self.policy(p, order, &by_name, &filters) {
                policies.push((policy, p.name.span()));
            }
        }
        policies.sort_by_key(|(p, _)| (p.priority, p.order));
        self.shadowed(&policies, &filters);
        PolicySet::new(
            filters,
            policies.into_iter().map(|(p, _)| p).collect(),
            default_action,
        )
    }

    fn filter_kind(&mut self, f: &RawFilter) -> FilterKind {
        let file_fields = [
            ("platform", f.platform.is_some()),
            ("file_name", f.file_name.is_some()),
            ("path", f.path.is_some()),
            ("sha256", f.sha256.is_some()),
            ("sha1", f.sha1.is_some()),
            ("md5", f.md5.is_some()),
            ("publisher", f.publisher.is_some()),
            ("signed", f.signed.is_some()),
        ];
        let kind = f.kind.get_ref().as_str();
        let foreign: Vec<&str> = match kind {
            "file" => [
                ("members", f.members.is_some()),
                ("ratings", f.ratings.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect(),
            "collection" => file_fields
                .iter()
                .chain([("ratings", f.ratings.is_some())].iter())
                .filter(|(_, set)| *set)
                .map(|(n, _)| *n)
                .collect(),
            "rating" => file_fields
                .iter()
                .chain([("members", f.members.is_some())].iter())
                .filter(|(_, set)| *set)
                .map(|(n, _)| *n)
                .collect(),
            other => {
                self.problem(
                    f.kind.span(),
                    format!("unknown filter kind {other:?} (file, collection or rating)"),
                );
                return FilterKind::Collection(Vec::new());
            }
        };
        if !foreign.is_empty() {
            self.problem(
                f.kind.span(),
                format!("{} does not apply to a {kind} filter", foreign.join(", ")),
            );
        }
        match kind {
            "collection" => {
                if f.members.as_ref().is_none_or(Vec::is_empty) {
                    self.problem(f.kind.span(), "a collection filter needs members");
                }
                FilterKind::Collection(Vec::new())
            }
            "rating" => {
                let mut set = BTreeSet::new();
                for r in f.ratings.iter().flatten() {
                    match Verdict::parse(r.get_ref()) {
                        Some(v) => {
                            set.insert(v);
                        }
                        None => self.problem(
                            r.span(),
                            format!(
                                "unknown rating {:?} (good, suspect, bad or unknown)",
                                r.get_ref()
                            ),
                        ),
                    }
                }
                if f.ratings.as_ref().is_none_or(Vec::is_empty) {
                    self.problem(f.kind.span(), "a rating filter needs ratings");
                }
                FilterKind::Rating(set)
            }
            _ => FilterKind::File(Box::new(self.file_spec(f))),
        }
    }

    fn file_spec(&mut self, f: &RawFilter) -> FileSpec {
        let platform = f.platform.as_ref().and_then(|p| {
            let parsed = Platform::parse(p.get_ref());
            if parsed.is_none() {
                self.problem(
                    p.span(),
                    format!(
                        "unknown platform {:?} (windows, macos or linux)",
                        p.get_ref()
                    ),
                );
            }
            parsed
        });
        let fold = platform.is_none_or(Platform::folds_case);
        let mut pattern = |value: &Option<S<String>>, glob: bool, what: &str| {
            value.as_ref().and_then(|v| {
                let built = if glob {
                    Pattern::glob(v.get_ref(), fold)
                } else {
                    Pattern::regex(v.get_ref(), fold)
                };
                match built {
                    Ok(p) => Some(p),
                    Err(e) => {
                        let first = e.to_string();
                        let first = first.lines().last().unwrap_or("").trim().to_owned();
                        self.problem(v.span(), format!("bad {what}: {first}"));
                        None
                    }
                }
            })
        };
        let file_name = pattern(&f.file_name, true, "file_name glob");
        let path = pattern(&f.path, false, "path regular expression");
        let publisher = pattern(&f.publisher, true, "publisher glob");
        let mut hashes = BTreeSet::new();
        for (list, len, kind) in [
            (&f.sha256, 64, "sha256"),
            (&f.sha1, 40, "sha1"),
            (&f.md5, 32, "md5"),
        ] {
            for h in list.iter().flatten() {
                let v = h.get_ref().trim();
                if v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    hashes.insert(v.to_ascii_lowercase());
                } else {
                    self.problem(
                        h.span(),
                        format!("{v:?} is not a {kind} (hex, {len} digits)"),
                    );
                }
            }
        }
        let spec = FileSpec {
            platform,
            file_name,
            path,
            hashes,
            publisher,
            signed: f.signed.as_ref().map(|s| *s.get_ref()),
        };
        let given = f.platform.is_some()
            || f.file_name.is_some()
            || f.path.is_some()
            || f.sha256.is_some()
            || f.sha1.is_some()
            || f.md5.is_some()
            || f.publisher.is_some()
            || f.signed.is_some();
        if !given {
            self.problem(
                f.kind.span(),
                "a file filter needs at least one of platform, file_name, path, hashes, publisher, signed",
            );
        }
        spec
    }

    /// A collection that contains itself, directly or through others.
    fn cycles(&mut self, raw: &RawFile, filters: &[Filter], by_name: &HashMap<String, FilterId>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        fn visit(id: usize, filters: &[Filter], marks: &mut [Mark]) -> bool {
            match marks.get(id) {
                Some(Mark::Open) => return true,
                Some(Mark::Done) | None => return false,
                Some(Mark::New) => {}
            }
            marks[id] = Mark::Open;
            if let Some(FilterKind::Collection(members)) = filters.get(id).map(|f| &f.kind) {
                for m in members {
                    if visit(m.0, filters, marks) {
                        return true;
                    }
                }
            }
            marks[id] = Mark::Done;
            false
        }
        for f in &raw.filters {
            let Some(id) = by_name.get(f.name.get_ref().trim()) else {
                continue;
            };
            let mut marks = vec![Mark::New; filters.len()];
            if visit(id.0, filters, &mut marks) && marks.get(id.0) == Some(&Mark::Open) {
                self.problem(
                    f.name.span(),
                    format!(
                        "collection {:?} contains itself (a cycle among collections)",
                        f.name.get_ref()
                    ),
                );
            }
        }
    }

    fn policy(
        &mut self,
        p: &RawPolicy,
        order: usize,
        by_name: &HashMap<String, FilterId>,
        filters: &[Filter],
    ) -> Option<Policy> {
        let ids = |list: &[S<String>], what: &str, this: &mut Checker<'_>| -> Vec<FilterId> {
            let mut out = Vec::new();
            for name in list {
                match by_name.get(name.get_ref().trim()) {
                    Some(id) => out.push(*id),
                    None => this.problem(
                        name.span(),
                        format!("unknown filter {:?} in {what}", name.get_ref()),
                    ),
                }
            }
            out
        };
        let targets = ids(&p.targets, "targets", self);
        let include = ids(&p.include, "include", self);
        let exclude = ids(&p.exclude, "exclude", self);
        if p.targets.is_empty() {
            self.problem(
                p.name.span(),
                format!(
                    "policy {:?} has no targets: it would apply to nothing (give targets = [filter names])",
                    p.name.get_ref()
                ),
            );
        }
        let action = self.action(&p.action, false);
        if let Some(m) = &p.message {
            if m.get_ref().chars().count() > MAX_MESSAGE_CHARS {
                self.problem(
                    m.span(),
                    format!("a message is at most {MAX_MESSAGE_CHARS} characters"),
                );
            }
        }
        let mut fallback = FallbackActions::default();
        let fb = &p.fallback;
        if let Some(w) = &fb.wait_ms {
            if *w.get_ref() > MAX_WAIT_MS {
                self.problem(w.span(), format!("wait_ms is at most {MAX_WAIT_MS}"));
            }
            fallback.wait = Duration::from_millis((*w.get_ref()).min(MAX_WAIT_MS));
        }
        fallback.unknown = fb.unknown.as_ref().and_then(|a| self.action(a, true));
        for (slot, value) in [
            (&mut fallback.pending, &fb.pending),
            (&mut fallback.unreachable, &fb.unreachable),
            (&mut fallback.budget_spent, &fb.budget_spent),
        ] {
            if let Some(a) = value.as_ref().and_then(|a| self.action(a, true)) {
                *slot = a;
            }
        }
        // Two file filters for different platforms, both required, never
        // match the same file.
        let platforms: BTreeSet<&str> = include
            .iter()
            .chain(targets.iter().take(usize::from(targets.len() == 1)))
            .filter_map(|id| filters.get(id.0))
            .filter_map(|f| match &f.kind {
                FilterKind::File(spec) => spec.platform.map(Platform::as_str),
                _ => None,
            })
            .collect();
        if platforms.len() > 1 {
            self.problem(
                p.name.span(),
                format!(
                    "policy {:?} is unreachable: it requires filters for different platforms ({})",
                    p.name.get_ref(),
                    platforms.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        let r = &p.resources;
        let resources = Resources {
            users: lower(&r.users),
            groups: lower(&r.groups),
            hosts: lower(&r.hosts),
            exclude_users: lower(&r.exclude_users),
            exclude_groups: lower(&r.exclude_groups),
            exclude_hosts: lower(&r.exclude_hosts),
        };
        // A bad action is a problem already; the policy is kept so the
        // checks after it (shadowing) still run.
        let action = action.unwrap_or(Action::Deny);
        Some(Policy {
            name: p.name.get_ref().trim().to_owned(),
            description: p.description.clone().unwrap_or_default(),
            enabled: p.enabled.unwrap_or(true),
            priority: p.priority.as_ref().map(|p| *p.get_ref()).unwrap_or(100),
            order,
            targets,
            include,
            exclude,
            resources,
            action,
            message: p
                .message
                .as_ref()
                .map(|m| m.get_ref().chars().take(MAX_MESSAGE_CHARS).collect()),
            fallback,
        })
    }

    fn action(&mut self, a: &S<String>, fallback: bool) -> Option<Action> {
        match Action::parse(a.get_ref()) {
            Some(action) => Some(action),
            None => {
                let names = if fallback {
                    "allow, deny, audit or notify"
                } else {
                    "deny, allow, audit or notify"
                };
                self.problem(
                    a.span(),
                    format!("unknown action {:?} ({names})", a.get_ref()),
                );
                None
            }
        }
    }

    /// A policy that an earlier enabled one always decides first: the
    /// earlier one targets at least the same, requires no more and
    /// excludes no more, for at least the same users, groups and hosts.
    fn shadowed(&mut self, policies: &[(Policy, Range<usize>)], _filters: &[Filter]) {
        for (i, (later, span)) in policies.iter().enumerate() {
            if !later.enabled {
                continue;
            }
            let by = policies[..i].iter().find(|(earlier, _)| {
                earlier.enabled
                    && later.targets.iter().all(|t| earlier.targets.contains(t))
                    && earlier.include.iter().all(|f| later.include.contains(f))
                    && earlier.exclude.iter().all(|f| later.exclude.contains(f))
                    && (earlier.resources.is_everyone() || earlier.resources == later.resources)
            });
            if let Some((earlier, _)) = by {
                self.problem(
                    span.clone(),
                    format!(
                        "policy {:?} is shadowed by {:?} (priority {}), which is tried first and applies to everything it does",
                        later.name, earlier.name, earlier.priority
                    ),
                );
            }
        }
    }
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_lowercase()).collect()
}
