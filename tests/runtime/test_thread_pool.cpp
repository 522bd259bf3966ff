// The ThreadPool's contract beyond plain coverage (test_kernels.cpp has that): a loop uses
// only the threads its estimated cost pays for and tiny ones run inline on the caller;
// chunks honour their grain; every index is covered exactly once and no two concurrent
// chunks share a worker index while several callers contend for one pool (oversubscribed
// too); a nested loop runs inline with its task's own worker index; workers that fell asleep
// are woken, and an owner that fell asleep waiting for a slow chunk is woken; wake_sleepers
// wakes every sleeping worker ahead of a job, and only when one sleeps; on Linux, workers
// are kept off the CPU of the job's caller. Built into
// runtime_concurrency_tests, which CI also runs under ThreadSanitizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

using namespace triton_rt;

namespace {

void sleep_us(int us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

// Runs one loop and checks that it covered [0, n) exactly once with chunks of whole grains
// and exclusive worker indices below `max_workers`; returns the worker indices it saw.
std::set<int> checked_loop(ThreadPool& pool, std::int64_t n, std::int64_t grain, double cost_ns,
                           int max_workers, int chunk_sleep_us = 0) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  std::vector<std::atomic<int>> in_use(static_cast<std::size_t>(pool.size()));
  std::mutex mutex;
  std::set<int> workers;
  std::atomic<int> bad{0};
  pool.parallel_for_cost(n, grain, cost_ns, [&](std::int64_t b, std::int64_t e, int worker) {
    if (worker < 0 || worker >= max_workers || in_use[worker].fetch_add(1) != 0) ++bad;
    if (b % grain != 0 || (e != n && (e - b) % grain != 0) || b >= e) ++bad;
    for (std::int64_t i = b; i < e; ++i) ++hits[i];
    if (chunk_sleep_us > 0) sleep_us(chunk_sleep_us);
    {
      std::lock_guard<std::mutex> lock(mutex);
      workers.insert(worker);
    }
    --in_use[worker];
  });
  EXPECT_EQ(bad.load(), 0) << "a chunk broke its grain, or two running chunks shared a worker, "
                              "or a worker index was at or above "
                           << max_workers;
  for (std::int64_t i = 0; i < n; ++i) {
    if (hits[i].load() != 1) {
      ADD_FAILURE() << "index " << i << " ran " << hits[i].load() << " times";
      break;
    }
  }
  return workers;
}

}  // namespace

TEST(ThreadPoolCost, ThreadsFollowTheCost) {
  ThreadPool pool(8);
  EXPECT_EQ(pool.threads_for(0), 1);
  EXPECT_EQ(pool.threads_for(1.99 * kMinThreadWorkNs), 1);
  EXPECT_EQ(pool.threads_for(2 * kMinThreadWorkNs), 2);
  EXPECT_EQ(pool.threads_for(3.5 * kMinThreadWorkNs), 3);
  EXPECT_EQ(pool.threads_for(1e15), 8);
  EXPECT_EQ(pool.threads_for(std::nan("")), 1);
  ThreadPool single(1);
  EXPECT_EQ(single.threads_for(1e15), 1);
  ThreadPool eager(3, 0.0);  // every loop over every thread
  EXPECT_EQ(eager.threads_for(0), 3);
}

