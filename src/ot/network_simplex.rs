//! Primal network simplex for uncapacitated minimum-cost flow over a sparse (or implicit) arc set.
//!
//! The problem: node supplies `s_u` (positive at sources, negative at sinks, summing to zero up
//! to rounding), arcs `u → v` with costs `c ≥ 0` and unbounded capacity; find flows `x ≥ 0`
//! meeting every supply at least total cost. Transportation problems are the bipartite case;
//! grid-graph transshipment (cityblock W₁) is another.
//!
//! The method follows LEMON's `NetworkSimplex` (Kovács, "Minimum-cost flow algorithms: an
//! experimental evaluation", 2015): a spanning-tree basis stored as `parent`/`pred`/`thread`/
//! `rev_thread`/`succ_num`/`last_succ` arrays, an artificial root joined to every node, block
//! search pricing (blocks of √arcs arcs, resumed where the last search stopped), and the
//! strongly feasible tie-breaking rule for the leaving arc, which prevents cycling on the highly
//! degenerate problems that images produce.
//!
//! Differences that matter here:
//! - **Arcs are implicit.** An [`ArcSet`] names arcs by index and computes endpoints and costs on
//!   the fly, so a dense problem stores no N² costs and no N² arc states: arcs outside the tree
//!   always carry zero flow (they are uncapacitated), so only tree arcs need a flow, stored per
//!   node.
//! - **f64 flows and costs.** Flows only ever decrease by the ratio-test minimum, so they stay
//!   ≥ 0 exactly. An arc enters only if its reduced cost is below `−tolerance`
//!   ([`Options::tolerance`] times the largest path cost), which absorbs rounding in potentials.
//! - **Big-M from a bound.** Artificial arcs cost `2·D + 1` where `D` bounds every shortest-path
//!   cost ([`ArcSet::path_cost_bound`]); optimal duals then never need the artificial arcs, and the
//!   solver checks that they end with no flow.
//! - **No silent stops.** Reaching [`Options::max_iterations`] is an error.

use super::error::{Error, Result};

/// An arc set whose arcs are numbered `0..arc_count()` and computed on demand.
pub trait ArcSet: Sync {
    /// Number of nodes; nodes are `0..node_count()`.
    fn node_count(&self) -> usize;
    /// Number of arc indices (some may be holes, see [`ArcSet::endpoints`]).
    fn arc_count(&self) -> usize;
    /// `(source, target)` of arc `e`, or `None` if index `e` names no arc.
    fn endpoints(&self, e: usize) -> Option<(usize, usize)>;
    /// Cost of arc `e` (≥ 0); only called for indices that name arcs.
    fn cost(&self, e: usize) -> f64;
    /// An upper bound on the cost of a cheapest path between any two nodes that a path joins.
    fn path_cost_bound(&self) -> f64;
    /// The most negative reduced cost `cost(e) + π(source) − π(target)` over arcs with index
    /// in `range`, as `(value, arc)`; `(0.0, usize::MAX)` if none is negative. Implementations
    /// may override this with a faster scan.
    fn most_negative(&self, range: std::ops::Range<usize>, pi: Potentials<'_>) -> (f64, usize) {
        scan_arcs(self, range, pi)
    }
}

/// [`ArcSet::most_negative`] arc by arc, through [`ArcSet::endpoints`] and [`ArcSet::cost`].
pub fn scan_arcs<A: ArcSet + ?Sized>(
    arcs: &A,
    range: std::ops::Range<usize>,
    pi: Potentials<'_>,
) -> (f64, usize) {
    let mut best = (0.0, usize::MAX);
    for e in range {
        if let Some((u, v)) = arcs.endpoints(e) {
            let rc = arcs.cost(e) + pi.of(u) - pi.of(v);
            if rc < best.0 {
                best = (rc, e);
            }
        }
    }
    best
}

/// Node potentials as the solver stores them: by slot, where `slot_of` maps nodes to slots
/// (the identity unless [`Options::renumber`] is on).
#[derive(Debug, Clone, Copy)]
pub struct Potentials<'a> {
    /// Potential of each slot.
    pub by_slot: &'a [f64],
    /// Slot of each node; `None` when slots are nodes.
    pub slot_of: Option<&'a [u32]>,
    /// A shift for each block of 64 consecutive slots, added to each of its slots' potentials
    /// (empty: none).
    pub tag: &'a [f64],
}

impl Potentials<'_> {
    /// The potentials indexed by node, when they are stored that way (no renumbering, no
    /// tags): for scans that read them directly.
    pub fn by_node(&self) -> Option<&[f64]> {
        (self.slot_of.is_none() && self.tag.is_empty()).then_some(self.by_slot)
    }

    /// The potential of `node`.
    #[inline(always)]
    pub fn of(&self, node: usize) -> f64 {
        let s = self.slot_of.map_or(node, |slot_of| slot_of[node] as usize);
        match self.tag.get(s >> 6) {
            Some(t) => self.by_slot[s] + t,
            None => self.by_slot[s],
        }
    }
}

/// Solver settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// An arc enters the basis only if its reduced cost is below `−tolerance × scale`, where
    /// `scale = max(1, path cost bound)`. Default: 1e-12.
    pub tolerance: f64,
    /// Pivots allowed before giving up with an error. Default: 10⁹.
    pub max_iterations: u64,
    /// Pricing block size; 0 picks √(arc count), at least 32. Default: 0.
    pub block_size: usize,
    /// Renumber the tree's nodes in thread order from time to time, so that walking a subtree
    /// (the potential update of every pivot) reads consecutive memory. Pays off on large
    /// problems whose pricing handles [`Potentials::slot_of`] cheaply. Default: false.
    pub renumber: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: 1e-12,
            max_iterations: 1_000_000_000,
            block_size: 0,
            renumber: false,
        }
    }
}

/// An optimal flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// `Σ flow × cost` over the real arcs.
    pub cost: f64,
    /// The arcs with positive flow, as `(arc, flow)`, in arc order.
    pub flows: Vec<(usize, f64)>,
    /// Node potentials `π` with `cost(e) + π[source] − π[target] ≥ −tolerance` for every arc and
    /// `= 0` on arcs with flow: the dual certificate of optimality.
    pub potentials: Vec<f64>,
    /// Number of pivots.
    pub iterations: u64,
    /// The spanning-tree basis the solve ended with, to restart from ([`Start::Basis`]).
    pub basis: Basis,
}

