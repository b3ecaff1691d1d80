//! `forge plugin new`: a plugin crate that builds and tests out of the box.
//!
//! The crate is its own workspace (so creating it inside another workspace does not make
//! cargo adopt it), is a `cdylib` (the component) and an `rlib` (so `cargo test` links it
//! natively against the SDK's `MockHost`), and aborts on panic (there is no unwinding in a
//! plugin).

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// Where the scaffold's `forge-plugin-sdk` dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A checkout of forge's `plugin-sdk/` (written relative to the new crate).
    Path(PathBuf),
    /// A published version.
    Version(String),
}

impl SdkSource {
    /// `FORGE_PLUGIN_SDK` (a path) when set; else the `plugin-sdk/` of the forge tree this
    /// binary was built from, if it is still there; else this forge's version.
    pub fn detect() -> SdkSource {
        if let Some(path) = std::env::var_os("FORGE_PLUGIN_SDK").filter(|v| !v.is_empty()) {
            return SdkSource::Path(PathBuf::from(path));
        }
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
        if built_from.join("Cargo.toml").is_file() {
            let path = std::fs::canonicalize(&built_from).unwrap_or(built_from);
            return SdkSource::Path(path);
        }
        SdkSource::Version(env!("CARGO_PKG_VERSION").to_owned())
    }
}

/// What [`new_plugin`] created.
#[derive(Debug, Clone)]
pub struct Scaffold {
    pub name: String,
    pub dir: PathBuf,
    /// Created files, relative to [`Scaffold::dir`].
    pub files: Vec<&'static str>,
}

