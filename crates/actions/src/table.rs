//! [`ACTIONS`]: the one table of actions. Each entry holds its handler, so
//! nothing dispatches by matching names; its input and output schemas come
//! from the handler's own request and response types.

use crate::community::{add_comment, add_vote, comments, votes};
use crate::community::{AddCommentRequest, AddVoteRequest, CommentsRequest, VotesRequest};
use crate::download::{download, download_url};
use crate::download::{DownloadOutput, DownloadRequest, DownloadUrlOutput, DownloadUrlRequest};
use crate::private::*;
use crate::quota::{quota, QuotaOutput, QuotaRequest};
use crate::relationships::{relationship_descriptors, DescriptorsRequest};
use crate::relationships::{relationships, search, RelationshipsRequest, SearchRequest};
use crate::reports::*;
use crate::scan::*;
use crate::widget::{widget, widget_html, WidgetHtmlOutput, WidgetHtmlRequest};
use crate::widget::{WidgetOutput, WidgetRequest};
use crate::{ActionError, BoxFuture, Context, ObjectList, ObjectOutput};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::ser::SerializeStruct;
use serde::Serialize;
use serde_json::{json, Value};

/// One action: its stable name, what it does, the API call behind it, its
/// schemas and its handler.
pub struct Action {
    pub name: &'static str,
    pub description: &'static str,
    /// The VirusTotal API route(s) it calls.
    pub api: &'static str,
    input_schema: fn() -> schemars::Schema,
    output_schema: fn() -> schemars::Schema,
    run: for<'a> fn(&'a Context, Value) -> BoxFuture<'a, Result<Value, ActionError>>,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action").field("name", &self.name).finish()
    }
}

/// One input field, as `--list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub description: String,
}

impl Action {
    /// The JSON Schema of the input object.
    pub fn input_schema(&self) -> Value {
        (self.input_schema)().to_value()
    }

    /// The JSON Schema of what the action answers (`data` of `{"data": ...}`).
    pub fn output_schema(&self) -> Value {
        (self.output_schema)().to_value()
    }

    /// `{"input": <schema>, "output": <schema>}`.
    pub fn schemas(&self) -> Value {
        json!({"input": self.input_schema(), "output": self.output_schema()})
    }

    /// The input fields, read from the input schema.
    pub fn inputs(&self) -> Vec<InputField> {
        let schema = self.input_schema();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = schema["properties"].as_object() else {
            return Vec::new();
        };
        properties
            .iter()
            .map(|(name, property)| InputField {
                name: name.clone(),
                kind: type_name(&schema, property),
                required: required.contains(&name.as_str()),
                description: property["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect()
    }

    /// The other names it answers to: the SOAR connectors' action names.
    pub fn aliases(&self) -> Vec<&'static str> {
        ALIASES
            .iter()
            .filter(|a| a.action == self.name)
            .map(|a| a.name)
            .collect()
    }

    /// Runs the action on a JSON input; answers its JSON output. Invalid
    /// input is an [`ErrorKind::InvalidInput`](crate::ErrorKind) naming the
    /// field, found before any API call.
    pub async fn run(&self, ctx: &Context, input: Value) -> Result<Value, ActionError> {
        (self.run)(ctx, input).await
    }
}

/// The JSON type of a property: `string`, `integer`, `boolean`, ...
fn type_name(root: &Value, property: &Value) -> String {
    let mut property = property;
    if let Some(reference) = property["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        property = &root["$defs"][name];
    }
    match &property["type"] {
        Value::String(s) => s.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ if property.get("enum").is_some() || property.get("oneOf").is_some() => "string".into(),
        _ => "any".into(),
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Action", 5)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("aliases", &self.aliases())?;
        s.serialize_field("description", self.description)?;
        s.serialize_field("api", self.api)?;
        s.serialize_field("inputs", &self.inputs())?;
        s.end()
    }
}

fn schema_of<T: JsonSchema>() -> schemars::Schema {
    schemars::schema_for!(T)
}

/// The input as the action's request type; a refusal names the field.
fn decode<T: DeserializeOwned>(action: &str, input: Value) -> Result<T, ActionError> {
    if !input.is_object() {
        return Err(ActionError::invalid(format!(
            "{action}: the input must be a JSON object"
        )));
    }
    serde_path_to_error::deserialize(input).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ActionError::invalid(format!("{action}: {inner}"))
        } else {
            ActionError::invalid(format!("{action}: {path}: {inner}"))
        }
    })
}

