//! The command line: global options and subcommands (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// vtc: one fast, trustworthy connector between VirusTotal API v3 and the
/// tools that consume it.
#[derive(Debug, Parser)]
#[command(name = "vtc", version, about, propagate_version = true)]
pub struct Cli {
    /// The options of the commands that call the API, given before the
    /// command (`vtc --api-key K lookup ...`); each command also takes them
    /// after its name and shows in its help only the ones it uses.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// More detail on stderr (-v: context of errors and info logs, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// The options of every command that calls the API. Each also comes from
/// an environment variable (read by the `app` crate, not by clap, so help
/// and usage lines never show a variable's value or treat it as typed) or
/// from the config file: flag > env > file > default.
#[derive(Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// VirusTotal API key [env: VT_API_KEY] (or `api_key` in the config file).
    #[arg(long)]
    pub api_key: Option<String>,
    /// API base URL [env: VTC_API_URL]; a bare host such as http://127.0.0.1:8080 means http://127.0.0.1:8080/api/v3.
    #[arg(long)]
    pub api_url: Option<String>,
    /// Config file (TOML) [env: VTC_CONFIG]. Default: $XDG_CONFIG_HOME/vtc/config.toml if present.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// SQLite database file, or postgres://USER@HOST/DB to share one database between instances [env: VTC_DB]. Default: vtc/vtc.sqlite under $XDG_DATA_HOME.
    #[arg(long)]
    pub db: Option<String>,
    /// Output format. Default: table on a terminal, jsonl when piped.
    #[arg(long, value_parser = output_format())]
    pub format: Option<OutputFormat>,
    /// HTTP(S) proxy for API calls [env: HTTPS_PROXY].
    #[arg(long)]
    pub proxy: Option<String>,
    /// Do not verify the API server's TLS certificate (prints a warning).
    #[arg(long)]
    pub insecure: bool,
    /// Where the key's budget comes from [env: VTC_QUOTA]: `auto` reads the key's allowances from the API once (GET /users/{key}/overall_quotas) for the windows not configured; `fixed` uses the configured budgets and the public API's defaults. Default: auto when no budget is configured anywhere, else fixed.
    #[arg(long, value_name = "auto|fixed", value_parser = quota_mode)]
    pub quota: Option<app::QuotaMode>,
    /// The key's budget per minute (0 = unlimited) [env: VTC_QUOTA_MINUTE]. Default 4, the public API's.
    #[arg(long, value_parser = budget, allow_negative_numbers = true)]
    pub quota_minute: Option<u32>,
    /// The key's budget per UTC day (0 = unlimited) [env: VTC_QUOTA_DAY]. Default 500.
    #[arg(long, value_parser = budget, allow_negative_numbers = true)]
    pub quota_day: Option<u32>,
    /// The key's budget per month (0 = unlimited) [env: VTC_QUOTA_MONTH]. Default unlimited.
    #[arg(long, value_parser = budget, allow_negative_numbers = true)]
    pub quota_month: Option<u32>,
}

/// Shows neither the key nor a proxy's credentials.
impl std::fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field(
                "api_url",
                &self.api_url.as_deref().map(vt_api::without_credentials),
            )
            .field("config", &self.config)
            .field("db", &self.db)
            .field("format", &self.format)
            .field(
                "proxy",
                &self.proxy.as_deref().map(vt_api::without_credentials),
            )
            .field("insecure", &self.insecure)
            .field("quota", &self.quota)
            .field("quota_minute", &self.quota_minute)
            .field("quota_day", &self.quota_day)
            .field("quota_month", &self.quota_month)
            .finish()
    }
}

impl GlobalArgs {
    /// These options (given after the command) over `before` (given before it).
    pub fn over(&self, before: &GlobalArgs) -> GlobalArgs {
        GlobalArgs {
            api_key: self.api_key.clone().or_else(|| before.api_key.clone()),
            api_url: self.api_url.clone().or_else(|| before.api_url.clone()),
            config: self.config.clone().or_else(|| before.config.clone()),
            db: self.db.clone().or_else(|| before.db.clone()),
            format: self.format.or(before.format),
            proxy: self.proxy.clone().or_else(|| before.proxy.clone()),
            insecure: self.insecure || before.insecure,
            quota: self.quota.or(before.quota),
            quota_minute: self.quota_minute.or(before.quota_minute),
            quota_day: self.quota_day.or(before.quota_day),
            quota_month: self.quota_month.or(before.quota_month),
        }
    }

