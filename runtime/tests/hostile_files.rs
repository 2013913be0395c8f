//! Someone who controls the manifests folder or the certificate folder: FIFOs,
//! devices, symlink loops and huge files must be refused (promptly, naming the file
//! and the cause) or walked past, never hang a load or a reload or exhaust memory;
//! unchanged files are not read again, and edits are still seen. (The
//! certificate folder's cases are unit tests of the reloader, `tls/reload.rs`.)

use eso_runtime::source::Source;
use eso_runtime::source::files::FilesSource;
use eso_runtime::testing::TestResult;
use eso_runtime::testing::files::{age, mkfifo, sparse, symlink, tempdir, within, write};
use eso_runtime::{Gvk, Result};
use std::path::Path;
use std::sync::Arc;

const FAKE: Gvk = Gvk {
    group: "provider.external-secrets.io",
    version: "v2alpha1",
    kind: "Fake",
};

fn object(name: &str) -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {{name: {name}}}\nspec: {{data: []}}\n"
    )
}

/// Loads `dir` on a thread of its own: an error if it hangs, else the load's result.
fn load(dir: &Path) -> TestResult<Result<FilesSource>> {
    let dir = dir.to_path_buf();
    within("FilesSource::load", move || FilesSource::load(dir))
}

fn load_error(dir: &Path) -> TestResult<String> {
    match load(dir)? {
        Ok(_) => Err(format!("loading {} succeeded; expected an error", dir.display()).into()),
        Err(error) => Ok(error.to_string()),
    }
}

fn has(source: &FilesSource, name: &str) -> bool {
    matches!(source.object(&FAKE, "default", name), Ok(Some(_)))
}

fn reload(source: &Arc<FilesSource>) -> TestResult<Result<bool>> {
    let source = Arc::clone(source);
    within("FilesSource::reload", move || source.reload())
}

// ---- manifests --------------------------------------------------------------

#[test]
fn a_fifo_named_like_a_manifest_is_refused_at_load_and_on_reload() -> TestResult {
    let dir = tempdir()?;
    write(&dir.path().join("a.yaml"), &object("one"))?;
    mkfifo(&dir.path().join("x.yaml"))?;
    let error = load_error(dir.path())?;
    assert!(
        error.contains("x.yaml is a FIFO (named pipe), not a regular file"),
        "{error}"
    );

    // Appearing while running: the reload refuses it, the last good set stays, and
    // the same refusal is reported once.
    let dir = tempdir()?;
    write(&dir.path().join("a.yaml"), &object("one"))?;
    let source = Arc::new(load(dir.path())?.map_err(|e| format!("the good folder loads: {e}"))?);
    mkfifo(&dir.path().join("x.yaml"))?;
    let error = reload(&source)?.err().ok_or("a FIFO must not be accepted")?;
    assert!(error.message().contains("x.yaml is a FIFO"), "{error}");
    assert!(has(&source, "one"), "the last good set stays in force");
    assert!(!reload(&source)?.map_err(|e| format!("the same set is not reported again: {e}"))?);
    Ok(())
}

#[test]
fn a_symlink_to_dev_zero_is_refused_without_reading_it() -> TestResult {
    let dir = tempdir()?;
    write(&dir.path().join("a.yaml"), &object("one"))?;
    symlink("/dev/zero", &dir.path().join("z.yaml"))?;
    let error = load_error(dir.path())?;
    assert!(
        error.contains("z.yaml is a character device, not a regular file"),
        "{error}"
    );

    let dir = tempdir()?;
    write(&dir.path().join("a.yaml"), &object("one"))?;
    let source = Arc::new(load(dir.path())?.map_err(|e| format!("the good folder loads: {e}"))?);
    symlink("/dev/zero", &dir.path().join("z.yaml"))?;
    let error = reload(&source)?.err().ok_or("/dev/zero must not be accepted")?;
    assert!(error.message().contains("z.yaml is a character device"), "{error}");
    assert!(has(&source, "one"));
    Ok(())
}

#[test]
fn symlink_loops_end_and_each_document_is_found_once() -> TestResult {
    let dir = tempdir()?;
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub/deeper")).map_err(|e| format!("creating subfolders: {e}"))?;
    write(&root.join("a.yaml"), &object("one"))?;
    write(&root.join("sub/b.yaml"), &object("two"))?;
    write(&root.join("sub/deeper/c.yml"), &object("three"))?;
    symlink(".", &root.join("self"))?;
    symlink(".", &root.join("sub/also-self"))?;
    symlink("..", &root.join("sub/up"))?;
    symlink("../..", &root.join("sub/deeper/top"))?;
    symlink("../sub", &root.join("sub/deeper/sideways"))?;
    // A symlink to a folder that is not a loop still works.
    let elsewhere = tempdir()?;
    write(&elsewhere.path().join("d.json"), &object("four"))?;
    symlink(elsewhere.path(), &root.join("linked"))?;

    let source =
        Arc::new(load(root)?.map_err(|e| format!("a folder with symlink loops loads, each document once: {e}"))?);
    for name in ["one", "two", "three", "four"] {
        assert!(has(&source, name), "{name} is loaded");
    }
    assert!(!reload(&source)?.map_err(|e| format!("reloading the same folder: {e}"))?);
    Ok(())
}