const UP: i8 = 1;
const DOWN: i8 = -1;
const NONE: usize = usize::MAX;

/// The basis and the state of the pivot rule.
struct Tree<'a, A: ArcSet> {
    arcs: &'a A,
    n: usize,
    art_cost: f64,
    /// The spanning tree, its flows and potentials.
    b: Basis,
    dirty_revs: Vec<usize>,
    next_arc: usize,
    block: usize,
    /// Runs of consecutive slots walked by potential updates since the last renumbering.
    walked: usize,
    /// Buffers for renumbering.
    scratch_basis: Basis,
    scratch_old: Vec<usize>,
    scratch_new: Vec<usize>,
}

/// A spanning tree (or forest) of the nodes to start from. When the arc set has arcs both ways between
/// neighbours (as the grid graph has), any spanning tree gives a primal-feasible basis with no
/// artificial flow, since each tree edge can carry its subtree's net supply in whichever
/// direction it needs. With one-way arcs (`usize::MAX` for the missing direction) the tree must
/// suit the supplies, as the north-west-corner plan of a transportation problem does: a subtree
/// whose net supply needs the missing direction is accepted only for rounding-sized amounts,
/// which the tree then leaves unrouted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTree {
    /// Parent of each node, `usize::MAX` for nodes attached to the artificial root (one per
    /// tree when the start is a forest whose trees each balance their supplies).
    pub parent: Vec<usize>,
    /// Arc from each node to its parent (ignored for the attached node).
    pub up_arc: Vec<usize>,
    /// Arc from each node's parent to it (ignored for the attached node).
    pub down_arc: Vec<usize>,
}

/// Where [`solve`] starts.
#[derive(Debug, Clone)]
pub enum Start<'s> {
    /// Cold: every node on an artificial arc to the root, so the first pivots do the work of
    /// finding a feasible flow.
    Cold,
    /// The tree of a feasible plan (see [`StartTree`]): on graphs like grids a far better basis
    /// than the cold one, which costs many pivots of phase-one work there.
    Tree(&'s StartTree),
    /// Warm: the basis an earlier solve ended with ([`Solution::basis`]), over the same nodes,
    /// supplies and [`ArcSet::path_cost_bound`], and over a prefix of the arcs (arcs may have
    /// been added at the end since, or dropped through [`Basis::rename_arcs`]).
    Basis(Box<Basis>),
}

/// Solves the uncapacitated min-cost flow for `supply` (one entry per node), from `start`.
///
/// # Errors
/// [`Error::PivotCap`] if the iteration cap is reached; [`Error::Infeasible`] if artificial
/// flow remains (e.g. disconnected components with unequal totals).
///
/// # Panics
/// If `supply` or the start does not fit the nodes of `arcs`, or a start tree cannot carry the
/// supplies (see [`StartTree`]).
pub fn solve<A: ArcSet>(
    arcs: &A,
    supply: &[f64],
    start: Start<'_>,
    opts: &Options,
) -> Result<Solution> {
    let n = arcs.node_count();
    assert_eq!(supply.len(), n, "one supply per node");
    let bound = arcs.path_cost_bound().max(0.0);
    let mut tree = Tree::new(arcs, supply, 2.0 * bound + 1.0, opts.block_size);
    match start {
        Start::Cold => {}
        Start::Tree(t) => tree.start_from(t, supply),
        Start::Basis(b) => tree.restore(*b),
    }
    let iterations = run(&mut tree, opts, bound)?;
    tree.into_solution(iterations, supply)
}

/// The spanning-tree basis a solve ended with, to restart from after the arc set has changed.
///
/// Column generation solves a sparse problem, adds arcs, and solves again: when arcs are only
/// added at the end, or dropped with the tree's arcs kept and renamed
/// ([`Basis::mark_tree_arcs`], [`Basis::rename_arcs`]), the old optimal basis is still a
/// feasible basis of the new problem, and the new solve starts from it ([`Start::Basis`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Basis {
    /// Arc index of each node's artificial arc: `art_base + node`.
    art_base: usize,
    // The tree is stored by *slot*, not by node: slots are renumbered from time to time so that
    // the thread (a preorder) runs through consecutive slots, and walking a subtree reads memory
    // in order instead of chasing pointers across it. The root keeps slot `n`.
    /// Node in each slot.
    node_of: Vec<usize>,
    /// Slot of each node.
    slot_of: Vec<u32>,
    /// Whether slots were ever renumbered (else each node is its own slot).
    renumbered: bool,
    parent: Vec<usize>,
    pred: Vec<usize>,
    pred_dir: Vec<i8>,
    /// Flow on the arc `pred[s]`.
    pred_flow: Vec<f64>,
    thread: Vec<usize>,
    rev_thread: Vec<usize>,
    succ_num: Vec<usize>,
    last_succ: Vec<usize>,
    /// Potential of each slot, plus the tag of its block of 64 slots once renumbered.
    pi: Vec<f64>,
    /// Once renumbered: a potential shift for each block of 64 consecutive slots, so that a
    /// subtree walk adds to whole blocks at once (empty before).
    tag: Vec<f64>,
    /// Once renumbered: bit `s` is set when `thread[s] ≠ s + 1` (empty before), so that a walk
    /// finds the end of each run of consecutive slots a word at a time.
    breaks: Vec<u64>,
    /// Blocks shifted through their tag (for tests).
    #[cfg(test)]
    tagged: usize,
}

/// Slots per potential tag: 2^6.
const TAG_SHIFT: u32 = 6;

impl Basis {
    /// Marks `keep[e] = true` for every real arc of the tree (including arcs that carry no
    /// flow), so that a caller compacting its arc set keeps them.
    pub fn mark_tree_arcs(&self, keep: &mut [bool]) {
        for e in self.tree_arcs() {
            keep[e] = true;
        }
    }

