// Implements layout.h.
#include "codegen/tflite/layout.h"

#include <algorithm>
#include <functional>
#include <numeric>

namespace triton::codegen::tflite::layout {

int64_t element_count(const Shape& s) {
  return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>());
}

bool is_identity(const Perm& p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != static_cast<int>(i)) return false;
  }
  return true;
}

Perm normalized(Perm p) { return is_identity(p) ? Perm{} : p; }

Perm identity(size_t rank) {
  Perm p(rank);
  std::iota(p.begin(), p.end(), 0);
  return p;
}

Perm full(const Perm& p, size_t rank) { return p.empty() ? identity(rank) : p; }

Perm inverse(const Perm& p) {
  Perm q(p.size());
  for (size_t k = 0; k < p.size(); ++k) q[p[k]] = static_cast<int>(k);
  return q;
}

Shape permuted(const Shape& s, const Perm& p) {
  if (p.empty()) return s;
  Shape out(p.size());
  for (size_t k = 0; k < p.size(); ++k) out[k] = s[p[k]];
  return out;
}

Shape broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool same_element_order(const Shape& shape, const Perm& to) {
  int last = -1;
  for (int d : to) {
    if (shape[d] == 1) continue;
    if (d < last) return false;
    last = d;
  }
  return true;
}

}  // namespace triton::codegen::tflite::layout
