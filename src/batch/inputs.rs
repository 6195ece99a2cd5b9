//! Folder listing: a directory argument stands for the inputs it holds.

use std::path::Path;

use crate::error::{Error, Result};

/// Expands each argument that is a directory into the inputs it holds — the files with an image
/// extension the `image` crate knows, or `csv`/`tsv`/`txt`, sorted by name, hidden files
/// skipped — and keeps every other argument as it is.
///
/// # Errors
/// [`Error::Io`] if a directory cannot be listed.
pub fn expand_inputs(args: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if !path.is_dir() {
            out.push(arg.clone());
            continue;
        }
        let io_err = |source| Error::Io {
            source_name: arg.clone(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ext = Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            let known = matches!(ext.as_str(), "csv" | "tsv" | "txt")
                || image::ImageFormat::from_extension(&ext).is_some();
            if name.starts_with('.') || !known {
                continue;
            }
            // The entry's type comes with the listing on most systems; only a symbolic link
            // needs a look at what it points to.
            let kind = entry.file_type().map_err(io_err)?;
            let is_dir = kind.is_dir() || (kind.is_symlink() && entry.path().is_dir());
            if !is_dir {
                names.push(name);
            }
        }
        names.sort();
        let base = arg.trim_end_matches('/');
        out.extend(names.into_iter().map(|n| format!("{base}/{n}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn directories_list_their_inputs_and_no_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in [
            "b.png",
            "a.csv",
            "C.TSV",
            ".hidden.png",
            "notes.md",
            "target.png",
        ] {
            std::fs::write(d.join(name), "1\n").unwrap();
        }
        std::fs::create_dir(d.join("sub.png")).unwrap();
        std::os::unix::fs::symlink(d.join("target.png"), d.join("link.png")).unwrap();
        std::os::unix::fs::symlink(d.join("sub.png"), d.join("linked_dir.png")).unwrap();
        std::os::unix::fs::symlink(d.join("gone.png"), d.join("dangling.png")).unwrap();
        let base = d.display().to_string();
        let got = expand_inputs(&[base.clone(), "x.png".into(), format!("{base}/")]).unwrap();
        let names = [
            "C.TSV",
            "a.csv",
            "b.png",
            "dangling.png",
            "link.png",
            "target.png",
        ];
        let mut want: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
        want.push("x.png".into());
        want.extend(names.iter().map(|n| format!("{base}/{n}")));
        assert_eq!(got, want);
    }
}
