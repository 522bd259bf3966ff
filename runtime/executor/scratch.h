// Scratch memory of one run, the part of its execution context that ops and kernels write
// within a call: zero-padded GEMV inputs and lookup tables, im2col columns, depthwise
// planes, packed tile activations, 8-bit activation images, and the buffers of dead
// values that later outputs reuse. It replaces per-thread (`thread_local`) buffers: those
// were invisible state shared by every engine a thread touched, where a run's context is
// handed explicitly to each op.
//
// Buffers are per worker of the engine's pool (worker 0 is the calling thread; see
// ThreadPool::parallel_for_workers). An engine keeps finished contexts in a ScratchPool and
// gives each run one of its own, so concurrent runs never share a buffer, while a sequence
// of runs reuses the same pages (a fresh multi-MiB buffer per convolution costs page faults
// that small layers notice).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace triton_rt {

enum class ScratchUse : int {
  kGemvInput,       // a GEMV input row zero-padded to whole blocks (caller)
  kGemvTable,       // the table-lookup GEMV's subset sums (per worker)
  kConvColumns,     // im2col / panel columns of one image (per worker)
  kDepthwisePlane,  // one zero-padded channel plane (per worker)
  kTilePadded,      // zero-padded planes of the unrolled tile packing (per worker)
  kLinearIn,        // a linear layer's rows transposed for the GEMM or tile kernels (caller)
  kLinearOut,       // its result in the kernels' transposed layout (caller)
  kInt8Image,       // an 8-bit activation image (per worker)
  kInt8Rows,        // quantized channel rows on their way into an 8-bit image (per worker)
  kCount,
};

// Storage of values past their last use, handed to later op outputs: no fresh pages to
// fault in, which large batches noticed. A buffer keeps its size and contents, so an output
// that fits in it needs no zeroing (allocate_output). At most kMaxSpareBuffers are kept.
class SpareBuffers {
 public:
  static constexpr std::size_t kMaxSpareBuffers = 8;

  // A kept buffer for `elements` floats (none for 0): the smallest already that large, else
  // the smallest with that capacity.
  std::vector<float> take(std::int64_t elements) {
    if (elements <= 0) return {};
    const auto n = static_cast<std::size_t>(elements);
    auto fit = buffers_.end();
    for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
      if (it->capacity() < n) continue;
      const bool sized = it->size() >= n;
      const bool fit_sized = fit != buffers_.end() && fit->size() >= n;
      if (fit == buffers_.end() || (sized && !fit_sized) ||
          (sized == fit_sized && it->capacity() < fit->capacity())) {
        fit = it;
      }
    }
    if (fit == buffers_.end()) return {};
    std::vector<float> buffer = std::move(*fit);
    buffers_.erase(fit);
    return buffer;
  }
  void keep(std::vector<float>&& buffer) {
    if (buffer.capacity() == 0) return;
    buffers_.push_back(std::move(buffer));
    if (buffers_.size() > kMaxSpareBuffers) {  // let the smallest go
      buffers_.erase(std::min_element(buffers_.begin(), buffers_.end(), [](const auto& a, const auto& b) {
        return a.capacity() < b.capacity();
      }));
    }
  }

 private:
  std::vector<std::vector<float>> buffers_;
};

class RunScratch {
 public:
  explicit RunScratch(int workers) : workers_(static_cast<std::size_t>(workers < 1 ? 1 : workers)) {}

  // The buffer of `use` for `worker`, as the last user left it.
  std::vector<float>& floats(ScratchUse use, int worker = 0) {
    return workers_[static_cast<std::size_t>(worker)].floats[static_cast<std::size_t>(use)];
  }
  // The same, grown to at least `n` floats; its contents are unspecified.
  float* floats_at_least(ScratchUse use, std::int64_t n, int worker = 0) {
    std::vector<float>& v = floats(use, worker);
    if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
    return v.data();
  }
  // Buffers of dead values, for later outputs (of this run and the next runs of this context).
  SpareBuffers& spare() { return spare_; }

  // The byte buffer of `use` for `worker`, at least `n` bytes (unspecified contents).
  std::uint8_t* bytes_at_least(ScratchUse use, std::int64_t n, int worker = 0) {
    std::vector<std::uint8_t>& v =
        workers_[static_cast<std::size_t>(worker)].bytes[static_cast<std::size_t>(use)];
    if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
    return v.data();
  }
  // A kept byte buffer of at least `n` bytes (the smallest that fits) or a new one, sized
  // `n` (contents unspecified): 8-bit activations handed from one op to the next, whose
  // pages stay mapped from one run to the next.
  std::vector<std::uint8_t> take_bytes(std::int64_t n) {
    auto fit = kept_bytes_.end();
    for (auto it = kept_bytes_.begin(); it != kept_bytes_.end(); ++it) {
      if (static_cast<std::int64_t>(it->capacity()) >= n &&
          (fit == kept_bytes_.end() || it->capacity() < fit->capacity())) {
        fit = it;
      }
    }
    std::vector<std::uint8_t> b;
    if (fit != kept_bytes_.end()) {
      b = std::move(*fit);
      kept_bytes_.erase(fit);
    }
    b.resize(static_cast<std::size_t>(n));
    return b;
  }
  // Keeps a buffer for take_bytes (at most kKeptByteBuffers; the smallest goes first).
  void keep_bytes(std::vector<std::uint8_t>&& b) {
    if (b.capacity() == 0) return;
    kept_bytes_.push_back(std::move(b));
    if (kept_bytes_.size() > kKeptByteBuffers) {
      auto smallest = kept_bytes_.begin();
      for (auto it = kept_bytes_.begin(); it != kept_bytes_.end(); ++it) {
        if (it->capacity() < smallest->capacity()) smallest = it;
      }
      kept_bytes_.erase(smallest);
    }
  }
  // Packed tile activations of one image for `worker`, at least `n` words (unspecified).
  std::uint32_t* words_at_least(std::int64_t n, int worker = 0) {
    std::vector<std::uint32_t>& v = workers_[static_cast<std::size_t>(worker)].words;
    if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
    return v.data();
  }

 private:
  struct Worker {
    std::array<std::vector<float>, static_cast<std::size_t>(ScratchUse::kCount)> floats;
    std::array<std::vector<std::uint8_t>, static_cast<std::size_t>(ScratchUse::kCount)> bytes;
    std::vector<std::uint32_t> words;
  };
  static constexpr std::size_t kKeptByteBuffers = 4;
  std::vector<Worker> workers_;
  SpareBuffers spare_;
  std::vector<std::vector<std::uint8_t>> kept_bytes_;
};

// The finished run contexts of one engine. take() hands out a free one (or a new one when
// every context is in use by a concurrent run); give_back() returns it for the next run.
class ScratchPool {
 public:
  explicit ScratchPool(int workers) : workers_(workers) {}

  std::unique_ptr<RunScratch> take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        std::unique_ptr<RunScratch> s = std::move(free_.back());
        free_.pop_back();
        return s;
      }
    }
    return std::make_unique<RunScratch>(workers_);
  }
  void give_back(std::unique_ptr<RunScratch> s) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(s));
  }

 private:
  const int workers_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<RunScratch>> free_;
};

}  // namespace triton_rt
