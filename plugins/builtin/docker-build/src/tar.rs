//! A deterministic tar writer for build contexts: entries sorted by path, parent
//! directories written explicitly, every mtime 0, owner 0:0 with no user or group names.
//! The same files give the same bytes on any machine, so the context's hash identifies
//! exactly what the Docker Engine was sent.

use std::collections::BTreeMap;

/// What a context entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A regular file, 0644.
    File,
    /// An executable file, 0755 (artifacts: binaries built by another step).
    Executable,
}

/// The context's files: path (relative, `/`-separated) → (mode, contents).
#[derive(Debug, Default)]
pub struct Context {
    files: BTreeMap<String, (Mode, Vec<u8>)>,
}

impl Context {
    /// Adds a file; `false` when the path was already there (the old one is kept).
    pub fn add(&mut self, path: &str, mode: Mode, contents: Vec<u8>) -> bool {
        if self.files.contains_key(path) {
            return false;
        }
        self.files.insert(path.to_owned(), (mode, contents));
        true
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The archive: directories first where they are parents, then files, in path order.
    pub fn to_tar(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut dirs_written: Vec<String> = Vec::new();
        for (path, (mode, contents)) in &self.files {
            let parts: Vec<&str> = path.split('/').collect();
            for depth in 1..parts.len() {
                let dir = parts[..depth].join("/") + "/";
                if !dirs_written.contains(&dir) {
                    header(&mut out, &dir, 0o755, 0, b'5');
                    dirs_written.push(dir);
                }
            }
            let perm = match mode {
                Mode::File => 0o644,
                Mode::Executable => 0o755,
            };
            header(&mut out, path, perm, contents.len() as u64, b'0');
            out.extend_from_slice(contents);
            pad(&mut out);
        }
        // End of archive: two zero blocks.
        out.extend_from_slice(&[0u8; 1024]);
        out
    }
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// Writes a ustar header, preceded by a GNU long-name entry when the path does not fit the
/// ustar name and prefix fields.
fn header(out: &mut Vec<u8>, path: &str, mode: u32, size: u64, kind: u8) {
    let (prefix, name) = split_ustar(path).unwrap_or_else(|| {
        // GNU `L` entry: the full name as the entry's data; the real header then carries a
        // truncated name, which readers ignore.
        let mut long = path.as_bytes().to_vec();
        long.push(0);
        raw_header(out, "", "././@LongLink", 0, long.len() as u64, b'L');
        out.extend_from_slice(&long);
        pad(out);
        ("", &path[..path.floor_char_boundary(100)])
    });
    raw_header(out, prefix, name, mode, size, kind);
}

/// Splits `path` into ustar `prefix` (≤155 bytes) and `name` (≤100 bytes) at a `/`.
fn split_ustar(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    let bytes = path.as_bytes();
    (0..bytes.len().min(156))
        .rev()
        .filter(|&i| bytes[i] == b'/')
        .map(|i| (&path[..i], &path[i + 1..]))
        .find(|(p, n)| p.len() <= 155 && !n.is_empty() && n.len() <= 100)
}

fn raw_header(out: &mut Vec<u8>, prefix: &str, name: &str, mode: u32, size: u64, kind: u8) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0); // uid
    octal(&mut h[116..124], 0); // gid
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0); // mtime
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let field = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(field.as_bytes());
    out.extend_from_slice(&h);
}

/// A zero-padded octal number filling `field` but its last byte (NUL).
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_files_in_any_order_give_the_same_bytes() {
        let mut a = Context::default();
        a.add("b.txt", Mode::File, b"b".to_vec());
        a.add("dist/app", Mode::Executable, b"\x7fELF".to_vec());
        let mut b = Context::default();
        b.add("dist/app", Mode::Executable, b"\x7fELF".to_vec());
        b.add("b.txt", Mode::File, b"b".to_vec());
        assert_eq!(a.to_tar(), b.to_tar());
        assert!(!a.add("b.txt", Mode::File, b"other".to_vec()));
    }

    #[test]
    fn layout_is_ustar_with_parents_first_and_a_valid_checksum() {
        let mut c = Context::default();
        c.add("dist/app", Mode::Executable, vec![1; 600]);
        let tar = c.to_tar();
        // dir header, file header, 2 data blocks, 2 end blocks
        assert_eq!(tar.len(), 512 * 6);
        assert_eq!(&tar[..5], b"dist/");
        assert_eq!(tar[156], b'5');
        assert_eq!(&tar[512..520], b"dist/app");
        assert_eq!(&tar[512 + 100..512 + 107], b"0000755");
        assert_eq!(&tar[512 + 124..512 + 135], b"00000001130"); // 600 in octal
        let h = &tar[512..1024];
        let mut copy = h.to_vec();
        copy[148..156].copy_from_slice(b"        ");
        let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
        let recorded = std::str::from_utf8(&h[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(recorded, 8).unwrap(), sum);
    }

    #[test]
    fn long_paths_use_the_prefix_field_or_a_long_name_entry() {
        let mid = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(split_ustar(&mid), Some((&mid[..120], &mid[121..])));
        let long = "x".repeat(300);
        assert_eq!(split_ustar(&long), None);
        let mut c = Context::default();
        c.add(&long, Mode::File, b"y".to_vec());
        let tar = c.to_tar();
        assert_eq!(tar[156], b'L');
        assert_eq!(&tar[512..812], long.as_bytes());
    }
}
