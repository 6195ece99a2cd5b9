//! Exact W₁ with cityblock cost between two masses on one grid: the uncapacitated min-cost
//! flow of their difference on the 4-neighbour graph ([`Grid4`]), solved coarse to fine.
//!
//! The network simplex accepts any spanning tree of the grid as a feasible start
//! ([`StartTree`]). A tree that merely spans (a comb) makes the first pivots reroute mass
//! across the whole grid, each cutting off and re-hanging large subtrees. So the flow is first
//! solved on the grid of 2×2 block sums (recursively, down to [`COARSEST_CELLS`]), and the
//! coarse optimal tree is lifted: each coarse tree edge becomes one fine edge between the two
//! blocks, and each block is joined inside by a fixed small tree. The lifted tree carries
//! exactly the coarse optimal flow between blocks, so the fine solve only corrects locally.
//! The start changes the pivots, never the optimum: the answer is checked by the same
//! optimality conditions whatever the start.

use super::arcs::Grid4;
use super::error::Result;
use super::network_simplex::{self, Options, Solution, Start, StartTree};

/// Grids of at most this many cells are solved from a comb tree, without a coarser level.
pub const COARSEST_CELLS: usize = 64 * 64;

/// A grid flow and the pivots it took over every level.
#[derive(Debug, Clone, PartialEq)]
pub struct GridFlow {
    /// The optimal flow on the finest grid.
    pub solution: Solution,
    /// Pivots of every level together (the finest level's are `solution.iterations`).
    pub pivots: u64,
}

/// Solves the min-cost flow of `supply` (one entry per cell, row-major, summing to zero up to
/// rounding) on the 4-neighbour graph of the grid with coordinates `rows` × `cols`.
///
/// # Errors
/// As [`network_simplex::solve`].
///
/// # Panics
/// If `supply` has not one entry per cell.
pub fn solve(rows: &[f64], cols: &[f64], supply: &[f64]) -> Result<GridFlow> {
    solve_from(rows, cols, supply, COARSEST_CELLS)
}

/// [`solve`] with a given size of the coarsest level.
fn solve_from(rows: &[f64], cols: &[f64], supply: &[f64], coarsest: usize) -> Result<GridFlow> {
    let (h, w) = (rows.len(), cols.len());
    assert_eq!(supply.len(), h * w, "one supply per cell");
    let grid = Grid4::new(rows, cols);
    // Pricing blocks of √arcs (the solver's default): from a lifted start the pivots are
    // local and cheap, and longer blocks (2–8·√arcs) measured slower at 299² and 512².
    let opts = Options::default();
    if h * w <= coarsest || h < 2 || w < 2 {
        let solution =
            network_simplex::solve(&grid, supply, Start::Tree(&grid.comb_tree()), &opts)?;
        let pivots = solution.iterations;
        return Ok(GridFlow { solution, pivots });
    }
    let (ch, cw) = (h.div_ceil(2), w.div_ceil(2));
    let mut coarse_supply = vec![0.0; ch * cw];
    for (k, &s) in supply.iter().enumerate() {
        let (i, j) = (k / w, k % w);
        coarse_supply[(i / 2) * cw + j / 2] += s;
    }
    // Unit spacing: every coarse arc costs the same, as every fine one does on a regular grid.
    let (crows, ccols): (Vec<f64>, Vec<f64>) = (
        (0..ch).map(|i| i as f64).collect(),
        (0..cw).map(|j| j as f64).collect(),
    );
    let coarse = solve_from(&crows, &ccols, &coarse_supply, coarsest)?;
    let start = lift(h, w, cw, coarse.solution.basis.tree_arcs());
    let solution = network_simplex::solve(&grid, supply, Start::Tree(&start), &opts)?;
    let pivots = coarse.pivots + solution.iterations;
    Ok(GridFlow { solution, pivots })
}

/// Direction bits of a cell's tree edges: 0 right, 1 left, 2 down, 3 up (as [`Grid4`]'s arcs
/// `4k + d`).
const RIGHT: u8 = 0;
const DOWN: u8 = 2;

/// The spanning tree of the `h × w` grid lifted from the tree arcs of its `⌈h/2⌉ × cw` block
/// grid: every block joined inside, and each coarse tree edge replaced by the fine edge between
/// the two blocks in their first shared row or column.
fn lift(h: usize, w: usize, cw: usize, coarse_arcs: impl Iterator<Item = usize>) -> StartTree {
    let n = h * w;
    // Tree edges as direction bits on both endpoints.
    let mut edges = vec![0u8; n];
    let mut join = |k: usize, d: u8| {
        let other = if d == RIGHT { k + 1 } else { k + w };
        edges[k] |= 1 << d;
        edges[other] |= 1 << (d ^ 1);
    };
    // Inside each block: its top row, its left column, and its bottom row.
    for i in (0..h).step_by(2) {
        for j in (0..w).step_by(2) {
            let k = i * w + j;
            if j + 1 < w {
                join(k, RIGHT);
            }
            if i + 1 < h {
                join(k, DOWN);
                if j + 1 < w {
                    join(k + w, RIGHT);
                }
            }
        }
    }
    for e in coarse_arcs {
        let (c, d) = (e / 4, (e % 4) as u8);
        let (i, j) = (c / cw, c % cw);
        // The edge from block (i, j) towards direction d, as the block on its left or top.
        let (i, j, d) = match d {
            0 => (i, j, RIGHT),
            1 => (i, j - 1, RIGHT),
            2 => (i, j, DOWN),
            _ => (i - 1, j, DOWN),
        };
        let k = if d == RIGHT {
            (2 * i) * w + 2 * j + 1
        } else {
            (2 * i + 1) * w + 2 * j
        };
        join(k, d);
    }
    orient(&edges, w)
}

