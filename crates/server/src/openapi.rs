//! `GET /openapi.json`: the OpenAPI 3.1 document, printed from
//! [`crate::ROUTES`] with the JSON Schemas of the types the handlers
//! answer (schemars), so it cannot drift from the code.
//!
//! Why not utoipa: its schema model cannot hold the JSON Schema 2020-12
//! that schemars already derives for every action's input and output
//! (boolean schemas, `type` arrays), so each type would need a second
//! derive and the two could disagree. OpenAPI 3.1's schema dialect *is*
//! JSON Schema 2020-12, so one generator serves both `vtc action --schema`
//! and this document; the document is checked by openapi-spec-validator
//! and schemathesis (tests/openapi.rs, scripts/schemathesis.sh).

use crate::route_table::{error_response, Access, ROUTES};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Where components live; schemars writes its `$ref`s against it.
const COMPONENTS: &str = "#/components/schemas/";

/// The schemas the operations refer to, gathered while the document is
/// printed.
pub struct Schemas {
    generator: SchemaGenerator,
    /// Definitions taken out of the actions' standalone schemas.
    hoisted: Map<String, Value>,
}

impl Schemas {
    pub(crate) fn new() -> Schemas {
        let mut settings = SchemaSettings::draft2020_12();
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
        Schemas {
            generator: settings.into_generator(),
            hoisted: Map::new(),
        }
    }

    /// `{"$ref": ...}` to the record every lookup answers.
    pub(crate) fn record(&mut self) -> Value {
        self.generator.subschema_for::<verdict::Record>().to_value()
    }

    pub(crate) fn status(&mut self) -> Value {
        self.generator
            .subschema_for::<crate::routes::Status>()
            .to_value()
    }

    pub(crate) fn error(&mut self) -> Value {
        self.generator
            .subschema_for::<crate::error::ErrorBody>()
            .to_value()
    }

    /// `GET /v1/quota`: the governor's view of each key (vt-api has no
    /// schema derive; this is its serialised `KeyQuotaStatus`).
    pub(crate) fn quota(&mut self) -> Value {
        let window = json!({
            "type": "object",
            "required": ["used", "allowed"],
            "properties": {
                "used": {"type": "integer", "minimum": 0},
                "allowed": {"type": ["integer", "null"], "minimum": 0, "description": "null: unlimited"},
            },
        });
        self.hoisted.insert("QuotaWindow".into(), window);
        let key = json!({
            "type": "object",
            "required": ["key", "minute", "day", "month", "next_free_slot"],
            "properties": {
                "key": {"type": "string", "description": "The key's label, never the key"},
                "minute": {"$ref": format!("{COMPONENTS}QuotaWindow")},
                "day": {"$ref": format!("{COMPONENTS}QuotaWindow")},
                "month": {"$ref": format!("{COMPONENTS}QuotaWindow")},
                "next_free_slot": {"type": ["string", "null"], "description": "RFC 3339; null when the day or month is spent"},
            },
        });
        self.hoisted.insert("KeyQuota".into(), key);
        json!({
            "type": "object",
            "required": ["keys"],
            "properties": {"keys": {"type": "array", "items": {"$ref": format!("{COMPONENTS}KeyQuota")}}},
        })
    }

    /// An action's standalone schema (with its own `$defs`, as `vtc action
    /// --schema` prints it) made part of the document: its definitions
    /// become components (under the action's name when another action
    /// already has a different one of that name) and its `$ref`s follow.
    pub(crate) fn action_schema(&mut self, action: &str, mut schema: Value) -> Value {
        let defs = match schema.as_object_mut() {
            Some(object) => {
                object.remove("$schema");
                object.remove("$defs")
            }
            None => None,
        };
        let defs = match defs {
            Some(Value::Object(defs)) => defs,
            _ => Map::new(),
        };
        let clashes = defs.iter().any(|(name, def)| {
            let rewritten = rewrite_refs(def.clone(), &|n| n.to_owned());
            self.hoisted
                .get(name)
                .is_some_and(|kept| *kept != rewritten)
                || self.generator.definitions().contains_key(name)
        });
        let rename = |name: &str| {
            if clashes {
                format!("{action}_{name}")
            } else {
                name.to_owned()
            }
        };
        for (name, def) in defs {
            let def = rewrite_refs(def, &rename);
            self.hoisted.insert(rename(&name), def);
        }
        rewrite_refs(schema, &rename)
    }

    fn into_components(mut self) -> Map<String, Value> {
        let mut components = self.generator.take_definitions(true);
        components.append(&mut self.hoisted);
        components
    }
}

/// `#/$defs/X` becomes `#/components/schemas/<rename(X)>`, everywhere in
/// `schema`.
fn rewrite_refs(schema: Value, rename: &dyn Fn(&str) -> String) -> Value {
    match schema {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), &value) {
                        ("$ref", Value::String(target)) => match target.strip_prefix("#/$defs/") {
                            Some(name) => Value::String(format!("{COMPONENTS}{}", rename(name))),
                            None => value,
                        },
                        _ => rewrite_refs(value, rename),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| rewrite_refs(v, rename)).collect())
        }
        other => other,
    }
}

/// The whole document, from the route table.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let error = schemas.error();
    let mut paths = Map::new();
    for route in ROUTES {
        for operation in route.operations(&mut schemas) {
            let mut object = operation.object;
            if let Some(object) = object.as_object_mut() {
                let responses = object
                    .entry("responses")
                    .or_insert_with(|| json!({}))
                    .as_object_mut();
                if let Some(responses) = responses {
                    if let Some(role) = operation.access.role() {
                        responses.insert(
                            "401".into(),
                            error_response("no token, or one that is unknown or revoked"),
                        );
                        responses.insert(
                            "403".into(),
                            error_response(&format!("the token's role may not do what {role} may")),
                        );
                    }
                    responses.insert(
                        "default".into(),
                        json!({"description": "any other failure", "content": {"application/json": {"schema": error.clone()}}}),
                    );
                }
                let security = match operation.access {
                    Access::Public => json!([]),
                    Access::Role(_) => json!([{"bearer": []}]),
                    Access::RoleOrFeedSecret(_) => json!([{"bearer": []}, {"feedSecret": []}]),
                    Access::RoleOrQueryToken(_) => json!([{"bearer": []}, {"queryToken": []}]),
                };
                object.insert("security".into(), security);
                if let Some(role) = operation.access.role() {
                    object.insert("x-vtc-role".into(), json!(role.as_str()));
                }
            }
            let item = paths.entry(operation.path).or_insert_with(|| json!({}));
            if let Some(item) = item.as_object_mut() {
                item.insert(operation.verb.openapi_key().into(), object);
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vtc serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "VirusTotal enrichment for threat-intel platforms, SOAR tools and scripts: one cache, one quota, every action. See docs/service.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas.into_components(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `vtc token create` (`vtc_` and 64 hex digits)",
                },
                "feedSecret": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "secret",
                    "description": "The `[feeds] secret` of the config file (feed URLs only)",
                },
                "queryToken": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": "A token from `vtc token create`, for pages a browser opens by URL (`/reports/...`)",
                },
            },
        },
    })
}

/// The document as served: printed once.
pub(crate) fn document_bytes() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| document().to_string().into_bytes())
}
