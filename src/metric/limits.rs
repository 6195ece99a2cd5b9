//! What a run may cost, and the limits past which it is refused before any work.
//!
//! The cost model (one pair; `N` cells of the grids the metric works on, `L` projections; every
//! metric also holds the two masses, 8 bytes a cell each):
//!
//! | metric | time | memory beyond the two masses |
//! |---|---|---|
//! | tv, kl, js, hellinger | O(N) | O(N) |
//! | blur-l2 | O(N · σ) up to σ = 8 cells, then O(N log n) for any σ (side n) | O(N) |
//! | sliced, p = 1 | O(N · L), parallel over directions | O(N) + O(rows + 2¹⁷) per thread |
//! | sliced, p > 1 | O(N · L) (O(N log N · L) on grids that do not nest) | O(N) per thread |
//! | emd, cityblock | network simplex on the 4-neighbour grid: superlinear in N | O(N) |
//! | emd, euclidean / sqeuclidean | column generation: superlinear in the supports | O(supports) |
//!
//! The limits keep one pair under about 8 GB and a few hours on a small machine: inputs of at
//! most [`MAX_PIXELS_CEILING`] pixels (`--max-pixels`), at most [`MAX_PROJECTIONS`] directions,
//! at most [`SLICED_WORK_LIMIT`] cell·directions and [`MEMORY_LIMIT`] of sliced buffers, and
//! the exact EMD's cell limits
//! ([`super::emd::PRICED_CELL_LIMIT`], [`CITYBLOCK_CELL_LIMIT`]). A refusal names the option
//! to change.

use crate::error::{Error, Result};

/// The largest `--max-pixels`: 2²⁸ pixels (16384²). A pair of such inputs, decoded and as
/// masses, needs about 8 GB.
pub const MAX_PIXELS_CEILING: u64 = 1 << 28;

/// The most projections `sliced` takes: 2²⁶ (1 GB of per-direction results).
pub const MAX_PROJECTIONS: usize = 1 << 26;

/// The most cell·directions `sliced` computes for one pair: 2⁴¹ ≈ 2.2·10¹² (about 3 hours
/// on one core at 5 ns per cell and direction).
pub const SLICED_WORK_LIMIT: u64 = 1 << 41;

/// The most memory a metric's working buffers may need for one pair: 8 GiB.
pub const MEMORY_LIMIT: u64 = 8 << 30;

/// Checks the memory of `sliced` of order `p` on grids of `cells` cells with `threads` worker
/// threads: besides the two masses (8 bytes a cell each), p = 1 holds the difference (8 bytes
/// a cell), p > 1 16-bit counts (4 bytes a cell) and an ordering per thread (28 bytes a cell).
///
/// # Errors
/// [`Error::ProblemTooLarge`] above [`MEMORY_LIMIT`], naming `--downscale` and `--p 1`.
pub fn check_sliced_memory(cells: usize, p: f64, threads: usize) -> Result<()> {
    let per_cell = if p == 1.0 {
        24
    } else {
        20 + 28 * threads.max(1) as u64
    };
    let bytes = (cells as u64).saturating_mul(per_cell);
    if bytes <= MEMORY_LIMIT {
        return Ok(());
    }
    let k = downscale_for(bytes, MEMORY_LIMIT, 2);
    Err(Error::ProblemTooLarge {
        reason: format!(
            "sliced with p = {p} on {cells} cells needs about {:.1} GB on {threads} threads, above \
             the limit of 8 GB; use --downscale {k}{}",
            bytes as f64 / 1e9,
            if p == 1.0 {
                ""
            } else {
                ", or --p 1 (24 bytes a cell)"
            },
        ),
    })
}

/// Peak memory of the cityblock EMD per grid cell, the two masses and the decoded images
/// included: about 200 bytes (measured 207 MB at 1024², 809 MB at 2048²).
pub const CITYBLOCK_BYTES_PER_CELL: usize = 200;

/// The most grid cells of the cityblock EMD's grid flow: [`MEMORY_LIMIT`] at
/// [`CITYBLOCK_BYTES_PER_CELL`], about 43 million (6500²). Time grows faster than the grid
/// (about 6 s at 1024², 2 minutes at 2048²), so the largest take hours; each level of the
/// coarse-to-fine solve reports its progress.
pub const CITYBLOCK_CELL_LIMIT: usize = MEMORY_LIMIT as usize / CITYBLOCK_BYTES_PER_CELL;

/// Checks `--max-pixels`.
///
/// # Errors
/// [`Error::InvalidParameter`] above [`MAX_PIXELS_CEILING`].
pub fn check_max_pixels(max_pixels: u64) -> Result<()> {
    if max_pixels > MAX_PIXELS_CEILING {
        return Err(Error::InvalidParameter {
            name: "--max-pixels",
            reason: format!(
                "{max_pixels} is above {MAX_PIXELS_CEILING} (16384²): a pair that large needs \
                 more than 8 GB; shrink the inputs first"
            ),
        });
    }
    Ok(())
}