/// Parents and arcs of the undirected tree (or forest) given by direction bits, each component
/// hanging from its first cell.
fn orient(edges: &[u8], w: usize) -> StartTree {
    const NONE: usize = usize::MAX;
    let n = edges.len();
    let mut tree = StartTree {
        parent: vec![NONE; n],
        up_arc: vec![NONE; n],
        down_arc: vec![NONE; n],
    };
    let mut seen = vec![false; n];
    let mut stack = Vec::new();
    for top in 0..n {
        if seen[top] {
            continue;
        }
        seen[top] = true;
        stack.push(top);
        while let Some(p) = stack.pop() {
            for d in 0..4u8 {
                if edges[p] & (1 << d) == 0 {
                    continue;
                }
                let k = match d {
                    0 => p + 1,
                    1 => p - 1,
                    2 => p + w,
                    _ => p - w,
                };
                if seen[k] {
                    continue;
                }
                seen[k] = true;
                tree.parent[k] = p;
                tree.down_arc[k] = 4 * p + d as usize;
                tree.up_arc[k] = 4 * k + (d ^ 1) as usize;
                stack.push(k);
            }
        }
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::super::network_simplex::ArcSet;
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    fn supply(h: usize, w: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut a: Vec<f64> = (0..h * w).map(|_| rng.random::<f64>().powi(3)).collect();
        let mut b: Vec<f64> = (0..h * w).map(|_| rng.random::<f64>().powi(3)).collect();
        let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
        a.iter_mut().for_each(|x| *x /= sa);
        b.iter_mut().for_each(|x| *x /= sb);
        let mut d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let total: f64 = d.iter().sum();
        d[0] -= total;
        d
    }

    fn coords(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn lifted_tree_spans_the_grid() {
        for (h, w) in [(2usize, 2usize), (3, 5), (7, 4), (9, 9), (1, 6)] {
            let (ch, cw) = (h.div_ceil(2), w.div_ceil(2));
            let coarse = Grid4::new(&coords(ch)[..], &coords(cw)[..]).comb_tree();
            let tree = lift(
                h,
                w,
                cw,
                coarse.up_arc.iter().copied().filter(|&e| e != usize::MAX),
            );
            let tops = tree.parent.iter().filter(|&&p| p == usize::MAX).count();
            assert_eq!(tops, 1, "{h}×{w}: one tree");
            let grid_rows = coords(h);
            let grid_cols = coords(w);
            let grid = Grid4::new(&grid_rows, &grid_cols);
            for k in 0..h * w {
                let p = tree.parent[k];
                if p != usize::MAX {
                    assert_eq!(grid.endpoints(tree.up_arc[k]), Some((k, p)));
                    assert_eq!(grid.endpoints(tree.down_arc[k]), Some((p, k)));
                }
            }
        }
    }

    #[test]
    fn every_coarsest_level_reaches_the_comb_optimum() {
        for (h, w, seed) in [(16, 16, 1), (17, 23, 2), (31, 8, 3), (40, 33, 4)] {
            let (rows, cols) = (coords(h), coords(w));
            let s = supply(h, w, seed);
            let comb = solve_from(&rows, &cols, &s, usize::MAX).unwrap();
            assert_eq!(comb.pivots, comb.solution.iterations);
            for coarsest in [4, 16, 64, 256] {
                let got = solve_from(&rows, &cols, &s, coarsest).unwrap();
                let rel = (got.solution.cost - comb.solution.cost).abs() / comb.solution.cost;
                assert!(rel < 1e-12, "{h}×{w} coarsest {coarsest}: {rel:e}");
                if h * w > coarsest {
                    assert!(got.pivots > got.solution.iterations, "coarser levels ran");
                }
                // The potentials certify the flow: feasible duals, tight on every used arc.
                let grid = Grid4::new(&rows, &cols);
                let pi = &got.solution.potentials;
                for e in 0..grid.arc_count() {
                    if let Some((u, v)) = grid.endpoints(e) {
                        assert!(grid.cost(e) + pi[u] - pi[v] > -1e-9, "feasible dual");
                    }
                }
                for &(e, _) in &got.solution.flows {
                    let (u, v) = grid.endpoints(e).unwrap();
                    assert!((grid.cost(e) + pi[u] - pi[v]).abs() < 1e-9, "tight on flow");
                }
            }
        }
    }
}