    /// The real arcs of the tree (including arcs that carry no flow), in no particular order.
    pub fn tree_arcs(&self) -> impl Iterator<Item = usize> + '_ {
        self.pred.iter().copied().filter(|&e| e < self.art_base)
    }

    /// Follows a compaction of the arc set: real arc `e` is now `new_index[e]` (every tree arc
    /// must have been kept, see [`Basis::mark_tree_arcs`]), and there are `arc_count` of them.
    ///
    /// # Panics
    /// If a tree arc was dropped (`new_index[e] == usize::MAX`).
    pub fn rename_arcs(&mut self, new_index: &[usize], arc_count: usize) {
        self.rebase(
            |e| {
                let k = new_index[e];
                assert!(k != NONE, "tree arcs are kept");
                k
            },
            arc_count,
        );
    }

    /// Renames each real tree arc `e` to `real(e)` and moves the artificial arcs past the
    /// `arc_count` real ones.
    fn rebase(&mut self, real: impl Fn(usize) -> usize, arc_count: usize) {
        let old_base = self.art_base;
        for e in &mut self.pred {
            if *e != NONE {
                *e = if *e < old_base {
                    real(*e)
                } else {
                    *e - old_base + arc_count
                };
            }
        }
        self.art_base = arc_count;
    }

    /// The potential of slot `s`.
    #[inline(always)]
    fn pot(&self, s: usize) -> f64 {
        if self.tag.is_empty() {
            self.pi[s]
        } else {
            self.pi[s] + self.tag[s >> TAG_SHIFT]
        }
    }

    /// Sets `thread[s] = t`, keeping the run breaks up to date.
    #[inline(always)]
    fn set_thread(&mut self, s: usize, t: usize) {
        self.thread[s] = t;
        if let Some(word) = self.breaks.get_mut(s >> 6) {
            let bit = 1u64 << (s & 63);
            if t == s + 1 {
                *word &= !bit;
            } else {
                *word |= bit;
            }
        }
    }

    /// The first slot `b ≥ s` whose thread successor is not `b + 1` (the last of its run).
    #[inline(always)]
    fn run_end(&self, s: usize) -> usize {
        let mut k = s >> 6;
        let mut word = self.breaks[k] & (u64::MAX << (s & 63));
        while word == 0 {
            k += 1;
            word = self.breaks[k];
        }
        (k << 6) + word.trailing_zeros() as usize
    }

    /// Adds `sigma` to the potentials of slots `a..=b`: whole blocks through their tag.
    fn add_range(&mut self, a: usize, b: usize, sigma: f64) {
        const BLOCK: usize = 1 << TAG_SHIFT;
        let mut s = a;
        while s <= b {
            let block_end = (s | (BLOCK - 1)).min(b);
            if s & (BLOCK - 1) == 0 && block_end - s == BLOCK - 1 {
                self.tag[s >> TAG_SHIFT] += sigma;
                #[cfg(test)]
                {
                    self.tagged += 1;
                }
            } else {
                for p in &mut self.pi[s..=block_end] {
                    *p += sigma;
                }
            }
            s = block_end + 1;
        }
    }

    /// Adds `sigma` to the potentials along the thread from slot `first` up to, not including,
    /// slot `end`; returns the number of runs of consecutive slots the stretch is made of.
    fn shift(&mut self, first: usize, end: usize, sigma: f64) -> usize {
        let mut runs = 0;
        let mut u = first;
        while u != end {
            runs += 1;
            if self.breaks.is_empty() {
                self.pi[u] += sigma;
                u = self.thread[u];
                continue;
            }
            // The run u, u + 1, ..., v: the thread goes through consecutive slots.
            let v = self.run_end(u);
            if u < end && end <= v {
                self.add_range(u, end - 1, sigma);
                break;
            }
            self.add_range(u, v, sigma);
            u = self.thread[v];
        }
        runs
    }
}

/// Pivots until no arc prices out; the number of pivots.
fn run<A: ArcSet>(tree: &mut Tree<'_, A>, opts: &Options, bound: f64) -> Result<u64> {
    let eps = opts.tolerance * bound.max(1.0);
    let mut iterations = 0u64;
    let renumber_after = RENUMBER_RUNS_PER_NODE * (tree.n + 1);
    if opts.renumber {
        tree.renumber();
    }
    while let Some(in_arc) = tree.find_entering_arc(eps) {
        if iterations >= opts.max_iterations {
            return Err(Error::PivotCap {
                cap: opts.max_iterations,
            });
        }
        iterations += 1;
        tree.pivot(in_arc);
        if opts.renumber && tree.walked > renumber_after {
            tree.renumber();
        }
    }
    Ok(iterations)
}

/// Renumber once potential updates have walked this many runs of consecutive slots per node:
/// a renumbering costs about a dozen passes over the nodes, a run about one cache miss and one
/// mispredicted branch. The choice is not critical: any value from 1 to 10 does about as well.
const RENUMBER_RUNS_PER_NODE: usize = 3;

impl<'a, A: ArcSet> Tree<'a, A> {
    fn new(arcs: &'a A, supply: &[f64], art_cost: f64, block_size: usize) -> Self {
        let n = arcs.node_count();
        assert!(n < u32::MAX as usize, "u32 slots");
        let root = n;
        let m = arcs.arc_count();
        let total = n + 1;
        let mut b = Basis {
            art_base: m,
            node_of: (0..total).collect(),
            slot_of: (0..total as u32).collect(),
            renumbered: false,
            parent: vec![root; total],
            pred: vec![NONE; total],
            pred_dir: vec![UP; total],
            pred_flow: vec![0.0; total],
            thread: (1..=total).collect(),
            rev_thread: vec![0; total],
            succ_num: vec![1; total],
            last_succ: (0..total).collect(),
            pi: vec![0.0; total],
            tag: Vec::new(),
            breaks: Vec::new(),
            #[cfg(test)]
            tagged: 0,
        };
        for (u, &s) in supply.iter().enumerate() {
            b.pred[u] = m + u;
            b.rev_thread[u + 1] = u;
            if s >= 0.0 {
                // artificial u → root, cost 0
                b.pred_dir[u] = UP;
                b.pred_flow[u] = s;
                b.pi[u] = 0.0;
            } else {
                // artificial root → u, cost M
                b.pred_dir[u] = DOWN;
                b.pred_flow[u] = -s;
                b.pi[u] = art_cost;
            }
        }
        b.parent[root] = NONE;
        b.thread[root] = 0;
        b.rev_thread[0] = root;
        b.succ_num[root] = total;
        b.last_succ[root] = root - 1;
        if n == 0 {
            b.thread[root] = root;
            b.rev_thread[root] = root;
            b.last_succ[root] = root;
        }
        Tree {
            arcs,
            n,
            art_cost,
            b,
            dirty_revs: Vec::new(),
            next_arc: 0,
            block: if block_size > 0 {
                block_size
            } else {
                ((m as f64).sqrt() as usize).max(32)
            },
            walked: 0,
            scratch_basis: Basis::default(),
            scratch_old: Vec::new(),
            scratch_new: Vec::new(),
        }
    }

