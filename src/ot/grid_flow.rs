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
    /// Number of levels solved, the finest included.
    pub levels: usize,
}

/// What one level of [`solve`] did, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Level number, from 1 (the coarsest) to `levels` (the given grid).
    pub level: usize,
    /// Number of levels.
    pub levels: usize,
    /// Rows and columns of this level's grid.
    pub shape: (usize, usize),
    /// Simplex pivots on this level.
    pub pivots: u64,
    /// Seconds this level took.
    pub seconds: f64,
}

/// Solves the min-cost flow of `supply` (one entry per cell, row-major, summing to zero up to
/// rounding) on the 4-neighbour graph of the grid with coordinates `rows` × `cols`, calling
/// `progress` after each level.
///
/// # Errors
/// As [`network_simplex::solve`].
///
/// # Panics
/// If `supply` has not one entry per cell.
pub fn solve(
    rows: &[f64],
    cols: &[f64],
    supply: &[f64],
    progress: impl FnMut(&Level),
) -> Result<GridFlow> {
    solve_from(rows, cols, supply, COARSEST_CELLS, progress)
}

/// [`solve`] with a given size of the coarsest level.
fn solve_from(
    rows: &[f64],
    cols: &[f64],
    supply: &[f64],
    coarsest: usize,
    mut progress: impl FnMut(&Level),
) -> Result<GridFlow> {
    let (h, w) = (rows.len(), cols.len());
    assert_eq!(supply.len(), h * w, "one supply per cell");
    // The block sums of the coarser levels, finest first, down to the coarsest.
    let mut pyramid: Vec<((usize, usize), Vec<f64>)> = Vec::new();
    loop {
        let ((h, w), fine) = pyramid
            .last()
            .map_or(((h, w), supply), |((h, w), s)| ((*h, *w), &s[..]));
        if h * w <= coarsest || h < 2 || w < 2 {
            break;
        }
        let (ch, cw) = (h.div_ceil(2), w.div_ceil(2));
        let mut coarse = vec![0.0; ch * cw];
        for (k, &s) in fine.iter().enumerate() {
            coarse[(k / w / 2) * cw + (k % w) / 2] += s;
        }
        pyramid.push(((ch, cw), coarse));
    }
    let levels = pyramid.len() + 1;
    // Pricing blocks of √arcs (the solver's default): from a lifted start the pivots are
    // local and cheap, and longer blocks (2–8·√arcs) measured slower at 299² and 512².
    let opts = Options::default();
    let mut pivots = 0;
    let mut coarser: Option<(usize, Solution)> = None;
    for depth in (0..levels).rev() {
        let ((h, w), level_supply) = match depth {
            0 => ((h, w), supply),
            _ => {
                let ((h, w), s) = &pyramid[depth - 1];
                ((*h, *w), &s[..])
            }
        };
        let started = std::time::Instant::now();
        // Coarser levels have unit spacing: every arc costs the same there, as every fine one
        // does on a regular grid.
        let unit = |n: usize| (0..n).map(|i| i as f64).collect::<Vec<f64>>();
        let (unit_rows, unit_cols);
        let grid = if depth == 0 {
            Grid4::new(rows, cols)
        } else {
            (unit_rows, unit_cols) = (unit(h), unit(w));
            Grid4::new(&unit_rows, &unit_cols)
        };
        // The coarser solution is needed only for its tree.
        let start = match coarser.take() {
            None => grid.comb_tree(),
            Some((cw, coarse)) => lift(h, w, cw, coarse.basis.tree_arcs()),
        };
        let solution = network_simplex::solve(&grid, level_supply, Start::Tree(&start), &opts)?;
        pivots += solution.iterations;
        progress(&Level {
            level: levels - depth,
            levels,
            shape: (h, w),
            pivots: solution.iterations,
            seconds: started.elapsed().as_secs_f64(),
        });
        coarser = Some((w, solution));
    }
    let (_, solution) = coarser.expect("at least one level");
    Ok(GridFlow {
        solution,
        pivots,
        levels,
    })
}

