//! Images for tests that `RUN` something, for tests only (feature `testing`).
//!
//! No image can be pulled where forge's tests run, and `FROM scratch` has no program to run.
//! [`static_cat`] makes a base image with one: `/bin/cat`, a small C program linked
//! statically by the machine's C compiler (`cc`), imported into the engine with
//! `docker import` semantics (`POST /images/create?fromSrc=-`), so nothing is downloaded.

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use bytes::Bytes;
use futures_util::StreamExt;

/// `cat FILE...`: prints each file, fails naming the first it cannot open.
const CAT_C: &str = r#"// forge test image: static cat
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 1; }
        int c;
        while ((c = fgetc(f)) != EOF) putchar(c);
        fclose(f);
    }
    return 0;
}
"#;

/// The repository the base image is imported as.
pub const STATIC_CAT_REPOSITORY: &str = "forge-test/static-cat";

/// Imports (once per engine) an image whose only file is a static `/bin/cat`, and returns
/// its reference (`forge-test/static-cat:<hash of the source>`). Panics with what is
/// missing when `cc` cannot link statically (Debian: `gcc` and `libc6-dev`).
pub async fn static_cat(docker: &Docker) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(CAT_C.as_bytes());
    let tag: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let reference = format!("{STATIC_CAT_REPOSITORY}:{tag}");
    if docker.inspect_image(&reference).await.is_ok() {
        return reference;
    }
    let dir = std::env::temp_dir().join(format!("forge-static-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir for the static cat");
    let source = dir.join("cat.c");
    let binary = dir.join("cat");
    std::fs::write(&source, CAT_C).expect("write cat.c");
    let out = std::process::Command::new("cc")
        .args(["-static", "-Os", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| {
            panic!("tests that RUN in a build need a C compiler to make their base image: `cc`: {e} (Debian: apt-get install gcc libc6-dev)")
        });
    assert!(
        out.status.success(),
        "`cc -static` failed making the test base image (Debian: apt-get install gcc libc6-dev): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&binary).expect("read the static cat");
    let _ = std::fs::remove_dir_all(&dir);

    let mut rootfs = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_600_000_000);
    header.set_size(bytes.len() as u64);
    rootfs
        .append_data(&mut header, "bin/cat", bytes.as_slice())
        .expect("rootfs entry");
    let rootfs = rootfs.into_inner().expect("rootfs tar");
    let mut import = docker.create_image(
        Some(CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(STATIC_CAT_REPOSITORY.into()),
            tag: Some(tag),
            ..Default::default()
        }),
        Some(bollard::body_full(Bytes::from(rootfs))),
        None,
    );
    while let Some(item) = import.next().await {
        item.expect("importing the test base image");
    }
    reference
}