fn encode<T: Serialize>(output: &T) -> Result<Value, ActionError> {
    serde_json::to_value(output)
        .map_err(|e| ActionError::internal(format!("cannot encode the answer: {e}")))
}

macro_rules! action {
    ($name:literal, $description:literal, $api:literal, $handler:path, $req:ty => $resp:ty) => {{
        fn run<'a>(ctx: &'a Context, input: Value) -> BoxFuture<'a, Result<Value, ActionError>> {
            Box::pin(async move {
                let request: $req = decode($name, input)?;
                let output: $resp = $handler(ctx, request).await?;
                encode(&output)
            })
        }
        Action {
            name: $name,
            description: $description,
            api: $api,
            input_schema: schema_of::<$req>,
            output_schema: schema_of::<$resp>,
            run,
        }
    }};
}

/// Every action, in the order `--list` shows them.
pub static ACTIONS: &[Action] = &[
    action!("lookup", "Report on any indicator (type detected, defanged input accepted)",
        "GET /files/{id} | /urls/{id} | /domains/{domain} | /ip_addresses/{ip}",
        lookup, LookupRequest => ObjectOutput),
    action!("file_report", "Report on a file by its md5, sha1 or sha256",
        "GET /files/{id}", file_report, FileReportRequest => ObjectOutput),
    action!("url_report", "Report on a URL", "GET /urls/{id}",
        url_report, UrlReportRequest => ObjectOutput),
    action!("domain_report", "Report on a domain", "GET /domains/{domain}",
        domain_report, DomainReportRequest => ObjectOutput),
    action!("ip_report", "Report on an IP address", "GET /ip_addresses/{ip}",
        ip_report, IpReportRequest => ObjectOutput),
    action!("scan_file",
        "Report on a local file if VirusTotal knows it, else upload it (data.type tells which)",
        "GET /files/{sha256}; POST /files (GET /files/upload_url above 32 MB); GET /analyses/{id}",
        scan_file, ScanFileRequest => ObjectOutput),
    action!("scan_url", "Submit a URL (or a bare host, as http://host/) for scanning",
        "POST /urls; GET /analyses/{id}", scan_url, ScanUrlRequest => ObjectOutput),
    action!("rescan", "Scan a known file or URL again",
        "POST /files/{id}/analyse | POST /urls/{id}/analyse; GET /analyses/{id}",
        rescan, RescanRequest => ObjectOutput),
    action!("get_analysis", "An analysis by its id (status queued, in-progress or completed)",
        "GET /analyses/{id}", analysis, AnalysisRequest => ObjectOutput),
    action!("download_file",
        "Download a sample (premium) into a zip (ZipCrypto, password infected), or raw; the caller chooses where it goes",
        "GET /files/{id}/download", download, DownloadRequest => DownloadOutput),
    action!("get_download_url",
        "A short-lived link that downloads a sample without the key (premium)",
        "GET /files/{id}/download_url", download_url, DownloadUrlRequest => DownloadUrlOutput),
    action!("get_relationship_descriptors",
        "Descriptors (type, id, context_attributes) of the objects related to a file, URL, domain or IP address",
        "GET /{collection}/{id}/relationships/{relationship}",
        relationship_descriptors, DescriptorsRequest => ObjectList),
    action!("get_relationships", "Objects related to a file, URL, domain or IP address",
        "GET /{collection}/{id}/{relationship} | /{collection}/{id}/relationships/{relationship}",
        relationships, RelationshipsRequest => ObjectList),
    action!("search", "Search VirusTotal, or VT Intelligence (premium)",
        "GET /search | GET /intelligence/search", search, SearchRequest => ObjectList),
    action!("get_comments", "Comments on an object", "GET /{collection}/{id}/comments",
        comments, CommentsRequest => ObjectList),
    action!("add_comment", "Comment on an object (#words become tags)",
        "POST /{collection}/{id}/comments", add_comment, AddCommentRequest => ObjectOutput),
    action!("get_votes", "Votes on an object", "GET /{collection}/{id}/votes",
        votes, VotesRequest => ObjectList),
    action!("add_vote", "Vote an object harmless or malicious (once per key)",
        "POST /{collection}/{id}/votes", add_vote, AddVoteRequest => ObjectOutput),
    action!("get_widget", "The VT Augment widget URL of an object, and with html its page",
        "GET /widget/url; GET /widget/html/{token}", widget, WidgetRequest => WidgetOutput),
    action!("get_widget_html", "The HTML page behind a widget URL (untrusted: show it sandboxed)",
        "GET /widget/html/{token}", widget_html, WidgetHtmlRequest => WidgetHtmlOutput),
    action!("get_upload_url",
        "A single-use URL to upload one file of 32 to 650 MB to (private: for private scanning)",
        "GET /files/upload_url | GET /private/files/upload_url",
        upload_url, UploadUrlRequest => UploadUrlOutput),
    action!("private_scan_file", "Upload a file for private scanning (premium)",
        "POST /private/files (GET /private/files/upload_url above 32 MB); GET /private/analyses/{id}",
        private_scan_file, PrivateScanFileRequest => ObjectOutput),
    action!("private_scan_url", "Submit a URL for private scanning (premium)",
        "POST /private/urls; GET /private/analyses/{id}",
        private_scan_url, PrivateScanUrlRequest => ObjectOutput),
    action!("private_file_report", "A privately scanned file's report",
        "GET /private/files/{sha256}", private_file, PrivateFileRequest => ObjectOutput),
    action!("private_list_files", "Your privately scanned files", "GET /private/files",
        private_list, PrivateListRequest => ObjectList),
    action!("private_delete_file", "Delete a privately scanned file",
        "DELETE /private/files/{sha256}", private_delete, PrivateDeleteRequest => PrivateDeleteOutput),
    action!("private_rescan", "Scan a privately scanned file again",
        "POST /private/files/{sha256}/analyse; GET /private/analyses/{id}",
        private_rescan, PrivateRescanRequest => ObjectOutput),
    action!("private_get_analysis", "A private analysis by its id",
        "GET /private/analyses/{id}", private_analysis, PrivateAnalysisRequest => ObjectOutput),
    action!("private_get_relationships",
        "Objects related to a privately scanned file (your key's own)",
        "GET /private/files/{sha256}/{relationship} | /private/files/{sha256}/relationships/{relationship}",
        private_relationships, PrivateRelationshipsRequest => ObjectList),
    action!("private_url_report", "The report of a URL your key submitted for private scanning",
        "GET /private/urls/{id}", private_url, PrivateUrlRequest => ObjectOutput),
    action!("get_quota", "The key's use and allowance per minute, hour, day and month",
        "GET /users/{key}/overall_quotas; GET /users/{key}/api_usage",
        quota, QuotaRequest => QuotaOutput),
];

