//! [`MockEcs`]: the fake ECS behind a [`MockHost`](crate::MockHost), scripted one answer
//! per `DescribeServices` call, with a virtual clock that `pause` advances (a test of a
//! ten-minute timeout takes no time).

use std::collections::VecDeque;

use crate::AwsError;
use crate::ecs::{Services, TargetHealth, Task};

/// A scripted ECS: what each `DescribeServices` call answers, the service's tasks, and
/// the calls made.
#[derive(Debug, Clone, Default)]
pub struct MockEcs {
    /// The answers of successive `DescribeServices` calls; the last one repeats.
    pub describe: VecDeque<Result<Services, AwsError>>,
    /// The tasks `ListTasks`/`DescribeTasks` know, stopped ones included.
    pub tasks: Vec<Task>,
    /// Task definition → its containers' (name, image) (`DescribeTaskDefinition`).
    pub task_definitions: std::collections::BTreeMap<String, Vec<(String, String)>>,
    /// Target group ARN → the health of its targets (`DescribeTargetHealth`).
    pub targets: std::collections::BTreeMap<String, Vec<TargetHealth>>,
    /// Every call: `DescribeServices`, `ListTasks STOPPED`, `DescribeTasks 2`,
    /// `DescribeTargetHealth ARN`, `pause 5000`.
    pub calls: Vec<String>,
    /// The virtual clock, in milliseconds since the step started: each `pause` adds to it.
    pub clock: u64,
}

impl MockEcs {
    /// An ECS whose successive `DescribeServices` answers are `answers`.
    pub fn answers(answers: impl IntoIterator<Item = Result<Services, AwsError>>) -> MockEcs {
        MockEcs {
            describe: answers.into_iter().collect(),
            ..MockEcs::default()
        }
    }

    /// Adds tasks (stopped or running) that `ListTasks` and `DescribeTasks` return.
    #[must_use]
    pub fn with_tasks(mut self, tasks: impl IntoIterator<Item = Task>) -> MockEcs {
        self.tasks.extend(tasks);
        self
    }

    /// Gives task definition `arn` these containers: (name, image).
    #[must_use]
    pub fn with_task_definition(
        mut self,
        arn: &str,
        containers: impl IntoIterator<Item = (String, String)>,
    ) -> MockEcs {
        self.task_definitions
            .insert(arn.to_owned(), containers.into_iter().collect());
        self
    }

    /// Gives target group `arn` these targets.
    #[must_use]
    pub fn with_targets(
        mut self,
        arn: &str,
        targets: impl IntoIterator<Item = TargetHealth>,
    ) -> MockEcs {
        self.targets
            .insert(arn.to_owned(), targets.into_iter().collect());
        self
    }

    /// How many calls of `operation` were made (`DescribeServices`, `pause`...).
    pub fn count(&self, operation: &str) -> usize {
        self.calls
            .iter()
            .filter(|c| c.split(' ').next() == Some(operation))
            .count()
    }

    pub(crate) fn describe_services(&mut self) -> Result<Services, AwsError> {
        self.calls.push("DescribeServices".into());
        match self.describe.len() {
            0 => Ok(Services::default()),
            1 => self.describe[0].clone(),
            _ => self
                .describe
                .pop_front()
                .unwrap_or_else(|| Ok(Services::default())),
        }
    }

    pub(crate) fn list_tasks(&mut self, desired_status: &str) -> Vec<String> {
        self.calls.push(format!("ListTasks {desired_status}"));
        let stopped = desired_status == "STOPPED";
        self.tasks
            .iter()
            .filter(|t| (t.last_status == "STOPPED") == stopped)
            .map(|t| t.task_arn.clone())
            .collect()
    }

    pub(crate) fn describe_tasks(&mut self, arns: &[String]) -> Vec<Task> {
        self.calls.push(format!("DescribeTasks {}", arns.len()));
        self.tasks
            .iter()
            .filter(|t| arns.contains(&t.task_arn))
            .cloned()
            .collect()
    }

    pub(crate) fn describe_task_definition(
        &mut self,
        arn: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        self.calls.push(format!("DescribeTaskDefinition {arn}"));
        self.task_definitions
            .get(arn)
            .cloned()
            .ok_or_else(|| AwsError::Service {
                code: "ClientException".into(),
                message: "Unable to describe task definition.".into(),
            })
    }

    pub(crate) fn describe_target_health(&mut self, arn: &str) -> Vec<TargetHealth> {
        self.calls.push(format!("DescribeTargetHealth {arn}"));
        self.targets.get(arn).cloned().unwrap_or_default()
    }

    pub(crate) fn pause(&mut self, ms: u32) -> u64 {
        self.calls.push(format!("pause {ms}"));
        self.clock += u64::from(ms);
        self.clock
    }
}
