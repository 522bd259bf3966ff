// ThreadPool implementation: workers sleep on a condition variable and take chunks of the
// current job under the mutex; the caller works too and waits until every chunk finished.
// Ownership of the job fields is one atomic flag, taken with a compare-exchange so that a
// second caller (another run, or a nested call from a task) falls back to running inline.
#include "kernels/thread_pool.h"

#include <algorithm>

namespace triton_rt {

int hardware_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardware_threads();
  threads = std::min(threads, kMaxPoolThreads);
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run_chunks(std::unique_lock<std::mutex>& lock, int worker) {
  // Holds the lock only to take a chunk; computes unlocked.
  while (job_ != nullptr && next_ < job_n_) {
    const std::int64_t begin = next_;
    const std::int64_t end = std::min(job_n_, begin + chunk_);
    next_ = end;
    const auto* job = job_;
    ++busy_;
    lock.unlock();
    (*job)(begin, end, worker);
    lock.lock();
    if (--busy_ == 0 && next_ >= job_n_) done_.notify_all();
  }
}

void ThreadPool::worker_loop(int index) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::uint64_t seen = 0;
  while (true) {
    wake_.wait(lock, [&] { return stop_ || (generation_ != seen && job_ != nullptr); });
    if (stop_) return;
    seen = generation_;
    run_chunks(lock, index);
  }
}

void ThreadPool::parallel_for_workers(std::int64_t n, std::int64_t grain, const WorkerFn& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(1, grain);
  bool expected = false;
  if (workers_.empty() || n <= grain ||
      !owned_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    fn(0, n, 0);
    return;
  }
  const std::int64_t parts = std::min<std::int64_t>(n / grain, 4 * size());
  {
    std::unique_lock<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    chunk_ = (n + parts - 1) / parts;
    next_ = 0;
    busy_ = 0;
    ++generation_;
    wake_.notify_all();
    run_chunks(lock, 0);
    done_.wait(lock, [&] { return next_ >= job_n_ && busy_ == 0; });
    job_ = nullptr;
  }
  owned_.store(false, std::memory_order_release);
}

void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
  parallel_for_workers(n, grain, [&fn](std::int64_t b, std::int64_t e, int) { fn(b, e); });
}

}  // namespace triton_rt