TEST(ThreadPoolCost, TinyWorkRunsInlineOnTheCaller) {
  ThreadPool pool(4);
  const std::thread::id caller = std::this_thread::get_id();
  int calls = 0;
  bool on_caller = true;
  std::int64_t begin = -1, end = -1;
  int worker = -1;
  pool.parallel_for_cost(1000, 1, kMinThreadWorkNs, [&](std::int64_t b, std::int64_t e, int w) {
    ++calls;
    on_caller = on_caller && std::this_thread::get_id() == caller;
    begin = b, end = e, worker = w;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(on_caller);
  EXPECT_EQ(begin, 0);
  EXPECT_EQ(end, 1000);
  EXPECT_EQ(worker, 0);
  // A loop of one grain has nothing to split, whatever its cost.
  calls = 0;
  pool.parallel_for_cost(16, 16, 1e12, [&](std::int64_t, std::int64_t, int) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPoolCost, CostLimitsTheWorkers) {
  ThreadPool pool(8);
  // Three threads' worth: worker indices 0..2 only. Chunks sleep, so the caller cannot
  // finish alone before the workers arrive, and a pool that ignored the cost would show
  // higher indices.
  std::set<int> seen;
  for (int round = 0; round < 20; ++round) {
    for (int w : checked_loop(pool, 960, 16, 3.5 * kMinThreadWorkNs, 3, 200)) seen.insert(w);
  }
  EXPECT_GT(seen.size(), 1u) << "no worker ever joined a three-thread loop";
  // The whole pool for a large cost.
  std::set<int> all;
  for (int round = 0; round < 20; ++round) {
    for (int w : checked_loop(pool, 4096, 1, 1e9, pool.size(), 100)) all.insert(w);
  }
  EXPECT_GT(all.size(), 3u);
}

TEST(ThreadPoolCost, AHugeCostStillMakesABoundedNumberOfChunks) {
  ThreadPool pool(4);
  constexpr std::int64_t kN = std::int64_t{3} << 20;
  std::atomic<std::int64_t> covered{0}, chunks{0};
  pool.parallel_for_cost(kN, 1, 1e18, [&](std::int64_t b, std::int64_t e, int) {
    covered += e - b;
    ++chunks;
  });
  EXPECT_EQ(covered.load(), kN);
  EXPECT_LE(chunks.load(), std::int64_t{1} << 20);
  EXPECT_GE(chunks.load(), pool.size());
}

TEST(ThreadPoolCost, ChunksHonourTheGrain) {
  ThreadPool pool(4, 0.0);
  for (std::int64_t n : {1, 15, 16, 17, 100, 1000, 4097}) {
    for (std::int64_t grain : {1, 3, 16, 64}) checked_loop(pool, n, grain, 1.0, pool.size());
  }
}

TEST(ThreadPoolCost, ConcurrentCallersCoverEveryIndexOnce) {
  // Oversubscribed on purpose (8 threads and 4 callers on however many cores): callers
  // contend for the pool, run inline when it is busy, and workers wake late into finished
  // jobs; every loop must still cover its range once with exclusive worker indices.
  ThreadPool pool(8);
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&pool, c] {
      for (int round = 0; round < 60; ++round) {
        const std::int64_t n = 1 + (round * 37 + c * 11) % 3000;
        const double cost = (round % 3 == 0 ? 0.5 : 20.0) * kMinThreadWorkNs;
        checked_loop(pool, n, 1 + round % 16, cost, pool.size());
        // The legacy entry point shares the same machinery.
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
        pool.parallel_for(n, 7, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) ++hits[i];
        });
        for (auto& h : hits) ASSERT_EQ(h.load(), 1);
      }
    });
  }
  for (std::thread& t : callers) t.join();
}

TEST(ThreadPoolCost, NestedLoopRunsInlineWithItsTaskWorker) {
  ThreadPool pool(4);
  std::atomic<int> bad{0}, nested_calls{0};
  pool.parallel_for_cost(64, 1, 1e9, [&](std::int64_t b, std::int64_t e, int worker) {
    for (std::int64_t i = b; i < e; ++i) {
      const std::thread::id self = std::this_thread::get_id();
      pool.parallel_for_cost(100, 1, 1e9, [&](std::int64_t nb, std::int64_t ne, int nested) {
        ++nested_calls;
        if (nb != 0 || ne != 100 || nested != worker || std::this_thread::get_id() != self) ++bad;
      });
    }
  });
  EXPECT_EQ(bad.load(), 0) << "a nested loop was split, moved, or took another worker index";
  EXPECT_EQ(nested_calls.load(), 64);
}

TEST(ThreadPoolCost, SleepingWorkersAndOwnerAreWoken) {
  ThreadPool pool(4);
  std::set<int> seen;
  for (int round = 0; round < 5; ++round) {
    // Idle long enough that every worker stopped spinning and sleeps.
    std::this_thread::sleep_for(std::chrono::nanoseconds(3 * kSpinNs));
    for (int w : checked_loop(pool, 64, 1, 1e9, pool.size(), 500)) seen.insert(w);
  }
  EXPECT_GT(seen.size(), 1u) << "sleeping workers were never woken";
  // A chunk on a worker that outlasts the owner's spin: the owner sleeps and must be woken
  // by that worker (a lost wake-up hangs here).
  ThreadPool two(2, 0.0);
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> done{0};
    two.parallel_for_cost(2, 1, 1.0, [&](std::int64_t, std::int64_t, int worker) {
      // The owner's chunk waits a little, so that the worker takes the other one.
      sleep_us(worker == 0 ? 500 : 4000);
      ++done;
    });
    EXPECT_EQ(done.load(), 2);
  }
}

