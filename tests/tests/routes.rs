//! The three descriptions of the API agree: the area routers (which also produce the OpenAPI
//! document), the committed `functions/system/openapi.json` the system function serves, and
//! the HTTP API routes of `template.yaml` (each route on the function whose router serves it).

mod common;
use common::*;
use std::collections::BTreeSet;

type Route = (String, String, String); // (function, METHOD, path)

fn router_routes() -> BTreeSet<Route> {
    let mut out = BTreeSet::new();
    for (function, routes) in infra::areas() {
        let doc = routes.split_for_parts().1;
        for (path, item) in doc.paths.paths {
            for (m, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ] {
                if op.is_some() {
                    out.insert((function.to_string(), m.to_string(), path.clone()));
                }
            }
        }
    }
    out
}

fn template_routes() -> BTreeSet<Route> {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    // Tags like !Ref are irrelevant here; read them as plain scalars.
    let text = text
        .replace("!GetAtt ", "")
        .replace("!Ref ", "")
        .replace("!Sub ", "");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut out = BTreeSet::new();
    for (name, res) in doc["Resources"].as_mapping().unwrap() {
        let Some(events) = res["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, ev) in events {
            if ev["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &ev["Properties"];
            let path = p["Path"].as_str().unwrap().to_string();
            if path == "$default" {
                continue;
            }
            out.insert((
                name.as_str().unwrap().to_string(),
                p["Method"].as_str().unwrap().to_uppercase(),
                path,
            ));
        }
    }
    out
}

#[test]
fn template_routes_match_the_routers() {
    let (routers, template) = (router_routes(), template_routes());
    let missing: Vec<_> = routers.difference(&template).collect();
    let extra: Vec<_> = template.difference(&routers).collect();
    assert!(missing.is_empty() && extra.is_empty(),
        "routes served but not in template.yaml: {missing:?}\nroutes in template.yaml no router serves: {extra:?}");
    assert!(routers.len() >= 58, "{}", routers.len());
}

#[test]
fn committed_openapi_document_is_current() {
    let committed =
        std::fs::read_to_string(repo_root().join("functions/system/openapi.json")).unwrap();
    assert!(
        committed == infra::openapi_json(),
        "functions/system/openapi.json is stale: run `make openapi`"
    );
    let doc: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "operationId {id} is not unique");
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[test]
fn no_route_is_registered_outside_the_documented_routers() {
    // Routes registered with `Router::route` would serve without a description.
    for area in [
        "auth",
        "jobs",
        "executions",
        "taxonomy",
        "notifications",
        "settings",
        "system",
    ] {
        let src = std::fs::read_to_string(repo_root().join(format!("functions/{area}/src/lib.rs")))
            .unwrap();
        assert!(
            !src.contains(".route("),
            "functions/{area} registers a route outside routes!()"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_and_docs_render() {
    let app = spawn_app().await;
    let doc: serde_json::Value = serde_json::from_str(system_fn::OPENAPI_JSON).unwrap();
    let root = app.base.trim_end_matches("/api/v2").to_string();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "delete"] {
            if item.get(m).is_none() {
                continue;
            }
            let url = format!(
                "{root}{}",
                path.replace("{file}", "swagger-ui.css")
                    .replace('{', "x")
                    .replace('}', "")
            );
            let r = app
                .http
                .request(m.to_uppercase().parse().unwrap(), &url)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            assert_ne!(status, 405, "{m} {path}");
            assert!(
                !(status == 404 && body["detail"] == "Not Found"),
                "{m} {path} fell through to the fallback"
            );
        }
    }
    let r = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), system_fn::OPENAPI_JSON);
    let html = app
        .http
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    let js = app
        .http
        .get(format!("{}/docs/swagger-ui-bundle.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["content-encoding"], "gzip");
    let bytes = js.bytes().await.unwrap();
    assert!(bytes.len() > 100_000 && bytes[..2] == [0x1f, 0x8b]);
}
