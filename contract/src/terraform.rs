//! What forge and its plugins say about Terraform runs (feature `terraform`): the plan
//! summary, and the root output that carries a module's output to the steps after
//! `terraform-apply`.

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

/// The root output that carries the module output a reference names to the steps after
/// `terraform-apply`: `module.NAME.OUTPUT` (`OUTPUT` may index, `ids[0]`) →
/// `NAME__OUTPUT`, with every character Terraform does not allow in a name made `_`.
/// `terraform-render` writes an `output` block by this name for each such reference a
/// later step's config holds, and a plugin finds the value under this name in
/// `terraform-apply`'s `outputs`. `None` when `target` is not a `module.` reference.
pub fn root_output(target: &str) -> Option<String> {
    let rest = target.strip_prefix("module.")?;
    let (module, output) = rest.split_once('.')?;
    if module.is_empty() || output.is_empty() {
        return None;
    }
    let name = format!("{module}__{output}");
    Some(
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_reference_names_one_root_output() {
        assert_eq!(
            root_output("module.backend-service.cluster_arn").as_deref(),
            Some("backend-service__cluster_arn")
        );
        assert_eq!(
            root_output("module.subnets.private_subnet_ids[0]").as_deref(),
            Some("subnets__private_subnet_ids_0_")
        );
        for not in ["var.x", "module.x", "module..y", "service.a.image"] {
            assert_eq!(root_output(not), None, "{not}");
        }
    }
}
