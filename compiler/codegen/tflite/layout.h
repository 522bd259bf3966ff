// Layout arithmetic of the TFLite backend: shapes, permutations and the data movement they
// imply. A value stored "in layout `perm`" holds logical dimension perm[k] as its physical
// dimension k (so NCHW data stored NHWC has perm {0, 2, 3, 1}); the empty permutation is the
// logical layout. Constants are permuted here at compile time (filters to OHWI, biases and
// scalars to the layout of the tensor they meet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace triton::codegen::tflite::layout {

using Perm = std::vector<int>;
using Shape = std::vector<int64_t>;

int64_t element_count(const Shape& s);
bool is_identity(const Perm& p);
// The identity as the empty permutation.
Perm normalized(Perm p);
Perm identity(std::size_t rank);
// The empty permutation spelled out for `rank` dimensions.
Perm full(const Perm& p, std::size_t rank);
Perm inverse(const Perm& p);
// The shape stored in layout `p`.
Shape permuted(const Shape& s, const Perm& p);
// NumPy broadcasting of two shapes.
Shape broadcast(const Shape& a, const Shape& b);
// Whether transposing `shape` by `to` keeps the elements in the same order (only
// dimensions of size 1 move), so a RESHAPE can stand for the TRANSPOSE.
bool same_element_order(const Shape& shape, const Perm& to);

// Row-major data of `shape` -> the same data stored as permuted(shape, perm).
template <typename T>
std::vector<T> permute_data(const std::vector<T>& data, const Shape& shape, const Perm& perm) {
  if (perm.empty()) return data;
  const std::size_t rank = shape.size();
  const Shape out_shape = permuted(shape, perm);
  std::vector<int64_t> in_strides(rank, 1);
  for (std::size_t i = rank; i-- > 1;) in_strides[i - 1] = in_strides[i] * shape[i];
  std::vector<T> out(data.size());
  std::vector<int64_t> index(rank, 0);
  for (std::size_t n = 0; n < out.size(); ++n) {
    int64_t source = 0;
    for (std::size_t k = 0; k < rank; ++k) source += index[k] * in_strides[perm[k]];
    out[n] = data[source];
    for (std::size_t k = rank; k-- > 0;) {
      if (++index[k] < out_shape[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

}  // namespace triton::codegen::tflite::layout