    /// The flags given, by name, other than `--format` (for a command that
    /// calls no API, to refuse them rather than ignore them).
    pub fn api_flags_given(&self) -> Vec<&'static str> {
        let given = [
            ("--api-key", self.api_key.is_some()),
            ("--api-url", self.api_url.is_some()),
            ("--config", self.config.is_some()),
            ("--db", self.db.is_some()),
            ("--proxy", self.proxy.is_some()),
            ("--insecure", self.insecure),
            ("--quota", self.quota.is_some()),
            ("--quota-minute", self.quota_minute.is_some()),
            ("--quota-day", self.quota_day.is_some()),
            ("--quota-month", self.quota_month.is_some()),
        ];
        given
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect()
    }
}

pub use app::OutputFormat;

fn quota_mode(s: &str) -> Result<app::QuotaMode, String> {
    s.parse()
}

/// A budget: a whole number of calls, 0 for unlimited. Negative numbers
/// reach this parser (instead of clap's "unexpected argument '-1'") so the
/// message can say what is wrong.
fn budget(s: &str) -> Result<u32, String> {
    s.trim().parse::<u32>().map_err(|_| {
        format!("{s:?} is not a budget: give a whole number of calls, 0 or more (0 = unlimited)")
    })
}

/// `--format`: the names [`OutputFormat`] parses, offered in help and completion.
fn output_format() -> impl clap::builder::TypedValueParser<Value = OutputFormat> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(OutputFormat::ALL.map(OutputFormat::as_str))
        .try_map(|name| name.parse::<OutputFormat>())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look up hashes, URLs, domains and IP addresses (arguments, or `-` for stdin lines).
    Lookup(LookupArgs),
    /// Enrich a stream of indicators under the API quota, with cache and resume.
    Enrich(EnrichArgs),
    /// md5, sha1, sha256 and size of files, in one read of each.
    Hash(HashArgs),
    /// Serve a local emulator of VirusTotal API v3.
    Emulator(EmulatorArgs),
    /// Run the emulator in-process, enrich a bundled sample list and write an HTML report.
    Demo(DemoArgs),
    /// Submit a file or a URL for scanning (a known file is not uploaded again).
    Scan(ScanArgs),
    /// Show an analysis (of a scan or rescan) by its id.
    Analysis(AnalysisArgs),
    /// Ask VirusTotal to scan a known file (by hash) or URL again.
    Rescan(RescanArgs),
    /// Download a sample (premium key): a zip with the password `infected`.
    Download(DownloadArgs),
    /// List the objects related to a file, URL, domain or IP address.
    Relationships(RelationshipsArgs),
    /// Search VirusTotal (premium `--intelligence` for VT Intelligence queries).
    Search(SearchArgs),
    /// List the comments on an object, or add one with --add.
    Comments(CommentsArgs),
    /// Vote an object harmless or malicious.
    Vote(VoteArgs),
    /// List the votes on an object.
    Votes(VotesArgs),
    /// The VT Augment widget URL of an object (or its HTML with --html).
    Widget(WidgetArgs),
    /// Private scanning (premium): files and URLs only your key can see.
    Private(PrivateArgs),
    /// The API key's quotas: used and allowed per minute, hour, day and month.
    Quota(QuotaArgs),
    /// Run one action, JSON object on stdin, JSON on stdout (for SOAR playbooks).
    Action(ActionArgs),
    /// The database (--db): rows and size per table, or prune what has expired.
    Db(DbArgs),
    /// Serve enrichment and actions over HTTP (docs/service.md).
    Serve(ServeArgs),
    /// Bearer tokens of `vtc serve`.
    Token(TokenArgs),
    /// Work the shared job queue of the database (--db postgres://...) as `vtc serve` does, without HTTP: the jobs of POST /v1/enrich, /v1/ingest and `vtc enrich --distributed` (docs/deployment.md).
    Worker(WorkerArgs),
    /// Application-control policy files (docs/application-control.md).
    Policy(PolicyArgs),
    /// May this file run? Decides by a policy file and, when a policy needs it, the file's VirusTotal rating. Exit 0 allowed, 3 denied.
    Decide(DecideArgs),
    /// The decision log: every decision `vtc decide` and `POST /v1/decide` made.
    Decisions(DecisionsArgs),
    /// Reports from the database: `vtc report file-ratings -o report.html`.
    Report(ReportArgs),
    /// Threat-intelligence feeds (Carbon Black, STIX 2.1, MISP) from the cached reports.
    Feed(FeedArgs),
    /// Run a TheHive Cortex analyzer job (VirusTotal_GetReport, _Scan, _Rescan, _DownloadSample).
    Cortex(CortexArgs),
    /// Collect binaries (folders, hash lists, Carbon Black EDR), look them up by hash, keep verdicts for the feed.
    Collect(CollectArgs),
}

