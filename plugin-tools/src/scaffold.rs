//! `forge plugin new`: a plugin crate that builds and tests out of the box.
//!
//! The crate is its own workspace (so creating it inside another workspace does not make
//! cargo adopt it), is a `cdylib` (the component) and an `rlib` (so `cargo test` links it
//! natively against the SDK's `MockHost`), and aborts on panic (there is no unwinding in a
//! plugin).
//!
//! Where its `forge-plugin-sdk` comes from ([`SdkSource`]) decides whether a teammate
//! who rebuilds it gets the pinned bytes, so it is never a registry name (the SDK is not
//! published; `forge-plugin-sdk` on crates.io is somebody else's crate) and never a path
//! that only exists on this machine:
//!
//! - inside a forge checkout, a relative path to its `plugin-sdk/`;
//! - anywhere else, a copy of the SDK and the contract crate, embedded in this forge
//!   binary, written into the new crate's `forge-sdk/` ([`vendored_files`]) and committed
//!   with it.

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// Where the scaffold's `forge-plugin-sdk` dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A forge `plugin-sdk/` directory (written relative to the new crate when they share
    /// more than the root).
    Path(PathBuf),
    /// This forge's own SDK, copied into the new crate (`forge-sdk/`).
    Vendored,
}

/// The directory, inside a new plugin crate, that holds the vendored SDK.
pub const VENDOR_DIR: &str = "forge-sdk";

impl SdkSource {
    /// For a plugin created in `dir`: `FORGE_PLUGIN_SDK` (a path, for working on the SDK
    /// itself) when set; else the `plugin-sdk/` of the forge checkout `dir` is inside, if
    /// any; else [`SdkSource::Vendored`].
    pub fn detect(dir: &Path) -> SdkSource {
        if let Some(path) = std::env::var_os("FORGE_PLUGIN_SDK").filter(|v| !v.is_empty()) {
            return SdkSource::Path(PathBuf::from(path));
        }
        match enclosing_checkout(dir) {
            Some(root) => SdkSource::Path(root.join("plugin-sdk")),
            None => SdkSource::Vendored,
        }
    }
}

/// The forge checkout that `dir` (which need not exist yet) is inside: the nearest
/// ancestor with forge's `plugin-sdk/` and `contract/`.
pub fn enclosing_checkout(dir: &Path) -> Option<PathBuf> {
    let absolute = normalize(&std::env::current_dir().ok()?.join(dir));
    absolute.ancestors().skip(1).find_map(|ancestor| {
        let manifest = std::fs::read_to_string(ancestor.join("plugin-sdk/Cargo.toml")).ok()?;
        let is_forge = manifest.contains("name = \"forge-plugin-sdk\"")
            && ancestor.join("plugin-sdk/wit/plugin.wit").is_file()
            && ancestor.join("contract/Cargo.toml").is_file();
        is_forge.then(|| std::fs::canonicalize(ancestor).unwrap_or_else(|_| ancestor.into()))
    })
}

/// What [`new_plugin`] created.
#[derive(Debug, Clone)]
pub struct Scaffold {
    pub name: String,
    pub dir: PathBuf,
    /// Created files, relative to [`Scaffold::dir`]; the vendored SDK is one entry,
    /// `forge-sdk/`.
    pub files: Vec<String>,
    pub sdk: SdkSource,
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
        SdkSource::Path(path) => relative_to(path, dir),
        SdkSource::Vendored => Path::new(VENDOR_DIR).join("plugin-sdk"),
    };
    let sdk_dep = format!("{{ path = {} }}", toml_string(&sdk_dep.to_string_lossy()));
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
    let mut created: Vec<String> = files.iter().map(|(file, _)| (*file).to_owned()).collect();
    if *sdk == SdkSource::Vendored {
        for (file, contents) in vendored_files() {
            let path = dir.join(VENDOR_DIR).join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            }
            std::fs::write(&path, contents).map_err(|e| Error::io("write", &path, e))?;
        }
        created.push(format!("{VENDOR_DIR}/"));
    }
    Ok(Scaffold {
        name: name.to_owned(),
        dir: dir.to_path_buf(),
        files: created,
        sdk: sdk.clone(),
    })
}