/// Another name of an action: a SOAR connector's action, by the name its
/// manifest gives it (`title`) and that title as an identifier (`name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Alias {
    pub name: &'static str,
    pub action: &'static str,
    /// The connector's action title, e.g. "Analyse a URL".
    pub title: &'static str,
}

const fn alias(name: &'static str, action: &'static str, title: &'static str) -> Alias {
    Alias {
        name,
        action,
        title,
    }
}

/// The Swimlane Turbine VirusTotal Analysis connector's actions (the
/// list the other SOAR connectors' names are a subset of), each to the
/// action that does it. `name` is `title` as [`identifier`] makes it.
pub static ALIASES: &[Alias] = &[
    alias("analyse_a_url", "scan_url", "Analyse a URL"),
    alias("analyse_file", "scan_file", "Analyse file"),
    alias("analyses_get", "get_analysis", "Analyses get"),
    alias(
        "delete_a_private_file_report",
        "private_delete_file",
        "Delete a private file report",
    ),
    alias(
        "get_a_private_file_report",
        "private_file_report",
        "Get a private file report",
    ),
    alias(
        "get_a_url_for_uploading_large_files",
        "get_upload_url",
        "Get a URL for uploading large files",
    ),
    alias(
        "get_a_widget_rendering_url",
        "get_widget",
        "Get a widget rendering URL",
    ),
    alias(
        "get_list_of_private_files",
        "private_list_files",
        "Get list of private files",
    ),
    alias(
        "get_object_descriptors_related_to_a_file",
        "get_relationship_descriptors",
        "Get object descriptors related to a file",
    ),
    alias(
        "get_objects_related_to_a_private_file",
        "private_get_relationships",
        "Get objects related to a private file",
    ),
    alias("reanalyse_file", "rescan", "Reanalyse file"),
    alias("reanalyse_url", "rescan", "Reanalyse URL"),
    alias(
        "rescan_a_private_file",
        "private_rescan",
        "Rescan a private file",
    ),
    alias(
        "retrieve_the_widgets_html_content",
        "get_widget_html",
        "Retrieve the widget's HTML content",
    ),
    alias(
        "submit_private_url_submission",
        "private_scan_url",
        "Submit private URL submission",
    ),
    alias(
        "upload_a_private_file",
        "private_scan_file",
        "Upload a private file",
    ),
    alias(
        "get_a_domain_report",
        "domain_report",
        "Get a domain report",
    ),
    alias("get_a_file_report", "file_report", "Get a file report"),
    alias(
        "get_an_ip_address_report",
        "ip_report",
        "Get an IP address report",
    ),
    alias(
        "get_a_url_analysis_report",
        "url_report",
        "Get a URL analysis report",
    ),
];

