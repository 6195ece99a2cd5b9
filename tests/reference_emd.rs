//! Exact EMD against POT's dense `ot.emd2` values frozen in `tests/reference/pot_emd.json`
//! (made by `tests/reference/make_reference.py`), the grid-graph cityblock solver against the dense
//! one, and symmetry.

mod common;

use common::{assert_rel, mass, reference};
use imgdist::metric::emd::{Algorithm, Ground, emd, emd_sparse};

#[test]
fn equals_pot_dense_emd2_to_1e9() {
    let fixture = reference("pot_emd.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for case in cases {
        let (an, bn) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let ground: Ground = case["ground"].as_str().unwrap().parse().unwrap();
        let r = emd(&mass(an), &mass(bn), ground).unwrap();
        let label = format!("emd {ground:?} ({an}, {bn}) via {}", r.algorithm);
        assert_rel(r.value, case["value"].as_f64().unwrap(), 1e-9, &label);
        assert_rel(r.cost, case["cost"].as_f64().unwrap(), 1e-9, &label);
    }
}

#[test]
fn grid_flow_equals_the_dense_solver_for_cityblock() {
    // The same cityblock problem through both solvers: the 4-neighbour grid graph (≈ 4N arcs)
    // and the complete bipartite graph between the supports.
    for (an, bn) in [
        ("camera_32.png", "moon_32.png"),
        ("coins_32.png", "text_32.png"),
        ("data32_1001.csv", "data32_1002.csv"),
    ] {
        let (a, b) = (mass(an), mass(bn));
        let grid = emd(&a, &b, Ground::Cityblock).unwrap();
        assert_eq!(grid.algorithm, Algorithm::GridFlow);
        let dense = imgdist::metric::emd::emd_dense(&a, &b, Ground::Cityblock).unwrap();
        assert_eq!(dense.algorithm, Algorithm::Dense);
        assert_rel(
            grid.value,
            dense.value,
            1e-9,
            &format!("cityblock grid vs dense ({an}, {bn})"),
        );
    }
}

#[test]
fn swapping_inputs_gives_the_same_distance() {
    let (a, b) = (mass("coins_32.png"), mass("text_32.png"));
    for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
        let ab = emd(&a, &b, ground).unwrap().value;
        let ba = emd(&b, &a, ground).unwrap().value;
        assert_rel(ba, ab, 1e-12, &format!("symmetry {ground:?}"));
    }
}

#[test]
fn cityblock_is_between_euclidean_and_sqrt2_euclidean() {
    let (a, b) = (mass("camera_32.png"), mass("coins_32.png"));
    let e = emd(&a, &b, Ground::Euclidean).unwrap().value;
    let c = emd(&a, &b, Ground::Cityblock).unwrap().value;
    assert!(
        e <= c * (1.0 + 1e-12) && c <= e * 2f64.sqrt() * (1.0 + 1e-12),
        "{e} {c}"
    );
}

#[test]
fn full_resolution_cityblock_equals_an_independent_exact_solver() {
    // HiGHS on the same grid graph, its optimum proved exact in integer arithmetic
    // (tests/reference/make_grid_flow_reference.py).
    let fixture = reference("grid_flow_cityblock.json");
    let mut big = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let (an, bn) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let r = emd(&mass(an), &mass(bn), Ground::Cityblock).unwrap();
        assert_eq!(r.algorithm, Algorithm::GridFlow);
        assert_rel(
            r.value,
            case["value"].as_f64().unwrap(),
            1e-9,
            &format!("cityblock ({an}, {bn})"),
        );
        big += usize::from(an.contains("299"));
    }
    assert!(big >= 2, "the fixture covers 299² pairs");
}

#[test]
fn column_generation_equals_the_dense_solver() {
    for (an, bn) in [
        ("camera_32.png", "moon_32.png"),
        ("data32_1001.csv", "data32_1002.csv"),
    ] {
        let (a, b) = (mass(an), mass(bn));
        for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
            let (sparse, _) = emd_sparse(&a, &b, ground, |_| {}).unwrap();
            let dense = imgdist::metric::emd::emd_dense(&a, &b, ground).unwrap();
            assert_rel(
                sparse.cost,
                dense.cost,
                1e-9,
                &format!("{ground:?} column generation vs dense ({an}, {bn})"),
            );
        }
    }
}

