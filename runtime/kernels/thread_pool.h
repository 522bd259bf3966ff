// A small fixed-size thread pool with a blocking parallel_for, used by the executor to split
// kernels over batch rows and output channels. One pool per engine; `threads == 1` runs
// everything inline on the caller, so single-threaded runs pay no synchronization.
//
// Shared use: an engine (and so its pool) may be run from several threads at once. The pool
// works on one job at a time; a parallel_for that finds it busy (another run holds it, or
// the caller is itself a pool task) runs its whole range inline on the calling thread as
// worker 0 instead of waiting, so concurrent callers never block each other and never
// deadlock. Each chunk learns its worker index (0 = the calling thread), which the executor
// uses to pick per-worker scratch out of the calling run's own context.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace triton_rt {

// std::thread::hardware_concurrency(), at least 1: what an engine's pool is capped to.
int hardware_threads();

// A backstop for pools built directly (tests build odd sizes on any machine); engines cap
// their pools at hardware_threads() first and report it (EngineOptions).
inline constexpr int kMaxPoolThreads = 256;

class ThreadPool {
 public:
  // threads <= 0 means hardware_threads(); more than kMaxPoolThreads is capped to that.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  using WorkerFn = std::function<void(std::int64_t, std::int64_t, int)>;

  // Calls fn(begin, end, worker) on disjoint chunks covering [0, n), each about `grain` long
  // or longer, on the workers and the calling thread; returns when all chunks are done.
  // `worker` is in [0, size()) and no two chunks running at the same time share one.
  void parallel_for_workers(std::int64_t n, std::int64_t grain, const WorkerFn& fn);

  // The same for chunks that need no per-worker state.
  void parallel_for(std::int64_t n, std::int64_t grain,
                    const std::function<void(std::int64_t, std::int64_t)>& fn);

 private:
  void worker_loop(int index);
  void run_chunks(std::unique_lock<std::mutex>& lock, int worker);

  std::vector<std::thread> workers_;
  // Set while a parallel_for owns the job fields below; others run inline meanwhile.
  std::atomic<bool> owned_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const WorkerFn* job_ = nullptr;
  std::int64_t job_n_ = 0;
  std::int64_t chunk_ = 1;
  std::int64_t next_ = 0;
  int busy_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace triton_rt
