//! `forge plugin build`: cargo for `wasm32-unknown-unknown`, then the core module encoded
//! as a component, written atomically, hashed.
//!
//! Reproducibility: the same sources give byte-identical components on any machine with the
//! same toolchain, wherever the crate, `$CARGO_HOME` and the rust sources live. What would
//! otherwise leak into the bytes, and what we do about it:
//!
//! | leak | fix |
//! |---|---|
//! | absolute paths in panic locations and debug info | `--remap-path-prefix` for `$CARGO_HOME`, the sysroot and rust sources, every path package and the target dir |
//! | debug info, symbol names | release profile with `debug = false`, `strip = "symbols"` (set through `CARGO_PROFILE_RELEASE_*`) |
//! | unwinding tables | `panic = "abort"` |
//! | timestamps | none: wasm has no place for them and wit-component writes none |

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::inspect::{Inspection, inspect_bytes};
use crate::toolchain::{Toolchain, ToolchainKind, WASM_TARGET};
use crate::{Error, pin};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The plugin crate's directory (with its `Cargo.toml`).
    pub dir: PathBuf,
    /// Where to write the component [default: `<default_dir>/<package>.wasm`].
    pub out: Option<PathBuf>,
    /// The directory of the default `out` [default: the crate's `dist/`, which is not
    /// ignored like `target/`: the component is meant to be committed and pinned].
    pub default_dir: Option<PathBuf>,
    /// cargo's `-j`.
    pub jobs: Option<u16>,
    /// A forge binary to run as cargo's `RUSTC_WRAPPER` (see [`crate::wrapper`]), which
    /// makes the bytes independent of the directories the crates sit in.
    pub rustc_wrapper: Option<PathBuf>,
    /// cargo's `--locked`: build exactly the committed `Cargo.lock` (forge's built-ins and
    /// fixtures, CI), failing rather than updating it.
    pub locked: bool,
}

/// A built plugin.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The package name, which is also the plugin's suggested name in `project.kdl`.
    pub name: String,
    /// The component written.
    pub path: PathBuf,
    /// `blake3:<hex>` of the component.
    pub hash: String,
    pub inspection: Inspection,
    pub toolchain: Toolchain,
    /// The component that was at `path` before, when its bytes differ from the new one.
    pub replaced: Option<Replaced>,
}

/// A component a build wrote over.
#[derive(Debug, Clone)]
pub struct Replaced {
    /// `blake3:<hex>`: what a pin of the old file says.
    pub hash: String,
    /// The toolchain it records ([`crate::section`]).
    pub toolchain: Option<String>,
}

