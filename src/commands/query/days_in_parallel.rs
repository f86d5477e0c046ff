//! The days of a query read on every core, handed on in day order.
//!
//! A query's partitions are independent: with n workers, worker k reads days k, k + n, k + 2n, …
//! and sends each result through a channel of one; the consumer takes them round-robin, which is
//! day order again. At most two days per worker are in memory (one being read, one waiting),
//! whatever the range. When the consumer stops (its `--limit` reached, an error, a closed output)
//! it drops the channels and each worker stops at its next send, having read at most one day
//! more than was needed.

use std::sync::mpsc::sync_channel;

/// Call `read` on each of `days` on up to `threads` threads, and `consume` on each result in
/// the order of `days`, until `consume` returns `Ok(false)` or an error. Returns what stopped
/// `consume` and each worker's `S` (the stats it kept).
pub fn for_each_in_order<D, T, S, E>(
    days: &[D],
    threads: usize,
    read: impl Fn(D, &mut S) -> T + Sync,
    mut consume: impl FnMut(T) -> Result<bool, E>,
) -> (Result<(), E>, Vec<S>)
where
    D: Copy + Sync,
    T: Send,
    S: Default + Send,
{
    let threads = threads.clamp(1, days.len().max(1));
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for k in 0..threads {
            let (tx, rx) = sync_channel(1);
            receivers.push(rx);
            let read = &read;
            let worker = std::thread::Builder::new()
                .name(format!("wxlake-scan-{k}"))
                .spawn_scoped(scope, move || {
                    let mut stats = S::default();
                    for &day in days.iter().skip(k).step_by(threads) {
                        if tx.send(read(day, &mut stats)).is_err() {
                            break; // the consumer stopped
                        }
                    }
                    stats
                })
                .expect("spawn a scan thread");
            workers.push(worker);
        }
        let mut stopped = Ok(());
        for i in 0..days.len() {
            let Ok(out) = receivers[i % threads].recv() else {
                break;
            };
            match consume(out) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    stopped = Err(e);
                    break;
                }
            }
        }
        drop(receivers);
        let stats = workers
            .into_iter()
            .map(|w| w.join().expect("a scan thread does not panic"))
            .collect();
        (stopped, stats)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_day_order_whatever_each_day_costs() {
        let days: Vec<u64> = (0..50).collect();
        for threads in [1, 2, 3, 8] {
            let mut seen = Vec::new();
            let (stopped, stats) = for_each_in_order(
                &days,
                threads,
                |d, n: &mut u64| {
                    // Early days slow, so that later ones finish first.
                    std::thread::sleep(std::time::Duration::from_micros((50 - d) * 20));
                    *n += 1;
                    d * 10
                },
                |v| {
                    seen.push(v);
                    Ok::<_, ()>(true)
                },
            );
            assert!(stopped.is_ok());
            assert_eq!(seen, days.iter().map(|d| d * 10).collect::<Vec<_>>());
            assert_eq!(stats.iter().sum::<u64>(), 50, "every day read once");
        }
    }

    #[test]
    fn a_stop_reads_at_most_a_day_more_per_worker_and_an_error_is_returned() {
        let days: Vec<u64> = (0..1000).collect();
        let mut seen = 0;
        let (stopped, stats) = for_each_in_order(
            &days,
            2,
            |d, n: &mut u64| {
                *n += 1;
                d
            },
            |_| {
                seen += 1;
                Ok::<_, ()>(seen < 10)
            },
        );
        assert!(stopped.is_ok());
        assert_eq!(seen, 10);
        // Ten consumed, each worker one in the channel and one being sent at most.
        assert!(stats.iter().sum::<u64>() <= 10 + 2 * 2, "{stats:?}");
        let (stopped, _) = for_each_in_order(
            &days,
            2,
            |d, _: &mut u64| d,
            |d| {
                if d == 5 { Err(d) } else { Ok(true) }
            },
        );
        assert_eq!(stopped, Err(5));
        let (stopped, stats) =
            for_each_in_order(&[] as &[u64], 4, |d, _: &mut u64| d, |_| Ok::<_, ()>(true));
        assert!(stopped.is_ok() && stats.len() == 1);
    }
}
