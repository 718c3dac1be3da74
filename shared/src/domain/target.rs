//! What a job calls: a GitHub Actions `workflow_dispatch` or a webhook (api-contract §6.1),
//! and the text forms users give for a workflow (§3.5 shorthand, §4.3 dispatch URL).

use url::Url;

/// A GitHub workflow coordinate, all three parts non-empty and trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub owner: String,
    pub repo: String,
    pub workflow: String,
}

/// Whether `s` can be one GitHub path segment (owner, repository or workflow file name or
/// id): 1-255 characters from `[A-Za-z0-9._-]`, and not `.` or `..`. Nothing else reaches a
/// dispatch URL, so no value can add, remove or escape a path segment.
pub fn is_github_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Dispatch {
    /// Builds from three optional parts; `None` unless all are non-empty after trimming and
    /// each passes [`is_github_segment`].
    pub fn from_parts(
        owner: Option<&str>,
        repo: Option<&str>,
        workflow: Option<&str>,
    ) -> Option<Self> {
        let t = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let d = Self {
            owner: t(owner)?,
            repo: t(repo)?,
            workflow: t(workflow)?,
        };
        [&d.owner, &d.repo, &d.workflow]
            .iter()
            .all(|p| is_github_segment(p))
            .then_some(d)
    }

    /// The `workflow_dispatch` endpoint under `base` (the GitHub API root), built segment by
    /// segment: `{base}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches`.
    pub fn dispatch_url(&self, base: &Url, workflow: &str) -> Option<Url> {
        if !is_github_segment(workflow) {
            return None;
        }
        let mut url = base.clone();
        url.path_segments_mut().ok()?.pop_if_empty().extend([
            "repos",
            &self.owner,
            &self.repo,
            "actions",
            "workflows",
            workflow,
            "dispatches",
        ]);
        Some(url)
    }
    /// `owner/repo/workflow`, the execution `target` (client-needs §5.2).
    pub fn display(&self) -> String {
        format!("{}/{}/{}", self.owner, self.repo, self.workflow)
    }
}

/// The target a run calls. GitHub wins when a job has both (api-contract §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobTarget {
    GitHub(Dispatch),
    Webhook(Url),
}

/// Message of a dispatch URL that matches none of the accepted forms (api-contract §4.3).
pub const MSG_DISPATCH_FORMAT: &str = "Invalid dispatch URL format. Expected one of: <owner>/<repo>/<workflow>, \
/<owner>/<repo>/actions/workflows/<workflow>, or https://github.com/<owner>/<repo>/actions/workflows/<workflow>.";

/// Parses a dispatch URL (api-contract §4.3) into owner/repo/workflow. Accepts
/// `https://github.com/o/r/actions/workflows/w.yml`, the API form
/// `https://api.github.com/repos/o/r/actions/workflows/w.yml/dispatches`, host-less
/// `github.com/o/r/actions/workflows/w`, `o/r/w`, and — fixing the reference's quirk — the path
/// form `/o/r/actions/workflows/w` that the error message advertises.
pub fn parse_dispatch_url(raw: &str) -> Result<Dispatch, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("dispatch_url is required.".into());
    }
    let segments = |path: &str| -> Vec<String> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let match_forms = |s: &[String]| -> Option<Dispatch> {
        if s.len() >= 6 && s[0] == "repos" && s[3] == "actions" && s[4] == "workflows" {
            return Dispatch::from_parts(Some(&s[1]), Some(&s[2]), Some(&s[5]));
        }
        if s.len() >= 5 && s[2] == "actions" && s[3] == "workflows" {
            return Dispatch::from_parts(Some(&s[0]), Some(&s[1]), Some(&s[4]));
        }
        None
    };
    if text.contains("://") {
        let path = Url::parse(text)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        return match_forms(&segments(&path)).ok_or_else(|| MSG_DISPATCH_FORMAT.to_string());
    }
    let all = segments(text);
    // Path form without a host (`/o/r/actions/workflows/w`, `o/r/actions/workflows/w`).
    if let Some(d) = match_forms(&all) {
        return Ok(d);
    }
    // Host-less URL (`github.com/o/r/actions/workflows/w`): drop the first segment.
    if all.len() > 1 {
        if let Some(d) = match_forms(&all[1..]) {
            return Ok(d);
        }
    }
    if all.len() == 3 {
        if let Some(d) = Dispatch::from_parts(Some(&all[0]), Some(&all[1]), Some(&all[2])) {
            return Ok(d);
        }
    }
    Err(MSG_DISPATCH_FORMAT.to_string())
}

/// The `owner/repo/workflow` shorthand test for a `target_url` (api-contract §3.5): no `://`,
/// exactly three non-empty `/`-segments, and no `.` in the first.
pub fn looks_like_shorthand(value: &str) -> bool {
    let v = value.trim();
    if v.contains("://") {
        return false;
    }
    let parts: Vec<&str> = v.split('/').filter(|s| !s.is_empty()).collect();
    parts.len() == 3 && !parts[0].contains('.')
}

/// Validates a webhook URL: absolute `http` or `https` with a host.
pub fn parse_webhook_url(value: &str) -> Option<Url> {
    let url = Url::parse(value.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

#[cfg(test)]
#[path = "target_test.rs"]
mod tests;
