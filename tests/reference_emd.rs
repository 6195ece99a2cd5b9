//! Exact EMD against POT's dense `ot.emd2` values frozen in `tests/reference/pot_emd.json`
//! (made by `tests/reference/make_reference.py`), the grid-graph cityblock solver against the dense
//! one, and symmetry.

mod common;

use common::{assert_rel, mass, reference};
use imgdist::metric::emd::{Ground, emd};

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
        assert_eq!(grid.algorithm, "grid-flow");
        let dense = imgdist::metric::emd::emd_dense(&a, &b, Ground::Cityblock).unwrap();
        assert_eq!(dense.algorithm, "dense");
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
        assert_eq!(r.algorithm, "grid-flow");
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
