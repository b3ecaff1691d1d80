//! The shape of `project.kdl`: which nodes may appear where, and how an `env` overlay
//! matches them against the base (by name, by name + first argument, or as a list).
//!
//! One table drives both the overlay merge ([`super::merge`]) and the "unknown node, did you
//! mean" diagnostics, so the two can never disagree about what a node is.

/// Where a node sits: decides which child nodes are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// The top level of the file.
    Top,
    /// The body of an `env "NAME" { ... }` block: the top level minus `version` and `env`,
    /// plus `region` as shorthand for `project { region ... }`.
    Env,
    Project,
    Registry,
    State,
    Cache,
    Service,
    Build,
    Module,
    Plugin,
    Step,
    /// Free-form maps (`environment`, step `config`, map values): any name, keyed by name.
    Free,
    /// A node that takes values only, no children.
    Leaf,
}

/// How an overlay node finds the base node it overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// At most one per block (`port`, `build`); an overlay merges into it.
    Single,
    /// Several, told apart by their first argument (`service "backend"`, `arg "PROFILE"`).
    Keyed,
    /// A list (`depends-on`, `input` globs, `grant`): an overlay that names it replaces the
    /// whole list, so an env can also shorten it.
    Repeated,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeSpec {
    pub name: &'static str,
    pub identity: Identity,
    pub children: Ctx,
    /// Replace the base node wholesale instead of merging properties (`lock`: switching from
    /// DynamoDB to the S3 lockfile must not keep `table=`).
    pub replace: bool,
}

const fn single(name: &'static str) -> NodeSpec {
    NodeSpec {
        name,
        identity: Identity::Single,
        children: Ctx::Leaf,
        replace: false,
    }
}

const fn block(name: &'static str, children: Ctx) -> NodeSpec {
    NodeSpec {
        name,
        identity: Identity::Single,
        children,
        replace: false,
    }
}

const fn keyed(name: &'static str, children: Ctx) -> NodeSpec {
    NodeSpec {
        name,
        identity: Identity::Keyed,
        children,
        replace: false,
    }
}

const fn list(name: &'static str) -> NodeSpec {
    NodeSpec {
        name,
        identity: Identity::Repeated,
        children: Ctx::Leaf,
        replace: false,
    }
}

const TOP: &[NodeSpec] = &[
    single("version"),
    block("project", Ctx::Project),
    keyed("registry", Ctx::Registry),
    block("state", Ctx::State),
    block("cache", Ctx::Cache),
    keyed("service", Ctx::Service),
    keyed("module", Ctx::Module),
    keyed("var", Ctx::Free),
    keyed("plugin", Ctx::Plugin),
    keyed("step", Ctx::Step),
    keyed("env", Ctx::Env),
];

const ENV: &[NodeSpec] = &[
    single("region"),
    block("project", Ctx::Project),
    keyed("registry", Ctx::Registry),
    block("state", Ctx::State),
    block("cache", Ctx::Cache),
    keyed("service", Ctx::Service),
    keyed("module", Ctx::Module),
    keyed("var", Ctx::Free),
    keyed("plugin", Ctx::Plugin),
    keyed("step", Ctx::Step),
];

const PROJECT: &[NodeSpec] = &[single("region"), single("default-env"), single("source")];

const REGISTRY: &[NodeSpec] = &[
    single("kind"),
    single("url"),
    single("endpoint"),
    single("create-repositories"),
    single("immutable-tags"),
    single("username"),
    single("password"),
];

const STATE: &[NodeSpec] = &[
    single("s3"),
    NodeSpec {
        replace: true,
        ..single("lock")
    },
];

const CACHE: &[NodeSpec] = &[single("s3"), keyed("trust", Ctx::Leaf)];

const SERVICE: &[NodeSpec] = &[
    block("build", Ctx::Build),
    single("registry"),
    single("repository"),
    single("port"),
    single("cpu"),
    single("memory"),
    single("desired-count"),
    single("health-check"),
    single("load-balancer"),
    block("environment", Ctx::Free),
    NodeSpec {
        replace: true,
        ..keyed("secret", Ctx::Leaf)
    },
    list("depends-on"),
    single("deployed-by"),
    single("rollout"),
];

