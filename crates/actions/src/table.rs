//! [`ACTIONS`]: the one table of actions. Each entry holds its handler, so
//! nothing dispatches by matching names; its input and output schemas come
//! from the handler's own request and response types.

use crate::community::{add_comment, add_vote, comments, votes};
use crate::community::{AddCommentRequest, AddVoteRequest, CommentsRequest, VotesRequest};
use crate::download::{download, download_url};
use crate::download::{DownloadOutput, DownloadRequest, DownloadUrlOutput, DownloadUrlRequest};
use crate::private::*;
use crate::quota::{quota, QuotaOutput, QuotaRequest};
use crate::relationships::{relationships, search, RelationshipsRequest, SearchRequest};
use crate::reports::*;
use crate::scan::*;
use crate::widget::{widget, WidgetOutput, WidgetRequest};
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
        let mut s = serializer.serialize_struct("Action", 4)?;
        s.serialize_field("name", self.name)?;
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

/// The action named `name`.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
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