    /// Replaces the all-artificial basis by an earlier solve's basis over a prefix of the arcs;
    /// its artificial arcs are renumbered past the (possibly longer) arc list.
    fn restore(&mut self, mut basis: Basis) {
        assert_eq!(basis.parent.len(), self.n + 1, "the basis fits the nodes");
        let new = self.b.art_base;
        assert!(basis.art_base <= new, "arcs are only ever added");
        basis.rebase(|e| e, new);
        self.b = basis;
    }

    /// Renumbers the slots in thread order (the root keeps slot `n`), so that subtrees occupy
    /// runs of consecutive slots again.
    fn renumber(&mut self) {
        if self.n == 0 {
            return;
        }
        let root = self.n;
        let total = self.n + 1;
        let b = &mut self.b;
        if !b.tag.is_empty() {
            for (s, p) in b.pi.iter_mut().enumerate() {
                *p += b.tag[s >> TAG_SHIFT];
            }
        }
        // The old slot of each new slot, in thread order, run by run; the root stays last.
        let old_of = &mut self.scratch_old;
        old_of.clear();
        let mut s = b.thread[root];
        while s != root {
            let mut v = s;
            while b.thread[v] == v + 1 && v + 1 != root {
                v += 1;
            }
            old_of.extend(s..=v);
            s = b.thread[v];
        }
        old_of.push(root);
        let new_of = &mut self.scratch_new;
        new_of.resize(total, 0);
        for (k, &o) in old_of.iter().enumerate() {
            new_of[o] = k;
        }
        let old = std::mem::take(&mut self.scratch_basis);
        let mut old = std::mem::replace(b, old);
        // `b` now holds last renumbering's arrays, reused as buffers.
        b.art_base = old.art_base;
        b.renumbered = true;
        b.slot_of = std::mem::take(&mut old.slot_of);
        fn gather<T: Copy>(dst: &mut Vec<T>, src: &[T], old_of: &[usize]) {
            dst.clear();
            dst.extend(old_of.iter().map(|&o| src[o]));
        }
        gather(&mut b.node_of, &old.node_of, old_of);
        gather(&mut b.parent, &old.parent, old_of);
        for p in &mut b.parent {
            if *p != NONE {
                *p = new_of[*p];
            }
        }
        gather(&mut b.pred, &old.pred, old_of);
        gather(&mut b.succ_num, &old.succ_num, old_of);
        gather(&mut b.pred_dir, &old.pred_dir, old_of);
        gather(&mut b.pred_flow, &old.pred_flow, old_of);
        gather(&mut b.pi, &old.pi, old_of);
        for (k, &u) in b.node_of.iter().enumerate() {
            b.slot_of[u] = k as u32;
        }
        b.thread.clear();
        b.thread.extend(1..=total);
        b.thread[root - 1] = root;
        b.thread[root] = 0;
        b.rev_thread.clear();
        b.rev_thread.extend((0..total).map(|k| k.wrapping_sub(1)));
        b.rev_thread[0] = root;
        b.rev_thread[root] = root - 1;
        b.last_succ.clear();
        b.last_succ
            .extend(b.succ_num.iter().enumerate().map(|(k, &c)| k + c - 1));
        b.last_succ[root] = root - 1;
        b.tag.clear();
        b.tag.resize((total >> TAG_SHIFT) + 1, 0.0);
        b.breaks.clear();
        b.breaks.resize((total >> 6) + 1, 0);
        b.breaks[root >> 6] |= 1 << (root & 63);
        self.scratch_basis = old;
        self.walked = 0;
    }

    /// Replaces the all-artificial basis by `start` (see [`StartTree`]).
    fn start_from(&mut self, start: &StartTree, supply: &[f64]) {
        let n = self.n;
        let root = n;
        assert_eq!(start.parent.len(), n, "one parent per node");
        let is_top = |u: usize| start.parent[u] == NONE;
        assert!((0..n).any(is_top), "some node attaches to the root");
        // Children lists, then a preorder from the root.
        let mut first_child = vec![NONE; n];
        let mut next_sibling = vec![NONE; n];
        for u in (0..n).rev() {
            let p = start.parent[u];
            if p != NONE {
                next_sibling[u] = first_child[p];
                first_child[p] = u;
            }
        }
        let mut order = Vec::with_capacity(n + 1);
        order.push(root);
        let mut stack: Vec<usize> = (0..n).rev().filter(|&u| is_top(u)).collect();
        while let Some(u) = stack.pop() {
            order.push(u);
            let mut c = first_child[u];
            while c != NONE {
                stack.push(c);
                c = next_sibling[c];
            }
        }
        assert_eq!(order.len(), n + 1, "the start tree spans every node");
        // Subtree sizes and supplies, children before parents.
        let scale = supply
            .iter()
            .map(|s| s.abs())
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        let mut sub = supply.to_vec();
        sub.push(0.0);
        self.b.succ_num.iter_mut().for_each(|s| *s = 1);
        for &u in order.iter().skip(1).rev() {
            let p = if is_top(u) { root } else { start.parent[u] };
            self.b.succ_num[p] += self.b.succ_num[u];
            if p != root {
                sub[p] += sub[u];
            }
        }
        for (k, &u) in order.iter().enumerate() {
            let next = order[(k + 1) % order.len()];
            self.b.thread[u] = next;
            self.b.rev_thread[next] = u;
            self.b.last_succ[u] = order[k + self.b.succ_num[u] - 1];
        }
        self.b.parent[root] = NONE;
        self.b.pi[root] = 0.0;
        for &u in order.iter().skip(1) {
            if is_top(u) {
                // The net imbalance of its tree (rounding only) rides on the artificial arc.
                self.b.parent[u] = root;
                self.b.pred[u] = self.b.art_base + u;
                self.b.pred_dir[u] = if sub[u] >= 0.0 { UP } else { DOWN };
                self.b.pred_flow[u] = sub[u].abs();
                self.b.pi[u] = if sub[u] >= 0.0 { 0.0 } else { self.art_cost };
                continue;
            }
            let p = start.parent[u];
            self.b.parent[u] = p;
            let up = if start.up_arc[u] == NONE {
                false
            } else if start.down_arc[u] == NONE {
                true
            } else {
                sub[u] >= 0.0
            };
            if up != (sub[u] >= 0.0) {
                assert!(
                    sub[u].abs() <= 1e-9 * scale,
                    "the start tree cannot carry node {u}'s net supply {}",
                    sub[u]
                );
                sub[u] = 0.0;
            }
            if up {
                self.b.pred[u] = start.up_arc[u];
                self.b.pred_dir[u] = UP;
                self.b.pred_flow[u] = sub[u];
                self.b.pi[u] = self.b.pi[p] - self.arcs.cost(start.up_arc[u]);
            } else {
                self.b.pred[u] = start.down_arc[u];
                self.b.pred_dir[u] = DOWN;
                self.b.pred_flow[u] = -sub[u];
                self.b.pi[u] = self.b.pi[p] + self.arcs.cost(start.down_arc[u]);
            }
        }
    }

