//! The service sugar end to end: the standard step chain, as a platform engineer sees it.

use snapbox::str;

use crate::harness::Project;

#[test]
fn graph_shows_the_standard_chain() {
    Project::service()
        .forge("graph")
        .stdout(str![[r#"
build:
  docker-build:web  (docker-build)
  ecr-push:web      (ecr-push)  ← docker-build:web
deploy (env dev):
  terraform-render  (terraform-render)  ← ecr-push:web
  terraform-apply   (terraform-apply)  ← terraform-render  [state lock]
  ecs-rollout:web   (ecs-rollout)  ← terraform-apply, ecr-push:web  [state lock]
state lock (env dev): [..]
  taken before the first [state lock] step that runs, released after the last

"#]])
        .run();
}

#[test]
fn build_edit_plan_explain_deploy() {
    let project = Project::service();
    project
        .forge("build -j 1")
        .stdout(str![[r#"
[..] forge env dev, 2 steps in scope
[..] ran     docker-build:web ([..]s): never run
[..] ran     ecr-push:web ([..]s): never run
[..] 2 ran, 0 cached, 0 failed, 0 skipped in [..]s

"#]])
        .run();
    project.write("web/src/main.rs", "fn main() { /* v2 */ }\n");
    project
        .forge("plan")
        .stdout(str![[r#"
5 of 5 steps would run (env dev, forge deploy):
  run    docker-build:web  file web/src/main.rs changed
  run    ecr-push:web      after docker-build:web runs
  run    terraform-render  after ecr-push:web runs
  run    terraform-apply   after terraform-render runs  [state lock]
  run    ecs-rollout:web   after terraform-apply and ecr-push:web run  [state lock]
  lock   the state lock ([..]) around the [state lock] steps

"#]])
        .run();
    project
        .forge("explain docker-build:web")
        .stdout(str![[r#"
docker-build:web (env dev): will run; changed since its last run:
  - file web/src/main.rs changed
last run: ran, fingerprint [..]

"#]])
        .run();
    project.forge("deploy --env dev -q").run();
    project
        .forge("deploy --env dev")
        .stdout(str![[r#"
[..] forge env dev, 5 steps in scope
[..] nothing to do: 5 steps cached

"#]])
        .run();
}