/// Builds the plugin crate in `options.dir` with `toolchain` (from
/// [`crate::toolchain::detect`]). cargo's messages stream to stderr.
pub fn build(options: &BuildOptions, toolchain: &Toolchain) -> Result<BuildOutput, Error> {
    let dir = std::fs::canonicalize(&options.dir).map_err(|_| Error::NotACrate {
        dir: options.dir.clone(),
    })?;
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(Error::NotACrate { dir });
    }
    let meta = metadata(toolchain, &manifest, options.locked)?;

    let mut command = Command::new(&toolchain.cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--lib")
        .args(["--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("RUSTC", &toolchain.rustc)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags(toolchain, &meta))
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        // Plain RUSTFLAGS would be ignored anyway; dropping it keeps `cargo -v` honest.
        .env_remove("RUSTFLAGS")
        // forge's own stdout is for its report (and `--json`): cargo talks on stderr.
        .stdout(Stdio::from(std::io::stderr()))
        .stdin(Stdio::null());
    if let Some(jobs) = options.jobs {
        command.arg(format!("-j{jobs}"));
    }
    if options.locked {
        command.arg("--locked");
    }
    if let Some(wrapper) = &options.rustc_wrapper {
        let crates: Vec<String> = meta
            .path_packages
            .iter()
            .map(|(name, _)| name.replace('-', "_"))
            .collect();
        command
            .env("RUSTC_WRAPPER", wrapper)
            .env(crate::wrapper::PATH_CRATES_ENV, crates.join(","));
    } else {
        command.env_remove("RUSTC_WRAPPER");
    }
    if toolchain.kind == ToolchainKind::BuildStd {
        command
            .arg("-Zbuild-std=std,panic_abort")
            .env("RUSTC_BOOTSTRAP", "1");
        if let Some(linker) = &toolchain.linker {
            command.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker);
        }
    }
    let status = command.status().map_err(|source| Error::Spawn {
        program: toolchain.cargo.display().to_string(),
        source,
    })?;
    if !status.success() {
        return Err(Error::CargoFailed {
            status: status.to_string(),
        });
    }

    let artifact = meta
        .target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", meta.lib_name));
    let core = std::fs::read(&artifact).map_err(|_| Error::NoArtifact {
        path: artifact.clone(),
    })?;
    let component =
        crate::section::append_toolchain(encode_component(&core)?, &toolchain.recorded());

    let out = match &options.out {
        Some(out) => out.clone(),
        None => options
            .default_dir
            .clone()
            .unwrap_or_else(|| dir.join("dist"))
            .join(format!("{}.wasm", meta.package)),
    };
    let inspection = inspect_bytes(&out, &component)?;
    let unknown = inspection.unknown_imports();
    if !unknown.is_empty() {
        return Err(Error::UnknownImports {
            path: out,
            imports: unknown.into_iter().map(str::to_owned).collect(),
        });
    }
    let hash = pin::hash_bytes(&component);
    let replaced = std::fs::read(&out)
        .ok()
        .map(|old| Replaced {
            hash: pin::hash_bytes(&old),
            toolchain: crate::section::toolchain_of(&old),
        })
        .filter(|old| old.hash != hash);
    write_atomically(&out, &component)?;
    Ok(BuildOutput {
        replaced,
        name: meta.package,
        hash,
        path: out,
        inspection,
        toolchain: toolchain.clone(),
    })
}

/// Encodes a core module (with its embedded WIT world, as wit-bindgen leaves it) into a
/// validated component.
pub fn encode_component(core: &[u8]) -> Result<Vec<u8>, Error> {
    let mut encoder = wit_component::ComponentEncoder::default();
    let encoded = encoder
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode());
    encoded.map_err(|e| Error::Encode {
        message: format!("{e:#}"),
    })
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never half
/// of one: a temp file in the same directory, renamed over.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("create", &parent, e))?;
    let mut file = tempfile::NamedTempFile::new_in(&parent)
        .map_err(|e| Error::io("write into", &parent, e))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| Error::io("write", path, e))?;
    file.persist(path)
        .map_err(|e| Error::io("write", path, e.error))?;
    Ok(())
}

/// What the build needs from `cargo metadata`.
#[derive(Debug)]
struct Metadata {
    package: String,
    /// The lib target's name with `-` as `_`: the artifact's file stem.
    lib_name: String,
    target_dir: PathBuf,
    /// Directories of every path package (the plugin itself, a path-dependency SDK).
    path_packages: Vec<(String, PathBuf)>,
}

fn metadata(toolchain: &Toolchain, manifest: &Path, locked: bool) -> Result<Metadata, Error> {
    let mut command = Command::new(&toolchain.cargo);
    command
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            WASM_TARGET,
        ])
        .arg("--manifest-path")
        .arg(manifest)
        .env("RUSTC", &toolchain.rustc)
        .stdin(Stdio::null());
    if locked {
        command.arg("--locked");
    }
    let output = command.output().map_err(|source| Error::Spawn {
        program: toolchain.cargo.display().to_string(),
        source,
    })?;
    let fail = |message: String| Error::Metadata {
        manifest: manifest.to_path_buf(),
        message,
    };
    if !output.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| fail(e.to_string()))?;
    let str_of = |v: &serde_json::Value, key: &str| v[key].as_str().map(str::to_owned);

    let target_dir = str_of(&json, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| fail("no target_directory".into()))?;
    let packages = json["packages"].as_array().cloned().unwrap_or_default();
    let root = packages
        .iter()
        .find(|p| str_of(p, "manifest_path").is_some_and(|m| Path::new(&m) == manifest))
        .ok_or_else(|| fail("the crate is not among its own packages".into()))?;
    let package = str_of(root, "name").ok_or_else(|| fail("package without a name".into()))?;
    let lib = root["targets"].as_array().and_then(|targets| {
        targets.iter().find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|types| types.iter().any(|k| k == "cdylib"))
        })
    });
    let Some(lib_name) = lib.and_then(|t| str_of(t, "name")) else {
        return Err(Error::NotCdylib { name: package });
    };
    let path_packages = packages
        .iter()
        .filter(|p| p["source"].is_null())
        .filter_map(|p| {
            let dir = PathBuf::from(str_of(p, "manifest_path")?)
                .parent()?
                .to_path_buf();
            Some((str_of(p, "name")?, dir))
        })
        .collect();
    Ok(Metadata {
        package,
        lib_name: lib_name.replace('-', "_"),
        target_dir,
        path_packages,
    })
}

