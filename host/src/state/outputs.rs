//! `forge:plugin/outputs` on [`OutputsCtx`]: the step's output files, held in memory
//! until the executor commits them, within the output caps. `docker.build` writes its
//! image blobs here too, against a cap of their own.

use std::collections::BTreeMap;

use forge_engine::executor::check_relative_path;

use crate::bindings::forge::plugin::outputs;
use crate::error::bytes;
use crate::limits::Limits;

/// An output file the plugin wrote.
#[derive(Debug, Clone)]
pub(crate) struct OutputFile {
    pub(crate) hash: String,
    pub(crate) bytes: Vec<u8>,
}

/// A cap the plugin ran into that fails the step.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OutputOverflow {
    /// Output files total `size` bytes, past `limit`.
    Size { size: u64, limit: u64 },
    /// More than `limit` output files.
    Count { limit: u64 },
}

impl std::fmt::Display for OutputOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputOverflow::Size { size, limit } => write!(
                f,
                "output files total {} past the cap of {}",
                bytes(*size),
                bytes(*limit)
            ),
            OutputOverflow::Count { limit } => {
                write!(f, "more than {limit} output files, the cap for one step")
            }
        }
    }
}

/// A step's output files so far, and what they count against.
pub(crate) struct OutputsCtx {
    /// Name → file.
    pub(crate) files: BTreeMap<String, OutputFile>,
    /// Total size of the files the plugin wrote (not the image blobs).
    bytes: u64,
    /// Total size of the image blobs.
    image_bytes: u64,
    /// The cap the plugin ran into, which failed the step.
    pub(crate) overflow: Option<OutputOverflow>,
    /// [`Limits::output_count`], [`Limits::output_files`], [`Limits::image_blobs`].
    count_cap: u64,
    size_cap: u64,
    image_cap: u64,
}

impl OutputsCtx {
    pub(crate) fn new(limits: &Limits) -> OutputsCtx {
        OutputsCtx {
            files: BTreeMap::new(),
            bytes: 0,
            image_bytes: 0,
            overflow: None,
            count_cap: limits.output_count,
            size_cap: limits.output_files,
            image_cap: limits.image_blobs,
        }
    }

    /// Adds an output file, counting it against the output caps. `Ok(Err)` is a refusal
    /// the plugin sees (a bad name, a name written twice); `Err` is the trap for running
    /// past a cap, which a plugin cannot shrug off.
    pub(crate) fn write(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> wasmtime::Result<Result<String, String>> {
        if let Err(problem) = check_relative_path(&name) {
            return Ok(Err(format!("output name {problem}")));
        }
        if self.files.contains_key(&name) {
            return Ok(Err(format!(
                "output `{name}` was already written by this step; each output is written once"
            )));
        }
        if self.files.len() as u64 >= self.count_cap {
            let overflow = OutputOverflow::Count {
                limit: self.count_cap,
            };
            self.overflow = Some(overflow);
            return Err(wasmtime::Error::msg(overflow.to_string()));
        }
        let total = self.bytes + contents.len() as u64;
        if total > self.size_cap {
            let overflow = OutputOverflow::Size {
                size: total,
                limit: self.size_cap,
            };
            self.overflow = Some(overflow);
            return Err(wasmtime::Error::msg(overflow.to_string()));
        }
        self.bytes = total;
        Ok(Ok(self.insert(name, contents)))
    }

    /// Adds an image blob `docker.build` produced as an output file, counting it against
    /// [`Limits::image_blobs`] (not the plugin's output cap). Past the cap the build is an
    /// error the plugin reports, not a trap: the plugin did nothing wrong.
    pub(crate) fn write_image_blob(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> Result<String, String> {
        let total = self.image_bytes + contents.len() as u64;
        if total > self.image_cap {
            return Err(format!(
                "the image is {} or more, past forge's cap of {} for one image",
                bytes(total),
                bytes(self.image_cap)
            ));
        }
        self.image_bytes = total;
        Ok(self.insert(name, contents))
    }

    /// Keeps `contents` as the output `name`; returns its blake3.
    fn insert(&mut self, name: String, contents: Vec<u8>) -> String {
        let hash = blake3::hash(&contents).to_hex().to_string();
        self.files.insert(
            name,
            OutputFile {
                hash: hash.clone(),
                bytes: contents,
            },
        );
        hash
    }
}

impl outputs::Host for OutputsCtx {
    async fn write(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> wasmtime::Result<Result<String, String>> {
        OutputsCtx::write(self, name, contents)
    }
}
