//! The closed sets of the contract as enums (api-contract §2.3-§2.4): an execution's status,
//! trigger and type, a notification's level, an outbox task's state. Serde names are the
//! contract's (and the table's) strings, so stored items and bodies are unchanged; a value
//! outside the set fails to parse instead of travelling on as text.

use serde::{Deserialize, Serialize};

/// Where a run stands (`executions.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Success,
    Failed,
    /// The last attempt ran out of the job's `timeout_seconds` (issue 23).
    TimedOut,
    /// Not run: the previous run was still going under `overlap_policy: skip` (or a second
    /// buffered fire time under `buffer_one`).
    Skipped,
    /// Not run: delivered later than the job's `catchup_window_seconds` after its fire time.
    Missed,
}

impl ExecutionStatus {
    /// Every status, in the contract's order (then issue 23's).
    pub const ALL: [ExecutionStatus; 6] = [
        Self::Running,
        Self::Success,
        Self::Failed,
        Self::TimedOut,
        Self::Skipped,
        Self::Missed,
    ];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Skipped => "skipped",
            Self::Missed => "missed",
        }
    }

    /// The status named `s` (exactly the contract's string), if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Its letter in a counter field (`r`, `s`, `f`, `t`, `k`, `m`; store/executions.rs).
    pub fn code(self) -> char {
        match self {
            Self::Running => 'r',
            Self::Success => 's',
            Self::Failed => 'f',
            Self::TimedOut => 't',
            Self::Skipped => 'k',
            Self::Missed => 'm',
        }
    }

    /// Finished (any status but running).
    pub fn is_finished(self) -> bool {
        self != Self::Running
    }

    /// A run that called its target and did not succeed (failed or timed out): what alerts
    /// report as a failure and `pause_after_failures` counts.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }
}

/// What started a run (`executions.trigger_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Scheduled,
    Manual,
    /// A past fire time replayed by `POST /jobs/{id}/backfill` (issue 23).
    Backfill,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 3] = [Self::Scheduled, Self::Manual, Self::Backfill];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::Backfill => "backfill",
        }
    }

    /// The trigger named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Its letter in a counter field (`S`, `M`, `B`).
    pub fn code(self) -> char {
        match self {
            Self::Scheduled => 'S',
            Self::Manual => 'M',
            Self::Backfill => 'B',
        }
    }
}

/// What a run called (`executions.execution_type`; null when it called nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionType {
    GithubActions,
    Webhook,
}

impl ExecutionType {
    /// Every type.
    pub const ALL: [ExecutionType; 2] = [Self::GithubActions, Self::Webhook];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GithubActions => "github_actions",
            Self::Webhook => "webhook",
        }
    }

    /// The type named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Its letter in a counter field (`g`, `w`; `n` stands for none).
    pub fn code(self) -> char {
        match self {
            Self::GithubActions => 'g',
            Self::Webhook => 'w',
        }
    }
}

/// A notification's level (`notifications.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

impl Level {
    /// Every level.
    pub const ALL: [Level; 4] = [Self::Info, Self::Success, Self::Warning, Self::Error];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// The level named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outbox task's state (`OUTBOX#…` items, store/outbox.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for (or leased by) a worker.
    Pending,
    /// Delivered (kept as a tombstone for a while).
    Delivered,
    /// Given up on after its attempts, or unreadable.
    Failed,
}

impl TaskState {
    /// The stored string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

#[cfg(test)]
#[path = "kinds_test.rs"]
mod tests;
