//! Independent pieces of work run side by side.
//!
//! One fit on flex keeps both cores busy only in its matrix products: its element-wise work
//! runs on the thread that drives it while the other core waits (a depth-1 fit on Donate-a-cry
//! used 145 % of two cores; issue 16). Two fits, or two clips being cached, fill each other's
//! gaps. Each job gets its own share of the cores (a rayon pool of `cores / jobs` threads): with
//! one pool for all, two fits' matrix products queued on the same two threads and their
//! drivers woke and slept around each other (issue 16: measured in `BENCHMARKS.md`).
//! Nothing a piece computes depends on which thread ran it or what ran beside it: every
//! unit is seeded by its position, dropout masks come from a stream of the fit's own
//! ([`crate::model::dropout`]) and heads are drawn holding the backend's generator
//! ([`crate::model::init::seeded`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// `work` on every item, by `jobs` threads that each take the next item not yet taken; the
/// results in item order. After an error no new item starts, the running ones finish, and the
/// first error in item order is returned. With more than one job, each runs inside a rayon pool
/// of its own with `max(1, threads / jobs)` threads (`threads`: rayon's global pool), so the
/// backend's parallel kernels stay within the job's share.
pub fn run_jobs<I: Sync, T: Send, E: Send>(
    jobs: usize,
    items: &[I],
    work: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    let jobs = jobs.clamp(1, items.len().max(1));
    if jobs == 1 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<T, E>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let threads_per_job = (rayon::current_num_threads() / jobs).max(1);
    let take_items = || {
        while !failed.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(k) else { return };
            let result = work(item);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            *slots[k].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                match rayon::ThreadPoolBuilder::new()
                    .num_threads(threads_per_job)
                    .build()
                {
                    Ok(pool) => pool.install(take_items),
                    // No thread to spare: the job shares the global pool, as before.
                    Err(_) => take_items(),
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    for slot in slots {
        // Items are taken in order and every taken one finishes, so every item before the
        // first error has its result.
        match slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(result) => out.push(result?),
            None => unreachable!("an item after the first error is never reached"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_in_item_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..12).collect();
        // Early items take longest, so later ones finish first on the other thread.
        let out = run_jobs(3, &items, |&i| {
            std::thread::sleep(Duration::from_millis(30 - 2 * i));
            Ok::<_, ()>(i * i)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn jobs_really_overlap() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        run_jobs(2, &[0, 1, 2, 3], |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn each_job_runs_in_its_share_of_the_threads() {
        let global = rayon::current_num_threads();
        let seen = run_jobs(2, &[0, 1, 2], |_| Ok::<_, ()>(rayon::current_num_threads())).unwrap();
        assert_eq!(seen, vec![(global / 2).max(1); 3]);
        let alone = run_jobs(1, &[0], |_| Ok::<_, ()>(rayon::current_num_threads())).unwrap();
        assert_eq!(alone, vec![global], "one job keeps every thread");
    }

    #[test]
    fn the_first_error_in_item_order_wins_and_nothing_new_starts_after_it() {
        let started = AtomicUsize::new(0);
        let items: Vec<usize> = (0..100).collect();
        let err = run_jobs(2, &items, |&i| {
            started.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            if i == 3 || i == 4 { Err(i) } else { Ok(i) }
        })
        .unwrap_err();
        assert_eq!(err, 3);
        assert!(started.load(Ordering::SeqCst) < 10, "stopped taking items");
        assert_eq!(
            run_jobs(1, &items, |&i| if i == 7 { Err(i) } else { Ok(i) }),
            Err(7)
        );
    }
}