/// `CARGO_ENCODED_RUSTFLAGS`: the path remappings, `\x1f`-separated. rustc applies the
/// last matching remapping, so broader prefixes come first.
fn rustflags(toolchain: &Toolchain, meta: &Metadata) -> OsString {
    let mut remaps: Vec<(PathBuf, String)> = Vec::new();
    if let Some(cargo_home) = cargo_home() {
        remaps.push((cargo_home, "/cargo".into()));
    }
    remaps.push((toolchain.sysroot.clone(), "/rust/sysroot".into()));
    if let Some(src) = &toolchain.rust_src {
        remaps.push((src.clone(), "/rust/src".into()));
    }
    let mut packages = meta.path_packages.clone();
    packages.sort_by_key(|(_, dir)| dir.as_os_str().len());
    for (name, dir) in packages {
        remaps.push((dir, format!("/plugin/{name}")));
    }
    remaps.push((meta.target_dir.clone(), "/target".into()));

    let mut flags = OsString::new();
    for (i, (from, to)) in remaps.iter().enumerate() {
        if i > 0 {
            flags.push("\x1f");
        }
        flags.push("--remap-path-prefix=");
        flags.push(from);
        flags.push("=");
        flags.push(to);
    }
    flags
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaps_go_from_broad_to_specific() {
        let toolchain = Toolchain {
            kind: ToolchainKind::BuildStd,
            rustc: "/usr/bin/rustc".into(),
            cargo: "/usr/bin/cargo".into(),
            sysroot: "/usr".into(),
            rust_src: Some("/usr/lib/rustlib/src/rust".into()),
            linker: Some("/usr/bin/wasm-ld-22".into()),
            version: "rustc 1.0".into(),
        };
        let meta = Metadata {
            package: "hello".into(),
            lib_name: "hello".into(),
            target_dir: "/w/hello/target".into(),
            path_packages: vec![
                ("hello".into(), "/w/hello".into()),
                ("forge-plugin-sdk".into(), "/src/forge/plugin-sdk".into()),
            ],
        };
        let flags = rustflags(&toolchain, &meta).into_string().expect("utf-8");
        let flags: Vec<&str> = flags
            .split('\x1f')
            .filter(|f| !f.ends_with("=/cargo"))
            .collect();
        assert_eq!(
            flags,
            [
                "--remap-path-prefix=/usr=/rust/sysroot",
                "--remap-path-prefix=/usr/lib/rustlib/src/rust=/rust/src",
                "--remap-path-prefix=/w/hello=/plugin/hello",
                "--remap-path-prefix=/src/forge/plugin-sdk=/plugin/forge-plugin-sdk",
                "--remap-path-prefix=/w/hello/target=/target",
            ]
        );
    }

    #[test]
    fn atomic_write_replaces_and_creates_dirs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("forge/p.wasm");
        write_atomically(&path, b"one").expect("first write");
        write_atomically(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let entries = std::fs::read_dir(dir.path().join("forge"))
            .expect("list")
            .count();
        assert_eq!(entries, 1, "no temp file left behind");
    }
}
