//! What `emovox predict` analyses: the paths on its command line and in a list of files
//! (`--files-from`), folders walked, and the share of them that one machine of many takes
//! (`--shard K/N`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use emovox::audio::files::audio_files;

/// One input: a file to analyse, or a path that cannot be, with why.
#[derive(Debug, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    /// Why the path cannot be analysed, phrased for stderr and naming where it came from;
    /// `None` for a file to analyse.
    pub problem: Option<String>,
}

impl Input {
    fn file(path: PathBuf) -> Self {
        Self {
            path,
            problem: None,
        }
    }
}

/// Where a path was named: on the command line, or on a line of a list of files.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Argument,
    List { name: &'a str, line: usize },
}

/// The inputs, in order: the paths given, then those listed in `list` (a file of paths,
/// one a line; `-` is standard input). Named files are taken as given, folders' audio
/// files sorted (links followed; see `emovox::audio::files`). A path that does not exist
/// and a part of a folder that cannot be read are inputs with a problem, so that they are
/// reported, counted and, under `--shard`, reported by one shard only. Links back to a
/// folder above them are noted on stderr and not followed again. Only a list that cannot
/// be read is an error.
pub fn gather(paths: &[PathBuf], list: Option<&Path>) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        add(&mut inputs, path, Origin::Argument);
    }
    if let Some(list) = list {
        let name = list_name(list);
        for (line, path) in read_list(list)? {
            add(&mut inputs, &path, Origin::List { name: &name, line });
        }
    }
    Ok(inputs)
}

fn list_name(list: &Path) -> String {
    if list == Path::new("-") {
        "standard input".to_owned()
    } else {
        list.display().to_string()
    }
}

fn add(inputs: &mut Vec<Input>, path: &Path, origin: Origin) {
    let named = match origin {
        Origin::Argument => path.display().to_string(),
        Origin::List { name, line } => format!("{name} line {line}: {}", path.display()),
    };
    if path.is_dir() {
        match audio_files(path) {
            Ok(found) => {
                for (part, e) in found.unreadable {
                    let problem = Some(format!("{}: {e}", part.display()));
                    inputs.push(Input {
                        path: part,
                        problem,
                    });
                }
                for (link, target) in &found.loops {
                    eprintln!(
                        "emovox: {}: a link back to {}, not followed again",
                        link.display(),
                        target.display()
                    );
                }
                inputs.extend(found.files.into_iter().map(Input::file));
            }
            Err(e) => inputs.push(Input {
                path: path.to_owned(),
                problem: Some(format!("{named}: {e}")),
            }),
        }
    } else if path.exists() {
        inputs.push(Input::file(path.to_owned()));
    } else {
        inputs.push(Input {
            path: path.to_owned(),
            problem: Some(format!("{named}: no such file or folder")),
        });
    }
}

/// The paths in a list of files, each with its line number (from 1). Blank lines are
/// skipped, and a carriage return ending a line (a list written on Windows) is not part
/// of its path; nothing else is trimmed, since a path may begin or end with spaces.
/// Relative paths are relative to the current folder, as on the command line.
fn read_list(list: &Path) -> anyhow::Result<Vec<(usize, PathBuf)>> {
    let bytes = if list == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .context("reading the list of files from standard input")?;
        bytes
    } else {
        std::fs::read(list)
            .with_context(|| format!("reading the list of files {}", list.display()))?
    };
    let mut paths = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        paths.push((i + 1, path_from_bytes(line, list, i + 1)?));
    }
    Ok(paths)
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8], _list: &Path, _line: usize) -> anyhow::Result<PathBuf> {
    // Unix paths are bytes; any name a folder holds can be listed.
    Ok(PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes),
    ))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8], list: &Path, line: usize) -> anyhow::Result<PathBuf> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(PathBuf::from(s)),
        Err(_) => anyhow::bail!("{} line {line}: not UTF-8 text", list_name(list)),
    }
}

