//! Markdown pieces shared by the baselines and nested-cv reports.

use std::fmt::Write as _;

use super::{CvSummary, DataSummary};
use crate::data::AugmentedPolicy;
use crate::eval::{BaselineResult, MeanStd};

/// `mean ± std` with three decimals.
pub fn cell(m: &MeanStd) -> String {
    format!("{:.3} ± {:.3}", m.mean, m.std)
}

/// `## Data`: clips, groups and the class table.
pub fn data_section(md: &mut String, d: &DataSummary) {
    let _ = writeln!(
        md,
        "## Data\n\n{} usable clips in {} leakage groups, {} classes; {} files skipped, {} duplicates collapsed.\n",
        d.clips,
        d.groups,
        d.labels.len(),
        d.skipped,
        d.duplicates.len()
    );
    if !d.label_map.is_identity() {
        let rules: Vec<String> = d
            .label_map
            .rules
            .iter()
            .map(|(from, to)| match to.as_str() {
                "" => format!("`{from}` dropped"),
                to => format!("`{from}` → `{to}`"),
            })
            .collect();
        let mut parts = Vec::new();
        if !rules.is_empty() {
            parts.push(format!("labels mapped: {}", rules.join(", ")));
        }
        if let Some(classes) = &d.label_map.classes {
            let kept: Vec<&str> = classes.iter().map(String::as_str).collect();
            parts.push(format!("classes kept: {}", kept.join(", ")));
        }
        let line = parts.join("; ");
        let _ = writeln!(md, "Label map ({line}).\n");
    }
    if let Some(band) = d.bandwidth_hz {
        let _ = writeln!(
            md,
            "Every clip low-passed to {:.0} Hz (`--bandwidth`) before anything else.\n",
            band.hz()
        );
    }
    if let Some(pattern) = &d.group_pattern {
        let _ = writeln!(
            md,
            "Leakage groups from `--group-regex {pattern}` where it matches.\n"
        );
    }
    let copies: usize = d.classes.iter().map(|c| c.augmented).sum();
    let (copy_head, copy_rule) = if copies > 0 {
        (" augmented |", "---:|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        md,
        "| class | clips | share | groups | grouped by |{copy_head} seconds |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---|{copy_rule}---:|");
    for c in &d.classes {
        let grouped_by: Vec<String> = c
            .grouped_by
            .iter()
            .map(|(r, n)| format!("{} {n}", r.as_str()))
            .collect();
        let copy_cell = if copies > 0 {
            format!(" {} |", c.augmented)
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} % | {} | {} |{copy_cell} {:.0} |",
            c.label,
            c.clips,
            100.0 * c.clips as f64 / d.clips as f64,
            c.groups,
            grouped_by.join(", "),
            c.seconds
        );
    }
    let policy = match d.augmented {
        AugmentedPolicy::Train if copies > 0 => Some(format!(
            "{copies} augmented copies (in their source's group) are trained on only: never \
             tested, validated or counted in a figure (`--augmented train`)."
        )),
        AugmentedPolicy::Keep if copies > 0 => Some(format!(
            "**{copies} augmented copies are tested and counted beside their sources \
             (`--augmented keep`): every figure below is inflated.**"
        )),
        AugmentedPolicy::Drop => Some(
            "Augmented copies left out (`--augmented drop`; listed in skipped.json).".to_string(),
        ),
        _ => None,
    };
    if let Some(line) = policy {
        let _ = writeln!(md, "\n{line}");
    }
    if !d.conflicts.is_empty() {
        let _ = writeln!(
            md,
            "\nIdentical audio under different labels, all excluded ({}):\n",
            d.conflicts.len()
        );
        for c in &d.conflicts {
            let members: Vec<String> = c
                .paths
                .iter()
                .zip(&c.labels)
                .map(|(p, l)| format!("`{p}` ({l})"))
                .collect();
            let _ = writeln!(md, "- {}", members.join(", "));
        }
    }
    if !d.reason_mismatches.is_empty() {
        let _ = writeln!(
            md,
            "\nFolder and Donate-a-cry reason code disagree ({}; kept under the folder's label):\n",
            d.reason_mismatches.len()
        );
        for m in &d.reason_mismatches {
            let _ = writeln!(
                md,
                "- `{}`: folder `{}`, code says `{}`",
                m.path, m.label, m.code_reason
            );
        }
    }
}

/// `## Split`: the fold layout and its warnings.
pub fn split_section(md: &mut String, cv: &CvSummary) {
    let _ = writeln!(
        md,
        "\n## Split\n\nStratified group {}-fold (outer) × {}-fold (inner), seed {}. \
         No leakage group is in more than one fold. Outer test sizes: {}.\n",
        cv.outer,
        cv.inner,
        cv.seed,
        cv.outer_test_sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for w in &cv.warnings {
        let _ = writeln!(md, "- Warning: {w}");
    }
}

/// One row per baseline: mean ± std of every scalar metric.
pub fn baselines_table(md: &mut String, baselines: &[BaselineResult]) {
    let _ = writeln!(
        md,
        "| baseline | seeds | accuracy | balanced accuracy | macro precision | macro recall | macro F1 |"
    );
    let _ = writeln!(md, "|---|---:|---|---|---|---|---|");
    for b in baselines {
        let s = &b.summary;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            b.baseline.name(),
            b.seeds,
            cell(&s.accuracy),
            cell(&s.balanced_accuracy),
            cell(&s.macro_precision),
            cell(&s.macro_recall),
            cell(&s.macro_f1)
        );
    }
}