/// `(max_violation, gap)` of grid-flow potentials `pi` as transport duals between the two
/// masses whose difference is `supply`: `u = −π` on the sources, `v = π` on the targets.
///
/// `max_violation` is `max(0, max over every pair of cells x, y of π(y) − π(x) − |x − y|₁)`,
/// over all pairs at once: `max_y π(y) − |x − y|₁` is a distance transform in the cityblock
/// metric, separable into one forward and one backward pass along each row and then each
/// column (O(cells)). `gap` is `|cost − dual value|` with the dual value `−Σ supply·π`.
pub fn certify(rows: &[f64], cols: &[f64], supply: &[f64], pi: &[f64], cost: f64) -> (f64, f64) {
    let (h, w) = (rows.len(), cols.len());
    assert!(
        supply.len() == h * w && pi.len() >= h * w,
        "one entry per cell"
    );
    let mut g = pi[..h * w].to_vec();
    // 1-D transform g(i) = max_k g(k) − |x_i − x_k| along a line of `n` cells `stride` apart.
    let pass = |g: &mut [f64], at: usize, stride: usize, x: &[f64]| {
        for i in 1..x.len() {
            let reach = g[at + (i - 1) * stride] - (x[i] - x[i - 1]);
            let c = &mut g[at + i * stride];
            *c = c.max(reach);
        }
        for i in (0..x.len() - 1).rev() {
            let reach = g[at + (i + 1) * stride] - (x[i + 1] - x[i]);
            let c = &mut g[at + i * stride];
            *c = c.max(reach);
        }
    };
    for i in 0..h {
        pass(&mut g, i * w, 1, cols);
    }
    for j in 0..w {
        pass(&mut g, j, w, rows);
    }
    let max_violation = g.iter().zip(pi).map(|(g, p)| g - p).fold(0.0f64, f64::max);
    let dual = -supply.iter().zip(pi).map(|(s, p)| s * p).sum::<f64>();
    (max_violation, (cost - dual).abs())
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
            let comb = solve_from(&rows, &cols, &s, usize::MAX, |_| {}).unwrap();
            assert_eq!(comb.pivots, comb.solution.iterations);
            for coarsest in [4, 16, 64, 256] {
                let got = solve_from(&rows, &cols, &s, coarsest, |_| {}).unwrap();
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

    #[test]
    fn levels_are_reported_coarse_to_fine() {
        let (rows, cols) = (coords(37), coords(20));
        let s = supply(37, 20, 7);
        let mut seen = Vec::new();
        let flow = solve_from(&rows, &cols, &s, 16, |l| seen.push(*l)).unwrap();
        let shapes: Vec<(usize, (usize, usize))> =
            seen.iter().map(|l| (l.level, l.shape)).collect();
        assert_eq!(
            shapes,
            [(1, (5, 3)), (2, (10, 5)), (3, (19, 10)), (4, (37, 20))]
        );
        assert!(seen.iter().all(|l| l.levels == 4));
        assert_eq!(flow.levels, 4);
        assert_eq!(flow.pivots, seen.iter().map(|l| l.pivots).sum::<u64>());
    }

    #[test]
    fn certificate_is_the_worst_pair_and_the_duality_gap() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (h, w) in [(1, 1), (1, 9), (8, 1), (6, 7), (13, 11)] {
            let (rows, cols): (Vec<f64>, Vec<f64>) = (
                (0..h).map(|i| i as f64 * 1.5).collect(),
                (0..w)
                    .map(|j| j as f64 * 0.5 + (j * j) as f64 * 0.01)
                    .collect(),
            );
            let s = supply(h, w, 3);
            let flow = solve_from(&rows, &cols, &s, 16, |_| {}).unwrap();
            let sol = &flow.solution;
            let (violation, gap) = certify(&rows, &cols, &s, &sol.potentials, sol.cost);
            assert!(
                violation < 1e-12 && gap < 1e-12,
                "{h}×{w}: {violation:e} {gap:e}"
            );
            // Perturbed potentials: the worst pair by brute force.
            let pi: Vec<f64> = sol
                .potentials
                .iter()
                .map(|p| p + rng.random::<f64>())
                .collect();
            let at = |k: usize| (rows[k / w], cols[k % w]);
            let mut worst = 0.0f64;
            for x in 0..h * w {
                for y in 0..h * w {
                    let ((r0, c0), (r1, c1)) = (at(x), at(y));
                    worst = worst.max(pi[y] - pi[x] - (r0 - r1).abs() - (c0 - c1).abs());
                }
            }
            let dual = -s.iter().zip(&pi).map(|(s, p)| s * p).sum::<f64>();
            let (violation, gap) = certify(&rows, &cols, &s, &pi, sol.cost);
            assert!(
                (violation - worst).abs() < 1e-12,
                "{h}×{w}: {violation} vs {worst}"
            );
            assert!((gap - (sol.cost - dual).abs()).abs() < 1e-15);
            if h * w > 1 {
                assert!(violation > 0.0, "random potentials violate some pair");
            }
        }
    }
}