/// Creates the plugin crate `name` in `dir` (which must not exist).
pub fn new_plugin(name: &str, dir: &Path, sdk: &SdkSource) -> Result<Scaffold, Error> {
    check_name(name)?;
    if dir.exists() {
        return Err(Error::AlreadyExists {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir.join("src")).map_err(|e| Error::io("create", dir, e))?;

    let sdk_dep = match sdk {
        SdkSource::Path(path) => {
            let path = relative_to(path, dir);
            format!("{{ path = {} }}", toml_string(&path.to_string_lossy()))
        }
        SdkSource::Version(version) => toml_string(version),
    };
    let type_name = camel_case(name);
    let files: [(&'static str, String); 4] = [
        (
            "Cargo.toml",
            CARGO_TOML
                .replace("{name}", name)
                .replace("{sdk}", &sdk_dep),
        ),
        (
            "src/lib.rs",
            LIB_RS.replace("{name}", name).replace("{Type}", &type_name),
        ),
        ("README.md", README_MD.replace("{name}", name)),
        (".gitignore", "/target\n".to_owned()),
    ];
    for (file, contents) in &files {
        let path = dir.join(file);
        std::fs::write(&path, contents).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(Scaffold {
        name: name.to_owned(),
        dir: dir.to_path_buf(),
        files: files.iter().map(|(file, _)| *file).collect(),
    })
}

/// Plugin names become crate names, `project.kdl` names and file names.
fn check_name(name: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    let Some(first) = name.chars().next() else {
        return bad("it is empty");
    };
    if !first.is_ascii_lowercase() {
        return bad("it must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return bad("it may contain only lowercase letters, digits, `-` and `_`");
    }
    if name.ends_with(['-', '_']) {
        return bad("it must not end with `-` or `_`");
    }
    if [
        "test",
        "core",
        "std",
        "alloc",
        "proc_macro",
        "self",
        "crate",
        "super",
    ]
    .contains(&name)
    {
        return bad("it is reserved by Rust");
    }
    Ok(())
}

/// `site-manifest` → `SiteManifest`.
fn camel_case(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `target` as seen from `base`, when both are absolute (else `target` unchanged): a
/// relative path keeps the scaffold movable together with a forge checkout.
fn relative_to(target: &Path, base: &Path) -> PathBuf {
    let absolute = |p: &Path| -> Option<PathBuf> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(p)
        };
        // Normalize `..` lexically: `base` does not exist yet, so it cannot be canonicalized.
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        Some(out)
    };
    let (Some(target_abs), Some(base_abs)) = (absolute(target), absolute(base)) else {
        return target.to_path_buf();
    };
    let base_abs = std::fs::canonicalize(base_abs.parent().unwrap_or(&base_abs))
        .map(|parent| parent.join(base_abs.file_name().unwrap_or_default()))
        .unwrap_or(base_abs);
    let target_abs = std::fs::canonicalize(&target_abs).unwrap_or(target_abs);
    let t: Vec<_> = target_abs.components().collect();
    let b: Vec<_> = base_abs.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        // Only the root in common: an absolute path reads better than `../../../..`.
        return target_abs;
    }
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component (`forge plugin build`);
# rlib: native `cargo test` against the SDK's MockHost (`forge plugin test`).
crate-type = ["cdylib", "rlib"]

[dependencies]
forge-plugin-sdk = {sdk}
serde = { version = "1", features = ["derive"] }

[dev-dependencies]
serde_json = "1"

[profile.release]
# A plugin cannot unwind: a panic traps, and forge shows its message.
panic = "abort"
opt-level = "s"
codegen-units = 1
lto = true

# Its own workspace, so that cargo never adopts it into an enclosing one.
[workspace]
"#;

const LIB_RS: &str = r##"//! The `{name}` forge step plugin.
//!
//! `forge plugin test` runs the tests below natively; `forge plugin build` turns this crate
//! into a WebAssembly component that a step in project.kdl can run.

use forge_plugin_sdk::{Context, Error, Info, Plugin, ensure, export_plugin};
use serde::{Deserialize, Serialize};

/// The step's `config { ... }` block in project.kdl.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who to greet.
    #[serde(default = "default_name")]
    pub name: String,
}

fn default_name() -> String {
    "world".to_owned()
}

/// The step's output manifest: downstream steps see it, and its hash feeds their
/// fingerprints, so keep it deterministic.
#[derive(Debug, Serialize)]
pub struct Output {
    pub greeting: String,
    /// How many input files the step declared.
    pub inputs: usize,
    /// The blake3 hash of `greeting.txt` in forge's store.
    pub file: String,
}

pub struct {Type};

impl Plugin for {Type} {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new("{name}", "writes a greeting")
            .config_schema(r#"{"type":"object","properties":{"name":{"type":"string"}}}"#)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        ensure!(!config.name.is_empty(), "`name` must not be empty");
        let greeting = format!("hello, {}!", config.name);
        let file = ctx.write_output("greeting.txt", format!("{greeting}\n"))?;
        ctx.info(format!("greeted {}", config.name));
        Ok(Output {
            greeting,
            inputs: ctx.inputs().len(),
            file,
        })
    }
}

export_plugin!({Type});

#[cfg(test)]
mod tests {
    use forge_plugin_sdk::MockHost;
    use serde_json::json;

    use super::*;

    #[test]
    fn greets_and_writes_the_file() {
        let mut host = MockHost::new()
            .file("src/a.txt", "a")
            .config(json!({ "name": "forge" }));
        let out = host.run::<{Type}>().expect("the step succeeds");
        assert_eq!(out.greeting, "hello, forge!");
        assert_eq!(out.inputs, 1);
        assert_eq!(host.outputs()["greeting.txt"], b"hello, forge!\n");
    }

    #[test]
    fn an_empty_name_fails_the_step() {
        let err = MockHost::new()
            .config(json!({ "name": "" }))
            .run::<{Type}>()
            .expect_err("empty names are refused");
        assert!(err.message().contains("must not be empty"), "{}", err.message());
    }
}
"##;

const README_MD: &str = r#"# {name}

A forge step plugin, written with `forge-plugin-sdk`.

```sh
forge plugin test                       # its tests, natively, against MockHost
forge plugin build                      # the component: target/forge/{name}.wasm
forge plugin inspect target/forge/{name}.wasm   # contract version, capabilities, hash
```

`forge plugin build` prints the line to add to `project.kdl`, pinning the component by
its hash (forge refuses a plugin whose file no longer matches its pin):

```kdl
plugin "{name}" path="plugins/{name}.wasm" hash="blake3:..."

step "greet" {
    plugin "{name}"
    config {
        name "forge"
    }
}
```

A plugin can do only what its step is granted: reading declared input files needs
`grant "files.read"` on the `plugin` node (and `Info::capability` in `src/lib.rs`).
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("site-manifest").is_ok());
        assert!(check_name("a2").is_ok());
        for bad in ["", "Site", "2a", "a b", "a-", "a/b", "test", "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(camel_case("site-manifest_x"), "SiteManifestX");
    }

    #[test]
    fn scaffold_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sdk = SdkSource::Version("0.1.0".into());
        let crate_dir = dir.path().join("hello");
        let made = new_plugin("hello", &crate_dir, &sdk).expect("scaffold");
        assert_eq!(
            made.files,
            ["Cargo.toml", "src/lib.rs", "README.md", ".gitignore"]
        );
        let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains("export_plugin!(Hello);"));
        assert!(matches!(
            new_plugin("hello", &crate_dir, &sdk),
            Err(Error::AlreadyExists { .. })
        ));
    }

    #[test]
    fn sdk_path_is_relative_when_near() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sdk_dir = dir.path().join("forge/plugin-sdk");
        std::fs::create_dir_all(&sdk_dir).expect("sdk dir");
        let crate_dir = dir.path().join("plugins/hello");
        new_plugin("hello", &crate_dir, &SdkSource::Path(sdk_dir)).expect("scaffold");
        let toml = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("toml");
        assert!(
            toml.contains(r#"forge-plugin-sdk = { path = "../../forge/plugin-sdk" }"#),
            "{toml}"
        );
    }
}
