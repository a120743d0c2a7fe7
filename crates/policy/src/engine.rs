//! The decision engine: a request and what is known of the file's rating
//! in, a [`Decision`] out. Pure: no I/O, no clock.
//!
//! Policies are tried in priority order (lower number first, then file
//! order). A policy applies when it is enabled, its resource targets take
//! the user, groups and host, any of its targets matches, every inclusion
//! filter matches and no exclusion filter does. Filters are evaluated
//! three-valued: a rating filter without a rating is *undecided*, so
//! [`PolicySet::rating_needed`] can tell whether VirusTotal must be asked at
//! all before the first policy that could apply.

use crate::endpoint::{FileRequest, Platform};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;
use verdict::Verdict;

/// What a policy does to a file it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it run.
    Allow,
    /// Stop it, showing the policy's message.
    Deny,
    /// Let it run and flag the decision in the log.
    Audit,
    /// Let it run and show the policy's message.
    Notify,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Audit => "audit",
            Action::Notify => "notify",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s.trim() {
            "allow" => Some(Action::Allow),
            "deny" => Some(Action::Deny),
            "audit" => Some(Action::Audit),
            "notify" => Some(Action::Notify),
            _ => None,
        }
    }

    /// Whether the file may run.
    pub fn allows(self) -> bool {
        self != Action::Deny
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which fallback decided, when the rating was not there to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackCase {
    /// VirusTotal does not know the file.
    Unknown,
    /// The lookup was still running at the policy's deadline.
    Pending,
    /// VirusTotal could not be reached.
    Unreachable,
    /// The API budget is spent.
    BudgetSpent,
}

impl FallbackCase {
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackCase::Unknown => "unknown",
            FallbackCase::Pending => "pending",
            FallbackCase::Unreachable => "unreachable",
            FallbackCase::BudgetSpent => "budget_spent",
        }
    }
}

/// What is known of the file's VirusTotal rating when deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingLookup {
    /// Nobody asked (no policy needed it).
    NotAsked,
    /// VirusTotal's report, graded by the verdict rules (`Unknown` when
    /// VirusTotal does not know the file).
    Rated(Verdict),
    /// Still running at the deadline.
    Pending,
    Unreachable,
    BudgetSpent,
}

/// A policy's answers for when the rating cannot decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackActions {
    /// How long to wait for a rating VirusTotal is asked for (0: do not
    /// wait; the lookup goes on and the next decision has it).
    pub wait: Duration,
    /// For a file VirusTotal does not know; `None`: the rating filters see
    /// `unknown` like any other rating.
    pub unknown: Option<Action>,
    pub pending: Action,
    pub unreachable: Action,
    pub budget_spent: Action,
}

/// Default wait for a rating.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(2_000);

impl Default for FallbackActions {
    fn default() -> Self {
        FallbackActions {
            wait: DEFAULT_WAIT,
            unknown: None,
            pending: Action::Allow,
            unreachable: Action::Allow,
            budget_spent: Action::Allow,
        }
    }
}

/// A compiled regular expression or glob, in a case-sensitive and a
/// case-folding form: the request's platform picks one.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    exact: regex::Regex,
    folded: regex::Regex,
    /// Fold case even on a case-sensitive platform (the filter is for a
    /// case-insensitive one, or names none).
    fold_always: bool,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source && self.fold_always == other.fold_always
    }
}

