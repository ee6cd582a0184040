//! Printing metrics for people (a table) and programs (one JSON line), and the small
//! facts a model card records.

use std::path::PathBuf;

use emovox::labels::Emotion;
use emovox::model::metrics::{CorpusScores, Metrics, Scoreboard};

/// Files a dataset scan could not use, on stderr: how many, and the first few with why.
pub fn rejected(rejected: &[(PathBuf, String)]) {
    if rejected.is_empty() {
        return;
    }
    eprintln!(
        "emovox: {} files do not fit their dataset and are left out:",
        rejected.len()
    );
    for (path, why) in rejected.iter().take(10) {
        eprintln!("  {}: {why}", path.display());
    }
    if rejected.len() > 10 {
        eprintln!("  … and {} more", rejected.len() - 10);
    }
}

/// The metrics as a readable table on stdout.
pub fn print_metrics(m: &Metrics) {
    println!(
        "files {}  accuracy {:.3}  macro precision {:.3}  macro recall {:.3}  macro F1 {:.3}",
        m.n, m.accuracy, m.macro_precision, m.macro_recall, m.macro_f1
    );
    println!();
    println!(
        "{:<10} {:>9} {:>7} {:>6} {:>8}",
        "class", "precision", "recall", "F1", "support"
    );
    for (e, c) in Emotion::ALL.iter().zip(&m.per_class) {
        println!(
            "{:<10} {:>9.3} {:>7.3} {:>6.3} {:>8}",
            e.name(),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
    println!();
    println!("confusion (rows: true, columns: predicted)");
    print!("{:<10}", "");
    for e in Emotion::ALL {
        print!(" {:>5}", e.name().get(..4).unwrap_or(e.name()));
    }
    println!();
    for (e, row) in Emotion::ALL.iter().zip(&m.confusion) {
        print!("{:<10}", e.name());
        for v in row {
            print!(" {v:>5}");
        }
        println!();
    }
}

/// The metrics as one JSON object:
/// `{"n","accuracy","macro_precision","macro_recall","macro_f1","labels","per_class","confusion"}`.
pub fn metrics_json(m: &Metrics) -> serde_json::Value {
    let per_class: serde_json::Map<String, serde_json::Value> = Emotion::ALL
        .iter()
        .zip(&m.per_class)
        .map(|(e, c)| {
            (
                e.name().to_owned(),
                serde_json::json!({"precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support}),
            )
        })
        .collect();
    serde_json::json!({
        "n": m.n,
        "accuracy": m.accuracy,
        "macro_precision": m.macro_precision,
        "macro_recall": m.macro_recall,
        "macro_f1": m.macro_f1,
        "labels": Emotion::names(),
        "per_class": per_class,
        "confusion": m.confusion,
    })
}

/// The scores per corpus and over all clips as a table on stdout, then the overall
/// tables of [`print_metrics`]. A corpus without calm says that its calm predictions
/// were counted as neutral.
pub fn print_scoreboard(board: &Scoreboard) {
    println!(
        "{:<16} {:>6} {:>9} {:>6} {:>9}  classes",
        "corpus", "files", "accuracy", "UAR", "macro-F1"
    );
    for c in &board.per_corpus {
        let classes = if c.calm_as_neutral {
            format!(
                "{} (no calm: calm predictions counted as neutral)",
                c.classes.len()
            )
        } else {
            c.classes.len().to_string()
        };
        println!(
            "{:<16} {:>6} {:>9.3} {:>6.3} {:>9.3}  {classes}",
            c.corpus, c.n, c.accuracy, c.uar, c.macro_f1
        );
    }
    let m = &board.overall;
    println!(
        "{:<16} {:>6} {:>9.3} {:>6.3} {:>9.3}  {}",
        "all",
        m.n,
        m.accuracy,
        board.uar,
        m.macro_f1,
        m.true_classes().len()
    );
    println!();
    print_metrics(m);
}

/// The scores as one JSON object: [`metrics_json`]'s fields for all clips, plus `uar` and
/// `per_corpus` (`{"name": {"n","accuracy","uar","macro_f1","classes","calm_as_neutral"}}`).
pub fn scoreboard_json(board: &Scoreboard) -> serde_json::Value {
    let mut v = metrics_json(&board.overall);
    let per_corpus: serde_json::Map<String, serde_json::Value> = board
        .per_corpus
        .iter()
        .map(|c| (c.corpus.clone(), corpus_json(c)))
        .collect();
    if let Some(object) = v.as_object_mut() {
        object.insert("uar".into(), board.uar.into());
        object.insert("per_corpus".into(), per_corpus.into());
    }
    v
}

fn corpus_json(c: &CorpusScores) -> serde_json::Value {
    serde_json::json!({
        "n": c.n,
        "accuracy": c.accuracy,
        "uar": c.uar,
        "macro_f1": c.macro_f1,
        "classes": c.classes,
        "calm_as_neutral": c.calm_as_neutral,
    })
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    emovox::clock::today()
}

/// The git commit this emovox was built from (recorded at build time, wherever the binary
/// now runs), with "-dirty" when its sources had uncommitted changes (the weights then came
/// from code no commit holds), or "unknown".
pub fn commit() -> String {
    emovox::BUILD_COMMIT.to_owned()
}
