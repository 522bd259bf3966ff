// ThreadPool implementation (see thread_pool.h for the contract and the design).
//
// Memory ordering, in short:
//  - The owner writes the job fields, then stores state_ = generation << 32 (seq_cst). A
//    worker's successful claim (a compare-exchange on state_, acq_rel) reads from that store
//    or from an earlier claim of the same job, so it sees the job's fields; a worker still
//    holding an older generation fails its claim and touches nothing.
//  - Each finished chunk adds one to done_ (after the chunk's writes); the owner returns once
//    it reads done_ == chunks with acquire, so it sees every chunk's writes.
//  - Sleeping uses the Dekker pattern on two seq_cst variables: a worker sets its `sleeping`
//    flag, then re-reads state_ under its lock before it waits; the owner stores state_,
//    then reads the flag and, when set, takes the worker's lock before notifying. One of the
//    two sees the other's store, so no wake-up is lost. The owner's own sleep on done_ works
//    the same way with owner_sleeping_.
#include "kernels/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace triton_rt {
namespace {

// Spin iterations with a pause instruction before an idle thread starts yielding its CPU:
// a few microseconds, enough for the next op of a model to start.
constexpr int kPauseSpins = 256;

inline void cpu_pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The longest chunk (estimated) worth making: more chunks than four per thread where a
// loop is long, up to one per grain.
constexpr double kMaxChunkNs = 250000.0;
// Chunks of one job at most (far below the 2^32 the job word counts).
constexpr double kMaxChunks = 1 << 20;
// The chunk index of a closed generation: above any job's chunk count (kMaxChunks).
constexpr std::uint64_t kNoChunk = 0xFFFFFFFFu;

// How long the owner of a job spins for its last chunks before it sleeps: they are under
// way, so they end soon, and waking costs the tail of the job tens of microseconds.
constexpr std::int64_t kOwnerSpinNs = 1000000;

// Spins (pause, then yield) until `ready()` or `spin_ns` have passed; returns ready().
template <typename Ready>
bool spin_until(const Ready& ready, std::int64_t spin_ns) {
  for (int i = 0; i < kPauseSpins; ++i) {
    if (ready()) return true;
    cpu_pause();
  }
  const std::int64_t deadline = now_ns() + spin_ns;
  while (!ready()) {
    if (now_ns() > deadline) return false;
    // Yielding, not pausing: where threads outnumber cores (an oversubscribed pool, or a
    // machine busy with other work), the thread holding the next chunk gets this CPU.
    std::this_thread::yield();
  }
  return true;
}

std::uint32_t generation_of(std::uint64_t state) { return static_cast<std::uint32_t>(state >> 32); }

// The CPUs the calling thread may run on, in order (empty where that is unknown).
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
#endif
  return cpus;
}

}  // namespace

int hardware_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(int threads, double min_thread_work_ns)
    : min_thread_ns_(min_thread_work_ns > 0 ? min_thread_work_ns : 0.0) {
  if (threads <= 0) threads = hardware_threads();
  threads = std::min(threads, kMaxPoolThreads);
  for (int i = 1; i < threads; ++i) slots_.push_back(std::make_unique<Slot>());
  // Placed only where every thread can have a CPU of its own (see Placement).
  if (threads > 1) {
    cpus_ = allowed_cpus();
    if (static_cast<int>(cpus_.size()) < threads) cpus_.clear();
  }
  for (int i = 1; i < threads; ++i) {
    threads_.emplace_back([this, i] { worker_loop(i); });
    ids_.push_back(threads_.back().get_id());
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  for (int i = 1; i < size(); ++i) {
    Slot& slot = *slots_[static_cast<std::size_t>(i - 1)];
    { std::lock_guard<std::mutex> lock(slot.mutex); }
    slot.wake.notify_one();
  }
  for (std::thread& t : threads_) t.join();
}

int ThreadPool::threads_for(double cost_ns) const {
  if (min_thread_ns_ == 0) return size();
  if (!(cost_ns >= 2 * min_thread_ns_)) return 1;  // also NaN
  const double t = std::floor(cost_ns / min_thread_ns_);
  return t >= size() ? size() : static_cast<int>(t);
}

int ThreadPool::current_worker() const {
  // A pool thread runs tasks only while a job owns the pool; otherwise the caller is not one.
  if (!owned_.load(std::memory_order_relaxed)) return 0;
  const std::thread::id self = std::this_thread::get_id();
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == self) return static_cast<int>(i) + 1;
  }
  return 0;
}

