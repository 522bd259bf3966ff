// A fixed-size thread pool with a blocking parallel_for, used by the executor to split
// kernels over output channels, positions, images and elements. One pool per engine;
// `threads == 1` runs everything inline on the caller, so single-threaded runs pay no
// synchronization.
//
// Cost: a loop should only use the threads its work pays for. parallel_for_cost takes the
// loop's estimated single-thread time and gives every thread it uses at least
// min_thread_work_ns of it (kMinThreadWorkNs by default), so a tiny op runs inline on the
// caller and a mid-size one on a few threads, whatever the pool's size (threads_for says how
// many). The older parallel_for(n, grain, fn) and parallel_for_workers(n, grain, fn), which
// know no cost, keep their contract and still use every thread once n > grain. Moving a
// caller over is one line: parallel_for_cost(n, grain, estimated_ns, fn), or in the
// executor split(ctx, n, grain, item_ns, fn) with item_ns from work_ns() (executor/split.h,
// which holds the per-ISA cost table).
//
// Dispatch: a job is published by bumping one atomic word (generation and next chunk);
// workers that ran a job recently are still spinning on it (a bounded spin with `pause`,
// then `yield`, kSpinNs in all) and start within a cache-line transfer; only workers that
// slept that long are woken through their own condition variable, and only those the job
// uses. Chunks are claimed with a compare-exchange on that word, so a worker that wakes late
// can never take a chunk of a later job. The caller works too, then waits (spinning, then
// sleeping) until every chunk is done.
//
// Placement: a worker woken from its sleep tends to be put on the waking thread's CPU
// (Linux's wake-affine placement), where it takes turns with the caller while another CPU
// idles: on a 2-CPU machine, a pool of 2 woken for every run (runs between other work) ran
// no faster than 1 thread. So on Linux, when the pool has no more threads than the process
// has CPUs, its workers are kept off the CPU the job's caller runs on: each worker's
// affinity is the process's CPUs but that one, set again only when the caller is seen on
// another CPU (sched_getcpu per job; a system call per worker when it moved). The scheduler
// still spreads the workers over the rest, so two engines side by side do not pile up.
//
// Shared use: an engine (and so its pool) may be run from several threads at once. The pool
// works on one job at a time; a parallel_for that finds it busy (another run holds it, or
// the caller is itself a pool task) runs its whole range inline on the calling thread instead
// of waiting, so concurrent callers never block each other and never deadlock. Each chunk
// learns its worker index, which the executor uses to pick per-worker scratch out of the
// calling run's own context: 0 for the calling thread, i for pool thread i, and an inline
// range gets the index of the thread it runs on (a pool task's nested loop keeps its own).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace triton_rt {

// std::thread::hardware_concurrency(), at least 1: what an engine's pool is capped to.
int hardware_threads();

// A backstop for pools built directly (tests build odd sizes on any machine); engines cap
// their pools at hardware_threads() first and report it (EngineOptions).
inline constexpr int kMaxPoolThreads = 256;

// The default least estimated work (single-thread nanoseconds) that pays for one more
// thread: a spinning worker starts in well under a microsecond, but it also pulls its
// inputs from the caller's cache and its chunk's claim and completion bounce shared cache
// lines, a few microseconds in all at 16 threads; a sleeping one takes tens of microseconds
// to wake. A chunk is worth at least a fifth of it: smaller ones cost more to claim than
// they balance.
inline constexpr double kMinThreadWorkNs = 20000.0;
// How long an idle worker spins for the next job before it sleeps.
inline constexpr std::int64_t kSpinNs = 100000;

