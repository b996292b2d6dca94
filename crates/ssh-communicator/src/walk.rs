//! Local directory walking for directory uploads (rsync's trailing-slash rule) and
//! Packer's exclude patterns.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Matches Packer exclude patterns (`*`, `?`), by relative path or by base name.
pub(crate) fn excluded(rel: &str, patterns: &[String]) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    patterns.iter().any(|p| {
        glob_match(p.as_bytes(), rel.as_bytes()) || glob_match(p.as_bytes(), base.as_bytes())
    })
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// One step of a directory upload.
#[derive(Debug)]
pub(crate) enum Walk {
    /// A directory to create and enter: name, mode.
    Enter(String, u32),
    /// A file: local path, name, mode, size.
    File(PathBuf, String, u32, u64),
    /// Back to the parent directory.
    Leave,
}

pub(crate) fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// What to send for the local directory `src`: with a trailing slash its contents, without
/// it the directory itself (rsync's rule, which Packer's file provisioner follows).
pub(crate) fn plan(src: &str, exclude: &[String]) -> Result<Vec<Walk>> {
    let src_path = Path::new(src);
    let mut plan = Vec::new();
    if src.ends_with('/') {
        walk(src_path, "", exclude, &mut plan)?;
    } else {
        let meta = std::fs::metadata(src_path).map_err(Error::io(format!("reading {src:?}")))?;
        let name = src_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dir".into());
        plan.push(Walk::Enter(name.clone(), mode_of(&meta)));
        walk(src_path, &name, exclude, &mut plan)?;
        plan.push(Walk::Leave);
    }
    Ok(plan)
}

/// Lists what to send for `dir` (sorted, excludes applied), depth first.
fn walk(dir: &Path, rel: &str, exclude: &[String], out: &mut Vec<Walk>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(Error::io(format!("listing {dir:?}")))?
        .filter_map(std::result::Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel_name = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if excluded(&rel_name, exclude) {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(Error::io(format!("reading {path:?}")))?;
        if meta.is_dir() {
            out.push(Walk::Enter(name, mode_of(&meta)));
            walk(&path, &rel_name, exclude, out)?;
            out.push(Walk::Leave);
        } else if meta.is_file() {
            out.push(Walk::File(path, name, mode_of(&meta), meta.len()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*.log", b"x.log"));
        assert!(!glob_match(b"*.log", b"x.log.1"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(excluded("sub/x.tmp", &["*.tmp".into()]));
        assert!(excluded("sub/keep", &["sub/*".into()]));
        assert!(!excluded("keep", &["sub/*".into()]));
    }
}