/// Compiled patterns are bounded: a hostile or careless policy file
/// cannot make one that eats memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl Pattern {
    pub fn regex(source: &str, fold_always: bool) -> Result<Pattern, regex::Error> {
        let build = |fold| {
            regex::RegexBuilder::new(source)
                .case_insensitive(fold)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
        };
        Ok(Pattern {
            source: source.to_owned(),
            exact: build(false)?,
            folded: build(true)?,
            fold_always,
        })
    }

    /// `*` is any run of characters, `?` one character; the whole text must match.
    pub fn glob(glob: &str, fold_always: bool) -> Result<Pattern, regex::Error> {
        let mut re = String::from("^");
        for c in glob.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        re.push('$');
        let mut p = Pattern::regex(&re, fold_always)?;
        p.source = glob.to_owned();
        Ok(p)
    }

    pub fn is_match(&self, text: &str, platform: Option<Platform>) -> bool {
        let fold = self.fold_always || platform.is_some_and(Platform::folds_case);
        if fold {
            self.folded.is_match(text)
        } else {
            self.exact.is_match(text)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A file-specification filter: every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileSpec {
    pub platform: Option<Platform>,
    /// Glob over the file name.
    pub file_name: Option<Pattern>,
    /// Regular expression over the normalised full path.
    pub path: Option<Pattern>,
    /// Lower-case md5, sha1 or sha256 values; any one matching is enough.
    pub hashes: BTreeSet<String>,
    pub publisher: Option<Pattern>,
    pub signed: Option<bool>,
}

impl FileSpec {
    fn matches(&self, req: &FileRequest, facts: &Facts) -> bool {
        if let Some(p) = self.platform {
            if req.platform != Some(p) {
                return false;
            }
        }
        if let Some(glob) = &self.file_name {
            match &facts.name {
                Some(name) if glob.is_match(name, req.platform) => {}
                _ => return false,
            }
        }
        if let Some(re) = &self.path {
            match &facts.path {
                Some(path) if re.is_match(path, req.platform) => {}
                _ => return false,
            }
        }
        if !self.hashes.is_empty() {
            let any = [&req.sha256, &req.sha1, &req.md5]
                .into_iter()
                .flatten()
                .any(|h| self.hashes.contains(h));
            if !any {
                return false;
            }
        }
        if let Some(glob) = &self.publisher {
            match &req.publisher {
                // Publishers are compared without case everywhere.
                Some(p) if glob.folded.is_match(p) => {}
                _ => return false,
            }
        }
        if let Some(signed) = self.signed {
            if req.signed != Some(signed) {
                return false;
            }
        }
        true
    }
}

/// Index of a filter in its [`PolicySet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilterId(pub(crate) usize);

#[derive(Debug, Clone, PartialEq)]
pub enum FilterKind {
    File(Box<FileSpec>),
    /// Matches when any member does.
    Collection(Vec<FilterId>),
    /// Matches when the file's rating is one of these.
    Rating(BTreeSet<Verdict>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub name: String,
    pub kind: FilterKind,
}

/// Users, groups and hosts a policy is for; an empty list is everyone.
/// Names are compared without case (Windows accounts and host names are).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub hosts: Vec<String>,
    pub exclude_users: Vec<String>,
    pub exclude_groups: Vec<String>,
    pub exclude_hosts: Vec<String>,
}

impl Resources {
    pub fn is_everyone(&self) -> bool {
        *self == Resources::default()
    }

    fn matches(&self, facts: &Facts) -> bool {
        let one = |list: &[String], v: &Option<String>| {
            v.as_ref()
                .is_some_and(|v| list.iter().any(|x| x == v || x == "*"))
        };
        let any_group = |list: &[String]| facts.groups.iter().any(|g| list.contains(g));
        if one(&self.exclude_users, &facts.user)
            || any_group(&self.exclude_groups)
            || one(&self.exclude_hosts, &facts.host)
        {
            return false;
        }
        (self.users.is_empty() && self.groups.is_empty()
            || one(&self.users, &facts.user)
            || any_group(&self.groups))
            && (self.hosts.is_empty() || one(&self.hosts, &facts.host))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// Lower first.
    pub priority: i64,
    /// Place in the file, breaking priority ties.
    pub order: usize,
    /// Application targets: any matching selects the file.
    pub targets: Vec<FilterId>,
    /// Inclusion filters: all must match.
    pub include: Vec<FilterId>,
    /// Exclusion filters: any matching leaves the file out.
    pub exclude: Vec<FilterId>,
    pub resources: Resources,
    pub action: Action,
    /// Shown to the user (deny, notify).
    pub message: Option<String>,
    pub fallback: FallbackActions,
}

/// A checked policy file, ready to decide with.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySet {
    filters: Vec<Filter>,
    /// In evaluation order.
    policies: Vec<Policy>,
    default_action: Action,
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// allow, deny, audit or notify.
    pub decision: Action,
    pub allowed: bool,
    /// The policy that decided; `null` when none applied.
    pub policy: Option<String>,
    /// The VirusTotal rating, when it was looked up and known.
    pub rating: Option<Verdict>,
    pub reasons: Vec<String>,
    /// Which fallback decided, if the rating could not.
    pub fallback: Option<FallbackCase>,
    /// The message for the user.
    pub message: Option<String>,
}

/// The request's strings as the filters compare them, worked out once.
struct Facts {
    path: Option<String>,
    name: Option<String>,
    user: Option<String>,
    groups: Vec<String>,
    host: Option<String>,
}

impl Facts {
    fn of(req: &FileRequest) -> Facts {
        Facts {
            path: req.endpoint_path().map(|p| p.as_str().to_owned()),
            name: req.file_name(),
            user: req.user.as_ref().map(|u| u.trim().to_lowercase()),
            groups: req.groups.iter().map(|g| g.trim().to_lowercase()).collect(),
            host: req.host.as_ref().map(|h| h.trim().to_lowercase()),
        }
    }
}

/// Three-valued match: a rating filter without a rating is undecided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Undecided,
}

impl Tri {
    fn any(items: impl Iterator<Item = Tri>) -> Tri {
        let mut out = Tri::No;
        for t in items {
            match t {
                Tri::Yes => return Tri::Yes,
                Tri::Undecided => out = Tri::Undecided,
                Tri::No => {}
            }
        }
        out
    }
    fn all(items: impl Iterator<Item = Tri>) -> Tri {
        let mut out = Tri::Yes;
        for t in items {
            match t {
                Tri::No => return Tri::No,
                Tri::Undecided => out = Tri::Undecided,
                Tri::Yes => {}
            }
        }
        out
    }
    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Undecided => Tri::Undecided,
        }
    }
}