class ThreadPool {
 public:
  // threads <= 0 means hardware_threads(); more than kMaxPoolThreads is capped to that.
  // `min_thread_work_ns` is what parallel_for_cost asks of each thread it uses; 0 splits
  // every loop over all threads, as finely as its grain allows (tests use that to run every
  // split path).
  explicit ThreadPool(int threads, double min_thread_work_ns = kMinThreadWorkNs);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(slots_.size()) + 1; }

  using WorkerFn = std::function<void(std::int64_t, std::int64_t, int)>;

  // Calls fn(begin, end, worker) on disjoint chunks covering [0, n), each about `grain` long
  // or longer, on the workers and the calling thread; returns when all chunks are done.
  // `worker` is in [0, size()) and no two chunks running at the same time share one. Uses
  // every thread once n > grain (no cost known; see parallel_for_cost).
  void parallel_for_workers(std::int64_t n, std::int64_t grain, const WorkerFn& fn);

  // The same for chunks that need no per-worker state.
  void parallel_for(std::int64_t n, std::int64_t grain,
                    const std::function<void(std::int64_t, std::int64_t)>& fn);

  // The cost-aware form: `cost_ns` is the estimated single-thread time of the whole loop
  // (all n items) in nanoseconds. Runs on threads_for(cost_ns) threads at most (inline on
  // the caller when that is 1), in chunks whose lengths are multiples of `grain` (except
  // the last): four per thread, more where that makes chunks longer than 250 us, fewer
  // where a chunk would be worth less than a fifth of min_thread_work_ns. Callers that
  // write outputs per item pick a grain that keeps chunk boundaries 64 bytes apart (16
  // floats), so two threads never write one cache line. Otherwise as parallel_for_workers.
  void parallel_for_cost(std::int64_t n, std::int64_t grain, double cost_ns, const WorkerFn& fn);

  // Wakes the workers that sleep, so that they spin for a job soon to come instead of
  // taking the tens of microseconds a sleeping thread needs when that job is published (it
  // then starts without them, and they join late). For callers that know a parallel loop
  // follows shortly (the executor, at the start of a run whose ops split): whatever comes
  // before it overlaps the wake-up. Does nothing while another job owns the pool, or where
  // no worker sleeps; workers that find no job spin kSpinNs, then sleep again.
  void wake_sleepers();

  // Jobs run on more than one thread since the pool started (a loop that ran inline is not
  // one): lets a caller learn whether some stretch of its work split.
  std::uint64_t jobs_run() const { return jobs_run_.load(std::memory_order_relaxed); }

  // Times a worker left its sleep, and workers asleep now (for tests and diagnostics).
  std::uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }
  int sleeping_workers() const;
  // The CPUs worker `index` (1 .. size() - 1) may run on now (empty where that is unknown;
  // for tests of the placement).
  std::vector<int> worker_cpus(int index) const;

  // How many threads a loop of this estimated cost uses: one per min_thread_work_ns (all of
  // them when that is 0), at least 1, at most size().
  int threads_for(double cost_ns) const;

  double min_thread_work_ns() const { return min_thread_ns_; }

 private:
  // A worker's sleeping place: its own lock and condition variable, so that a job wakes only
  // the sleepers it uses. On its own cache line (the flag is read by the caller).
  struct alignas(64) Slot {
    std::atomic<bool> sleeping{false};
    std::mutex mutex;
    std::condition_variable wake;
  };

  // Runs [0, n) in `chunks` chunks of `chunk` items on `threads` threads (the caller
  // included). Requires threads >= 2 and ownership of the job fields.
  void run_job(std::int64_t n, std::int64_t chunk, std::int64_t chunks, int threads,
               const WorkerFn& fn);
  // Claims and runs chunks of the job of generation `generation` until none is left.
  void work_on(std::uint32_t generation, int worker);
  void worker_loop(int index);
  // Wakes worker `index` if it sleeps.
  void wake(int index);
  // The index of the calling thread in this pool: i for pool thread i, else 0.
  int current_worker() const;
  // Keeps the workers off the calling thread's CPU (see Placement above). Requires
  // ownership of the job fields (it also owns caller_cpu_).
  void keep_workers_off_caller_cpu();

  double min_thread_ns_;
  std::vector<std::unique_ptr<Slot>> slots_;  // slots_[i - 1] belongs to worker i
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> ids_;          // ids_[i - 1] of worker i, fixed after start
  // The process's CPUs when the pool started (empty: workers are not placed), and the CPU
  // the workers are kept off now (-1: none yet).
  std::vector<int> cpus_;
  int caller_cpu_ = -1;
  // Set while a parallel_for owns the job fields below; others run inline meanwhile.
  std::atomic<bool> owned_{false};
  // The job: generation << 32 | next unclaimed chunk. Workers watch it for a new
  // generation; a claim is a compare-exchange that fails once the generation moved on.
  alignas(64) std::atomic<std::uint64_t> state_{0};
  // The job's fields, written by the owner before it publishes the generation; atomics
  // because a worker that wakes late may read them while the next job writes them (its
  // claim then fails and it ignores what it read).
  std::atomic<const WorkerFn*> fn_{nullptr};
  std::atomic<std::int64_t> n_{0};
  std::atomic<std::int64_t> chunk_{1};
  std::atomic<std::int64_t> chunks_{0};
  std::atomic<int> threads_used_{1};
  // Chunks finished of the current job, and whether the owner sleeps until they all are.
  alignas(64) std::atomic<std::int64_t> done_{0};
  std::atomic<bool> owner_sleeping_{false};
  std::mutex done_mutex_;
  std::condition_variable done_wake_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> jobs_run_{0};
  std::atomic<std::uint64_t> wakeups_{0};
};

}  // namespace triton_rt