/// Checks `--proj`.
///
/// # Errors
/// [`Error::InvalidParameter`] for 0 or above [`MAX_PROJECTIONS`].
pub fn check_projections(projections: usize) -> Result<()> {
    let reason = if projections == 0 {
        "must be at least 1".to_string()
    } else if projections > MAX_PROJECTIONS {
        format!(
            "{projections} is above the limit of {MAX_PROJECTIONS}; the standard error falls \
             as 1/√L, and far fewer directions reach any useful precision"
        )
    } else {
        return Ok(());
    };
    Err(Error::InvalidParameter {
        name: "--proj",
        reason,
    })
}

/// The smallest `--downscale` K that brings `amount` under `limit` when it shrinks as
/// K^`power`.
fn downscale_for(amount: u64, limit: u64, power: u32) -> u64 {
    (2u64..)
        .find(|&k| amount / k.saturating_pow(power) <= limit)
        .unwrap_or(2)
}

/// Checks the work of `sliced` on grids of `cells` cells with `projections` directions.
///
/// # Errors
/// [`Error::ProblemTooLarge`] above [`SLICED_WORK_LIMIT`], naming `--proj` and `--downscale`.
pub fn check_sliced_work(cells: usize, projections: usize) -> Result<()> {
    let work = (cells as u64).saturating_mul(projections as u64);
    if work <= SLICED_WORK_LIMIT {
        return Ok(());
    }
    let k = downscale_for(work, SLICED_WORK_LIMIT, 2);
    let most = SLICED_WORK_LIMIT / cells.max(1) as u64;
    Err(Error::ProblemTooLarge {
        reason: format!(
            "sliced on {cells} cells with {projections} directions is {work:.1e} cell·directions, \
             above the limit of {SLICED_WORK_LIMIT:.1e} (hours of work); use --proj {most} or \
             fewer, or --downscale {k}",
            work = work as f64,
            SLICED_WORK_LIMIT = SLICED_WORK_LIMIT as f64,
        ),
    })
}

/// Checks the grid of the cityblock EMD.
///
/// # Errors
/// [`Error::ProblemTooLarge`] above [`CITYBLOCK_CELL_LIMIT`], naming `--downscale`.
pub fn check_cityblock_cells(cells: usize) -> Result<()> {
    if cells <= CITYBLOCK_CELL_LIMIT {
        return Ok(());
    }
    let k = downscale_for(cells as u64, CITYBLOCK_CELL_LIMIT as u64, 2);
    Err(Error::ProblemTooLarge {
        reason: format!(
            "exact cityblock EMD on a grid of {cells} cells needs about {:.1} GB, above the \
             limit of 8 GB ({CITYBLOCK_CELL_LIMIT} cells); use --downscale K (e.g. \
             --downscale {k})",
            (cells * CITYBLOCK_BYTES_PER_CELL) as f64 / 1e9
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_option_to_change() {
        assert!(check_max_pixels(MAX_PIXELS_CEILING).is_ok());
        let e = check_max_pixels(MAX_PIXELS_CEILING + 1)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid --max-pixels: "), "{e}");
        assert!(check_projections(MAX_PROJECTIONS).is_ok());
        for bad in [0, MAX_PROJECTIONS + 1] {
            let e = check_projections(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --proj: "), "{e}");
        }
        // 8000² with 200 directions is accepted; with 200,000 it is refused.
        assert!(check_sliced_work(8000 * 8000, 200).is_ok());
        let e = check_sliced_work(8000 * 8000, 200_000)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("use --proj 34359 or fewer, or --downscale 3"),
            "{e}"
        );
        // p = 2 at 16384² on two threads needs 20 GB; p = 1 there fits, as does p = 2 at 8192².
        let e = check_sliced_memory(1 << 28, 2.0, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("use --downscale 2, or --p 1"), "{e}");
        assert!(check_sliced_memory(1 << 28, 1.0, 2).is_ok());
        assert!(check_sliced_memory(1 << 26, 2.0, 2).is_ok());
        // Two 1024² images and more fit; 8192² (the default pixel limit) needs 13 GB.
        assert!(check_cityblock_cells(6500 * 6500).is_ok());
        let e = check_cityblock_cells(8192 * 8192).unwrap_err().to_string();
        assert!(
            e.contains("needs about 13.4 GB") && e.contains("--downscale 2"),
            "{e}"
        );
    }

    #[test]
    fn the_suggested_downscale_is_the_smallest_that_fits() {
        for (amount, limit, power) in [(100u64, 10u64, 2u32), (4096, 1, 4), (11, 10, 2)] {
            let k = downscale_for(amount, limit, power);
            assert!(amount / k.pow(power) <= limit);
            assert!(k == 2 || amount / (k - 1).pow(power) > limit);
        }
    }
}
