//! [`ROUTES`]: the one table of the service's routes. The router mounts
//! each entry's handler behind its access check, the OpenAPI document
//! prints each entry's operations, and the auth tests call each of them
//! with every kind of token — so a route cannot be added to one of the
//! three without the other two.

use crate::openapi::Schemas;
use crate::{routes, AppState, Role};
use axum::routing::MethodRouter;
use serde_json::{json, Value};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token: health, readiness, metrics, the OpenAPI document.
    Public,
    /// A bearer token of at least this role.
    Role(Role),
    /// A bearer token of at least this role, or the `[feeds] secret` in
    /// the query (`?secret=`), as EDR servers subscribe to a bare URL. The
    /// handler checks it (the router cannot know the secret's place).
    RoleOrFeedSecret(Role),
    /// A bearer token of at least this role, in the header or as
    /// `?token=` (a page a browser opens by its URL cannot send a header).
    /// The handler checks it.
    RoleOrQueryToken(Role),
}

impl Access {
    /// The token role that opens it, if a token can.
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Role(role)
            | Access::RoleOrFeedSecret(role)
            | Access::RoleOrQueryToken(role) => Some(role),
        }
    }
}

/// The HTTP methods the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }

    /// The key of an OpenAPI path item.
    pub fn openapi_key(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Delete => "delete",
        }
    }
}

/// One route of the service.
pub struct Route {
    pub verb: Verb,
    /// In axum's syntax (`{*rest}` takes slashes).
    pub path: &'static str,
    /// Checked before the handler runs; a handler may ask for more (an
    /// action that deletes needs an admin).
    pub access: Access,
    pub(crate) handler: fn() -> MethodRouter<AppState>,
    /// What the OpenAPI document says of it: one operation, or one per
    /// variant (an action each).
    pub(crate) operations: fn(&Route, &mut Schemas) -> Vec<Operation>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb.as_str(), self.path)
    }
}

impl Route {
    /// The path in OpenAPI's syntax: `{*indicator}` becomes `{indicator}`.
    pub fn openapi_path(&self) -> String {
        self.path.replace("{*", "{")
    }

    /// `GET /v1/observables/{indicator}`: the route's name in metrics and
    /// logs.
    pub fn label(&self) -> String {
        format!("{} {}", self.verb.as_str(), self.openapi_path())
    }

    /// Its documented operations, with their schemas added to `schemas`.
    pub fn operations(&self, schemas: &mut Schemas) -> Vec<Operation> {
        (self.operations)(self, schemas)
    }
}

/// One documented operation and a request that reaches it.
#[derive(Debug, Clone)]
pub struct Operation {
    pub verb: Verb,
    /// OpenAPI path template (`/v1/actions/file_report`).
    pub path: String,
    /// What the handler finally requires (an action's own role).
    pub access: Access,
    /// A concrete path and body that reach the handler (the auth matrix
    /// sends them; their answers with the right role are not 401/403).
    pub example_path: String,
    pub example_body: Option<String>,
    /// The OpenAPI Operation Object, without the responses and security
    /// every route of its access shares (the document adds those).
    pub object: Value,
}