/// `--shard K/N`: the K-th of N shares of the inputs, K counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// This shard's inputs: all of them sorted by path and duplicates dropped, then dealt
    /// like cards, the i-th (from 0) to shard i mod N + 1. The split depends only on the
    /// set of paths, never on the order they were given in, so N machines given the same
    /// list in any order analyse every input exactly once between them, and shards differ
    /// in size by one input at most (dealing rather than cutting the sorted list into N
    /// runs keeps a folder of long recordings from landing on one machine).
    /// Also returns how many distinct inputs all shards hold together.
    pub fn take(self, mut inputs: Vec<Input>) -> (Vec<Input>, usize) {
        inputs.sort_by(|a, b| a.path.cmp(&b.path));
        inputs.dedup_by(|a, b| a.path == b.path);
        let all = inputs.len();
        let mine = inputs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.n == self.k - 1)
            .map(|(_, input)| input)
            .collect();
        (mine, all)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let form = "write K/N, the K-th of N shards counted from 1, such as 1/4";
        let Some((k, n)) = s.split_once('/') else {
            return Err(format!("no '/' in it: {form}"));
        };
        let number = |part: &str, what: &str| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| format!("{what} '{part}' is not a whole number: {form}"))
        };
        let (k, n) = (number(k, "K")?, number(n, "N")?);
        if n == 0 {
            return Err(format!("there must be at least one shard: {form}"));
        }
        if k == 0 {
            return Err(format!(
                "shards are counted from 1, so K runs from 1 to {n} (for an index that \
                 starts at 0, such as Kubernetes' JOB_COMPLETION_INDEX, give the index + 1)"
            ));
        }
        if k > n {
            return Err(format!(
                "shard {k} of {n} does not exist: K runs from 1 to {n}"
            ));
        }
        Ok(Self { k, n })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_read_and_bad_ones_refused_in_words() {
        assert_eq!("2/5".parse(), Ok(Shard { k: 2, n: 5 }));
        assert_eq!("1/1".parse(), Ok(Shard { k: 1, n: 1 }));
        for (bad, says) in [
            ("3", "no '/'"),
            ("a/4", "K 'a' is not a whole number"),
            ("1/", "N '' is not a whole number"),
            ("1/2/3", "N '2/3' is not a whole number"),
            ("-1/4", "K '-1' is not"),
            ("1/0", "at least one shard"),
            ("0/4", "counted from 1"),
            ("5/4", "shard 5 of 4 does not exist"),
        ] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn shards_split_the_sorted_set_whatever_its_order() {
        let names: Vec<String> = (0..23)
            .map(|i| format!("f{:02}.wav", (i * 7) % 23))
            .collect();
        let inputs = |order: &[String]| -> Vec<Input> {
            order
                .iter()
                .map(|p| Input::file(PathBuf::from(p)))
                .collect()
        };
        let mut reversed = names.clone();
        reversed.reverse();
        // A path listed twice is analysed once.
        reversed.push(names[3].clone());
        for n in [1, 2, 3, 7, 23, 30] {
            let mut union = Vec::new();
            for k in 1..=n {
                let shard = Shard { k, n };
                let (a, all) = shard.take(inputs(&names));
                assert_eq!(all, 23);
                assert_eq!(shard.take(inputs(&reversed)).0, a, "{shard}");
                assert!(a.len() <= 23usize.div_ceil(n), "{shard}: {}", a.len());
                union.extend(a.into_iter().map(|i| i.path));
            }
            union.sort();
            let mut want: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
            want.sort();
            assert_eq!(union, want, "N = {n}: disjoint, and together the whole set");
        }
    }

    #[test]
    fn a_list_skips_blank_lines_and_names_the_line_of_a_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let present = tmp.path().join("a b .wav");
        std::fs::write(&present, b"").unwrap();
        let list = tmp.path().join("list.txt");
        let text = format!(
            "{}\r\n\n   \n{}/gone.wav\n",
            present.display(),
            tmp.path().display()
        );
        std::fs::write(&list, text).unwrap();
        let inputs = gather(&[], Some(&list)).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0], Input::file(present));
        let problem = inputs[1].problem.as_deref().unwrap();
        assert_eq!(
            problem,
            format!(
                "{} line 4: {}/gone.wav: no such file or folder",
                list.display(),
                tmp.path().display()
            )
        );
        let err = gather(&[], Some(&tmp.path().join("nowhere.txt"))).unwrap_err();
        assert!(
            format!("{err:#}").contains("reading the list of files"),
            "{err:#}"
        );
    }
}
