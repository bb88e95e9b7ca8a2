//! `samlab reproduce` end to end, in its quick form (short runs on small subsets): the files it
//! writes, the cost accounting of late-phase SAM, and ASAM's scale invariance, which holds exactly
//! (up to f32) whatever the training: the rescaled network computes the same function, SAM's
//! worst-case sharpness changes with the scale and ASAM's (η = 0) does not.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("samlab-reproduce-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn reproduce(args: &[&str], out: &Path) -> Output {
    let runtime = std::env::temp_dir().join(format!("samlab-reproduce-rt-{}", std::process::id()));
    std::fs::create_dir_all(&runtime).unwrap();
    Command::new(env!("CARGO_BIN_EXE_samlab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("SAMLAB_DATA")
        .stdin(Stdio::null())
        .arg("reproduce")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run samlab")
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).expect("valid json")
}

#[test]
fn asam_invariance_same_function_same_adaptive_sharpness() {
    let out = out_dir("asam");
    let output = reproduce(&["asam-invariance", "--quick", "--seeds", "1"], &out);
    assert!(output.status.success(), "{}", describe(&output));
    let svg = std::fs::read_to_string(out.join("asam-invariance.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "an SVG plot");
    let md = std::fs::read_to_string(out.join("asam-invariance.md")).unwrap();
    assert!(md.contains("| a | loss |"), "{md}");
    // rows: [[a, [[loss, sam, asam]]], …]
    let rows: Vec<(f64, f64, f64, f64)> = read_json(&out.join("asam-invariance.json"))["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let v = &row[1][0];
            (
                row[0].as_f64().unwrap(),
                v[0].as_f64().unwrap(),
                v[1].as_f64().unwrap(),
                v[2].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![0.25, 0.5, 1.0, 2.0, 4.0]
    );
    let at_one = rows[2];
    for &(a, loss, sam, asam) in &rows {
        assert!(
            (loss - at_one.1).abs() <= 1e-4 * at_one.1.max(1.0),
            "a = {a}: the same function, loss {loss} vs {}",
            at_one.1
        );
        assert!(
            (asam - at_one.3).abs() <= 0.02 * at_one.3.abs() + 1e-5,
            "a = {a}: ASAM's sharpness {asam} vs {} at a = 1",
            at_one.3
        );
        assert!(sam.is_finite() && sam > 0.0);
    }
    let sams: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let (lo, hi) = sams
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &s| (a.min(s), b.max(s)));
    assert!(
        hi > 2.0 * lo,
        "SAM's worst-case sharpness changes with the scale: {sams:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn late_phase_counts_its_gradient_evaluations_and_writes_a_table() {
    let out = out_dir("late");
    let output = reproduce(&["late-phase", "--quick", "--seeds", "2"], &out);
    assert!(output.status.success(), "{}", describe(&output));
    let json = read_json(&out.join("late-phase.json"));
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 8, "4 cells × 2 seeds");
    let evals = |row: &str| -> Vec<f64> {
        runs.iter()
            .filter(|r| r["row"] == row)
            .map(|r| r["gradient_evaluations"].as_f64().unwrap())
            .collect()
    };
    let steps = runs[0]["points"].as_array().unwrap().last().unwrap()["step"]
        .as_f64()
        .unwrap();
    assert_eq!(evals("SGD"), vec![steps, steps]);
    assert_eq!(evals("SAM throughout"), vec![2.0 * steps, 2.0 * steps]);
    // SAM for the last half: one pass per step before, two after.
    let half = evals("SAM from 50% of the run");
    assert!(
        half.iter().all(|&g| (g - 1.5 * steps).abs() <= 1.0),
        "{half:?} vs 1.5 × {steps}"
    );
    for r in runs {
        let acc = r["final_accuracy"].as_f64().unwrap();
        assert!(acc > 0.3 && acc <= 1.0, "accuracy {acc} well above chance");
    }
    // The two seeds differ (initial weights and batch order).
    let sgd: Vec<f64> = runs
        .iter()
        .filter(|r| r["row"] == "SGD")
        .map(|r| r["points"][0]["test_loss"].as_f64().unwrap())
        .collect();
    assert_ne!(sgd[0], sgd[1]);
    let md = std::fs::read_to_string(out.join("late-phase.md")).unwrap();
    for row in [
        "| SGD |",
        "| SAM from 80% of the run |",
        "| SAM from 50% of the run |",
        "| SAM throughout |",
    ] {
        assert!(md.contains(row), "{row} in\n{md}");
    }
    assert!(
        md.contains("samlab reproduce late-phase --seeds 2 --quick"),
        "the command in the table"
    );
    assert!(std::fs::read_to_string(out.join("late-phase.svg"))
        .unwrap()
        .starts_with("<svg"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_arguments_get_one_line() {
    let out = out_dir("bad");
    for (args, words) in [
        (
            vec!["late-phase", "--seeds", "0"],
            "--seeds must be at least 1",
        ),
        (
            vec!["no-such-experiment"],
            "invalid value 'no-such-experiment'",
        ),
    ] {
        let output = reproduce(&args, &out);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(words), "{stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn gradual_da_self_trains_through_every_angle() {
    let out = out_dir("gda");
    let output = reproduce(&["gradual-da", "--quick", "--seeds", "1"], &out);
    assert!(output.status.success(), "{}", describe(&output));
    let cells = read_json(&out.join("gradual-da.json"))["cells"]
        .as_array()
        .unwrap()
        .clone();
    let stages = |arm: &str| -> Vec<String> {
        cells
            .iter()
            .filter(|c| c["arm"] == arm)
            .map(|c| c["stage"].as_str().unwrap().to_string())
            .collect()
    };
    let want = [
        "source only (0°)",
        "after self-training at 15°",
        "after self-training at 30°",
        "after self-training at 45°",
        "after self-training at 60°",
        "direct self-training at 60°",
    ];
    assert_eq!(stages("SGD"), want);
    assert_eq!(stages("SAM ρ=0.05"), want);
    for c in &cells {
        let (accuracy, right) = (&c["runs"][0][0], &c["runs"][0][1]);
        let accuracy = accuracy.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy));
        // Pseudo-labels from the model itself, better than chance at the first small rotation.
        if c["stage"] == "after self-training at 15°" {
            assert!(right.as_f64().unwrap() > 0.3, "{c}");
        }
        assert_eq!(right.is_null(), c["stage"] == "source only (0°)");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// `--resume` keeps the runs of a stopped experiment's JSON (here: one cell's partial file made by
/// dropping the other runs) and runs only the missing ones; a file of another command is refused.
#[test]
fn resume_keeps_finished_runs_and_refuses_another_commands_file() {
    let out = out_dir("resume");
    let args = ["late-phase", "--quick", "--seeds", "1"];
    let first = reproduce(&args, &out);
    assert!(first.status.success(), "{}", describe(&first));
    let path = out.join("late-phase.json");
    let mut json = read_json(&path);
    let all = json["runs"].as_array().unwrap().clone();
    assert_eq!(all.len(), 4, "4 cells × 1 seed");
    // A stopped run: only the first cell written, marked partial.
    json["runs"] = Value::Array(all[..1].to_vec());
    json["partial"] = Value::Bool(true);
    std::fs::write(&path, json.to_string()).unwrap();

    let resumed = reproduce(&[&args[..], &["--resume"]].concat(), &out);
    assert!(resumed.status.success(), "{}", describe(&resumed));
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(
        stderr.matches("(kept from late-phase.json)").count(),
        1,
        "{stderr}"
    );
    let runs = read_json(&path)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0], all[0], "the kept run is the file's, unchanged");
    assert!(read_json(&path).get("partial").is_none(), "finished");

    let other = reproduce(&["late-phase", "--quick", "--seeds", "2", "--resume"], &out);
    assert!(!other.status.success());
    let message = String::from_utf8_lossy(&other.stderr);
    assert!(
        message.contains("holds the runs of `samlab reproduce late-phase --seeds 1 --quick`"),
        "{message}"
    );
}
