//! Where a job's input comes from and where its report goes: a job
//! directory (`JOBDIR/input/input.json` in, `JOBDIR/output/output.json`
//! and file artifacts out), or the older form (the same JSON on stdin, the
//! report on stdout).

use crate::CortexError;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// One job: its input bytes and where it runs.
#[derive(Debug)]
pub struct Job {
    dir: Option<PathBuf>,
    bytes: Vec<u8>,
}

impl Job {
    /// The job in `dir`: reads `dir/input/input.json`.
    pub fn open(dir: &Path) -> Result<Job, CortexError> {
        let path = dir.join("input").join("input.json");
        let bytes = read_bounded(std::fs::File::open(&path).map_err(|e| CortexError::Io {
            what: format!("cannot read {}", path.display()),
            source: e,
        })?)
        .map_err(|e| CortexError::Io {
            what: format!("cannot read {}", path.display()),
            source: e,
        })?;
        Ok(Job {
            dir: Some(dir.to_path_buf()),
            bytes,
        })
    }

    /// Whether `dir` holds a job in the job-directory form.
    pub fn is_job_dir(dir: &Path) -> bool {
        dir.join("input").join("input.json").is_file()
    }

    /// The older form: the input read from `reader` (stdin).
    pub fn from_reader(reader: impl Read) -> Result<Job, CortexError> {
        let bytes = read_bounded(reader).map_err(|e| CortexError::Io {
            what: "cannot read the job input on stdin".into(),
            source: e,
        })?;
        Ok(Job { dir: None, bytes })
    }

    /// A job from bytes already read, in `dir` if given (tests, fuzzing).
    pub fn from_bytes(dir: Option<PathBuf>, bytes: Vec<u8>) -> Job {
        Job { dir, bytes }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The job directory, if the job has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// `JOBDIR/output`, created; file artifacts go there.
    pub(crate) fn output_dir(&self) -> Result<Option<PathBuf>, CortexError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let out = dir.join("output");
        std::fs::create_dir_all(&out).map_err(|e| CortexError::Io {
            what: format!("cannot create {}", out.display()),
            source: e,
        })?;
        Ok(Some(out))
    }

    /// The path of a file observable. In a job directory, `file` names a
    /// file under `JOBDIR/input/`: an absolute name, `..`, or anything that
    /// resolves (through links) outside that folder is refused. In the
    /// older form `file` is the path Cortex gives.
    pub(crate) fn input_file(&self, file: &str) -> Result<PathBuf, String> {
        let Some(dir) = &self.dir else {
            return Ok(PathBuf::from(file));
        };
        let name = Path::new(file);
        if file.is_empty()
            || file.contains('\0')
            || !name
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "file: {:?} is not a file name inside the job's input folder",
                crate::input::bounded(file)
            ));
        }
        let input = dir.join("input");
        let root = input
            .canonicalize()
            .map_err(|e| format!("cannot open the job's input folder: {e}"))?;
        let path = input.join(name);
        let real = path.canonicalize().map_err(|e| {
            format!(
                "file: cannot open {:?} in the job's input folder: {e}",
                crate::input::bounded(file)
            )
        })?;
        if !real.starts_with(&root) {
            return Err(format!(
                "file: {:?} leads outside the job's input folder",
                crate::input::bounded(file)
            ));
        }
        if !real.is_file() {
            return Err(format!(
                "file: {:?} is not a regular file",
                crate::input::bounded(file)
            ));
        }
        Ok(real)
    }

    /// Writes the report: `JOBDIR/output/output.json` (whole or not at all:
    /// a temporary file renamed into place), or `stdout` in the older form.
    pub fn write(&self, report: &Value, stdout: &mut dyn Write) -> Result<(), CortexError> {
        let text = serde_json::to_vec(report).map_err(|e| CortexError::Io {
            what: "cannot encode the report".into(),
            source: e.into(),
        })?;
        let Some(out) = self.output_dir()? else {
            stdout.write_all(&text).map_err(|e| CortexError::Io {
                what: "cannot write the report to stdout".into(),
                source: e,
            })?;
            return stdout.flush().map_err(|e| CortexError::Io {
                what: "cannot write the report to stdout".into(),
                source: e,
            });
        };
        let target = out.join("output.json");
        let io = |e: std::io::Error| CortexError::Io {
            what: format!("cannot write {}", target.display()),
            source: e,
        };
        let mut file = tempfile::NamedTempFile::new_in(&out).map_err(io)?;
        file.write_all(&text).map_err(io)?;
        file.persist(&target).map_err(|e| io(e.error))?;
        Ok(())
    }
}

fn read_bounded(reader: impl Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(crate::input::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_file_name_that_leaves_the_input_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input/sample"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        let job = Job::from_bytes(Some(dir.path().to_path_buf()), Vec::new());
        assert!(job.input_file("sample").is_ok());
        for bad in ["../secret", "../../x", "/etc/passwd", "", "a/../../secret"] {
            assert!(job.input_file(bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("input/link"))
                .unwrap();
            let err = job.input_file("link").unwrap_err();
            assert!(err.contains("outside"), "{err}");
        }
    }
}
