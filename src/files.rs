//! Output files: every file imgdist writes appears whole or not at all, and never over an input.
//!
//! [`write_atomically`] writes into a temporary file in the target's directory and renames it
//! over the target once complete, so an interrupted run leaves either the old file or the new
//! one, never half of one. [`check_outputs`] refuses, before any work, an output that names an
//! input (the same file, through any link) or the same file as another output.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `path` whole: `write` fills a temporary file beside it, which then replaces `path`.
///
/// # Errors
/// [`Error::Write`] if the temporary file cannot be created, written or renamed (it is removed
/// then), or the error `write` returns.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let write_error = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // The mode `File::create` gives (less the umask), not the private one of temporary files.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder.tempfile_in(dir).map_err(write_error)?;
    let mut out = BufWriter::new(tmp);
    write(&mut out).map_err(write_error)?;
    let tmp = out.into_inner().map_err(|e| write_error(e.into_error()))?;
    tmp.persist(path).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// The path an output will be written at, made absolute with its directory's links resolved,
/// so that two spellings of one place compare equal before the file exists.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Refuses outputs that would destroy an input or each other, before any work.
///
/// `outputs` are `(option, path)`; `inputs` are the files read (`-`, standard input, is
/// skipped). An existing output is compared with each input as a file (hard and symbolic
/// links included); outputs are compared with each other by their resolved paths.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the option of the first output at fault.
pub fn check_outputs(outputs: &[(&'static str, &Path)], inputs: &[&Path]) -> Result<()> {
    let places: Vec<PathBuf> = outputs.iter().map(|(_, path)| resolved(path)).collect();
    for (k, &(option, path)) in outputs.iter().enumerate() {
        if let Some(j) = places[..k].iter().position(|earlier| *earlier == places[k]) {
            let other = outputs[j].0;
            return Err(Error::InvalidParameter {
                name: option,
                reason: format!(
                    "{} is also the file of {other}; give each output its own file",
                    path.display()
                ),
            });
        }
        if !path.exists() {
            continue;
        }
        let clash = inputs
            .iter()
            .filter(|input| input.as_os_str() != "-")
            .find(|input| same_file::is_same_file(path, input).unwrap_or(false));
        if let Some(input) = clash {
            return Err(Error::InvalidParameter {
                name: option,
                reason: format!(
                    "{} would overwrite the input {}",
                    path.display(),
                    input.display()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old\n").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half of the new")?;
            Err(io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert!(matches!(err, Error::Write { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
        let fresh = dir.path().join("fresh.csv");
        write_atomically(&fresh, |w| w.write_all(b"new\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            let plain = dir.path().join("plain.csv");
            std::fs::File::create(&plain).unwrap();
            assert_eq!(mode(&fresh), mode(&plain), "as File::create would make it");
            std::fs::remove_file(plain).unwrap();
        }
        std::fs::remove_file(fresh).unwrap();
        write_atomically(&path, |w| w.write_all(b"new\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn outputs_on_inputs_or_on_each_other_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.png");
        std::fs::write(&input, "x").unwrap();
        let link = dir.path().join("link.png");
        std::fs::hard_link(&input, &link).unwrap();
        let fresh = dir.path().join("new.csv");
        let inputs = [input.as_path(), Path::new("-")];
        let refused = |outputs: &[(&'static str, &Path)]| {
            check_outputs(outputs, &inputs).unwrap_err().to_string()
        };
        assert!(refused(&[("--dump-plan", &input)]).contains("would overwrite the input"));
        assert!(refused(&[("--plot", &link)]).starts_with("invalid --plot"));
        let spelled = dir.path().join(".").join("new.csv");
        let both = refused(&[("--dump-plan", &fresh), ("--dump-duals", &spelled)]);
        assert!(both.starts_with("invalid --dump-duals"), "{both}");
        assert!(both.contains("also the file of --dump-plan"), "{both}");
        let other = dir.path().join("other.csv");
        check_outputs(
            &[("--dump-plan", &fresh), ("--dump-duals", &other)],
            &inputs,
        )
        .unwrap();
    }
}
