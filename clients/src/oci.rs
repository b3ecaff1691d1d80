//! Turning what `docker save` gives into a reproducible OCI image, and back into something
//! `docker load` takes.
//!
//! The legacy builder stamps wall-clock times everywhere: in every file and directory it
//! creates, in the config's `created` and history, and in fields that name the throwaway
//! container each step ran in. The same context therefore builds to a different image
//! every time. Everything here is a pure function of bytes, so that the same inputs give
//! the same digest, and so that it can be tested without an engine.
//!
//! Layers stay uncompressed (`application/vnd.oci.image.layer.v1.tar`): a gzip stream's
//! bytes depend on the compressor's version and level, and a digest must not.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::PathBuf;

use forge_engine::store::canonical_json;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// What registries send for a manifest pushed by Docker itself.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// `sha256:<hex>` of `bytes`: how registries and the engine name content.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The output file a blob is written to: the OCI image layout's path for it.
pub fn blob_output_name(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// `seconds` since the Unix epoch in RFC 3339, the format image configs use.
/// The OCI annotation for when an image was made; set to the epoch like every timestamp.
pub const CREATED_LABEL: &str = "org.opencontainers.image.created";

/// `YYYY-MM-DDTHH:MM:SSZ` of `seconds` since the Unix epoch.
pub fn rfc3339(seconds: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// An image as `docker save` lays it out: the config bytes and the layer tars, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
}

/// A blob of the normalized image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// The output file that holds it (`blobs/sha256/<hex>`).
    pub output: String,
}

impl Blob {
    fn of(bytes: &[u8], media_type: &str) -> Blob {
        let digest = sha256_digest(bytes);
        Blob {
            output: blob_output_name(&digest),
            digest,
            size: bytes.len() as u64,
            media_type: media_type.to_owned(),
        }
    }
}

/// The normalized image: its OCI manifest and the bytes of every blob it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedImage {
    /// Canonical JSON of the OCI image manifest.
    pub manifest: String,
    /// `sha256:` of `manifest`: the digest the image has in any registry.
    pub digest: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub config_bytes: Vec<u8>,
    pub layer_bytes: Vec<Vec<u8>>,
}

impl NormalizedImage {
    /// The local image ID the engine gives this image once loaded: its config digest.
    pub fn id(&self) -> &str {
        &self.config.digest
    }

    /// Output file name → contents, one entry per distinct blob.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        files.insert(self.config.output.clone(), self.config_bytes.clone());
        for (blob, bytes) in self.layers.iter().zip(&self.layer_bytes) {
            files
                .entry(blob.output.clone())
                .or_insert_with(|| bytes.clone());
        }
        files
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads a `docker save` archive (one image).
pub fn read_docker_save(archive: &[u8]) -> io::Result<SavedImage> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for entry in tar::Archive::new(archive).entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .to_owned();
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut bytes)?;
        files.insert(path, bytes);
    }
    let manifest = files
        .get("manifest.json")
        .ok_or_else(|| invalid("the engine's image export has no manifest.json"))?;
    let manifest: Value = serde_json::from_slice(manifest)
        .map_err(|e| invalid(format!("the export's manifest.json is not JSON: {e}")))?;
    let image = manifest
        .as_array()
        .and_then(|images| images.first())
        .ok_or_else(|| invalid("the export's manifest.json lists no image"))?;
    let take = |path: Option<&str>, what: &str| -> io::Result<Vec<u8>> {
        let path = path.ok_or_else(|| invalid(format!("the export names no {what}")))?;
        files
            .get(path.trim_start_matches("./"))
            .cloned()
            .ok_or_else(|| invalid(format!("the export lacks its {what} `{path}`")))
    };
    let config = take(image["Config"].as_str(), "config")?;
    let mut layers = Vec::new();
    for layer in image["Layers"].as_array().into_iter().flatten() {
        let bytes = take(layer.as_str(), "layer")?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(invalid(
                "the engine exported a compressed layer; forge needs an engine whose `docker save` writes plain tar layers",
            ));
        }
        layers.push(bytes);
    }
    Ok(SavedImage { config, layers })
}