// Polls `done` for up to five seconds (a loaded CI machine may take long to schedule a
// woken thread); returns whether it held.
template <typename Done>
bool eventually(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    sleep_us(50);
  }
  return true;
}

TEST(ThreadPoolCost, WakeSleepersWakesEveryWorkerAheadOfAJob) {
  for (int threads : {2, 3, 6}) {
    ThreadPool pool(threads);
    checked_loop(pool, 64, 1, 1e9, pool.size());
    EXPECT_EQ(pool.jobs_run(), 1u);
    checked_loop(pool, 64, 1, 1.0, pool.size());  // inline: not a job
    EXPECT_EQ(pool.jobs_run(), 1u);
    // Idle until every worker sleeps (each counted its last wake-up before); nothing wakes
    // them on its own.
    EXPECT_TRUE(eventually([&] { return pool.sleeping_workers() == threads - 1; }));
    const std::uint64_t before = pool.wakeups();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(pool.wakeups(), before) << "a worker woke with no job and no wake_sleepers";
    pool.wake_sleepers();
    // Every worker wakes (the callers' two children, and theirs through the tree) ...
    const auto workers = static_cast<std::uint64_t>(threads - 1);
    EXPECT_TRUE(eventually([&] { return pool.wakeups() >= before + workers; }))
        << threads << " threads: " << pool.wakeups() - before << " of " << workers << " woke";
    // ... finds no job, and the pool still runs the next one exactly.
    checked_loop(pool, 64, 1, 1e9, pool.size());
    EXPECT_EQ(pool.jobs_run(), 2u);
  }
  // A single-thread pool has nobody to wake.
  ThreadPool one(1);
  one.wake_sleepers();
  EXPECT_EQ(one.wakeups(), 0u);
}

TEST(ThreadPoolCost, WakeSleepersDuringAJobLeavesItAlone) {
  ThreadPool pool(3);
  std::this_thread::sleep_for(std::chrono::nanoseconds(20 * kSpinNs));
  std::atomic<int> calls{0};
  // A caller wakes the pool while another thread's job owns it: a no-op, no deadlock, and
  // the job still covers its range once.
  std::thread other([&] {
    for (int i = 0; i < 200; ++i) {
      pool.wake_sleepers();
      ++calls;
    }
  });
  for (int round = 0; round < 20; ++round) checked_loop(pool, 128, 1, 1e9, pool.size(), 20);
  other.join();
  EXPECT_EQ(calls.load(), 200);
}

#if defined(__linux__)
// The CPUs this thread may run on.
std::vector<int> own_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

TEST(ThreadPoolCost, WorkersStayOffTheCallersCpu) {
  const std::vector<int> cpus = own_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "one CPU: nothing to place";
  ThreadPool pool(2);
  // The caller moves between two CPUs: after each job on CPU c, the worker may run on
  // every CPU of the process but c.
  for (int round = 0; round < 4; ++round) {
    const int cpu = cpus[static_cast<std::size_t>(round % 2)];
    std::thread caller([&] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof set, &set), 0);
      checked_loop(pool, 64, 1, 1e9, pool.size());
    });
    caller.join();
    const std::vector<int> worker = pool.worker_cpus(1);
    EXPECT_FALSE(worker.empty());
    EXPECT_EQ(std::count(worker.begin(), worker.end(), cpu), 0) << "round " << round;
    EXPECT_EQ(worker.size(), cpus.size() - 1) << "round " << round;
  }
  // A pool with more threads than CPUs leaves its workers alone.
  ThreadPool crowded(static_cast<int>(cpus.size()) + 1);
  checked_loop(crowded, 64, 1, 1e9, crowded.size());
  EXPECT_EQ(crowded.worker_cpus(1).size(), cpus.size());
}
#endif