    /// Block search over the real arcs; artificial arcs never re-enter.
    fn find_entering_arc(&mut self, eps: f64) -> Option<usize> {
        let m = self.b.art_base;
        if m == 0 {
            return None;
        }
        let mut start = self.next_arc;
        let mut scanned = 0usize;
        let mut best = (0.0, NONE);
        while scanned < m {
            let end = (start + self.block).min(m);
            let pi = Potentials {
                by_slot: &self.b.pi,
                slot_of: self.b.renumbered.then_some(&self.b.slot_of[..]),
                tag: &self.b.tag,
            };
            let (rc, e) = self.arcs.most_negative(start..end, pi);
            if rc < best.0 {
                best = (rc, e);
            }
            scanned += end - start;
            start = if end == m { 0 } else { end };
            if best.0 < -eps {
                self.next_arc = start;
                return Some(best.1);
            }
        }
        None
    }

    fn pivot(&mut self, in_arc: usize) {
        let (src, tgt) = self.arcs.endpoints(in_arc).expect("entering arcs are real");
        let (src, tgt) = (self.b.slot_of[src] as usize, self.b.slot_of[tgt] as usize);
        // Join node (the first common ancestor) and leaving arc in one walk up both sides:
        // flow is pushed src → tgt along the entering arc, then tgt → join, and join → src down
        // the tree. The side whose subtree is smaller steps up, so neither side passes the join.
        // Strongly feasible rule: on the first side the blocking arc nearest src (strict), on
        // the second the one nearest the join (non-strict), and the second side wins ties.
        let (first, second) = (src, tgt);
        let (mut a, mut b) = (first, second);
        let (mut delta1, mut out1) = (f64::INFINITY, NONE);
        let (mut delta2, mut out2) = (f64::INFINITY, NONE);
        while a != b {
            if self.b.succ_num[a] < self.b.succ_num[b] {
                if self.b.pred_dir[a] == UP && self.b.pred_flow[a] < delta1 {
                    delta1 = self.b.pred_flow[a];
                    out1 = a;
                }
                a = self.b.parent[a];
            } else {
                if self.b.pred_dir[b] == DOWN && self.b.pred_flow[b] <= delta2 {
                    delta2 = self.b.pred_flow[b];
                    out2 = b;
                }
                b = self.b.parent[b];
            }
        }
        let join = a;
        let (delta, u_out, result) = if out2 != NONE && delta2 <= delta1 {
            (delta2, out2, 2)
        } else {
            (delta1, out1, 1)
        };
        debug_assert!(
            u_out != NONE,
            "uncapacitated cycles with negative cost cannot be unbounded here"
        );
        let (u_in, v_in) = if result == 1 {
            (first, second)
        } else {
            (second, first)
        };
        // Augment.
        if delta > 0.0 {
            let mut u = src;
            while u != join {
                if self.b.pred_dir[u] == UP {
                    self.b.pred_flow[u] -= delta;
                } else {
                    self.b.pred_flow[u] += delta;
                }
                u = self.b.parent[u];
            }
            let mut u = tgt;
            while u != join {
                if self.b.pred_dir[u] == UP {
                    self.b.pred_flow[u] += delta;
                } else {
                    self.b.pred_flow[u] -= delta;
                }
                u = self.b.parent[u];
            }
        }
        self.update_tree(in_arc, join, u_in, v_in, u_out, delta);
        self.update_potential(in_arc, u_in, v_in);
    }

