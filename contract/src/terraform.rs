//! What forge and its plugins say about Terraform runs (feature `terraform`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What `terraform plan` found: its own summary line (`Plan: 1 to add, 0 to change, 0 to
/// destroy.`) as numbers. The `terraform.plan-summary` record of the WIT, the host's
/// reading of Terraform's output, and what `forge plan --terraform` reports, all this one
/// type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub add: u64,
    pub change: u64,
    pub destroy: u64,
    /// Whether applying the plan would change anything (outputs included).
    pub changes: bool,
}

impl fmt::Display for PlanSummary {
    /// `no changes`, or `1 to add, 0 to change, 0 to destroy`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.changes {
            return f.write_str("no changes");
        }
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )
    }
}
