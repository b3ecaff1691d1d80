//! A synthetic forge workspace for benchmarks: many services and `step` blocks over many
//! input files, shaped like a large monorepo.
//!
//! The deploy graph of the generated project has exactly `steps` steps: `services` services
//! expand into three steps each (docker-build, ecr-push, ecs-rollout), four project-level
//! deploy steps (terraform-render, state-lock, terraform-apply, state-unlock), and the rest are
//! user `step` blocks. Input files are split evenly between service build contexts and the
//! user steps' folders; every file's content is a deterministic function of its index.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub files: usize,
    pub steps: usize,
    pub services: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            files: 10_000,
            steps: 200,
            services: 40,
        }
    }
}

const PROJECT_LEVEL_STEPS: usize = 4;

impl Shape {
    fn user_steps(&self) -> usize {
        self.steps
            .saturating_sub(self.services * 3 + PROJECT_LEVEL_STEPS)
            .max(1)
    }
}

/// Writes the workspace into `dir` (which should be empty) and returns the number of input
/// files written.
pub fn generate(dir: &Path, shape: Shape) -> io::Result<usize> {
    let user_steps = shape.user_steps();
    let groups = shape.services + user_steps;
    let per_group = shape.files.div_ceil(groups.max(1));

    let mut written = 0;
    for s in 0..shape.services {
        let ctx = dir.join(format!("services/svc{s:03}"));
        written += write_tree(&ctx, per_group.min(shape.files - written), s)?;
        fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /app\n")?;
        fs::write(ctx.join(".dockerignore"), "*.tmp\n")?;
    }
    for u in 0..user_steps {
        let remaining = shape.files.saturating_sub(written);
        written += write_tree(
            &dir.join(format!("lib/step{u:03}")),
            per_group.min(remaining),
            10_000 + u,
        )?;
    }

    fs::create_dir_all(dir.join("modules/app"))?;
    fs::write(
        dir.join("modules/app/main.tf"),
        "variable \"name\" {\n  type = string\n}\n\noutput \"name\" {\n  value = var.name\n}\n",
    )?;
    fs::create_dir_all(dir.join("plugins"))?;
    let plugin = b"\0asm synthetic plugin for benchmarks";
    fs::write(dir.join("plugins/synth.wasm"), plugin)?;
    fs::write(dir.join(".gitignore"), "*.tmp\ntarget/\n")?;
    fs::write(
        dir.join("project.kdl"),
        project_kdl(shape, user_steps, &blake3::hash(plugin).to_hex()),
    )?;
    Ok(written)
}

/// `count` files under `dir`, spread over nested folders, 0.5–8 KiB each.
fn write_tree(dir: &Path, count: usize, seed: usize) -> io::Result<usize> {
    for i in 0..count {
        let sub = dir.join(format!("src/m{:02}", i % 8));
        if i < 8 {
            fs::create_dir_all(&sub)?;
        }
        let size = 512 + (seed * 31 + i * 977) % (8 * 1024 - 512);
        let line = format!("// file {seed}/{i}: generated input for forge benchmarks\n");
        let body = line.repeat(size / line.len() + 1);
        fs::write(sub.join(format!("f{i:04}.rs")), &body.as_bytes()[..size])?;
    }
    fs::create_dir_all(dir)?;
    Ok(count)
}

fn project_kdl(shape: Shape, user_steps: usize, plugin_hash: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "version 1\n\nproject \"synthetic\" {{\n    region \"us-east-1\"\n    default-env \"bench\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "registry \"ecr\" {{\n    kind \"ecr\"\n    url \"123456789012.dkr.ecr.us-east-1.amazonaws.com\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "state {{\n    s3 bucket=\"synthetic-state\" key=\"synthetic/{{env}}/terraform.tfstate\" region=\"us-east-1\"\n    lock \"dynamodb\" table=\"synthetic-locks\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "module \"app\" {{\n    source \"modules/app\"\n    input \"name\" \"synthetic\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "plugin \"synth\" path=\"plugins/synth.wasm\" hash=\"blake3:{plugin_hash}\" {{\n    grant \"files.read\"\n}}\n"
    );
    for i in 0..shape.services {
        let _ = writeln!(
            s,
            "service \"svc{i:03}\" {{\n    build {{\n        context \"services/svc{i:03}\"\n    }}\n    repository \"synthetic/svc{i:03}\"\n    port 8080\n    load-balancer \"internal\"\n}}\n"
        );
    }
    for u in 0..user_steps {
        let needs = if u > 0 && u % 4 != 0 {
            format!("\n    needs \"step{:03}\"", u - 1)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "step \"step{u:03}\" {{\n    plugin \"synth\"\n    config {{\n        index {u}\n    }}\n    input \"lib/step{u:03}/**\"{needs}\n}}\n"
        );
    }
    let _ = writeln!(s, "env \"bench\" {{\n}}");
    s
}
