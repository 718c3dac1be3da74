//! `POST /jobs/test-run` (api-contract §3.6): one outbound call through the same clients as
//! runs, nothing recorded.

use super::*;

/// The result of a test run (api-contract §3.6): nothing is stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TestRun {
    pub ok: bool,
    /// `webhook` | `github`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub message: String,
}

/// The body of a GitHub `workflow_dispatch` call: `{"ref", "inputs"?}`.
#[derive(serde::Serialize)]
pub(super) struct DispatchBody<'a> {
    #[serde(rename = "ref")]
    pub git_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<&'a Map<String, Value>>,
}

impl TestRun {
    /// A test-run that reached no answer: `error` names why, `message` says more.
    fn refused(kind: &'static str, error: &str, message: String) -> Self {
        TestRun {
            ok: false,
            kind,
            status_code: None,
            error: Some(error.into()),
            message,
        }
    }

    /// `{"ok","type","status_code"?,"error"?,"message"}`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Engine {
    /// One outbound call, nothing recorded (api-contract §3.6 test-run): a webhook gets a
    /// `POST` of `metadata` through the safe client; GitHub gets a dispatch with
    /// `ref = metadata.ref || metadata.branch || "main"`. `timeout` bounds the whole call.
    pub async fn test_run(
        &self,
        target: &JobTarget,
        metadata: &Map<String, Value>,
        timeout: Duration,
    ) -> TestRun {
        match target {
            JobTarget::Webhook(url) => self.test_run_webhook(url, metadata, timeout).await,
            JobTarget::GitHub(d) => self.test_run_github(d, metadata, timeout).await,
        }
    }

    /// A test-run of a webhook: one POST of the metadata through the safe client.
    async fn test_run_webhook(
        &self,
        url: &reqwest::Url,
        metadata: &Map<String, Value>,
        timeout: Duration,
    ) -> TestRun {
        let failed = |message: String| TestRun::refused("webhook", "Request failed", message);
        if let Err(reason) = safe_http::check_literal_host(url, self.allow_private) {
            return failed(reason);
        }
        let Some(http) = &self.webhook_http else {
            return failed("outbound client unavailable".into());
        };
        let sent = http
            .post(url.clone())
            .json(metadata)
            .timeout(timeout)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let ok = (200..300).contains(&code);
                TestRun {
                    ok,
                    kind: "webhook",
                    status_code: Some(code),
                    error: None,
                    message: if ok {
                        "Webhook test run succeeded."
                    } else {
                        "Webhook test run failed."
                    }
                    .into(),
                }
            }
            Err(e) => failed(safe_http::describe(&e)),
        }
    }

    /// A test-run of a GitHub workflow: the owner fenced by the allowlist, then one
    /// `workflow_dispatch` with the platform token.
    async fn test_run_github(
        &self,
        d: &Dispatch,
        metadata: &Map<String, Value>,
        timeout: Duration,
    ) -> TestRun {
        if let Some(refused) = self.fence_github(&d.owner).await {
            return TestRun::refused("github", "GitHub owner not allowed", refused);
        }
        let Some(token) = &self.github_token else {
            return TestRun::refused(
                "github",
                "GitHub token not configured",
                "Set GITHUB_TOKEN in backend .env to test-run GitHub workflows.".into(),
            );
        };
        let git_ref = ["ref", "branch"]
            .iter()
            .find_map(|k| {
                metadata
                    .get(*k)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or("main")
            .to_string();
        let body = DispatchBody {
            git_ref: &git_ref,
            inputs: (!metadata.is_empty()).then_some(metadata),
        };
        let Some(url) = self
            .github_base
            .as_ref()
            .and_then(|b| d.dispatch_url(b, &d.workflow))
        else {
            return TestRun::refused(
                "github",
                "Invalid GitHub configuration",
                "The workflow is not a single path segment.".into(),
            );
        };
        let Some(http) = &self.github_http else {
            return TestRun::refused(
                "github",
                "Request failed",
                "GitHub client unavailable".into(),
            );
        };
        let sent = http
            .post(url)
            .bearer_auth(token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .json(&body)
            .timeout(timeout)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let ok = code == 201 || code == 204;
                TestRun {
                    ok,
                    kind: "github",
                    status_code: Some(code),
                    error: None,
                    message: if ok {
                        "GitHub workflow dispatch triggered."
                    } else {
                        "GitHub workflow dispatch failed."
                    }
                    .into(),
                }
            }
            Err(e) => TestRun::refused("github", "Request failed", safe_http::describe(&e)),
        }
    }
}