impl Command {
    /// The log file a long-running command was asked to write.
    pub fn log_file(&self) -> Option<&LogFileArgs> {
        match self {
            Command::Collect(args) => Some(&args.log),
            Command::Serve(args) => Some(&args.log),
            _ => None,
        }
        .filter(|l| l.log_file.is_some())
    }
}

/// Where a long-running command logs (instead of stderr).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logging")]
pub struct LogFileArgs {
    /// Write the log to this file instead of stderr, rolled over by size (PATH.1 is the newest old one).
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Size in bytes at which the log file rolls over.
    #[arg(long, value_name = "BYTES", default_value_t = app::log_file::DEFAULT_MAX_BYTES, requires = "log_file")]
    pub log_max_bytes: u64,
    /// Rolled-over log files kept.
    #[arg(long, value_name = "N", default_value_t = app::log_file::DEFAULT_KEEP, requires = "log_file")]
    pub log_keep: u32,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CollectArgs {
    #[command(subcommand)]
    pub action: Option<CollectAction>,
    /// A folder to collect from, recursively (repeatable); watched unless --once. Default: `paths` of [collect].
    #[arg(long = "path", value_name = "DIR")]
    pub paths: Vec<PathBuf>,
    /// A hash list (one md5/sha1/sha256 a line, or JSON events {hash, file_name, host}); `-` for stdin. Followed as it grows unless --once.
    #[arg(long, value_name = "FILE|-")]
    pub hashes: Option<PathBuf>,
    /// Poll the Carbon Black EDR server of [collect] (carbonblack_server_url, carbonblack_server_token).
    #[arg(long)]
    pub carbonblack: bool,
    /// Read each source once, look up what is due, and exit (default: run until SIGTERM or Ctrl-C).
    #[arg(long)]
    pub once: bool,
    /// Forget every collected binary and checkpoint, so the next run starts over (then exit).
    #[arg(long, conflicts_with_all = ["paths", "hashes", "carbonblack", "once", "import_config"])]
    pub reset: bool,
    /// Read the Carbon Black connector's connector.conf (INI) and print vtc's config for it; lists the keys it cannot map.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["paths", "hashes", "carbonblack", "once"])]
    pub import_config: Option<PathBuf>,
    /// With --import-config: write the config to this new file (mode 600) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE", requires = "import_config")]
    pub output: Option<PathBuf>,
    /// Rescan binaries whose last analysis is older than this: NEVER, or e.g. 30M, 12H, 7D, 2W. Default: rescan_window of [collect], else NEVER.
    #[arg(long, value_name = "WINDOW")]
    pub rescan_window: Option<String>,
    #[command(flatten)]
    pub log: LogFileArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum CollectAction {
    /// Counts of binaries, the backlog, verdicts and each source's checkpoint.
    Status(CollectStatusArgs),
}

#[derive(Debug, Args)]
pub struct CollectStatusArgs {
    /// Count rescans due under this window (default: the configured one).
    #[arg(long, value_name = "WINDOW")]
    pub rescan_window: Option<String>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub kind: ReportKind,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReportKind {
    /// The File Security Rating Details page (HTML, self-contained) from the decision log.
    FileRatings {
        /// Where to write the page.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub action: PolicyAction,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Check a policy file: every problem with its line and column; exit 2 if there is any.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["file", "sha256", "sha1", "md5"])))]
pub struct DecideArgs {
    /// The policy file (TOML).
    #[arg(long)]
    pub policy: PathBuf,
    /// A local file: hashed here (one read); its path is the path decided on unless --path is given.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The file's sha256.
    #[arg(long)]
    pub sha256: Option<String>,
    /// The file's sha1.
    #[arg(long)]
    pub sha1: Option<String>,
    /// The file's md5.
    #[arg(long)]
    pub md5: Option<String>,
    /// The file's path on the endpoint (a Windows path works on any host).
    #[arg(long)]
    pub path: Option<String>,
    /// The file name, when not the path's last part.
    #[arg(long)]
    pub name: Option<String>,
    /// The user running it.
    #[arg(long)]
    pub user: Option<String>,
    /// A group of the user (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// The endpoint's host name.
    #[arg(long)]
    pub host: Option<String>,
    /// The endpoint's platform: windows, macos or linux. Default: from the path's shape.
    #[arg(long, value_parser = ["windows", "macos", "linux"])]
    pub platform: Option<String>,
    /// The file's signer, when known.
    #[arg(long)]
    pub publisher: Option<String>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct DecisionsArgs {
    /// Only decisions at or after this time: RFC 3339 (2026-11-20T10:00:00Z), a date (2026-11-20), or an age such as 30m, 24h, 7d, 2w.
    #[arg(long)]
    pub since: Option<String>,
    /// Only decisions for this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only decisions for this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Only decisions with this action: allow, deny, audit or notify.
    #[arg(long, value_parser = ["allow", "deny", "audit", "notify"])]
    pub action: Option<String>,
    /// At most this many decisions (oldest first).
    #[arg(long, default_value_t = 10_000)]
    pub limit: usize,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct CortexArgs {
    /// The job directory (input/input.json in, output/output.json out);
    /// without it, or without its input.json, the job is read from stdin
    /// and the report written to stdout (the older form).
    pub job_dir: Option<PathBuf>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Items worked on at once, per priority (interactive items have slots of their own); default: the config file's [service] workers, else 4. The quota still bounds the rate.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seconds a claim on an item lasts without renewal (renewed every third of it while the item is worked on): how soon another worker takes the items of a worker that died. Default: [service] lease_seconds, else 60.
    #[arg(long)]
    pub lease_secs: Option<u64>,
    /// This worker's name on its leases (default: the pid and random digits).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Application-control policy file for POST /v1/decide (checked first, as `vtc policy check` does).
    #[arg(long)]
    pub policy: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub log: LogFileArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenAction,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token and print it once; the database (--db) keeps its sha256 only.
    Create {
        /// Who the token is for (shown in logs and `token list`).
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: TokenRole,
        /// The client's own quota, N per duration: 500/day, 100/hour,
        /// 4/minute, 20/30m, 1000/week, 10000/month (resets at the start of
        /// the next duration, UTC).
        #[arg(long, value_name = "N/DURATION")]
        quota: Option<String>,
    },
    /// The tokens kept: name, role, quota and when each was made (never the token).
    List,
    /// Forget a token: the service refuses it from the next request on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRole {
    /// Cached data and reports; never spends quota.
    Reader,
    /// May spend quota: lookups and actions.
    Analyst,
    /// Everything, including deleting privately scanned files.
    Admin,
    /// An endpoint agent: application-control decisions (POST /v1/decide) only.
    Agent,
}

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum DbAction {
    /// Rows and bytes per table, and the size of the whole database.
    Stats,
    /// Delete expired reports, ledger rows older than a month and the journals of jobs finished a week ago, then compact the file.
    Prune,
}

/// How long and how often `--wait` polls an analysis.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Wait until the analysis completes and print it.
    #[arg(long)]
    pub wait: bool,
    /// Milliseconds between polls while waiting (each poll is an API call).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval_ms: u64,
    /// Give up waiting after this many seconds (exit code 1; the analysis goes on).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub target: ScanTarget,
}

impl ScanArgs {
    /// The options given after `scan file` or `scan url`.
    pub fn global(&self) -> &GlobalArgs {
        match &self.target {
            ScanTarget::File(a) => &a.global,
            ScanTarget::Url(a) => &a.global,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ScanTarget {
    /// Hash the file, print VirusTotal's report if it has one, else upload it.
    File(ScanFileArgs),
    /// Submit a URL for scanning.
    Url(ScanUrlArgs),
}

#[derive(Debug, Args)]
pub struct ScanFileArgs {
    /// The file to scan (at most 650 MB).
    pub path: PathBuf,
    /// Upload even when VirusTotal already knows the file.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct ScanUrlArgs {
    /// The URL (defanged forms accepted); a bare host means http://host/.
    pub url: String,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// The analysis id a scan or rescan printed.
    pub id: String,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct RescanArgs {
    /// A file hash (md5, sha1, sha256) or a URL.
    pub id: String,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The sample's md5, sha1 or sha256.
    pub hash: String,
    /// Where to write it: a file, or a folder (the sample named by its sha256).
    /// Default: <sha256>.zip (or <sha256> with --raw) in the current folder.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists (default: refuse).
    #[arg(long)]
    pub force: bool,
    /// Write the bare sample instead of an encrypted zip (live malware: handle with care).
    #[arg(long)]
    pub raw: bool,
    /// Print a short-lived download link (no key needed to use it) instead of downloading.
    #[arg(long, conflicts_with_all = ["raw", "output", "force"])]
    pub url: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct RelationshipsArgs {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// The relationship, e.g. contacted_domains, resolutions, downloaded_files.
    pub relationship: String,
    /// At most this many related objects (pages are fetched as needed).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Only the related objects' type and id (a cheaper answer).
    #[arg(long)]
    pub descriptors: bool,
    /// Objects per API call (1 to 40; each page is one call). Default: --limit, at most 40.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=40))]
    pub page_size: Option<u32>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query: a hash, URL, domain or IP; with --intelligence, a VT Intelligence query.
    pub query: String,
    /// At most this many results.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// VT Intelligence search (premium), e.g. `type:peexe positives:5+`.
    #[arg(long)]
    pub intelligence: bool,
    /// Results per API call (1 to 40; each page is one call). Default: --limit, at most 40.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=40))]
    pub page_size: Option<u32>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct CommentsArgs {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// Add this comment (words starting with # become tags) instead of listing.
    #[arg(long)]
    pub add: Option<String>,
    /// At most this many comments.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VoteChoice {
    Harmless,
    Malicious,
}

#[derive(Debug, Args)]
pub struct VoteArgs {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// Your verdict.
    #[arg(value_enum)]
    pub verdict: VoteChoice,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct VotesArgs {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// At most this many votes.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct WidgetArgs {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// Print the widget page's HTML (untrusted content) instead of its URL.
    #[arg(long)]
    pub html: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateArgs {
    #[command(subcommand)]
    pub command: PrivateCommand,
}

impl PrivateArgs {
    /// The options given after the private subcommand.
    pub fn global(&self) -> &GlobalArgs {
        match &self.command {
            PrivateCommand::ScanFile(a) => &a.global,
            PrivateCommand::ScanUrl(a) => &a.global,
            PrivateCommand::File(a) => &a.global,
            PrivateCommand::List(a) => &a.global,
            PrivateCommand::Delete(a) => &a.global,
            PrivateCommand::Rescan(a) => &a.global,
            PrivateCommand::Analysis(a) => &a.global,
            PrivateCommand::Relationships(a) => &a.global,
            PrivateCommand::Url(a) => &a.global,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PrivateCommand {
    /// Upload a file for private scanning.
    ScanFile(PrivateScanFileArgs),
    /// Submit a URL for private scanning.
    ScanUrl(ScanUrlArgs),
    /// Show a privately scanned file's report.
    File(PrivateHashArgs),
    /// List your privately scanned files.
    List(PrivateListArgs),
    /// Delete a privately scanned file and its reports.
    Delete(PrivateDeleteArgs),
    /// Scan a privately scanned file again.
    Rescan(PrivateRescanArgs),
    /// Show a private analysis by its id.
    Analysis(AnalysisArgs),
    /// Objects related to a privately scanned file (contacted_ips, dropped_files, ...).
    Relationships(PrivateRelationshipsArgs),
    /// Show the report of a URL you submitted for private scanning.
    Url(PrivateUrlArgs),
}

#[derive(Debug, Args)]
pub struct PrivateRelationshipsArgs {
    /// The privately scanned file's sha256.
    pub sha256: String,
    /// The relationship, e.g. contacted_domains, contacted_ips, contacted_urls, dropped_files.
    pub relationship: String,
    /// At most this many related objects (pages are fetched as needed).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Only the related objects' type and id (a cheaper answer).
    #[arg(long)]
    pub descriptors: bool,
    /// Objects per API call (1 to 40; each page is one call). Default: --limit, at most 40.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=40))]
    pub page_size: Option<u32>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateUrlArgs {
    /// The URL, as submitted with `vtc private scan-url`.
    pub url: String,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateScanFileArgs {
    /// The file to scan (at most 650 MB).
    pub path: PathBuf,
    /// Password of an encrypted zip.
    #[arg(long)]
    pub password: Option<String>,
    /// Keep the file for this many days (1 to 28).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=28))]
    pub retention_days: Option<u32>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateHashArgs {
    /// The file's sha256.
    pub sha256: String,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateListArgs {
    /// At most this many files.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateDeleteArgs {
    /// The file's sha256.
    pub sha256: String,
    /// Delete only the stored sample; keep the reports.
    #[arg(long)]
    pub only_from_storage: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct PrivateRescanArgs {
    /// The file's sha256.
    pub sha256: String,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The action, e.g. file_report, scan_url, get_relationships (see --list).
    #[arg(required_unless_present_any = ["list", "manifest"])]
    pub name: Option<String>,
    /// List the actions with their inputs (JSON with --format json).
    #[arg(long, conflicts_with_all = ["name", "schema"])]
    pub list: bool,
    /// Print the SOAR manifest (integrations/soar/manifest.json): every
    /// action with its aliases and schemas, and the asset settings.
    #[arg(long, conflicts_with_all = ["name", "schema", "list"])]
    pub manifest: bool,
    /// Print the action's input and output JSON Schemas instead of running it.
    #[arg(long, requires = "name")]
    pub schema: bool,
    /// Where download_file saves the sample: a file, or a folder (named by
    /// sha256). Default: <sha256>.zip (or <sha256> when raw) in the current folder.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Let download_file replace an existing file.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// Indicators: md5/sha1/sha256, URL, domain, IPv4/IPv6 (defanged forms accepted); `-` reads stdin.
    #[arg(required = true)]
    pub indicators: Vec<String>,
    /// Include the full VirusTotal object in JSON output.
    #[arg(long)]
    pub full: bool,
    /// Ignore cached reports and ask VirusTotal again.
    #[arg(long)]
    pub refresh: bool,
    /// Ask VirusTotal to reanalyse files and URLs whose last analysis is stale
    /// (`stale_after_days` in the config, default 30; one API call each).
    #[arg(long)]
    pub rescan_stale: bool,
    /// Exit with code 3 when any verdict is at least this severe.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Columns of table or CSV output, comma-separated, e.g. `verdict,indicator,detections,link`.
    /// Fields: verdict, type, detected, stale, indicator, input, id, detections, reasons,
    /// malicious, suspicious, total, last_analysis_date, cached, link, error.
    #[arg(long, value_name = "FIELDS", value_parser = parse_fields)]
    pub fields: Option<FieldList>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Suspect,
    Bad,
}

#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// Input file, one indicator per line (or CSV with --column); `-` or nothing reads stdin.
    pub input: Option<PathBuf>,
    /// Output file (default stdout). Re-running with the same input and output resumes.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write the HTML report of the run to this file (checked writable before any lookup).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Read indicators from this CSV column (name or 1-based number) instead of whole lines.
    #[arg(long)]
    pub column: Option<String>,
    /// Lookups in flight at once (the quota still bounds the rate).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Ignore cached reports and ask VirusTotal again.
    #[arg(long)]
    pub refresh: bool,
    /// Ask VirusTotal to reanalyse files and URLs whose last analysis is stale
    /// (`stale_after_days` in the config, default 30; one API call each).
    #[arg(long)]
    pub rescan_stale: bool,
    /// Treat cached reports older than this many days as expired.
    #[arg(long)]
    pub max_age: Option<u32>,
    /// Include the full VirusTotal object in JSON output.
    #[arg(long)]
    pub full: bool,
    /// Submit the input as one job of the shared queue (--db postgres://...) and
    /// stream back, in input order, the records the workers (`vtc worker`, every `vtc serve`) make; Ctrl-C cancels the job.
    #[arg(long)]
    pub distributed: bool,
    /// Exit with code 3 when any verdict is at least this severe.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Columns of table or CSV output, comma-separated, e.g. `verdict,indicator,detections,link`.
    /// Fields: verdict, type, detected, stale, indicator, input, id, detections, reasons,
    /// malicious, suspicious, total, last_analysis_date, cached, link, error.
    #[arg(long, value_name = "FIELDS", value_parser = parse_fields)]
    pub fields: Option<FieldList>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files to hash.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format. Default: table on a terminal, jsonl when piped.
    #[arg(long, value_parser = output_format())]
    pub format: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on, HOST:PORT; a host name such as localhost is
    /// resolved (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Requests per minute each API key may make (0 or absent = unlimited). Only this flag sets it: no environment variable is read.
    #[arg(long, value_parser = budget, allow_negative_numbers = true)]
    pub quota_minute: Option<u32>,
    /// Length in seconds of that "minute" (a test of many windows need not wait minutes; clients set VTC_QUOTA_WINDOW_SECONDS to the same).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub quota_window_secs: u64,
    /// Requests per UTC day each API key may make (0 or absent = unlimited).
    #[arg(long, value_parser = budget, allow_negative_numbers = true)]
    pub quota_day: Option<u32>,
    /// Requests per month each API key may make (0 or absent = unlimited).
    #[arg(long, value_parser = budget, allow_negative_numbers = true)]
    pub quota_month: Option<u32>,
    /// Latency added to every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction (0..1) of API requests that fail (the kinds of --fault-kinds, in turn).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Kinds of fault, comma-separated, used in turn: 503, 500, reset, truncated,
    /// 429 (without the quota being spent), malformed (JSON), slow (answers after
    /// --fault-delay-ms), hang (never answers). Default: 503,500,reset,truncated.
    #[arg(long, value_delimiter = ',', value_parser = fault_kind)]
    pub fault_kinds: Vec<vt_emulator::FaultKind>,
    /// How long a `slow` fault waits before answering, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub fault_delay_ms: u64,
    /// Seed for the fault sequence, so a faulty run can be replayed.
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Folder of JSON objects that override the synthetic world (and content/ with samples).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// How long a submitted analysis takes to complete, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub analysis_delay_ms: u64,
    /// Accept only these keys, as public-API keys (repeatable). Default: any key, premium.
    #[arg(long = "key")]
    pub public_keys: Vec<String>,
    /// Accept these keys as premium keys (repeatable).
    #[arg(long = "premium-key")]
    pub premium_keys: Vec<String>,
    /// Share (0..1) of the file hash space the synthetic world knows.
    #[arg(long, value_name = "RATE", default_value_t = vt_emulator::DEFAULT_KNOWN_FILES)]
    pub known_files: f64,
    /// `synthetic`: every id has a report (but the unknown share); `empty`:
    /// only built-ins (EICAR, the empty file, example names), fixtures and uploads.
    #[arg(long, value_name = "WORLD", default_value = "synthetic", value_parser = ["synthetic", "empty"])]
    pub world: String,
    /// Record mode: pass every API request to --upstream, answer with its
    /// response, and save the objects it returns as fixtures in DIR (replay
    /// them later with --fixtures DIR --world empty).
    #[arg(long, value_name = "DIR", requires = "upstream")]
    pub record: Option<PathBuf>,
    /// The API to record from, e.g. https://www.virustotal.com (with --record).
    #[arg(long, value_name = "URL", requires = "record")]
    pub upstream: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the HTML report (default: vtc-demo-report.html in the current folder).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Columns of table or CSV output, comma-separated, e.g. `verdict,indicator,detections,link`.
    /// Fields: verdict, type, detected, stale, indicator, input, id, detections, reasons,
    /// malicious, suspicious, total, last_analysis_date, cached, link, error.
    #[arg(long, value_name = "FIELDS", value_parser = parse_fields)]
    pub fields: Option<FieldList>,
    /// Format of the verdict table on stdout. Default: table.
    #[arg(long, value_parser = output_format())]
    pub format: Option<OutputFormat>,
}

/// The columns `--fields` chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldList(pub Vec<feeds::Field>);

fn fault_kind(name: &str) -> Result<vt_emulator::FaultKind, String> {
    vt_emulator::FaultKind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = vt_emulator::FaultKind::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect();
        format!("unknown fault kind {name:?}: use {}", names.join(", "))
    })
}

fn parse_fields(list: &str) -> Result<FieldList, String> {
    let fields = feeds::Field::parse_list(list).map_err(|e| e.to_string())?;
    if fields.is_empty() {
        return Err(format!("name at least one field: {}", feeds::valid_names()));
    }
    Ok(FieldList(fields))
}

#[derive(Debug, Args)]
pub struct FeedArgs {
    #[command(subcommand)]
    pub action: FeedAction,
}

#[derive(Debug, Subcommand)]
pub enum FeedAction {
    /// Write a feed of the reports cached in the database (lookups, batches, the service); calls no API.
    Export(FeedExportArgs),
}

#[derive(Debug, Args)]
pub struct FeedExportArgs {
    /// The feed's format: cb (Carbon Black EDR feed JSON), stix (a STIX 2.1 bundle) or misp (a MISP event).
    #[arg(long, value_name = "cb|stix|misp", value_parser = feed_format)]
    pub format: feeds::FeedFormat,
    /// Write to FILE (replaced whole, never seen half-written) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The least severe verdict carried: bad (default) or suspect.
    #[arg(long, value_name = "bad|suspect", value_parser = min_verdict)]
    pub min_verdict: Option<feeds::MinVerdict>,
    /// Only what was fetched at or after: 2026-11-20, 2026-11-20T10:00:00Z, or an age (30M, 12H, 7D, 2W).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only these types: file, url, domain, ip (repeat, or separate with commas).
    #[arg(long = "type", value_name = "TYPE")]
    pub kinds: Vec<String>,
    /// Only entries from these sources (repeat, or separate with commas): enrich is the report cache.
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// SQLite database file [env: VTC_DB]. Default: vtc/vtc.sqlite under $XDG_DATA_HOME.
    #[arg(long)]
    pub db: Option<String>,
    /// Config file (TOML) [env: VTC_CONFIG]: its [feeds] table names the feed, its [verdict] rules decide.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The API whose cached reports to use [env: VTC_API_URL]: the cache is kept per API.
    #[arg(long)]
    pub api_url: Option<String>,
}

fn feed_format(s: &str) -> Result<feeds::FeedFormat, String> {
    s.parse().map_err(|e: feeds::FilterError| e.to_string())
}

fn min_verdict(s: &str) -> Result<feeds::MinVerdict, String> {
    s.parse().map_err(|e: feeds::FilterError| e.to_string())
}