    fn update_tree(
        &mut self,
        in_arc: usize,
        join: usize,
        u_in: usize,
        v_in: usize,
        u_out: usize,
        in_flow: f64,
    ) {
        let old_rev_thread = self.b.rev_thread[u_out];
        let old_succ_num = self.b.succ_num[u_out];
        let old_last_succ = self.b.last_succ[u_out];
        let v_out = self.b.parent[u_out];
        let in_dir = if u_in == self.b.slot_of[self.arcs.endpoints(in_arc).unwrap().0] as usize {
            UP
        } else {
            DOWN
        };

        if u_in == u_out {
            self.b.parent[u_in] = v_in;
            self.b.pred[u_in] = in_arc;
            self.b.pred_dir[u_in] = in_dir;
            self.b.pred_flow[u_in] = in_flow;
            if self.b.thread[v_in] != u_out {
                let mut after = self.b.thread[old_last_succ];
                self.b.set_thread(old_rev_thread, after);
                self.b.rev_thread[after] = old_rev_thread;
                after = self.b.thread[v_in];
                self.b.set_thread(v_in, u_out);
                self.b.rev_thread[u_out] = v_in;
                self.b.set_thread(old_last_succ, after);
                self.b.rev_thread[after] = old_last_succ;
            }
        } else {
            let thread_continue = if old_rev_thread == v_in {
                self.b.thread[old_last_succ]
            } else {
                self.b.thread[v_in]
            };
            let mut stem = u_in;
            let mut par_stem = v_in;
            let mut last = self.b.last_succ[u_in];
            let mut after = self.b.thread[last];
            self.b.set_thread(v_in, u_in);
            self.dirty_revs.clear();
            self.dirty_revs.push(v_in);
            while stem != u_out {
                let next_stem = self.b.parent[stem];
                self.b.set_thread(last, next_stem);
                self.dirty_revs.push(last);
                let before = self.b.rev_thread[stem];
                self.b.set_thread(before, after);
                self.b.rev_thread[after] = before;
                self.b.parent[stem] = par_stem;
                par_stem = stem;
                stem = next_stem;
                last = if self.b.last_succ[stem] == self.b.last_succ[par_stem] {
                    self.b.rev_thread[par_stem]
                } else {
                    self.b.last_succ[stem]
                };
                after = self.b.thread[last];
            }
            self.b.parent[u_out] = par_stem;
            self.b.set_thread(last, thread_continue);
            self.b.rev_thread[thread_continue] = last;
            self.b.last_succ[u_out] = last;
            if old_rev_thread != v_in {
                self.b.set_thread(old_rev_thread, after);
                self.b.rev_thread[after] = old_rev_thread;
            }
            for i in 0..self.dirty_revs.len() {
                let u = self.dirty_revs[i];
                let t = self.b.thread[u];
                self.b.rev_thread[t] = u;
            }
            // Stem nodes from u_out to u_in take the pred arc (and its flow) of their old parent,
            // now their child, reversed.
            let mut tmp_sc = 0usize;
            let tmp_ls = self.b.last_succ[u_out];
            let mut u = u_out;
            while u != u_in {
                let p = self.b.parent[u];
                self.b.pred[u] = self.b.pred[p];
                self.b.pred_dir[u] = -self.b.pred_dir[p];
                self.b.pred_flow[u] = self.b.pred_flow[p];
                tmp_sc = tmp_sc + self.b.succ_num[u] - self.b.succ_num[p];
                self.b.succ_num[u] = tmp_sc;
                self.b.last_succ[p] = tmp_ls;
                u = p;
            }
            self.b.pred[u_in] = in_arc;
            self.b.pred_dir[u_in] = in_dir;
            self.b.pred_flow[u_in] = in_flow;
            self.b.succ_num[u_in] = old_succ_num;
        }

        let up_limit_out = if self.b.last_succ[join] == v_in {
            join
        } else {
            NONE
        };
        let last_succ_out = self.b.last_succ[u_out];
        let mut u = v_in;
        while u != NONE && self.b.last_succ[u] == v_in {
            self.b.last_succ[u] = last_succ_out;
            u = self.b.parent[u];
        }
        if join != old_rev_thread && v_in != old_rev_thread {
            let mut u = v_out;
            while u != up_limit_out && self.b.last_succ[u] == old_last_succ {
                self.b.last_succ[u] = old_rev_thread;
                u = self.b.parent[u];
            }
        } else if last_succ_out != old_last_succ {
            let mut u = v_out;
            while u != up_limit_out && self.b.last_succ[u] == old_last_succ {
                self.b.last_succ[u] = last_succ_out;
                u = self.b.parent[u];
            }
        }
        let mut u = v_in;
        while u != join {
            self.b.succ_num[u] += old_succ_num;
            u = self.b.parent[u];
        }
        let mut u = v_out;
        while u != join {
            self.b.succ_num[u] -= old_succ_num;
            u = self.b.parent[u];
        }
    }

    /// Restores zero reduced cost on the entering arc by shifting the potentials of the subtree
    /// now hanging from it — or, equivalently (only differences matter), shifting every other
    /// node the opposite way when that side is smaller.
    fn update_potential(&mut self, in_arc: usize, u_in: usize, v_in: usize) {
        let b = &mut self.b;
        let c = self.arcs.cost(in_arc);
        let sigma = b.pot(v_in) - b.pot(u_in) - f64::from(b.pred_dir[u_in]) * c;
        let end = b.thread[b.last_succ[u_in]];
        let subtree = b.succ_num[u_in];
        self.walked += if 2 * subtree <= self.n + 1 {
            b.shift(u_in, end, sigma)
        } else {
            // The thread is a cycle through all nodes and the root; the subtree is the stretch
            // u_in ..= last_succ[u_in] of it.
            b.shift(end, u_in, -sigma)
        };
    }