/// Normalizes a saved image for `source_date_epoch` and describes it as an OCI image.
pub fn normalize_image(saved: &SavedImage, source_date_epoch: u64) -> io::Result<NormalizedImage> {
    let layer_bytes = saved
        .layers
        .iter()
        .map(|layer| normalize_layer(layer, source_date_epoch))
        .collect::<io::Result<Vec<_>>>()?;
    let layers: Vec<Blob> = layer_bytes
        .iter()
        .map(|bytes| Blob::of(bytes, LAYER_MEDIA_TYPE))
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let config_bytes = normalize_config(&saved.config, source_date_epoch, &diff_ids)?;
    let config = Blob::of(&config_bytes, CONFIG_MEDIA_TYPE);
    let manifest = oci_manifest(&config, &layers);
    Ok(NormalizedImage {
        digest: sha256_digest(manifest.as_bytes()),
        manifest,
        config,
        layers,
        config_bytes,
        layer_bytes,
    })
}

/// The OCI image manifest naming `config` and `layers`, as canonical JSON.
pub fn oci_manifest(config: &Blob, layers: &[Blob]) -> String {
    let descriptor = |b: &Blob| {
        json!({
            "mediaType": b.media_type,
            "digest": b.digest,
            "size": b.size,
        })
    };
    canonical_json(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": descriptor(config),
        "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
    }))
}

/// Fields of the config that only record where and when the legacy builder ran: the
/// throwaway container of the last step (its id, hostname and whole config), and the
/// engine's version.
const VOLATILE_TOP_LEVEL: [&str; 5] = [
    "container",
    "container_config",
    "docker_version",
    "id",
    "parent",
];
/// Fields of `config` that do the same: `Image` is the ID of the previous step's image,
/// which itself depends on when that step ran.
const VOLATILE_RUN_CONFIG: [&str; 3] = ["Hostname", "Domainname", "Image"];

/// Rewrites an image config: every time set to the epoch, the builder's bookkeeping
/// dropped, `rootfs.diff_ids` set to the normalized layers, serialized canonically.
pub fn normalize_config(
    raw: &[u8],
    source_date_epoch: u64,
    diff_ids: &[String],
) -> io::Result<Vec<u8>> {
    let mut config: Value = serde_json::from_slice(raw)
        .map_err(|e| invalid(format!("the image config is not JSON: {e}")))?;
    let object = config
        .as_object_mut()
        .ok_or_else(|| invalid("the image config is not a JSON object"))?;
    let created = Value::String(rfc3339(source_date_epoch));
    for key in VOLATILE_TOP_LEVEL {
        object.remove(key);
    }
    if let Some(Value::Object(run)) = object.get_mut("config") {
        for key in VOLATILE_RUN_CONFIG {
            run.remove(key);
        }
    }
    object.insert("created".into(), created.clone());
    if let Some(Value::Array(history)) = object.get_mut("history") {
        for step in history.iter_mut().filter_map(Value::as_object_mut) {
            step.insert("created".into(), created.clone());
        }
    }
    object.insert(
        "rootfs".into(),
        json!({ "type": "layers", "diff_ids": diff_ids }),
    );
    Ok(canonical_json(&config).into_bytes())
}