/// Reads a CSV file written by `--dump-duals` / `--dump-plan` into rows of fields.
fn csv_rows(path: &std::path::Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn dumped_plan_and_duals_certify_optimality_independently() {
    let dir = tempfile::tempdir().unwrap();
    let euclidean: fn(f64, f64) -> f64 = |dx, dy| (dx * dx + dy * dy).sqrt();
    let squared: fn(f64, f64) -> f64 = |dx, dy| dx * dx + dy * dy;
    for (ground, cost) in [("euclidean", euclidean), ("sqeuclidean", squared)] {
        let (duals, plan) = (dir.path().join("duals.csv"), dir.path().join("plan.csv"));
        let out = common::imgdist()
            .args([
                "coins_32.png",
                "text_32.png",
                "-m",
                "emd",
                "--format",
                "json",
            ])
            .args(["--ground", ground, "--dump-duals"])
            .arg(&duals)
            .arg("--dump-plan")
            .arg(&plan)
            .output()
            .unwrap();
        assert!(out.status.success());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let reported = report["metrics"]["emd"]["details"]["cost"]
            .as_f64()
            .unwrap();
        let num = |s: &str| s.parse::<f64>().unwrap();
        let (header, rows) = csv_rows(&duals);
        assert_eq!(header, "side,row,col,potential");
        let side = |name: &str| -> Vec<(f64, f64, f64)> {
            rows.iter()
                .filter(|r| r[0] == name)
                .map(|r| (num(&r[1]), num(&r[2]), num(&r[3])))
                .collect()
        };
        let (u, v) = (side("a"), side("b"));
        // Dual feasibility over every pair of cells with mass.
        let mut worst = 0.0f64;
        for &(ar, ac, ui) in &u {
            for &(br, bc, vj) in &v {
                worst = worst.max(ui + vj - cost(ar - br, ac - bc));
            }
        }
        assert!(worst < 1e-9, "{ground}: dual violation {worst}");
        // The plan: its cost and tightness where mass moves.
        let (header, rows) = csv_rows(&plan);
        assert_eq!(header, "a_row,a_col,b_row,b_col,mass");
        let potential = |pts: &[(f64, f64, f64)], r: f64, c: f64| {
            pts.iter().find(|p| p.0 == r && p.1 == c).unwrap().2
        };
        let (mut primal, mut moved) = (0.0, 0.0);
        for row in &rows {
            let (ar, ac, br, bc, f) = (
                num(&row[0]),
                num(&row[1]),
                num(&row[2]),
                num(&row[3]),
                num(&row[4]),
            );
            let c = cost(ar - br, ac - bc);
            primal += f * c;
            moved += f;
            let slack = c - potential(&u, ar, ac) - potential(&v, br, bc);
            assert!(
                slack.abs() < 1e-9,
                "{ground}: mass on a pair with slack {slack}"
            );
        }
        assert_rel(moved, 1.0, 1e-9, "plan moves all the mass");
        assert_rel(primal, reported, 1e-9, "plan cost = reported cost");
        // The plan's marginals are the two masses: with feasible duals and mass only on tight
        // pairs, that proves the plan optimal (complementary slackness).
        for (name, at) in [("coins_32.png", 0), ("text_32.png", 2)] {
            let m = mass(name);
            let cols = m.col_coords().len();
            let mut marginal = vec![0.0; m.len()];
            for row in &rows {
                let (r, c) = (num(&row[at]), num(&row[at + 1]));
                marginal[r as usize * cols + c as usize] += num(&row[4]);
            }
            for (got, want) in marginal.iter().zip(m.as_slice()) {
                assert!(
                    (got - want).abs() < 1e-12,
                    "{name}: marginal {got} vs {want}"
                );
            }
        }
    }
}