void ThreadPool::wake(int index) {
  Slot& slot = *slots_[static_cast<std::size_t>(index - 1)];
  if (!slot.sleeping.load()) return;
  { std::lock_guard<std::mutex> lock(slot.mutex); }
  slot.wake.notify_one();
}

std::vector<int> ThreadPool::worker_cpus(int index) const {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  auto& t = const_cast<std::thread&>(threads_[static_cast<std::size_t>(index - 1)]);
  if (pthread_getaffinity_np(t.native_handle(), sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
#endif
  return cpus;
}

void ThreadPool::keep_workers_off_caller_cpu() {
#if defined(__linux__)
  if (cpus_.empty()) return;
  const int cpu = sched_getcpu();
  if (cpu < 0 || cpu == caller_cpu_) return;
  caller_cpu_ = cpu;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus_) {
    if (c != cpu) CPU_SET(c, &set);
  }
  if (CPU_COUNT(&set) == 0) return;  // the caller left the pool's CPUs: nothing to avoid
  // A failure (a container that forbids it) leaves the worker where it is.
  for (std::thread& t : threads_) pthread_setaffinity_np(t.native_handle(), sizeof set, &set);
#endif
}

void ThreadPool::work_on(std::uint32_t generation, int worker) {
  // Participant p wakes participants 2p + 1 and 2p + 2 (those that sleep): a tree, so the
  // caller does not pay one system call per sleeping worker.
  const int used = threads_used_.load(std::memory_order_relaxed);
  for (int child = 2 * worker + 1; child <= 2 * worker + 2 && child < used; ++child) wake(child);
  while (true) {
    std::uint64_t state = state_.load(std::memory_order_acquire);
    if (generation_of(state) != generation) return;
    const auto chunk_index = static_cast<std::int64_t>(state & 0xFFFFFFFFu);
    // chunks_ may already be a later job's. Its owner closed this generation before writing
    // it (run_job), and the acquire here makes that closing visible to the claim below,
    // which then fails.
    if (chunk_index >= chunks_.load(std::memory_order_acquire)) return;
    if (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      continue;
    }
    // Claimed: the job cannot finish before this chunk does, so its fields stay put.
    const WorkerFn& fn = *fn_.load(std::memory_order_relaxed);
    const std::int64_t n = n_.load(std::memory_order_relaxed);
    const std::int64_t chunk = chunk_.load(std::memory_order_relaxed);
    const std::int64_t chunks = chunks_.load(std::memory_order_relaxed);
    const std::int64_t begin = chunk_index * chunk;
    fn(begin, std::min(n, begin + chunk), worker);
    if (done_.fetch_add(1) + 1 == chunks && owner_sleeping_.load()) {
      { std::lock_guard<std::mutex> lock(done_mutex_); }
      done_wake_.notify_one();
    }
  }
}

void ThreadPool::worker_loop(int index) {
  Slot& slot = *slots_[static_cast<std::size_t>(index - 1)];
  std::uint32_t seen = generation_of(state_.load());
  while (true) {
    auto changed = [&] {
      return stop_.load(std::memory_order_relaxed) || generation_of(state_.load()) != seen;
    };
    if (!spin_until(changed, kSpinNs)) {
      slot.sleeping.store(true);
      std::unique_lock<std::mutex> lock(slot.mutex);
      slot.wake.wait(lock, changed);
      slot.sleeping.store(false, std::memory_order_relaxed);
      wakeups_.fetch_add(1, std::memory_order_relaxed);
    }
    if (stop_.load()) return;
    seen = generation_of(state_.load(std::memory_order_acquire));
    // Jobs that need fewer threads leave this one out (it keeps spinning for the next).
    if (index < threads_used_.load(std::memory_order_relaxed)) work_on(seen, index);
  }
}

int ThreadPool::sleeping_workers() const {
  int n = 0;
  for (const auto& slot : slots_) n += slot->sleeping.load(std::memory_order_relaxed) ? 1 : 0;
  return n;
}

void ThreadPool::wake_sleepers() {
  if (slots_.empty()) return;
  bool any = false;
  for (const auto& slot : slots_) any = any || slot->sleeping.load(std::memory_order_relaxed);
  bool expected = false;
  if (!any || !owned_.compare_exchange_strong(expected, true, std::memory_order_acquire)) return;
  keep_workers_off_caller_cpu();
  // A closed generation (no claimable chunk) that every worker takes part in: each one it
  // wakes wakes its children in work_on, finds nothing to claim and spins for the next job.
  // The Dekker pattern of run_job applies: the state is stored before the flags are read.
  threads_used_.store(size(), std::memory_order_relaxed);
  const std::uint32_t generation = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  state_.store((static_cast<std::uint64_t>(generation) << 32) | kNoChunk);
  for (int child = 1; child <= 2 && child < size(); ++child) wake(child);
  owned_.store(false, std::memory_order_release);
}

void ThreadPool::run_job(std::int64_t n, std::int64_t chunk, std::int64_t chunks, int threads,
                         const WorkerFn& fn) {
  // First close the previous job's generation: a worker still inside it could otherwise read
  // the fields below half-written and claim one of its own chunk indices that the new chunk
  // count makes look valid (running a chunk of this job under the old generation, counted
  // twice; ThreadSanitizer caught it reading `fn_` as the caller rebuilt it). The closing
  // generation holds no claimable chunk; workers that wake on it find nothing and wait for
  // the next one, which publishes the fields.
  keep_workers_off_caller_cpu();
  const std::uint32_t closing = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  state_.store((static_cast<std::uint64_t>(closing) << 32) | kNoChunk);
  fn_.store(&fn, std::memory_order_relaxed);
  n_.store(n, std::memory_order_relaxed);
  chunk_.store(chunk, std::memory_order_relaxed);
  chunks_.store(chunks, std::memory_order_release);
  threads_used_.store(threads, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  jobs_run_.fetch_add(1, std::memory_order_relaxed);
  const std::uint32_t generation = closing + 1;
  state_.store(static_cast<std::uint64_t>(generation) << 32);  // publishes the fields
  work_on(generation, 0);
  auto finished = [&] { return done_.load(std::memory_order_acquire) >= chunks; };
  if (!spin_until(finished, kOwnerSpinNs)) {
    owner_sleeping_.store(true);
    if (done_.load() < chunks) {
      std::unique_lock<std::mutex> lock(done_mutex_);
      done_wake_.wait(lock, finished);
    }
    owner_sleeping_.store(false, std::memory_order_relaxed);
  }
}

void ThreadPool::parallel_for_workers(std::int64_t n, std::int64_t grain, const WorkerFn& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(1, grain);
  bool expected = false;
  if (slots_.empty() || n <= grain ||
      !owned_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    fn(0, n, current_worker());
    return;
  }
  const std::int64_t parts = std::min<std::int64_t>(n / grain, 4 * size());
  const std::int64_t chunk = (n + parts - 1) / parts;
  run_job(n, chunk, (n + chunk - 1) / chunk, size(), fn);
  owned_.store(false, std::memory_order_release);
}

void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
  parallel_for_workers(n, grain, [&fn](std::int64_t b, std::int64_t e, int) { fn(b, e); });
}

void ThreadPool::parallel_for_cost(std::int64_t n, std::int64_t grain, double cost_ns,
                                   const WorkerFn& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(1, grain);
  const std::int64_t units = (n + grain - 1) / grain;  // the most chunks there can be
  const int threads = static_cast<int>(std::min<std::int64_t>(threads_for(cost_ns), units));
  bool expected = false;
  if (threads <= 1 ||
      !owned_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    fn(0, n, current_worker());
    return;
  }
  // Four chunks per thread balance uneven progress, unless that makes chunks too cheap; a
  // long loop gets chunks of at most kMaxChunkNs, so a thread that loses its CPU midway
  // (a busy machine) holds back little of it.
  double parts_wanted = std::max(4.0 * threads, std::ceil(cost_ns / kMaxChunkNs));
  if (min_thread_ns_ > 0) parts_wanted = std::min(parts_wanted, 5 * cost_ns / min_thread_ns_);
  parts_wanted = std::min(parts_wanted, kMaxChunks / 2);  // chunk indices are 32 bits
  const auto parts = static_cast<std::int64_t>(
      std::clamp<double>(parts_wanted, threads, static_cast<double>(units)));
  // Rounded down, so there are at least `parts` chunks: 68 units in 64 parts are 68 chunks
  // of one, not 34 of two that leave half the threads a third round.
  const std::int64_t chunk = std::max<std::int64_t>(1, units / parts) * grain;
  const std::int64_t chunks = (n + chunk - 1) / chunk;
  run_job(n, chunk, chunks, static_cast<int>(std::min<std::int64_t>(threads, chunks)), fn);
  owned_.store(false, std::memory_order_release);
}

}  // namespace triton_rt
