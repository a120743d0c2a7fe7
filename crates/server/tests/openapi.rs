//! `GET /openapi.json`: the document validates (openapi-spec-validator from
//! PyPI, the reference validator) and documents every operation of the
//! route table, with the bearer scheme on each protected one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use server::Access;
use support::start;
use vt_emulator::EmulatorConfig;

#[tokio::test]
async fn the_served_document_covers_every_operation_of_the_route_table() {
    let svc = start(EmulatorConfig::default()).await;
    let resp = svc.http.get(svc.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(doc, server::openapi_document(), "served as generated");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let operations = server::operations();
    for route in server::ROUTES {
        assert!(
            operations.iter().any(|op| op.verb == route.verb
                && (op.path == route.openapi_path() || route.path.contains("{name}"))),
            "{route:?} has no operation"
        );
    }
    for op in &operations {
        let documented = &doc["paths"][&op.path][op.verb.openapi_key()];
        assert!(
            documented.is_object(),
            "{} {} is not in the document",
            op.verb.as_str(),
            op.path
        );
        let security = &documented["security"];
        match op.access {
            Access::Public => assert_eq!(security, &serde_json::json!([]), "{}", op.path),
            Access::Role(_) | Access::RoleOrFeedSecret(_) | Access::RoleOrQueryToken(_) => {
                assert_eq!(security[0]["bearer"], serde_json::json!([]), "{}", op.path);
                assert!(documented["responses"]["401"].is_object(), "{}", op.path);
            }
        }
    }
    // Every action, with the schemas `vtc action --schema` prints.
    for action in actions::ACTIONS {
        let op = &doc["paths"][format!("/v1/actions/{}", action.name)]["post"];
        assert!(op.is_object(), "{}", action.name);
        let input = &op["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(
            input["properties"].as_object().map(|p| p.len()),
            action.input_schema()["properties"]
                .as_object()
                .map(|p| p.len()),
            "{}",
            action.name
        );
    }
    // The record's schema, from the type.
    let record = &doc["components"]["schemas"]["Record"];
    for field in ["indicator", "verdict", "malicious", "cached", "error"] {
        assert!(record["properties"][field].is_object(), "{field}: {record}");
    }
    // No reference is left dangling.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a $ref outside the components: {target}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {target}"
        );
    }
    svc.stop().await;
}

#[test]
#[cfg_attr(
    missing_openapi_spec_validator,
    ignore = "openapi-spec-validator is not installed (pip install openapi-spec-validator)"
)]
fn the_document_validates_with_openapi_spec_validator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, server::openapi_document().to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))\n\
             print('valid')",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "valid", "{stderr}");
}