// `EMBEDDED_SOURCES`: the SDK and contract sources this forge was built with, (path in
// the repository, contents), listed by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/embedded_sources.rs"));

const ROOT_MANIFEST: &str = include_str!("../../Cargo.toml");
const SDK_MANIFEST: &str = include_str!("../../plugin-sdk/Cargo.toml");
const CONTRACT_MANIFEST: &str = include_str!("../../contract/Cargo.toml");

/// The files of `forge-sdk/`, relative to it: the SDK and the contract crate as in
/// forge's repository (`plugin-sdk/`, `contract/`), with manifests that stand alone
/// (workspace values filled in, tests and lints left out), and a README.
pub fn vendored_files() -> Vec<(String, String)> {
    let paths = [("forge-contract", "../contract")];
    let manifest = |member: &str| {
        standalone_manifest(member, ROOT_MANIFEST, &paths)
            .unwrap_or_else(|e| panic!("the embedded manifests are checked by a test: {e}"))
    };
    let mut files = vec![
        ("README.md".to_owned(), vendor_readme()),
        ("plugin-sdk/Cargo.toml".to_owned(), manifest(SDK_MANIFEST)),
        (
            "contract/Cargo.toml".to_owned(),
            manifest(CONTRACT_MANIFEST),
        ),
    ];
    files.extend(
        EMBEDDED_SOURCES
            .iter()
            .map(|(path, contents)| ((*path).to_owned(), (*contents).to_owned())),
    );
    files
}

fn vendor_readme() -> String {
    format!(
        "# forge-sdk: forge's plugin SDK, vendored\n\n\
         `forge-plugin-sdk` (`plugin-sdk/`) and the contract crate it uses (`contract/`), for \
         contract forge:plugin@{version}, copied here by `forge plugin new` from the forge \
         binary that created this crate (forge {forge}).\n\n\
         They are here, not on crates.io, so that everyone who builds this plugin compiles the \
         same SDK and gets the same component bytes (the hash pinned in project.kdl). Commit \
         this directory with the plugin and don't edit it; to move to a newer forge, replace it \
         with the `forge-sdk/` of a crate that forge creates (`forge plugin new`).\n",
        version = forge_contract::VERSION,
        forge = env!("CARGO_PKG_VERSION"),
    )
}