    fn into_solution(self, iterations: u64, supply: &[f64]) -> Result<Solution> {
        let scale: f64 = supply
            .iter()
            .map(|s| s.abs())
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        let mut flows = Vec::new();
        let mut cost = 0.0;
        let mut artificial = 0.0f64;
        for u in 0..self.n {
            let (e, f) = (self.b.pred[u], self.b.pred_flow[u]);
            if e >= self.b.art_base {
                artificial = artificial.max(f);
            } else if f > 0.0 {
                flows.push((e, f));
                cost += f * self.arcs.cost(e);
            }
        }
        if artificial > 1e-9 * scale {
            return Err(Error::Infeasible {
                unrouted: artificial,
            });
        }
        flows.sort_unstable_by_key(|&(e, _)| e);
        let potentials = (0..self.n)
            .map(|u| self.b.pot(self.b.slot_of[u] as usize))
            .collect();
        Ok(Solution {
            cost,
            flows,
            potentials,
            iterations,
            basis: self.b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::arcs::{Bipartite, Grid4, Ground};
    use super::*;

    /// Checks primal feasibility and the dual certificate of a solution.
    fn check_certificate<A: ArcSet>(arcs: &A, supply: &[f64], sol: &Solution) {
        let n = arcs.node_count();
        let mut net = vec![0.0; n];
        for &(e, f) in &sol.flows {
            assert!(f > 0.0);
            let (u, v) = arcs.endpoints(e).unwrap();
            net[u] += f;
            net[v] -= f;
            let rc = arcs.cost(e) + sol.potentials[u] - sol.potentials[v];
            assert!(
                rc.abs() < 1e-9,
                "complementary slackness: arc {e} has flow and rc {rc}"
            );
        }
        for u in 0..n {
            assert!(
                (net[u] - supply[u]).abs() < 1e-12,
                "node {u}: net {} vs supply {}",
                net[u],
                supply[u]
            );
        }
        for e in 0..arcs.arc_count() {
            if let Some((u, v)) = arcs.endpoints(e) {
                let rc = arcs.cost(e) + sol.potentials[u] - sol.potentials[v];
                assert!(rc > -1e-9, "dual feasibility: arc {e} has rc {rc}");
            }
        }
        let dual: f64 = (0..n).map(|u| -supply[u] * sol.potentials[u]).sum();
        assert!(
            (dual - sol.cost).abs() < 1e-9 * sol.cost.max(1.0),
            "gap: primal {} dual {dual}",
            sol.cost
        );
    }

    fn permutations(k: usize) -> Vec<Vec<usize>> {
        if k == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(k - 1) {
            for pos in 0..=p.len() {
                let mut q = p.clone();
                q.insert(pos, k - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn uniform_points_brute_force_over_permutations() {
        let mut seed = 7u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ((seed >> 40) % 5) as f64 // small integer coordinates: many ties
        };
        for k in 1..=6 {
            for _ in 0..20 {
                let xs: Vec<(f64, f64)> = (0..k).map(|_| (rnd(), rnd())).collect();
                let ys: Vec<(f64, f64)> = (0..k).map(|_| (rnd(), rnd())).collect();
                for (ground, renumber) in
                    [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock]
                        .into_iter()
                        .flat_map(|g| [(g, false), (g, true)])
                {
                    let arcs = Bipartite::new(&xs, &ys, ground);
                    let mut supply = vec![1.0 / k as f64; k];
                    supply.extend(vec![-1.0 / k as f64; k]);
                    let opts = Options {
                        renumber,
                        ..Options::default()
                    };
                    let sol = solve(&arcs, &supply, Start::Cold, &opts).unwrap();
                    let best = permutations(k)
                        .iter()
                        .map(|p| {
                            p.iter()
                                .enumerate()
                                .map(|(i, &j)| ground.cost(xs[i].0 - ys[j].0, xs[i].1 - ys[j].1))
                                .sum::<f64>()
                                / k as f64
                        })
                        .fold(f64::INFINITY, f64::min);
                    assert!(
                        (sol.cost - best).abs() < 1e-12,
                        "k={k} {ground:?}: {} vs {best}",
                        sol.cost
                    );
                    check_certificate(&arcs, &supply, &sol);
                }
            }
        }
    }

    #[test]
    fn grid_graph_equals_dense_cityblock_and_certifies() {
        let (rows, cols) = (vec![0.0, 1.0, 2.0, 3.5], vec![0.0, 1.0, 2.0, 3.0, 4.5]);
        let n = rows.len() * cols.len();
        let mut seed = 3u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 7) as f64
        };
        for _ in 0..10 {
            let a: Vec<f64> = (0..n).map(|_| rnd()).collect();
            let b: Vec<f64> = (0..n).map(|_| rnd()).collect();
            let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
            let supply: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / sa - y / sb).collect();
            let grid = Grid4::new(&rows, &cols);
            let sol = solve(&grid, &supply, Start::Cold, &Options::default()).unwrap();
            check_certificate(&grid, &supply, &sol);
            let renumbered = Options {
                renumber: true,
                ..Options::default()
            };
            let again = solve(&grid, &supply, Start::Cold, &renumbered).unwrap();
            check_certificate(&grid, &supply, &again);
            assert!((again.cost - sol.cost).abs() < 1e-12);
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .flat_map(|&r| cols.iter().map(move |&c| (r, c)))
                .collect();
            let dense = Bipartite::new(&pts, &pts, Ground::Cityblock);
            let mut ds: Vec<f64> = a.iter().map(|x| x / sa).collect();
            ds.extend(b.iter().map(|y| -y / sb));
            let want = solve(&dense, &ds, Start::Cold, &Options::default()).unwrap();
            check_certificate(&dense, &ds, &want);
            assert!(
                (sol.cost - want.cost).abs() < 1e-12,
                "{} vs {}",
                sol.cost,
                want.cost
            );
        }
    }

    /// Checks every invariant of the tree arrays: the thread is a preorder cycle through the
    /// root, `rev_thread` inverts it, `succ_num`/`last_succ` describe each subtree's stretch of
    /// it, the slot maps invert each other, and tree arcs have zero reduced cost.
    fn check_tree<A: ArcSet>(t: &Tree<'_, A>) {
        let (b, n) = (&t.b, t.n);
        let root = n;
        for u in 0..=n {
            assert_eq!(b.slot_of[b.node_of[u]] as usize, u);
            assert_eq!(b.rev_thread[b.thread[u]], u);
        }
        // Preorder: walking the thread from the root visits each slot once, and every slot's
        // subtree is the stretch from it to last_succ, of length succ_num.
        let mut order = vec![root];
        let mut s = b.thread[root];
        while s != root {
            order.push(s);
            s = b.thread[s];
        }
        assert_eq!(order.len(), n + 1);
        let mut pos = vec![0; n + 1];
        for (k, &s) in order.iter().enumerate() {
            pos[s] = k;
        }
        for s in 0..n {
            let p = b.parent[s];
            assert!(pos[p] < pos[s], "parents come first");
            let last = pos[s] + b.succ_num[s] - 1;
            assert_eq!(order[last], b.last_succ[s]);
            assert!(
                pos[b.last_succ[p]] >= last,
                "a subtree lies inside its parent's"
            );
            let e = b.pred[s];
            if e < t.b.art_base {
                let (x, y) = t.arcs.endpoints(e).unwrap();
                let (x, y) = (b.slot_of[x] as usize, b.slot_of[y] as usize);
                let rc = t.arcs.cost(e) + b.pot(x) - b.pot(y);
                assert!(rc.abs() < 1e-9, "tree arcs are tight: {rc}");
                assert!(
                    (x, y) == (s, p) || (x, y) == (p, s),
                    "pred joins slot and parent"
                );
            }
        }
        assert_eq!(b.succ_num[root], n + 1);
    }

    #[test]
    fn renumbering_keeps_the_tree_whole_pivot_by_pivot() {
        let mut seed = 11u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f64 / (1u64 << 24) as f64
        };
        // Two 16 × 16 lattices with uneven masses: deep trees, whose subtree walks cover whole
        // 64-slot blocks through their tags.
        let lattice: Vec<(f64, f64)> = (0..256)
            .map(|k| ((k / 16) as f64, (k % 16) as f64))
            .collect();
        let (xs, ys) = (lattice.clone(), lattice);
        let wa: Vec<f64> = xs.iter().map(|_| 0.1 + rnd()).collect();
        let wb: Vec<f64> = ys.iter().map(|_| 0.1 + rnd()).collect();
        let (sa, sb) = (wa.iter().sum::<f64>(), wb.iter().sum::<f64>());
        let mut supply: Vec<f64> = wa.iter().map(|w| w / sa).collect();
        supply.extend(wb.iter().map(|w| -w / sb));
        let arcs = Bipartite::new(&xs, &ys, Ground::SqEuclidean);
        let want = solve(&arcs, &supply, Start::Cold, &Options::default()).unwrap();
        for every in [1, 7, 100] {
            let bound = arcs.path_cost_bound();
            let mut tree = Tree::new(&arcs, &supply, 2.0 * bound + 1.0, 0);
            let eps = 1e-12 * bound.max(1.0);
            let mut pivots = 0;
            while let Some(e) = tree.find_entering_arc(eps) {
                tree.pivot(e);
                pivots += 1;
                if pivots % every == 0 {
                    tree.renumber();
                    assert!(tree.b.renumbered);
                    // After a renumbering the thread runs through consecutive slots.
                    assert!((0..tree.n).all(|s| tree.b.thread[s] == s + 1));
                }
                check_tree(&tree);
            }
            assert!(pivots > 300, "a real workout: {pivots} pivots");
            assert!(
                tree.b.tagged > 0,
                "whole blocks were shifted through their tags"
            );
            let sol = tree.into_solution(pivots, &supply).unwrap();
            check_certificate(&arcs, &supply, &sol);
            assert!(
                (sol.cost - want.cost).abs() < 1e-12,
                "{} vs {}",
                sol.cost,
                want.cost
            );
        }
    }

    /// The first `len` arcs of another arc set: a problem whose arc set grows.
    struct Prefix<'a, A> {
        arcs: &'a A,
        len: usize,
    }

    impl<A: ArcSet> ArcSet for Prefix<'_, A> {
        fn node_count(&self) -> usize {
            self.arcs.node_count()
        }
        fn arc_count(&self) -> usize {
            self.len
        }
        fn endpoints(&self, e: usize) -> Option<(usize, usize)> {
            self.arcs.endpoints(e)
        }
        fn cost(&self, e: usize) -> f64 {
            self.arcs.cost(e)
        }
        fn path_cost_bound(&self) -> f64 {
            self.arcs.path_cost_bound()
        }
    }