/// A connector's action title as an identifier: lower case, `'` dropped,
/// every other run of non-alphanumerics one `_`.
pub fn identifier(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars().filter(|c| *c != '\'' && *c != '’') {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// The action named `name`: its own name, or an alias (a connector's
/// title, in any case and spacing, is taken too).
pub fn find(name: &str) -> Option<&'static Action> {
    if let Some(action) = ACTIONS.iter().find(|a| a.name == name) {
        return Some(action);
    }
    if name.len() > 128 {
        return None;
    }
    let wanted = identifier(name);
    let target = ALIASES
        .iter()
        .find(|a| a.name == wanted)
        .map_or(wanted.as_str(), |a| a.action);
    ACTIONS.iter().find(|a| a.name == target)
}

/// The SOAR manifest (`integrations/soar/manifest.json`): every action
/// with its aliases, the connectors' titles, description, API call and
/// input and output JSON Schemas, generated from [`ACTIONS`] so the two
/// cannot drift apart; and the asset settings a connector asks for.
pub fn manifest() -> Value {
    let actions: Vec<Value> = ACTIONS
        .iter()
        .map(|a| {
            let titles: Vec<&str> = ALIASES
                .iter()
                .filter(|x| x.action == a.name)
                .map(|x| x.title)
                .collect();
            json!({
                "name": a.name,
                "aliases": a.aliases(),
                "connector_titles": titles,
                "description": a.description,
                "api": a.api,
                "input_schema": a.input_schema(),
                "output_schema": a.output_schema(),
            })
        })
        .collect();
    json!({
        "name": "vtc",
        "description": "VirusTotal API v3 actions of vtc, as `vtc action NAME` (JSON on stdin) and POST /v1/actions/{name} on `vtc serve`",
        "asset": [
            {"name": "api_url", "env": "VTC_API_URL", "flag": "--api-url", "type": "string",
             "default": "https://www.virustotal.com/api/v3", "description": "The VirusTotal API root (base URL)"},
            {"name": "api_key", "env": "VT_API_KEY", "flag": "--api-key", "type": "string", "secret": true,
             "description": "The VirusTotal API key"},
            {"name": "proxy", "env": "HTTPS_PROXY", "flag": "--proxy", "type": "string",
             "description": "An HTTP(S) proxy URL for the calls to VirusTotal"},
            {"name": "verify_tls", "flag": "--insecure", "type": "boolean", "default": true,
             "description": "Verify VirusTotal's TLS certificate (--insecure turns it off, with a warning)"},
        ],
        "actions": actions,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_action_is_named_once_and_has_object_schemas() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate action names");
        for action in ACTIONS {
            assert_eq!(action.input_schema()["type"], "object", "{}", action.name);
            assert!(action.output_schema().is_object(), "{}", action.name);
            for field in action.inputs() {
                assert!(
                    ["string", "integer", "boolean"].contains(&field.kind.as_str()),
                    "{}: {field:?}",
                    action.name
                );
                assert!(!field.description.is_empty(), "{}: {field:?}", action.name);
            }
        }
    }

    #[test]
    fn invalid_input_names_the_field() {
        let vote = find("add_vote").unwrap();
        let cases = [
            (json!({"id": "example.com"}), "verdict"),
            (json!({"id": "example.com", "verdict": "meh"}), "verdict"),
            (json!({"id": 5, "verdict": "harmless"}), "id"),
            (
                json!({"id": "example.com", "verdict": "harmless", "extra": 1}),
                "extra",
            ),
            (json!(["not", "an", "object"]), "JSON object"),
        ];
        for (input, field) in cases {
            let err = decode::<AddVoteRequest>(vote.name, input.clone()).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
            assert!(err.message().contains(field), "{input}: {err}");
        }
        let err = decode::<RelationshipsRequest>(
            "get_relationships",
            json!({"id": "x", "relationship": "y", "limit": -1}),
        )
        .unwrap_err();
        assert!(err.message().contains("limit"), "{err}");
    }

    fn compile(name: &str, schema: Value) -> (boon::Schemas, boon::SchemaIndex) {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let url = format!("urn:actions:{name}");
        compiler.add_resource(&url, schema).unwrap();
        let index = compiler
            .compile(&url, &mut schemas)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        (schemas, index)
    }

    #[test]
    fn every_schema_compiles_and_rejects_what_its_type_rejects() {
        for action in ACTIONS {
            compile(action.name, action.input_schema());
            compile(action.name, action.output_schema());
        }
        let lookup = find("lookup").unwrap();
        let (schemas, output) = compile("lookup", lookup.output_schema());
        let report = json!({"type": "file", "id": "abc", "attributes": {"size": 3},
            "detection": {"malicious": 1, "suspicious": 0, "total": 2, "ratio": "1/2"}});
        assert!(schemas.validate(&report, output).is_ok());
        assert!(schemas.validate(&json!({"id": "abc"}), output).is_err());
        let (schemas, input) = compile("lookup", lookup.input_schema());
        assert!(schemas.validate(&json!({"indicator": "x"}), input).is_ok());
        assert!(schemas
            .validate(&json!({"indicator": "x", "more": 1}), input)
            .is_err());
    }

    #[test]
    fn every_connector_action_is_an_alias_of_an_action() {
        for alias in ALIASES {
            assert_eq!(identifier(alias.title), alias.name, "{alias:?}");
            let action = find(alias.name).unwrap_or_else(|| panic!("{alias:?}"));
            assert_eq!(action.name, alias.action);
            assert_eq!(find(alias.title).unwrap().name, alias.action, "{alias:?}");
            assert!(
                ACTIONS.iter().all(|a| a.name != alias.name),
                "{alias:?} shadows an action"
            );
        }
        assert_eq!(find("Reanalyse URL").unwrap().name, "rescan");
        assert_eq!(
            find("RETRIEVE the widget's HTML content").unwrap().name,
            "get_widget_html"
        );
        assert!(find("no such thing").is_none());
        assert!(find(&"x".repeat(10_000)).is_none());
    }

    /// integrations/soar/manifest.json is `manifest()` as `vtc action
    /// --manifest` writes it; regenerate it with that command.
    #[test]
    fn the_soar_manifest_is_generated_from_the_table() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../integrations/soar/manifest.json"
        );
        let kept = std::fs::read_to_string(path).expect("integrations/soar/manifest.json");
        let fresh = serde_json::to_string_pretty(&manifest()).unwrap() + "\n";
        assert!(
            kept == fresh,
            "integrations/soar/manifest.json is stale: run `vtc action --manifest > integrations/soar/manifest.json`"
        );
        let parsed: Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(parsed["actions"].as_array().unwrap().len(), ACTIONS.len());
    }

    #[test]
    fn the_list_reads_inputs_from_the_schema() {
        let inputs = find("get_relationships").unwrap().inputs();
        let field = |n: &str| inputs.iter().find(|f| f.name == n).unwrap().clone();
        assert!(field("id").required);
        assert_eq!(field("limit").kind, "integer");
        assert!(!field("limit").required);
        assert_eq!(field("descriptors").kind, "boolean");
        let vote = find("add_vote").unwrap().inputs();
        assert_eq!(
            vote.iter().find(|f| f.name == "verdict").unwrap().kind,
            "string"
        );
    }
}