/// Rewrites a layer tar canonically: same entries in the same order with the same
/// content, type, mode, owner ids, link target and extended attributes; mtimes clamped to
/// the epoch; no atime/ctime, no owner names, no other PAX records.
pub fn normalize_layer(raw: &[u8], source_date_epoch: u64) -> io::Result<Vec<u8>> {
    let mut out = tar::Builder::new(Vec::with_capacity(raw.len()));
    for entry in tar::Archive::new(raw).entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() == tar::EntryType::XGlobalHeader {
            // Defaults for later entries (times, owner names): exactly what is dropped.
            continue;
        }
        let mut uid = entry.header().uid()?;
        let mut gid = entry.header().gid()?;
        let mut mtime = entry.header().mtime()?;
        let mut xattrs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        if let Some(pax) = entry.pax_extensions()? {
            for record in pax {
                let record = record?;
                let key = record.key().map_err(|e| invalid(format!("PAX key: {e}")))?;
                let number = || {
                    record
                        .value()
                        .ok()
                        .and_then(|v| v.split('.').next())
                        .and_then(|v| v.parse::<u64>().ok())
                };
                match key {
                    "uid" => uid = number().unwrap_or(uid),
                    "gid" => gid = number().unwrap_or(gid),
                    "mtime" => mtime = number().unwrap_or(mtime),
                    _ if key.starts_with("SCHILY.xattr.") => {
                        xattrs.insert(key.to_owned(), record.value_bytes().to_vec());
                    }
                    _ => {}
                }
            }
        }
        let path = bytes_path(&entry.path_bytes())?;
        let link = entry
            .link_name_bytes()
            .map(|l| bytes_path(&l))
            .transpose()?;
        let source = entry.header().clone();
        let kind = source.entry_type();
        let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut data)?;

        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(source.mode()?);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(mtime.min(source_date_epoch));
        header.set_size(data.len() as u64);
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            header.set_device_major(source.device_major()?.unwrap_or(0))?;
            header.set_device_minor(source.device_minor()?.unwrap_or(0))?;
        }
        if !xattrs.is_empty() {
            append_pax(&mut out, &xattrs)?;
        }
        match (kind, link) {
            (tar::EntryType::Link | tar::EntryType::Symlink, Some(target)) => {
                out.append_link(&mut header, &path, &target)?;
            }
            _ => out.append_data(&mut header, &path, data.as_slice())?,
        }
    }
    out.into_inner()
}

#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> io::Result<PathBuf> {
    std::str::from_utf8(bytes)
        .map(PathBuf::from)
        .map_err(|_| invalid("a layer holds a path that is not UTF-8"))
}

/// A PAX extended header carrying `records` (already sorted) for the next entry.
fn append_pax(
    out: &mut tar::Builder<Vec<u8>>,
    records: &BTreeMap<String, Vec<u8>>,
) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        // "<len> <key>=<value>\n", where <len> counts the whole record, itself included.
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut header = tar::Header::new_ustar();
    header.set_path("PaxHeader")?;
    header.set_entry_type(tar::EntryType::XHeader);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(data.len() as u64);
    header.set_cksum();
    out.append(&header, data.as_slice())
}