    /// Every way to start — cold, from a plan's tree, from the basis of an earlier solve —
    /// reaches the same optimum, with its certificate; restarting from an optimal basis of the
    /// same arcs takes no pivot.
    #[test]
    fn every_start_reaches_the_same_optimum() {
        let (rows, cols) = (vec![0.0, 1.0, 2.5, 3.0, 4.0], vec![0.0, 2.0, 3.0, 4.5]);
        let n = rows.len() * cols.len();
        let mut seed = 5u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 5) as f64
        };
        for renumber in [false, true] {
            let opts = Options {
                renumber,
                ..Options::default()
            };
            for _ in 0..5 {
                let a: Vec<f64> = (0..n).map(|_| 1.0 + rnd()).collect();
                let b: Vec<f64> = (0..n).map(|_| 1.0 + rnd()).collect();
                let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
                let supply: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / sa - y / sb).collect();
                // The grid graph: cold, from its comb tree, from either's basis.
                let grid = Grid4::new(&rows, &cols);
                let cold = solve(&grid, &supply, Start::Cold, &opts).unwrap();
                let comb = grid.comb_tree();
                let tree = solve(&grid, &supply, Start::Tree(&comb), &opts).unwrap();
                let warm = solve(
                    &grid,
                    &supply,
                    Start::Basis(Box::new(cold.basis.clone())),
                    &opts,
                )
                .unwrap();
                for sol in [&cold, &tree, &warm] {
                    check_certificate(&grid, &supply, sol);
                    assert!(
                        (sol.cost - cold.cost).abs() < 1e-12,
                        "{} vs {}",
                        sol.cost,
                        cold.cost
                    );
                }
                assert_eq!(warm.iterations, 0, "an optimal basis needs no pivot");
                assert_eq!(warm.flows, cold.flows);
                // The complete bipartite graph, grown: the basis of a solve over the first arcs
                // (every source but the last with all its arcs, the last with at least half, which
                // is enough for a feasible flow with these masses) is a feasible start for all
                // of them.
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .flat_map(|&r| cols.iter().map(move |&c| (r, c)))
                    .collect();
                let dense = Bipartite::new(&pts, &pts, Ground::Euclidean);
                let mut ds: Vec<f64> = a.iter().map(|x| x / sa).collect();
                ds.extend(b.iter().map(|y| -y / sb));
                let want = solve(&dense, &ds, Start::Cold, &opts).unwrap();
                check_certificate(&dense, &ds, &want);
                for len in [(n - 1) * n + n / 2, n * n - 3, n * n - 1] {
                    let part = Prefix { arcs: &dense, len };
                    let first = solve(&part, &ds, Start::Cold, &opts).unwrap();
                    let grown = Start::Basis(Box::new(first.basis));
                    let again = solve(&dense, &ds, grown, &opts).unwrap();
                    check_certificate(&dense, &ds, &again);
                    assert!(
                        (again.cost - want.cost).abs() < 1e-12,
                        "{len} arcs first: {} vs {}",
                        again.cost,
                        want.cost
                    );
                }
            }
        }
    }

    #[test]
    fn iteration_cap_is_an_error() {
        let xs = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)];
        let ys = [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)];
        let arcs = Bipartite::new(&xs, &ys, Ground::Euclidean);
        let supply = [1.0, 1.0, 1.0, -1.0, -1.0, -1.0];
        let opts = Options {
            max_iterations: 1,
            ..Options::default()
        };
        let err = solve(&arcs, &supply, Start::Cold, &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cap of 1 pivots"), "{err}");
    }

    #[test]
    fn unequal_totals_are_infeasible() {
        let rows = [0.0];
        let cols = [0.0, 1.0];
        let grid = Grid4::new(&rows, &cols);
        let err = solve(&grid, &[1.0, -0.5], Start::Cold, &Options::default()).unwrap_err();
        assert!(err.to_string().contains("infeasible"), "{err}");
    }
}