/// A file VirusTotal knows (EICAR), for examples.
pub const EXAMPLE_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// Every route of the service. Adding one here mounts it, documents it and
/// puts it under the auth matrix.
pub static ROUTES: &[Route] = &[
    Route {
        verb: Verb::Get,
        path: "/healthz",
        access: Access::Public,
        handler: || axum::routing::get(routes::healthz),
        operations: |route, schemas| {
            vec![single(
                route,
                "/healthz",
                json!({
                    "operationId": "healthz",
                    "summary": "The process answers",
                    "responses": {"200": json_response("ok", schemas.status())},
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/readyz",
        access: Access::Public,
        handler: || axum::routing::get(routes::readyz),
        operations: |route, schemas| {
            vec![single(
                route,
                "/readyz",
                json!({
                    "operationId": "readyz",
                    "summary": "The store answers too",
                    "responses": {
                        "200": json_response("ready", schemas.status()),
                        "503": error_response("the store does not answer"),
                    },
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/metrics",
        access: Access::Public,
        handler: || axum::routing::get(routes::metrics),
        operations: |route, _| {
            vec![single(
                route,
                "/metrics",
                json!({
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format 0.0.4)",
                    "responses": {"200": {
                        "description": "the metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }},
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/openapi.json",
        access: Access::Public,
        handler: || axum::routing::get(routes::openapi_document),
        operations: |route, _| {
            vec![single(
                route,
                "/openapi.json",
                json!({
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": json_response("the OpenAPI 3.1 document", json!({"type": "object"}))},
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/v1/observables/{*indicator}",
        access: Access::Role(Role::Analyst),
        handler: || axum::routing::get(routes::observable),
        operations: |route, schemas| {
            vec![single(
                route,
                &format!("/v1/observables/{EXAMPLE_SHA256}"),
                json!({
                    "operationId": "observable",
                    "summary": "Enrich one indicator: its record, from the cache when fresh",
                    "description": "A file hash, URL, domain or IP address; defanged forms (`hxxp`, `[.]`) are accepted. Concurrent requests for one indicator share one VirusTotal call.",
                    "parameters": [
                        path_parameter("indicator", "A file hash, URL, domain or IP address", json!({"type": "string", "minLength": 1, "maxLength": 4096})),
                        query_flag("refresh", "Ask VirusTotal whatever the cache holds"),
                        query_flag("full", "Add the VirusTotal object as `full`"),
                        {"name": "format", "in": "query", "required": false,
                         "description": "`json` (the record) or `stix` (a STIX 2.1 bundle of it)",
                         "schema": {"type": "string", "enum": ["json", "stix"], "default": "json"}},
                    ],
                    "responses": {
                        "200": json_response("the record, or with `format=stix` a STIX 2.1 bundle", json!({
                            "anyOf": [schemas.record(), stix_bundle()],
                        })),
                        "400": error_response("not an indicator, or a bad query string"),
                        "429": error_response("the VirusTotal budget is spent"),
                        "502": error_response("VirusTotal answered something that is not its API"),
                        "503": error_response("VirusTotal failed, is unreachable or refused the key"),
                        "504": error_response("no answer in time"),
                    },
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/v1/reports/{type}/{*id}",
        access: Access::Role(Role::Reader),
        handler: || axum::routing::get(routes::report),
        operations: |route, _| {
            vec![single(
                route,
                &format!("/v1/reports/files/{EXAMPLE_SHA256}"),
                json!({
                    "operationId": "report",
                    "summary": "The cached VirusTotal object; never spends quota",
                    "parameters": [
                        path_parameter("type", "VirusTotal's collection", json!({"type": "string", "enum": ["files", "urls", "domains", "ip_addresses"]})),
                        path_parameter("id", "A hash, URL, domain or IP address of that type", json!({"type": "string", "minLength": 1, "maxLength": 4096})),
                    ],
                    "responses": {
                        "200": json_response("VirusTotal's answer as it came", json!({
                            "type": "object",
                            "required": ["data"],
                            "properties": {"data": {"type": "object"}},
                        })),
                        "400": error_response("a bad type or id"),
                        "404": error_response("not cached"),
                    },
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/v1/quota",
        access: Access::Role(Role::Reader),
        handler: || axum::routing::get(routes::quota_status),
        operations: |route, schemas| {
            vec![single(
                route,
                "/v1/quota",
                json!({
                    "operationId": "quota",
                    "summary": "Each VirusTotal key's budget as the governor counts it, by label",
                    "responses": {"200": json_response("the budgets", schemas.quota())},
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/feeds/cb.json",
        access: Access::RoleOrFeedSecret(Role::Reader),
        handler: crate::feeds::carbon_black,
        operations: |route, _| {
            vec![feed_operation(
                route,
                "feed_cb",
                "Carbon Black EDR feed of the cached reports",
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/feeds/stix.json",
        access: Access::RoleOrFeedSecret(Role::Reader),
        handler: crate::feeds::stix_feed,
        operations: |route, _| {
            vec![feed_operation(
                route,
                "feed_stix",
                "STIX 2.1 bundle of the cached reports",
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/feeds/misp.json",
        access: Access::RoleOrFeedSecret(Role::Reader),
        handler: crate::feeds::misp,
        operations: |route, _| {
            vec![feed_operation(
                route,
                "feed_misp",
                "MISP event of the cached reports",
            )]
        },
    },
    Route {
        verb: Verb::Post,
        path: "/v1/enrich",
        access: Access::Role(Role::Analyst),
        handler: || axum::routing::post(crate::jobs::enrich_batch),
        operations: |route, _| {
            vec![Operation {
                example_body: Some("[]".into()),
                ..single(
                    route,
                    "/v1/enrich",
                    json!({
                        "operationId": "enrich",
                        "summary": "Enrich a batch (a JSON array of indicators, or newline text): a job id at once",
                        "requestBody": {"required": true, "content": {
                            "application/json": {"schema": {"type": "array", "items": {"type": "string"}}},
                            "text/plain": {"schema": {"type": "string"}},
                        }},
                        "responses": {
                            "202": json_response("the job", json!({"type": "object"})),
                            "400": error_response("not a list of indicators, or too many"),
                            "413": error_response("the body is over the limit"),
                            "429": error_response("the client's own quota is spent"),
                        },
                    }),
                )
            }]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/v1/jobs/{id}",
        access: Access::Role(Role::Reader),
        handler: || axum::routing::get(crate::jobs::job_status),
        operations: |route, _| {
            vec![job_operation(
                route,
                "job_status",
                "A job's status and counts",
            )]
        },
    },
    Route {
        verb: Verb::Delete,
        path: "/v1/jobs/{id}",
        access: Access::Role(Role::Analyst),
        handler: || axum::routing::delete(crate::jobs::cancel_job),
        operations: |route, _| {
            vec![job_operation(
                route,
                "job_cancel",
                "Cancel a job (its status stays readable, as `cancelled`)",
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/v1/jobs/{id}/results",
        access: Access::Role(Role::Reader),
        handler: || axum::routing::get(crate::jobs::job_results),
        operations: |route, _| {
            let mut op = job_operation(
                route,
                "job_results",
                "A job's records, a page at a time (cursor)",
            );
            op.example_path = "/v1/jobs/1/results".into();
            vec![op]
        },
    },
    Route {
        verb: Verb::Post,
        path: "/v1/ingest",
        access: Access::Role(Role::Analyst),
        handler: || axum::routing::post(crate::ingest::ingest),
        operations: |route, _| {
            vec![Operation {
                example_body: Some("{}".into()),
                ..single(
                    route,
                    "/v1/ingest",
                    json!({
                        "operationId": "ingest",
                        "summary": "Indicators with a source and tags, enriched as the policies say",
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                        "responses": {
                            "202": json_response("what the policies decided", json!({"type": "object"})),
                            "400": error_response("a bad body"),
                            "413": error_response("the body is over the limit"),
                            "429": error_response("the client's own quota is spent"),
                        },
                    }),
                )
            }]
        },
    },
    Route {
        verb: Verb::Post,
        path: "/v1/decide",
        access: Access::Role(Role::Agent),
        handler: || axum::routing::post(crate::decide::decide),
        operations: |route, _| {
            vec![Operation {
                example_body: Some("{}".into()),
                ..single(
                    route,
                    "/v1/decide",
                    json!({
                        "operationId": "decide",
                        "summary": "Application control: allow or deny an executable by its VirusTotal rating",
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                        "responses": {
                            "200": json_response("the decision", json!({"type": "object"})),
                            "400": error_response("a bad body"),
                            "413": error_response("the body is over the limit"),
                            "429": error_response("a quota is spent"),
                            "503": error_response("VirusTotal failed or is unreachable"),
                        },
                    }),
                )
            }]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/v1/decisions",
        access: Access::Role(Role::Reader),
        handler: || axum::routing::get(crate::decide::decisions),
        operations: |route, _| {
            vec![single(
                route,
                "/v1/decisions",
                json!({
                    "operationId": "decisions",
                    "summary": "The decision log, a page at a time",
                    "responses": {
                        "200": json_response("decisions", json!({"type": "object"})),
                        "400": error_response("a bad query string"),
                    },
                }),
            )]
        },
    },
    Route {
        verb: Verb::Get,
        path: "/reports/file-ratings",
        access: Access::RoleOrQueryToken(Role::Reader),
        handler: || axum::routing::get(crate::decide::file_ratings_page),
        operations: |route, _| {
            vec![single(
                route,
                "/reports/file-ratings",
                json!({
                    "operationId": "file_ratings",
                    "summary": "The File Security Rating Details page (HTML)",
                    "responses": {
                        "200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}},
                        "400": error_response("a bad query string"),
                    },
                }),
            )]
        },
    },
    Route {
        verb: Verb::Post,
        path: "/v1/actions/{name}",
        access: Access::Role(Role::Analyst),
        handler: || axum::routing::post(routes::action),
        operations: action_operations,
    },
];

/// Every documented operation of [`ROUTES`], in table order: what the auth
/// tests call.
pub fn operations() -> Vec<Operation> {
    let mut schemas = Schemas::new();
    ROUTES
        .iter()
        .flat_map(|route| route.operations(&mut schemas))
        .collect()
}

/// One per action of the action library: each has its own input and output
/// schema (the ones `vtc action --schema` prints) and role.
fn action_operations(_route: &Route, schemas: &mut Schemas) -> Vec<Operation> {
    actions::ACTIONS
        .iter()
        .map(|action| {
            let input = schemas.action_schema(action.name, action.input_schema());
            let output = schemas.action_schema(action.name, action.output_schema());
            let path = format!("/v1/actions/{}", action.name);
            let role = routes::action_role(action.name);
            Operation {
                verb: Verb::Post,
                path: path.clone(),
                access: Access::Role(role),
                example_path: path,
                example_body: Some("{}".into()),
                object: json!({
                    "operationId": format!("action_{}", action.name),
                    "summary": action.description,
                    "description": format!("VirusTotal: {}. The same JSON in and out as `vtc action {}`.", action.api, action.name),
                    "requestBody": {
                        "required": false,
                        "content": {"application/json": {"schema": input}},
                    },
                    "responses": {
                        "200": json_response("`data` is the action's output", json!({
                            "type": "object",
                            "required": ["data"],
                            "properties": {"data": output},
                        })),
                        "400": error_response("the body is not JSON or not the action's input (the field is named)"),
                        "404": error_response("VirusTotal has no such object"),
                        "409": error_response("already done (a vote, a comment)"),
                        "413": error_response("the body is over the limit"),
                        "429": error_response("the VirusTotal budget is spent"),
                        "502": error_response("VirusTotal's answer failed its check"),
                        "503": error_response("VirusTotal failed or is unreachable"),
                        "504": error_response("no answer in time"),
                    },
                }),
            }
        })
        .collect()
}

/// A job route: `{id}` in the path.
fn job_operation(route: &Route, id: &str, summary: &str) -> Operation {
    single(
        route,
        "/v1/jobs/1",
        json!({
            "operationId": id,
            "summary": summary,
            "parameters": [path_parameter("id", "The job id `POST /v1/enrich` answered", json!({"type": "string", "minLength": 1, "maxLength": 100}))],
            "responses": {
                "200": json_response("the job", json!({"type": "object"})),
                "400": error_response("a bad id or cursor"),
                "404": error_response("no such job (or another client's)"),
            },
        }),
    )
}

/// A STIX 2.1 bundle, as `?format=stix` answers it.
fn stix_bundle() -> Value {
    json!({
        "type": "object",
        "required": ["type", "id", "objects"],
        "properties": {
            "type": {"const": "bundle"},
            "id": {"type": "string"},
            "objects": {"type": "array", "items": {"type": "object"}},
        },
    })
}

/// A feed URL: the filters of `vtc feed export` in the query.
fn feed_operation(route: &Route, id: &str, summary: &str) -> Operation {
    let text = |name: &str, description: &str| {
        json!({"name": name, "in": "query", "required": false, "description": description,
               "schema": {"type": "string"}})
    };
    single(
        route,
        route.path,
        json!({
            "operationId": id,
            "summary": summary,
            "description": "The same document `vtc feed export` writes. A reader token, or the `[feeds] secret` as `?secret=`.",
            "parameters": [
                text("min_verdict", "Least verdict listed: `suspect` or `bad`"),
                text("since", "Only reports updated since (RFC 3339, or a duration such as `7d`)"),
                text("type", "Comma-separated kinds: file, url, domain, ip"),
                text("source", "Only indicators of this source"),
            ],
            "responses": {
                "200": json_response("the feed", json!({"type": "object"})),
                "400": error_response("a bad filter"),
            },
        }),
    )
}

fn single(route: &Route, example_path: &str, object: Value) -> Operation {
    Operation {
        verb: route.verb,
        path: route.openapi_path(),
        access: route.access,
        example_path: example_path.to_owned(),
        example_body: None,
        object,
    }
}

fn path_parameter(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn query_flag(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "boolean", "default": false}})
}

pub(crate) fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

pub(crate) fn error_response(description: &str) -> Value {
    json_response(
        description,
        json!({"$ref": "#/components/schemas/ErrorBody"}),
    )
}