/// A `docker save` archive of one image, for `POST /images/load`. The engine names the
/// loaded image by the digest of the config bytes as given, so the local ID is the config
/// digest.
pub fn docker_load_archive(image: &NormalizedImage, tags: &[String]) -> io::Result<Vec<u8>> {
    let manifest = json!([{
        "Config": image.config.output,
        "RepoTags": tags,
        "Layers": image.layers.iter().map(|l| l.output.clone()).collect::<Vec<_>>(),
    }]);
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8]| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(bytes.len() as u64);
        out.append_data(&mut header, path, bytes)
    };
    for (name, bytes) in image.files() {
        add(&name, &bytes)?;
    }
    add("manifest.json", canonical_json(&manifest).as_bytes())?;
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        b: &mut tar::Builder<Vec<u8>>,
        path: &str,
        kind: tar::EntryType,
        data: &[u8],
        mtime: u64,
    ) {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o640 });
        h.set_uid(1000);
        h.set_gid(100);
        h.set_username("someone").expect("uname");
        h.set_groupname("staff").expect("gname");
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).expect("append");
    }

    fn layer(mtime: u64) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        entry(&mut b, "app/", tar::EntryType::Directory, b"", mtime);
        entry(
            &mut b,
            "app/hello.txt",
            tar::EntryType::Regular,
            b"hi\n",
            mtime,
        );
        let long = format!("app/{}", "x".repeat(150));
        entry(&mut b, &long, tar::EntryType::Regular, b"long", mtime);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(0);
        b.append_link(&mut h, "app/link", "/etc/hostname")
            .expect("link");
        b.into_inner().expect("tar")
    }

    struct Seen {
        path: String,
        mtime: u64,
        mode: u32,
        uid: u64,
        gid: u64,
        uname: Vec<u8>,
        link: Option<String>,
        data: Vec<u8>,
    }

    fn entries(tar_bytes: &[u8]) -> Vec<Seen> {
        let mut out = Vec::new();
        for e in tar::Archive::new(tar_bytes).entries().expect("entries") {
            let mut e = e.expect("entry");
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("read");
            let h = e.header();
            out.push(Seen {
                path: String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                mtime: h.mtime().expect("mtime"),
                mode: h.mode().expect("mode"),
                uid: h.uid().expect("uid"),
                gid: h.gid().expect("gid"),
                uname: h.username_bytes().unwrap_or_default().to_vec(),
                link: e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned()),
                data,
            });
        }
        out
    }

    #[test]
    fn layers_keep_content_and_lose_times_and_names() {
        let epoch = 1_700_000_000;
        let a = normalize_layer(&layer(1_800_000_000), epoch).expect("normalize");
        let b = normalize_layer(&layer(1_900_000_000), epoch).expect("normalize");
        assert_eq!(a, b, "times after the epoch must not show");
        assert_eq!(normalize_layer(&a, epoch).expect("again"), a, "idempotent");
        let seen = entries(&a);
        let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths[0], "app/");
        assert_eq!(paths[1], "app/hello.txt");
        assert_eq!(paths[2].len(), 154, "long names survive");
        assert_eq!(paths[3], "app/link");
        for s in &seen {
            assert_eq!(s.mtime, epoch);
            assert!(s.uname.is_empty(), "{}", s.path);
        }
        assert_eq!((seen[1].uid, seen[1].gid, seen[1].mode), (1000, 100, 0o640));
        assert_eq!(seen[1].data, b"hi\n");
        assert_eq!(seen[2].data, b"long");
        assert_eq!(seen[3].link.as_deref(), Some("/etc/hostname"));
    }

    #[test]
    fn older_mtimes_are_kept() {
        let out = normalize_layer(&layer(1_000), 5_000).expect("normalize");
        assert!(entries(&out).iter().all(|s| s.mtime == 1_000));
    }

    #[test]
    fn xattrs_survive_sorted_and_other_pax_records_do_not() {
        let mut b = tar::Builder::new(Vec::new());
        let mut pax = BTreeMap::new();
        pax.insert("SCHILY.xattr.user.b".to_owned(), b"2".to_vec());
        pax.insert("SCHILY.xattr.user.a".to_owned(), b"1".to_vec());
        pax.insert("atime".to_owned(), b"1234.5".to_vec());
        pax.insert("mtime".to_owned(), b"99.25".to_vec());
        append_pax(&mut b, &pax).expect("pax");
        entry(&mut b, "f", tar::EntryType::Regular, b"x", 5_000_000);
        let raw = b.into_inner().expect("tar");
        let out = normalize_layer(&raw, 1_000).expect("normalize");
        let mut archive = tar::Archive::new(out.as_slice());
        let mut e = archive
            .entries()
            .expect("entries")
            .next()
            .expect("one")
            .expect("entry");
        assert_eq!(
            e.header().mtime().expect("mtime"),
            99,
            "the PAX mtime wins, then clamps"
        );
        let keys: Vec<String> = e
            .pax_extensions()
            .expect("pax")
            .expect("some pax")
            .map(|r| r.expect("record").key().expect("key").to_owned())
            .collect();
        assert_eq!(keys, ["SCHILY.xattr.user.a", "SCHILY.xattr.user.b"]);
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        let mut b = tar::Builder::new(Vec::new());
        let mut pax = BTreeMap::new();
        // 93 + 3 bytes of key, value and punctuation: the length needs 3 digits, not 2.
        pax.insert("SCHILY.xattr.k".to_owned(), vec![b'v'; 82]);
        append_pax(&mut b, &pax).expect("pax");
        entry(&mut b, "f", tar::EntryType::Regular, b"x", 0);
        let raw = b.into_inner().expect("tar");
        let mut archive = tar::Archive::new(raw.as_slice());
        let mut e = archive
            .entries()
            .expect("entries")
            .next()
            .expect("one")
            .expect("entry");
        let values: Vec<usize> = e
            .pax_extensions()
            .expect("pax")
            .expect("some")
            .map(|r| r.expect("record").value_bytes().len())
            .collect();
        assert_eq!(values, [82]);
    }

    fn docker_config() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-11-26T15:17:37.766107647Z",
            "docker_version": "20.10.24+dfsg1",
            "container": "be72c5d680376e138b3906668a8470c10bd602fb72551bdd5fd8ff65cab3bcbc",
            "container_config": { "Hostname": "be72c5d68037" },
            "config": {
                "Hostname": "", "Env": ["X=1"],
                "Image": "sha256:85adcc15409a85c33c4731d1a42998609530e838bc39a05c9fe4038407a9c814",
                "Labels": { "b": "2", "a": "1" }
            },
            "history": [
                { "created": "2026-11-26T15:17:37.3Z", "created_by": "COPY" },
                { "created_by": "LABEL", "empty_layer": true }
            ],
            "rootfs": { "type": "layers", "diff_ids": ["sha256:old"] }
        }))
        .expect("json")
    }

    #[test]
    fn configs_are_canonical_and_timeless() {
        let out = normalize_config(&docker_config(), 0, &["sha256:new".into()]).expect("config");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            r#"{"architecture":"amd64","config":{"Env":["X=1"],"Labels":{"a":"1","b":"2"}},"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"COPY"},{"created":"1970-01-01T00:00:00Z","created_by":"LABEL","empty_layer":true}],"os":"linux","rootfs":{"diff_ids":["sha256:new"],"type":"layers"}}"#
        );
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn images_round_trip_through_a_docker_archive() {
        let saved = SavedImage {
            config: docker_config(),
            layers: vec![layer(1_800_000_000)],
        };
        let image = normalize_image(&saved, 1_700_000_000).expect("image");
        assert_eq!(image.digest, sha256_digest(image.manifest.as_bytes()));
        assert_eq!(image.id(), sha256_digest(&image.config_bytes));
        assert_eq!(image.layers[0].digest, sha256_digest(&image.layer_bytes[0]));
        let config: Value = serde_json::from_slice(&image.config_bytes).expect("config");
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            image.layers[0].digest.as_str()
        );
        let manifest: Value = serde_json::from_str(&image.manifest).expect("manifest");
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(manifest["layers"][0]["mediaType"], LAYER_MEDIA_TYPE);
        assert_eq!(manifest["layers"][0]["size"], image.layer_bytes[0].len());

        let archive = docker_load_archive(&image, &["x/y:z".into()]).expect("archive");
        let back = read_docker_save(&archive).expect("read back");
        assert_eq!(back.config, image.config_bytes);
        assert_eq!(back.layers, image.layer_bytes);
        let again = normalize_image(&back, 1_700_000_000).expect("again");
        assert_eq!(again.digest, image.digest, "normalizing is idempotent");
        assert_eq!(image.files().keys().cloned().collect::<Vec<_>>(), {
            let mut names = vec![image.config.output.clone(), image.layers[0].output.clone()];
            names.sort();
            names
        });
    }

    #[test]
    fn compressed_layers_are_refused_with_a_reason() {
        let image = normalize_image(
            &SavedImage {
                config: docker_config(),
                layers: vec![],
            },
            0,
        )
        .expect("image");
        let mut archive = tar::Builder::new(Vec::new());
        let mut add = |path: &str, bytes: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            archive.append_data(&mut h, path, bytes).expect("append");
        };
        add("c.json", &image.config_bytes);
        add("l/layer.tar", &[0x1f, 0x8b, 8, 0]);
        add(
            "manifest.json",
            br#"[{"Config":"c.json","Layers":["l/layer.tar"]}]"#,
        );
        let err = read_docker_save(&archive.into_inner().expect("tar")).expect_err("gzip");
        assert!(err.to_string().contains("compressed layer"), "{err}");
    }
}