/// `member`'s manifest with every `workspace = true` resolved against `root`'s
/// `[workspace.package]` and `[workspace.dependencies]`, path dependencies renamed by
/// `paths` (crate name → path from the member), and its dev-dependencies and lints left
/// out (their tests are not vendored). Line-based: it handles the one-line entries forge's
/// manifests use, and says which line it cannot.
pub fn standalone_manifest(
    member: &str,
    root: &str,
    paths: &[(&str, &str)],
) -> Result<String, String> {
    let section_of = |line: &str| {
        let line = line.trim();
        (line.starts_with('[') && line.ends_with(']')).then(|| line.to_owned())
    };
    // (section, key) -> value, from the root manifest.
    let mut root_values = Vec::new();
    let mut section = String::new();
    for line in root.lines() {
        if let Some(s) = section_of(line) {
            section = s;
        } else if let Some((key, value)) = key_value(line) {
            root_values.push((section.clone(), key.to_owned(), value.to_owned()));
        }
    }
    let root_value = |section: &str, key: &str| {
        root_values
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.clone())
            .ok_or_else(|| format!("the workspace has no {section} `{key}`"))
    };

    let mut out = String::new();
    let mut section = String::new();
    for line in member.lines() {
        if let Some(s) = section_of(line) {
            section = s;
            if !skipped(&section) {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        if skipped(&section) {
            continue;
        }
        let Some((key, value)) = key_value(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        if let Some(key) = key.strip_suffix(".workspace") {
            if value != "true" {
                return Err(format!("cannot vendor `{line}`"));
            }
            let value = if section == "[package]" {
                root_value("[workspace.package]", key)?
            } else {
                dependency(
                    key,
                    &root_value("[workspace.dependencies]", key)?,
                    "",
                    paths,
                )?
            };
            out.push_str(&format!("{key} = {value}\n"));
        } else if let Some(extra) = value
            .strip_prefix('{')
            .and_then(|v| v.strip_suffix('}'))
            .and_then(|v| v.trim().strip_prefix("workspace = true"))
        {
            let extra = extra.trim().trim_start_matches(',').trim();
            let root = root_value("[workspace.dependencies]", key)?;
            out.push_str(&format!(
                "{key} = {}\n",
                dependency(key, &root, extra, paths)?
            ));
        } else if value.contains("workspace") {
            return Err(format!("cannot vendor `{line}`"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Sections a vendored manifest leaves out.
fn skipped(section: &str) -> bool {
    section == "[lints]" || section.ends_with("dev-dependencies]")
}

/// `key = value` of one manifest line (comments and blank lines: `None`).
fn key_value(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    Some((key.trim(), value.trim()))
}

/// A workspace dependency `root` (`"1"` or `{ ... }`) with `extra` keys added, and its
/// `path` replaced by `paths`' entry for `name`.
fn dependency(
    name: &str,
    root: &str,
    extra: &str,
    paths: &[(&str, &str)],
) -> Result<String, String> {
    let mut inner = match root.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
        Some(table) => table.trim().to_owned(),
        None => format!("version = {root}"),
    };
    if inner.starts_with("path =") {
        let path = paths
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .ok_or_else(|| format!("no vendored path for `{name}`"))?;
        inner = format!("path = {}", toml_string(path));
    }
    if !extra.is_empty() {
        inner = format!("{inner}, {extra}");
    }
    Ok(format!("{{ {inner} }}"))
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
        Some(normalize(&p))
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

/// `path` with `.` and `..` resolved lexically: the new crate's directory does not exist
/// yet, so it cannot be canonicalized.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
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
forge plugin build                      # the component: dist/{name}.wasm, or plugins/{name}.wasm in a forge project
forge plugin inspect dist/{name}.wasm   # contract version, capabilities, config schema, hash
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
`grant "files.read"` on the `plugin` node (and `Info::capability` in `src/lib.rs`);
building images, `grant "docker"`; AWS calls, `grant "aws"`. `forge plugin inspect`
prints the grant line a built component needs.

When this crate has a `forge-sdk/` directory, that is forge's plugin SDK, copied here by
`forge plugin new` so that everyone builds the same SDK (and the same bytes): commit it
with the plugin.
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
        let sdk = SdkSource::Path(dir.path().join("sdk"));
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

    /// A directory that looks like a forge checkout to [`enclosing_checkout`].
    fn fake_checkout(root: &Path) {
        std::fs::create_dir_all(root.join("plugin-sdk/wit")).expect("sdk dir");
        std::fs::create_dir_all(root.join("contract")).expect("contract dir");
        std::fs::write(
            root.join("plugin-sdk/Cargo.toml"),
            "[package]\nname = \"forge-plugin-sdk\"\n",
        )
        .expect("sdk manifest");
        std::fs::write(root.join("plugin-sdk/wit/plugin.wit"), "").expect("wit");
        std::fs::write(root.join("contract/Cargo.toml"), "").expect("contract manifest");
    }

    #[test]
    fn inside_a_checkout_the_sdk_is_its_plugin_sdk_by_relative_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let checkout = dir.path().join("forge");
        fake_checkout(&checkout);
        let crate_dir = checkout.join("examples/plugins/hello");
        let root = enclosing_checkout(&crate_dir).expect("inside the checkout");
        assert_eq!(root, std::fs::canonicalize(&checkout).expect("canonical"));
        new_plugin(
            "hello",
            &crate_dir,
            &SdkSource::Path(root.join("plugin-sdk")),
        )
        .expect("scaffold");
        let toml = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("toml");
        assert!(
            toml.contains(r#"forge-plugin-sdk = { path = "../../../plugin-sdk" }"#),
            "{toml}"
        );
        assert_eq!(
            enclosing_checkout(&dir.path().join("elsewhere/hello")),
            None
        );
    }

    #[test]
    fn outside_a_checkout_the_sdk_is_vendored_into_the_crate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let crate_dir = dir.path().join("hello");
        let made = new_plugin("hello", &crate_dir, &SdkSource::Vendored).expect("scaffold");
        assert_eq!(made.files.last().map(String::as_str), Some("forge-sdk/"));
        let toml = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("toml");
        assert!(
            toml.contains(r#"forge-plugin-sdk = { path = "forge-sdk/plugin-sdk" }"#),
            "{toml}"
        );
        let sdk = std::fs::read_to_string(crate_dir.join("forge-sdk/plugin-sdk/Cargo.toml"))
            .expect("vendored SDK manifest");
        assert!(!sdk.contains("workspace"), "{sdk}");
        assert!(
            sdk.contains(
                r#"forge-contract = { path = "../contract", features = ["lock", "terraform", "ecs"] }"#
            ),
            "{sdk}"
        );
        let wit = crate_dir.join("forge-sdk/plugin-sdk/wit/plugin.wit");
        assert_eq!(
            std::fs::read_to_string(wit).expect("vendored WIT"),
            crate::CONTRACT_WIT
        );
        assert!(crate_dir.join("forge-sdk/contract/src/lib.rs").is_file());
    }

    /// Every source file of the SDK and the contract is embedded: a module added to either
    /// would otherwise be missing from vendored copies, which would not compile.
    #[test]
    fn the_embedded_sources_are_all_of_them_and_current() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk = Vec::new();
        for dir in ["plugin-sdk/src", "plugin-sdk/wit", "contract/src"] {
            for entry in std::fs::read_dir(repo.join(dir)).expect("a source dir") {
                let name = entry.expect("an entry").file_name();
                on_disk.push(format!("{dir}/{}", name.to_string_lossy()));
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED_SOURCES
            .iter()
            .map(|(path, _)| (*path).to_owned())
            .collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "plugin-tools/build.rs embeds files of these directories only"
        );
    }

    #[test]
    fn standalone_manifests_fill_in_the_workspace() {
        let root = "[workspace.package]\nversion = \"0.3.0\"\nedition = \"2024\"\n\n\
                    [workspace.dependencies]\nforge-contract = { path = \"contract\" }\n\
                    serde = { version = \"1\", features = [\"derive\"] }\nblake3 = \"1.8\"\n";
        let member = "[package]\nname = \"x\"\nversion.workspace = true\n\n[dependencies]\n\
                      forge-contract.workspace = true\nserde.workspace = true\n\
                      blake3 = { workspace = true, optional = true }\nsha2 = \"0.10\"\n\n\
                      [dev-dependencies]\nserde_json.workspace = true\n\n[lints]\nworkspace = true\n";
        let out = standalone_manifest(member, root, &[("forge-contract", "../contract")])
            .expect("resolves");
        assert_eq!(
            out,
            "[package]\nname = \"x\"\nversion = \"0.3.0\"\n\n[dependencies]\n\
             forge-contract = { path = \"../contract\" }\n\
             serde = { version = \"1\", features = [\"derive\"] }\n\
             blake3 = { version = \"1.8\", optional = true }\nsha2 = \"0.10\"\n\n"
        );
        assert!(standalone_manifest("[package]\nlicense.workspace = true\n", root, &[]).is_err());
        // The real ones resolve (vendored_files panics otherwise).
        assert!(vendored_files().len() > EMBEDDED_SOURCES.len());
    }
}
