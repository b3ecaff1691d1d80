//! Checks a list of steps and orders it: duplicate ids, unknown `needs`, build steps that
//! need deploy steps, cycles; then a topological order that is stable (ready steps are
//! taken by id) so text, DOT and JSON output never depend on declaration order.

use std::collections::{BTreeMap, BTreeSet};

use miette::LabeledSpan;

use crate::model::{Phase, SourceFile};

use super::error::{GraphError, did_you_mean};
use super::{Step, StepGraph};

pub(super) fn build(
    env: String,
    steps: Vec<Step>,
    source: &SourceFile,
) -> Result<StepGraph, GraphError> {
    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        if by_id.insert(&step.id, i).is_some() {
            return Err(GraphError::DuplicateStep {
                id: step.id.clone(),
                src: source.named(),
                span: step.span,
            });
        }
    }

    for step in &steps {
        for (k, need) in step.needs.iter().enumerate() {
            let span = step.need_spans.get(k).copied().unwrap_or(step.span);
            let Some(&j) = by_id.get(need.as_str()) else {
                return Err(GraphError::UnknownNeed {
                    step: step.id.clone(),
                    name: need.clone(),
                    env: env.clone(),
                    src: source.named(),
                    span,
                    help: did_you_mean(need, by_id.keys().copied(), "step"),
                });
            };
            if step.phase == Phase::Build && steps[j].phase == Phase::Deploy {
                return Err(GraphError::PhaseOrder {
                    step: step.id.clone(),
                    need: need.clone(),
                    src: source.named(),
                    span,
                });
            }
        }
    }

    let deps: Vec<Vec<usize>> = steps
        .iter()
        .map(|s| s.needs.iter().map(|n| by_id[n.as_str()]).collect())
        .collect();
    if let Some(cycle) = find_cycle(&steps, &deps) {
        return Err(cycle_error(&steps, &cycle, source));
    }

    let order = topo_order(&steps, &deps);
    let mut position = vec![0; steps.len()];
    for (new, &old) in order.iter().enumerate() {
        position[old] = new;
    }
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    let sorted: Vec<Step> = order.iter().filter_map(|&old| slots[old].take()).collect();
    let deps = order
        .iter()
        .map(|&old| deps[old].iter().map(|&d| position[d]).collect())
        .collect();
    let index = sorted
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    Ok(StepGraph {
        env,
        steps: sorted,
        index,
        deps,
        lock: None,
    })
}

/// Kahn's algorithm, taking ready steps in id order.
fn topo_order(steps: &[Step], deps: &[Vec<usize>]) -> Vec<usize> {
    let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); steps.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: BTreeSet<(&str, usize)> = steps
        .iter()
        .enumerate()
        .filter(|(i, _)| missing[*i] == 0)
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut order = Vec::with_capacity(steps.len());
    while let Some((_, i)) = ready.pop_first() {
        order.push(i);
        for &dep in &dependents[i] {
            missing[dep] -= 1;
            if missing[dep] == 0 {
                ready.insert((steps[dep].id.as_str(), dep));
            }
        }
    }
    order
}

/// A cycle as a list of step positions (`a, b, c` for `a → b → c → a`), found by depth-first
/// search from steps in id order so the same file always reports the same cycle.
fn find_cycle(steps: &[Step], deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; steps.len()];
    let mut starts: Vec<usize> = (0..steps.len()).collect();
    starts.sort_by(|&a, &b| steps[a].id.cmp(&steps[b].id));
    for start in starts {
        if marks[start] != Mark::New {
            continue;
        }
        // Explicit stack of (node, next edge to follow) keeps deep graphs off the call stack.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(&mut (node, ref mut edge)) = path.last_mut() {
            if let Some(&next) = deps[node].get(*edge) {
                *edge += 1;
                match marks[next] {
                    Mark::New => {
                        marks[next] = Mark::OnPath;
                        path.push((next, 0));
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|&(n, _)| n == next).unwrap_or(0);
                        return Some(path[from..].iter().map(|&(n, _)| n).collect());
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

fn cycle_error(steps: &[Step], cycle: &[usize], source: &SourceFile) -> GraphError {
    let mut ids: Vec<String> = cycle.iter().map(|&i| steps[i].id.clone()).collect();
    let mut labels = Vec::new();
    for (k, &i) in cycle.iter().enumerate() {
        let next = &steps[cycle[(k + 1) % cycle.len()]].id;
        let step = &steps[i];
        if let Some(pos) = step.needs.iter().position(|n| n == next) {
            let span = step.need_spans.get(pos).copied().unwrap_or(step.span);
            labels.push(LabeledSpan::new_with_span(
                Some(format!("`{}` needs `{next}`", step.id)),
                span,
            ));
        }
    }
    ids.push(ids[0].clone());
    GraphError::Cycle {
        cycle: ids.join(" → "),
        steps: ids,
        src: source.named(),
        labels,
    }
}
