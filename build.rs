//! Records the git commit the binary is built from, so that `emovox --version` and the
//! cards of models it trains name their code even when the binary runs far from its source
//! tree. `EMOVOX_COMMIT` is the short hash, with "-dirty" when the files the binary is
//! built from differ from that commit, or "unknown" without git or a repository (a source
//! archive).
//!
//! Also names, once, whether the target CPU has AVX-512 BF16: `cfg(bf16_kernel)` is the
//! condition for `src/fastmath/bf16.rs`'s instructions.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the binary is made of: a change here can change what it does. (Tests, benches and
/// documentation are left out; a change there does not make the binary "dirty".)
const SOURCES: [&str; 6] = [
    "src",
    "weights",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
    ".cargo",
];

fn main() {
    let commit = commit().unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=EMOVOX_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // The target's features follow the compiler flags: a build for another CPU must
    // decide again (a stale yes would put instructions in a binary that cannot run them).
    for flags in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        println!("cargo:rerun-if-env-changed={flags}");
    }
    println!("cargo::rustc-check-cfg=cfg(bf16_kernel)");
    if has_bf16_kernel() {
        println!("cargo::rustc-cfg=bf16_kernel");
    }
}

/// Whether the target is x86-64 with AVX-512F and AVX-512 BF16 (with `target-cpu=native`,
/// whether this machine has them).
fn has_bf16_kernel() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let features = var("CARGO_CFG_TARGET_FEATURE");
    let has = |f: &str| features.split(',').any(|x| x == f);
    var("CARGO_CFG_TARGET_ARCH") == "x86_64" && has("avx512f") && has("avx512bf16")
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn commit() -> Option<String> {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // Watched before anything can fail: a git command that fails once (a repository
    // mid-operation) must not leave "unknown" in place until build.rs itself changes.
    watch(&root);
    // Only this package's own repository counts, not one it happens to sit inside.
    let top = git(&["-C", root.to_str()?, "rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != root.canonicalize().ok()? {
        return None;
    }
    let head = git(&["-C", &top, "rev-parse", "--short", "HEAD"])?;
    // Without optional locks: a build must never take the index lock from the user's own
    // git commands running beside it (status would otherwise refresh the index).
    let mut status = vec![
        "--no-optional-locks",
        "-C",
        top.as_str(),
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
    ];
    status.extend(SOURCES);
    Some(match git(&status) {
        Some(changes) if changes.is_empty() => head,
        _ => format!("{head}-dirty"),
    })
}

/// Runs this script again when the answer may change: a commit or checkout (HEAD, the
/// branches' refs, packed refs) or an edit to what the binary is built from. Staging alone
/// (the index) changes neither. Only paths that exist are named: cargo reruns a script on
/// every build when one is missing.
fn watch(root: &Path) {
    let dir = |args: &[&str]| {
        git(args).map(|d| {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                root.join(d)
            }
        })
    };
    let root_str = root.to_string_lossy();
    let mut paths: Vec<PathBuf> = SOURCES.iter().map(|s| root.join(s)).collect();
    if let (Some(git_dir), Some(common)) = (
        dir(&["-C", &root_str, "rev-parse", "--git-dir"]),
        dir(&["-C", &root_str, "rev-parse", "--git-common-dir"]),
    ) {
        // A folder is watched whole: a branch's first loose ref (after its refs were
        // packed) is a new file there.
        paths.extend([
            git_dir.join("HEAD"),
            common.join("refs/heads"),
            common.join("packed-refs"),
        ]);
    }
    for path in paths.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