const BUILD: &[NodeSpec] = &[
    single("context"),
    single("dockerfile"),
    keyed("arg", Ctx::Leaf),
    single("target"),
    list("input"),
    keyed("artifact", Ctx::Leaf),
    NodeSpec {
        replace: true,
        ..keyed("secret", Ctx::Leaf)
    },
];

const MODULE: &[NodeSpec] = &[single("source"), keyed("input", Ctx::Free)];

const PLUGIN: &[NodeSpec] = &[list("grant")];

const STEP: &[NodeSpec] = &[
    single("plugin"),
    block("config", Ctx::Free),
    list("input"),
    list("needs"),
    list("env-var"),
    single("commit-sha"),
    single("phase"),
    NodeSpec {
        replace: true,
        ..keyed("secret", Ctx::Leaf)
    },
];

/// The nodes allowed in `ctx` (empty for [`Ctx::Free`], which allows any name).
pub(crate) fn specs(ctx: Ctx) -> &'static [NodeSpec] {
    match ctx {
        Ctx::Top => TOP,
        Ctx::Env => ENV,
        Ctx::Project => PROJECT,
        Ctx::Registry => REGISTRY,
        Ctx::State => STATE,
        Ctx::Cache => CACHE,
        Ctx::Service => SERVICE,
        Ctx::Build => BUILD,
        Ctx::Module => MODULE,
        Ctx::Plugin => PLUGIN,
        Ctx::Step => STEP,
        Ctx::Free | Ctx::Leaf => &[],
    }
}

/// The spec of `name` in `ctx`; in a free-form map every name is a mergeable map entry.
pub(crate) fn spec(ctx: Ctx, name: &str) -> Option<NodeSpec> {
    if ctx == Ctx::Free {
        // `-` children are KDL's list items: an overlay replaces the whole list.
        let identity = if name == "-" {
            Identity::Repeated
        } else {
            Identity::Single
        };
        return Some(NodeSpec {
            name: "",
            identity,
            children: Ctx::Free,
            replace: false,
        });
    }
    specs(ctx).iter().find(|s| s.name == name).copied()
}

/// How diagnostics name a context ("unknown node `prot` in a `service` block").
pub(crate) fn describe(ctx: Ctx) -> &'static str {
    match ctx {
        Ctx::Top => "the top level",
        Ctx::Env => "an `env` block",
        Ctx::Project => "the `project` block",
        Ctx::Registry => "a `registry` block",
        Ctx::State => "the `state` block",
        Ctx::Cache => "the `cache` block",
        Ctx::Service => "a `service` block",
        Ctx::Build => "a `build` block",
        Ctx::Module => "a `module` block",
        Ctx::Plugin => "a `plugin` block",
        Ctx::Step => "a `step` block",
        Ctx::Free => "a map",
        Ctx::Leaf => "a value node",
    }
}

/// The closest candidate to `name`, if any is close enough to be a plausible typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Edit distance catches typos in short names that Jaro-Winkler scores low (`dve` for
    // `dev`, `cup` for `cpu`); Jaro-Winkler catches long names sharing a prefix.
    let budget = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::osa_distance(name, c),
                strsim::jaro_winkler(name, c),
                c,
            )
        })
        .filter(|(edits, similarity, _)| *edits <= budget || *similarity >= 0.8)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c)
}

/// A help line: "did you mean `x`?" when something is close, else the full list.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    match suggest(name, candidates.clone()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => {
            let all: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
            if all.is_empty() {
                format!("no {what} is defined here")
            } else {
                format!("expected one of {}", all.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("prot", ["port", "cpu", "memory"]), Some("port"));
        assert_eq!(suggest("servce", ["service", "module"]), Some("service"));
        assert_eq!(suggest("zzz", ["port", "cpu"]), None);
        // Short names: a transposition or one wrong letter is still a typo.
        assert_eq!(suggest("dve", ["dev", "prod"]), Some("dev"));
        assert_eq!(suggest("cup", ["cpu", "port"]), Some("cpu"));
    }

    #[test]
    fn every_block_context_has_its_specs() {
        for spec in TOP.iter().chain(SERVICE).chain(STEP) {
            if !matches!(spec.children, Ctx::Leaf | Ctx::Free) {
                assert!(!specs(spec.children).is_empty(), "{}", spec.name);
            }
        }
    }
}