#[test]
fn a_huge_manifest_is_refused_naming_the_limit() -> TestResult {
    let dir = tempdir()?;
    write(&dir.path().join("a.yaml"), &object("one"))?;
    sparse(&dir.path().join("big.yaml"), 500 << 20)?;
    let error = load_error(dir.path())?;
    assert!(
        error.contains("big.yaml is larger than the 16 MiB limit for one file"),
        "{error}"
    );
    Ok(())
}

#[test]
fn the_folder_as_a_whole_is_bounded() -> TestResult {
    let dir = tempdir()?;
    // Five files at the per-file limit: 80 MiB in all.
    for index in 0..5 {
        sparse(&dir.path().join(format!("f{index}.yaml")), 16 << 20)?;
    }
    let error = load_error(dir.path())?;
    assert!(
        error.contains("holds more than the 64 MiB limit of manifests in all"),
        "{error}"
    );
    Ok(())
}

#[test]
fn unchanged_files_are_not_read_again_and_edits_are_still_seen() -> TestResult {
    let dir = tempdir()?;
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    write(&a, &object("one"))?;
    write(&b, &object("two"))?;
    // Written long ago: their metadata can be trusted (a file modified within two
    // seconds of a check is read again, as its timestamp may not show a rewrite).
    age(&a)?;
    age(&b)?;
    let source = Arc::new(load(dir.path())?.map_err(|e| format!("loads: {e}"))?);
    assert_eq!(source.files_read(), 2);
    // The counter is incremented on every attempt to open and read a file, so an
    // unchanged count proves the checks stopped at `stat`.
    for _ in 0..3 {
        assert!(!reload(&source)?.map_err(|e| format!("reload: {e}"))?);
    }
    assert_eq!(source.files_read(), 2, "unchanged files were read again");

    // An edit is seen, and only the edited file is read.
    write(&b, &object("two-edited"))?;
    assert!(reload(&source)?.map_err(|e| format!("reload after an edit: {e}"))?);
    assert!(has(&source, "two-edited") && !has(&source, "two") && has(&source, "one"));
    assert_eq!(source.files_read(), 3);
    // Just modified: read again at the next check (racy clean), unchanged, so no reload.
    assert!(!reload(&source)?.map_err(|e| format!("reload: {e}"))?);
    assert_eq!(source.files_read(), 4);
    // A rewrite with the same size and an old mtime still changes the ctime.
    write(&b, &object("two-EDITED"))?;
    age(&b)?;
    assert!(reload(&source)?.map_err(|e| format!("reload after a same-size rewrite: {e}"))?);
    assert!(has(&source, "two-EDITED"));
    Ok(())
}

#[test]
fn kubernetes_data_symlink_swap_is_seen() -> TestResult {
    let dir = tempdir()?;
    let root = dir.path();
    // The kubelet's layout: ..<timestamp>/ files, ..data -> it, names -> ..data/name.
    let first = root.join("..2026_01_01_00_00_00.1");
    std::fs::create_dir_all(&first).map_err(|e| format!("creating the first version: {e}"))?;
    write(&first.join("objects.yaml"), &object("one"))?;
    age(&first.join("objects.yaml"))?;
    symlink("..2026_01_01_00_00_00.1", &root.join("..data"))?;
    symlink("..data/objects.yaml", &root.join("objects.yaml"))?;
    let source = Arc::new(load(root)?.map_err(|e| format!("loads: {e}"))?);
    assert!(has(&source, "one"));
    assert!(!reload(&source)?.map_err(|e| format!("reload: {e}"))?);

    let second = root.join("..2026_01_01_00_01_00.2");
    std::fs::create_dir_all(&second).map_err(|e| format!("creating the second version: {e}"))?;
    write(&second.join("objects.yaml"), &object("uno"))?;
    age(&second.join("objects.yaml"))?;
    symlink("..2026_01_01_00_01_00.2", &root.join("..data_tmp"))?;
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).map_err(|e| format!("swapping ..data: {e}"))?;
    std::fs::remove_dir_all(&first).map_err(|e| format!("removing the first version: {e}"))?;
    assert!(reload(&source)?.map_err(|e| format!("reload after the swap: {e}"))?);
    assert!(has(&source, "uno") && !has(&source, "one"));
    Ok(())
}