/// Deepest collection nesting followed (cycles are refused by the checker;
/// this bounds the work anyway).
const MAX_DEPTH: usize = 32;

impl PolicySet {
    pub(crate) fn new(filters: Vec<Filter>, policies: Vec<Policy>, default_action: Action) -> Self {
        PolicySet {
            filters,
            policies,
            default_action,
        }
    }

    /// The policies in the order they are tried.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn filter(&self, id: FilterId) -> Option<&Filter> {
        self.filters.get(id.0)
    }

    pub fn default_action(&self) -> Action {
        self.default_action
    }

    /// Whether any policy can need a rating.
    pub fn uses_ratings(&self) -> bool {
        self.filters
            .iter()
            .any(|f| matches!(f.kind, FilterKind::Rating(_)))
    }

    fn eval(
        &self,
        id: FilterId,
        req: &FileRequest,
        facts: &Facts,
        rating: Option<Verdict>,
        depth: usize,
    ) -> Tri {
        let Some(filter) = self.filters.get(id.0) else {
            return Tri::No;
        };
        match &filter.kind {
            FilterKind::File(spec) => {
                if spec.matches(req, facts) {
                    Tri::Yes
                } else {
                    Tri::No
                }
            }
            FilterKind::Rating(set) => match rating {
                Some(v) if set.contains(&v) => Tri::Yes,
                Some(_) => Tri::No,
                None => Tri::Undecided,
            },
            FilterKind::Collection(members) if depth < MAX_DEPTH => Tri::any(
                members
                    .iter()
                    .map(|m| self.eval(*m, req, facts, rating, depth + 1)),
            ),
            FilterKind::Collection(_) => Tri::No,
        }
    }

    fn applies(
        &self,
        p: &Policy,
        req: &FileRequest,
        facts: &Facts,
        rating: Option<Verdict>,
    ) -> Tri {
        if !p.enabled || !p.resources.matches(facts) {
            return Tri::No;
        }
        let each = |ids: &[FilterId]| {
            ids.iter()
                .map(|id| self.eval(*id, req, facts, rating, 0))
                .collect::<Vec<_>>()
        };
        Tri::all(
            [
                Tri::any(each(&p.targets).into_iter()),
                Tri::all(each(&p.include).into_iter()),
                Tri::any(each(&p.exclude).into_iter()).not(),
            ]
            .into_iter(),
        )
    }

    /// How long to wait for the rating if the decision needs it: the
    /// first policy that may apply does, and no policy before it applies
    /// whatever the rating. `None`: decide without asking VirusTotal.
    pub fn rating_needed(&self, req: &FileRequest) -> Option<Duration> {
        let facts = Facts::of(req);
        for p in &self.policies {
            match self.applies(p, req, &facts, None) {
                Tri::No => continue,
                Tri::Yes => return None,
                Tri::Undecided => return Some(p.fallback.wait),
            }
        }
        None
    }

    /// The decision for `req` given what is known of its rating.
    pub fn decide(&self, req: &FileRequest, lookup: RatingLookup) -> Decision {
        let facts = Facts::of(req);
        let rating = match lookup {
            RatingLookup::Rated(v) => Some(v),
            _ => None,
        };
        for p in &self.policies {
            let without = self.applies(p, req, &facts, None);
            let outcome = match (without, lookup) {
                (Tri::No, _) => continue,
                (Tri::Yes, _) => Tri::Yes,
                (Tri::Undecided, RatingLookup::Rated(Verdict::Unknown))
                    if p.fallback.unknown.is_some() =>
                {
                    let action = p.fallback.unknown.unwrap_or(Action::Allow);
                    return self.fallback(p, action, FallbackCase::Unknown, rating);
                }
                (Tri::Undecided, RatingLookup::Rated(_)) => self.applies(p, req, &facts, rating),
                (Tri::Undecided, RatingLookup::Unreachable) => {
                    return self.fallback(
                        p,
                        p.fallback.unreachable,
                        FallbackCase::Unreachable,
                        rating,
                    );
                }
                (Tri::Undecided, RatingLookup::BudgetSpent) => {
                    return self.fallback(
                        p,
                        p.fallback.budget_spent,
                        FallbackCase::BudgetSpent,
                        rating,
                    );
                }
                // Not asked is a caller's slip; treat it as not there yet.
                (Tri::Undecided, RatingLookup::Pending | RatingLookup::NotAsked) => {
                    return self.fallback(p, p.fallback.pending, FallbackCase::Pending, rating);
                }
            };
            if outcome != Tri::Yes {
                continue;
            }
            let mut reasons = vec![format!("policy {:?} applies", p.name)];
            reasons.extend(self.matched(p, req, &facts, rating));
            if let (Tri::Undecided, Some(v)) = (without, rating) {
                reasons.push(format!("VirusTotal rating: {v}"));
            }
            return decision(p, p.action, rating, reasons, None);
        }
        Decision {
            decision: self.default_action,
            allowed: self.default_action.allows(),
            policy: None,
            rating,
            reasons: vec![format!(
                "no policy applies: the default action ({}) decides",
                self.default_action
            )],
            fallback: None,
            message: None,
        }
    }

    fn fallback(
        &self,
        p: &Policy,
        action: Action,
        case: FallbackCase,
        rating: Option<Verdict>,
    ) -> Decision {
        let why = match case {
            FallbackCase::Unknown => "VirusTotal does not know the file".to_owned(),
            FallbackCase::Pending => format!(
                "the VirusTotal lookup did not finish within {} ms",
                p.fallback.wait.as_millis()
            ),
            FallbackCase::Unreachable => "VirusTotal cannot be reached".to_owned(),
            FallbackCase::BudgetSpent => "the VirusTotal API budget is spent".to_owned(),
        };
        let reasons = vec![
            format!("policy {:?} applies", p.name),
            format!("{why}: the {} fallback ({action}) decides", case.as_str()),
        ];
        decision(p, action, rating, reasons, Some(case))
    }

    /// The names of the filters that made a policy apply, for the reasons.
    fn matched(
        &self,
        p: &Policy,
        req: &FileRequest,
        facts: &Facts,
        rating: Option<Verdict>,
    ) -> Vec<String> {
        let name = |id: &FilterId| {
            self.filters
                .get(id.0)
                .map(|f| f.name.clone())
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        if let Some(t) = p
            .targets
            .iter()
            .find(|id| self.eval(**id, req, facts, rating, 0) == Tri::Yes)
        {
            out.push(format!("target {:?} matches", name(t)));
        }
        for id in &p.include {
            out.push(format!("inclusion filter {:?} matches", name(id)));
        }
        out
    }
}

fn decision(
    p: &Policy,
    action: Action,
    rating: Option<Verdict>,
    reasons: Vec<String>,
    fallback: Option<FallbackCase>,
) -> Decision {
    let message = match action {
        Action::Deny => Some(
            p.message
                .clone()
                .unwrap_or_else(|| format!("blocked by the policy {:?}", p.name)),
        ),
        Action::Notify => p.message.clone(),
        Action::Allow | Action::Audit => None,
    };
    Decision {
        decision: action,
        allowed: action.allows(),
        policy: Some(p.name.clone()),
        rating,
        reasons,
        fallback,
        message,
    }
}
