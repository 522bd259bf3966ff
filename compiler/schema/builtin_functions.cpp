// The built-in function table: parameters, Python names and shape rules of every function
// usable in `forward` without declaring a layer (relu, flatten, reshape, matmul, ...), see
// builtins.h. The runtime implements each one in `triton_dsl.functional` under its
// `python_name`.
#include <algorithm>

#include "schema/builtins.h"

namespace triton {

namespace {

using CV = ConstValue;
using Args = std::span<const AbsValue>;
using P = ParamKind;

FunctionParam req(std::string_view n, ParamKind k) { return {n, k, true, CV::none()}; }
FunctionParam opt(std::string_view n, ParamKind k, CV d) { return {n, k, false, std::move(d)}; }

int64_t norm_dim(int64_t d, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (d < 0) d += r;
  return (d < 0 || d >= r) ? -1 : d;
}

// A known int argument, or nullopt (symbolic or not an int).
std::optional<int64_t> known_int(const AbsValue& v) {
  if (v.kind == AbsValue::Kind::Int && v.dim.is_known()) return v.dim.size;
  return std::nullopt;
}

std::vector<Dim> int_elems(const AbsValue& v) {
  if (v.kind == AbsValue::Kind::Int) return {v.dim};
  std::vector<Dim> out;
  for (const auto& e : v.elems) out.push_back(e.kind == AbsValue::Kind::Int ? e.dim : Dim::unknown());
  return out;
}

FunctionResult dim_error(std::string_view fn, int64_t d, const Shape& s, int arg) {
  return FunctionResult::fail("`" + std::string(fn) + "`: dimension " + std::to_string(d) +
                                  " is out of range for a tensor of shape " + s.to_string(),
                              arg);
}

FunctionResult unary(Args a) { return FunctionResult::ok(a[0]); }

FunctionResult softmax_like(std::string_view fn, Args a) {
  const Shape& s = a[0].shape;
  if (auto d = known_int(a[1]); d && s.ranked && norm_dim(*d, s.rank()) < 0) return dim_error(fn, *d, s, 1);
  return FunctionResult::ok(a[0]);
}

FunctionResult flatten(Args a) {
  const Shape& in = a[0].shape;
  if (!in.ranked) return FunctionResult::ok(a[0]);
  auto s0 = known_int(a[1]), e0 = known_int(a[2]);
  if (!s0 || !e0) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  int64_t s = norm_dim(*s0, in.rank()), e = norm_dim(*e0, in.rank());
  if (s < 0) return dim_error("flatten", *s0, in, 1);
  if (e < 0) return dim_error("flatten", *e0, in, 2);
  Shape out;
  out.ranked = true;
  for (int64_t i = 0; i < s; ++i) out.dims.push_back(in.dims[i]);
  if (s <= e) {
    auto p = in.known_product(s, e + 1);
    out.dims.push_back(p ? Dim::known(*p) : (s == e ? in.dims[s] : Dim::unknown()));
  }
  for (size_t i = e + 1; i < in.rank(); ++i) out.dims.push_back(in.dims[i]);
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult reshape(Args a) {
  std::vector<Dim> dims = int_elems(a[1]);
  Shape in = a[0].shape;
  int inferred = -1;
  int64_t known = 1;
  bool all_known = true;
  // A symbolic size passed through (`x.view(b, -1)` with b = x.shape[0]) cancels the same
  // input dimension, so the -1 is still inferred: [batch, 4, 4] -> [batch, 16].
  std::vector<bool> cancelled(dims.size());
  if (in.ranked)
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i].kind != Dim::Kind::Symbol) continue;
      auto it = std::find(in.dims.begin(), in.dims.end(), dims[i]);
      if (it == in.dims.end()) continue;
      in.dims.erase(it);
      cancelled[i] = true;
    }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (cancelled[i]) continue;
    if (dims[i].is_known() && dims[i].size < -1)
      return FunctionResult::fail("`reshape`: size " + std::to_string(dims[i].size) + " is negative; only -1 (inferred) is allowed", 1);
    if (dims[i].is_known() && dims[i].size == -1) {
      if (inferred >= 0) return FunctionResult::fail("`reshape`: only one dimension may be -1", 1);
      inferred = static_cast<int>(i);
    } else if (dims[i].is_known()) {
      known = sat_mul(known, dims[i].size);
    } else {
      all_known = false;
    }
  }
  auto total = in.known_product();
  if (inferred >= 0) {
    dims[inferred] = (total && all_known && known > 0 && *total % known == 0) ? Dim::known(*total / known) : Dim::unknown();
  } else if (total && all_known && known != *total) {
    std::string common;  // the cancelled symbolic sizes, a factor of both counts
    for (size_t i = 0; i < dims.size(); ++i)
      if (cancelled[i]) common += dims[i].symbol + " * ";
    return FunctionResult::fail("`reshape` cannot turn shape " + a[0].shape.to_string() + " (" + common + std::to_string(*total) +
                                    " elements) into " + Shape::of(dims).to_string() + " (" + common + std::to_string(known) +
                                    " elements)",
                                1);
  }
  return FunctionResult::ok(AbsValue::tensor(Shape::of(dims)));
}

FunctionResult permute(Args a) {
  const Shape& in = a[0].shape;
  std::vector<Dim> order = int_elems(a[1]);
  if (!in.ranked) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  if (order.size() != in.rank())
    return FunctionResult::fail("`permute` needs " + std::to_string(in.rank()) + " dimensions for shape " +
                                    in.to_string() + ", got " + std::to_string(order.size()),
                                1);
  Shape out;
  out.ranked = true;
  std::vector<bool> seen(in.rank());
  for (const Dim& d : order) {
    int64_t i = d.is_known() ? norm_dim(d.size, in.rank()) : -1;
    if (i < 0 || seen[i]) return FunctionResult::fail("`permute` needs a permutation of 0.." + std::to_string(in.rank() - 1), 1);
    seen[i] = true;
    out.dims.push_back(in.dims[i]);
  }
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult transpose(Args a) {
  Shape s = a[0].shape;
  if (!s.ranked) return FunctionResult::ok(a[0]);
  auto d0 = known_int(a[1]), d1 = known_int(a[2]);
  if (!d0 || !d1) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  int64_t i = norm_dim(*d0, s.rank()), j = norm_dim(*d1, s.rank());
  if (i < 0) return dim_error("transpose", *d0, s, 1);
  if (j < 0) return dim_error("transpose", *d1, s, 2);
  std::swap(s.dims[i], s.dims[j]);
  return FunctionResult::ok(AbsValue::tensor(s));
}

FunctionResult cat(Args a) {
  const auto& parts = a[0].elems;
  auto d0 = known_int(a[1]);
  if (parts.empty() || !d0) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  Shape out = parts[0].shape;
  if (!out.ranked) return FunctionResult::ok(AbsValue::tensor(out));
  int64_t d = norm_dim(*d0, out.rank());
  if (d < 0) return dim_error("cat", *d0, out, 1);
  for (size_t p = 1; p < parts.size(); ++p) {
    const Shape& s = parts[p].shape;
    if (!s.ranked) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
    if (s.rank() != out.rank())
      return FunctionResult::fail("`cat` of tensors of different ranks: " + out.to_string() + " and " + s.to_string(), 0);
    for (size_t i = 0; i < s.rank(); ++i) {
      if (static_cast<int64_t>(i) == d) {
        out.dims[i] = (out.dims[i].is_known() && s.dims[i].is_known()) ? Dim::known(sat_add(out.dims[i].size, s.dims[i].size))
                                                                        : Dim::unknown();
      } else if (out.dims[i].is_known() && s.dims[i].is_known() && out.dims[i].size != s.dims[i].size) {
        return FunctionResult::fail("`cat` along dimension " + std::to_string(d) + " needs equal sizes elsewhere, got " +
                                        parts[0].shape.to_string() + " and " + s.to_string(),
                                    0);
      }
    }
  }
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult repeat(Args a) {
  Shape s = a[0].shape;
  if (!s.ranked || s.rank() == 0) return FunctionResult::ok(a[0]);
  const AbsValue& n = a[1];
  if (n.kind != AbsValue::Kind::Int) return FunctionResult::fail("`repeat` needs an int count, got " + n.describe(), 1);
  const Dim& d = s.dims[0];
  if (d.is_known() && d.size == 1) s.dims[0] = n.dim;
  else if (d.is_known() && n.dim.is_known()) s.dims[0] = Dim::known(sat_mul(d.size, n.dim.size));
  else s.dims[0] = Dim::unknown();
  return FunctionResult::ok(AbsValue::tensor(s));
}

// PyTorch's `expand` for a list of sizes; a single int keeps the older meaning of `repeat`.
FunctionResult expand(Args a) {
  if (a[1].kind == AbsValue::Kind::Int) return repeat(a);
  if (a[1].kind != AbsValue::Kind::Tuple) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  const Shape& in = a[0].shape;
  std::vector<Dim> sizes = int_elems(a[1]);
  if (!in.ranked) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  if (sizes.size() < in.rank())
    return FunctionResult::fail("`expand` needs at least " + std::to_string(in.rank()) + " sizes for shape " + in.to_string() +
                                    ", got " + std::to_string(sizes.size()),
                                1);
  size_t lead = sizes.size() - in.rank();
  Shape out;
  out.ranked = true;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const Dim& s = sizes[i];
    bool keep = s.is_known() && s.size == -1;
    if (i < lead) {
      if (keep) return FunctionResult::fail("`expand`: -1 cannot size the new leading dimension " + std::to_string(i), 1);
      out.dims.push_back(s);
      continue;
    }
    const Dim& d = in.dims[i - lead];
    if (keep) {
      out.dims.push_back(d);
    } else if (s.is_known() && s.size < 0) {
      return FunctionResult::fail("`expand`: size " + std::to_string(s.size) + " is negative", 1);
    } else if (d.is_known() && d.size != 1 && s.is_known() && s.size != d.size) {
      return FunctionResult::fail("`expand` cannot turn dimension " + std::to_string(i - lead) + " of shape " + in.to_string() +
                                      " into " + std::to_string(s.size) + "; only size-1 dimensions expand (-1 keeps one)",
                                  1);
    } else {
      out.dims.push_back(d.is_known() && d.size != 1 ? d : s);
    }
  }
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult matmul(Args a) {
  const Shape& x = a[0].shape;
  const Shape& y = a[1].shape;
  if (!x.ranked || !y.ranked || x.rank() < 2 || y.rank() < 2) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  const Dim& k1 = x.dims[x.rank() - 1];
  const Dim& k2 = y.dims[y.rank() - 2];
  if (k1.is_known() && k2.is_known() && k1.size != k2.size)
    return FunctionResult::fail("`matmul` of " + x.to_string() + " and " + y.to_string() + ": inner dimensions " +
                                k1.to_string() + " and " + k2.to_string() + " differ");
  Shape bx = Shape::of({x.dims.begin(), x.dims.end() - 2});
  Shape by = Shape::of({y.dims.begin(), y.dims.end() - 2});
  std::string why;
  auto batch = broadcast_shapes(bx, by, &why);
  if (!batch) return FunctionResult::fail("`matmul`: " + why);
  Shape out = *batch;
  out.dims.push_back(x.dims[x.rank() - 2]);
  out.dims.push_back(y.dims[y.rank() - 1]);
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult reduce(std::string_view fn, Args a) {
  const Shape& in = a[0].shape;
  bool keep = a[2].kind == AbsValue::Kind::Const && a[2].value.is_bool() && a[2].value.as_bool();
  if (!in.ranked) return FunctionResult::ok(a[0]);
  if (a[1].kind == AbsValue::Kind::None) return FunctionResult::ok(AbsValue::tensor(Shape::of({})));
  std::vector<Dim> ds = int_elems(a[1]);
  std::vector<bool> reduced(in.rank());
  for (const Dim& d : ds) {
    if (!d.is_known()) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
    int64_t i = norm_dim(d.size, in.rank());
    if (i < 0) return dim_error(fn, d.size, in, 1);
    reduced[i] = true;
  }
  Shape out;
  out.ranked = true;
  for (size_t i = 0; i < in.rank(); ++i) {
    if (!reduced[i]) out.dims.push_back(in.dims[i]);
    else if (keep) out.dims.push_back(Dim::known(1));
  }
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult adaptive_pool(Args a) {
  Shape s = a[0].shape;
  if (!s.ranked) return FunctionResult::ok(a[0]);
  if (s.rank() < 3) return FunctionResult::fail("`adaptive_avg_pool2d` expects a 3-d or 4-d input, got shape " + s.to_string(), 0);
  std::vector<Dim> o = int_elems(a[1]);
  if (o.empty()) return FunctionResult::fail("`adaptive_avg_pool2d` needs an output size", 1);
  s.dims[s.rank() - 2] = o[0];
  s.dims[s.rank() - 1] = o.size() > 1 ? o[1] : o[0];
  return FunctionResult::ok(AbsValue::tensor(s));
}

FunctionResult pool(std::string_view fn, Args a) {
  Shape s = a[0].shape;
  if (!s.ranked) return FunctionResult::ok(a[0]);
  if (s.rank() < 3) return FunctionResult::fail("`" + std::string(fn) + "` expects a 3-d or 4-d input, got shape " + s.to_string(), 0);
  std::vector<Dim> k = int_elems(a[1]);
  std::vector<Dim> st = a[2].kind == AbsValue::Kind::None ? k : int_elems(a[2]);
  std::vector<Dim> p = int_elems(a[3]);
  for (size_t i = 0; i < 2; ++i) {
    Dim& d = s.dims[s.rank() - 2 + i];
    auto pick = [&](const std::vector<Dim>& v) { return v.empty() ? Dim::unknown() : v[std::min(i, v.size() - 1)]; };
    Dim kk = pick(k), ss = pick(st), pp = pick(p);
    if (d.is_known() && kk.is_known() && ss.is_known() && pp.is_known() && ss.size > 0 && kk.size > 0 && pp.size >= 0 &&
        kk.size < kMaxKnownDim && pp.size < kMaxKnownDim) {
      int64_t o = (d.size + 2 * pp.size - kk.size) / ss.size + 1;
      if (o <= 0) return FunctionResult::fail("`" + std::string(fn) + "` kernel is larger than the input " + s.to_string(), 1);
      d = Dim::known(o);
    } else {
      d = Dim::unknown();
    }
  }
  return FunctionResult::ok(AbsValue::tensor(s));
}

FunctionResult squeeze(Args a) {
  const Shape& in = a[0].shape;
  if (!in.ranked) return FunctionResult::ok(a[0]);
  Shape out;
  out.ranked = true;
  if (a[1].kind == AbsValue::Kind::None) {
    for (const Dim& d : in.dims)
      if (!(d.is_known() && d.size == 1)) out.dims.push_back(d);
    return FunctionResult::ok(AbsValue::tensor(out));
  }
  auto d0 = known_int(a[1]);
  if (!d0) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  int64_t d = norm_dim(*d0, in.rank());
  if (d < 0) return dim_error("squeeze", *d0, in, 1);
  for (size_t i = 0; i < in.rank(); ++i)
    if (static_cast<int64_t>(i) != d || !(in.dims[i].is_known() && in.dims[i].size == 1)) out.dims.push_back(in.dims[i]);
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult unsqueeze(Args a) {
  Shape s = a[0].shape;
  if (!s.ranked) return FunctionResult::ok(a[0]);
  auto d0 = known_int(a[1]);
  if (!d0) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  int64_t d = norm_dim(*d0, s.rank() + 1);
  if (d < 0) return dim_error("unsqueeze", *d0, s, 1);
  s.dims.insert(s.dims.begin() + d, Dim::known(1));
  return FunctionResult::ok(AbsValue::tensor(s));
}

FunctionResult chunk(Args a) {
  const Shape& in = a[0].shape;
  auto n = known_int(a[1]);
  auto d0 = known_int(a[2]);
  if (!n || *n <= 0) return FunctionResult::fail("`chunk` needs a known positive number of chunks", 1);
  std::vector<AbsValue> parts;
  Shape piece = in;
  if (in.ranked && d0) {
    int64_t d = norm_dim(*d0, in.rank());
    if (d < 0) return dim_error("chunk", *d0, in, 2);
    const Dim& x = in.dims[d];
    if (x.is_known() && x.size % *n != 0)
      return FunctionResult::fail("`chunk`: dimension " + std::to_string(d) + " of size " + std::to_string(x.size) +
                                      " does not split into " + std::to_string(*n) + " equal chunks",
                                  1);
    piece.dims[d] = x.is_known() ? Dim::known(x.size / *n) : Dim::unknown();
  } else {
    piece = Shape::unranked();
  }
  for (int64_t i = 0; i < *n; ++i) parts.push_back(AbsValue::tensor(piece));
  return FunctionResult::ok(AbsValue::tuple(parts));
}

FunctionResult binary(std::string_view fn, Args a) {
  if (!a[0].is_tensor() && !a[1].is_tensor()) return FunctionResult::ok(AbsValue::unknown());
  if (!a[0].is_tensor()) return FunctionResult::ok(a[1]);
  if (!a[1].is_tensor()) return FunctionResult::ok(a[0]);
  std::string why;
  auto s = broadcast_shapes(a[0].shape, a[1].shape, &why);
  if (!s) return FunctionResult::fail("`" + std::string(fn) + "`: " + why);
  return FunctionResult::ok(AbsValue::tensor(*s));
}

FunctionResult linear_fn(Args a) {
  const Shape& x = a[0].shape;
  const Shape& w = a[1].shape;
  if (!x.ranked || !w.ranked) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  if (w.rank() != 2) return FunctionResult::fail("`linear` needs a 2-d weight [out, in], got shape " + w.to_string(), 1);
  const Dim& in = x.dims.back();
  if (in.is_known() && w.dims[1].is_known() && in.size != w.dims[1].size)
    return FunctionResult::fail("`linear` of input " + x.to_string() + " with weight " + w.to_string() + ": " +
                                    std::to_string(in.size) + " input features, weight expects " + std::to_string(w.dims[1].size),
                                1);
  Shape out = x;
  out.dims.back() = w.dims[0];
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult conv2d_fn(Args a) {
  const Shape& x = a[0].shape;
  const Shape& w = a[1].shape;
  if (!x.ranked || !w.ranked) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  if (x.rank() != 4 || w.rank() != 4)
    return FunctionResult::fail("`conv2d` needs a 4-d input and a 4-d weight, got " + x.to_string() + " and " + w.to_string());
  auto g = known_int(a[6]).value_or(1);
  if (x.dims[1].is_known() && w.dims[1].is_known() && x.dims[1].size != sat_mul(w.dims[1].size, g))
    return FunctionResult::fail("`conv2d`: input has " + std::to_string(x.dims[1].size) + " channels, weight " + w.to_string() +
                                    " expects " + std::to_string(sat_mul(w.dims[1].size, g)),
                                1);
  Shape out = x;
  out.dims[1] = w.dims[0];
  auto pick = [&](const AbsValue& v, size_t i) -> std::optional<int64_t> {
    std::vector<Dim> d = int_elems(v);
    if (d.empty()) return std::nullopt;
    const Dim& e = d[std::min(i, d.size() - 1)];
    return e.is_known() ? std::optional<int64_t>(e.size) : std::nullopt;
  };
  for (size_t i = 0; i < 2; ++i) {
    const Dim& n = x.dims[2 + i];
    const Dim& k = w.dims[2 + i];
    auto st = pick(a[3], i), p = pick(a[4], i), d = pick(a[5], i);
    if (n.is_known() && k.is_known() && st && p && d && *st > 0 && *p >= 0 && *d > 0 && *p < kMaxKnownDim && *d < kMaxKnownDim) {
      // Saturating: dilation * (kernel - 1) can pass 2^63. A hugely negative size is not a
      // huge tensor, so it stays unknown rather than "too large".
      const int64_t o = sat_add(sat_add(n.size, sat_mul(2, *p)), -sat_add(sat_mul(*d, sat_add(k.size, -1)), 1)) / *st + 1;
      out.dims[2 + i] = o < -kMaxKnownDim ? Dim::unknown() : Dim::known(o);
    } else
      out.dims[2 + i] = Dim::unknown();
  }
  return FunctionResult::ok(AbsValue::tensor(out));
}

FunctionResult where(Args a) {
  std::vector<AbsValue> ab = {a[1], a[2]};
  FunctionResult r = binary("where", ab);
  if (!r.error.empty() || !r.value.is_tensor()) return r.error.empty() ? FunctionResult::ok(a[0]) : r;
  std::vector<AbsValue> cr = {a[0], r.value};
  return binary("where", cr);
}

FunctionResult stack(Args a) {
  const auto& parts = a[0].elems;
  auto d0 = known_int(a[1]);
  if (parts.empty() || !d0 || !parts[0].shape.ranked) return FunctionResult::ok(AbsValue::tensor(Shape::unranked()));
  Shape s = parts[0].shape;
  for (const auto& p : parts)
    if (!(p.shape == s) && p.shape.ranked && s.ranked && p.shape.rank() == s.rank()) {
      for (size_t i = 0; i < s.rank(); ++i)
        if (s.dims[i].is_known() && p.shape.dims[i].is_known() && !(s.dims[i] == p.shape.dims[i]))
          return FunctionResult::fail("`stack` needs tensors of one shape, got " + s.to_string() + " and " + p.shape.to_string(), 0);
    }
  int64_t d = norm_dim(*d0, s.rank() + 1);
  if (d < 0) return dim_error("stack", *d0, s, 1);
  s.dims.insert(s.dims.begin() + d, Dim::known(static_cast<int64_t>(parts.size())));
  return FunctionResult::ok(AbsValue::tensor(s));
}

FunctionResult layer_norm(Args a) {
  const Shape& in = a[0].shape;
  std::vector<Dim> ns = int_elems(a[1]);
  if (in.ranked) {
    if (ns.size() > in.rank()) return FunctionResult::fail("`layer_norm` normalizes over more dimensions than shape " + in.to_string(), 1);
    for (size_t i = 0; i < ns.size(); ++i) {
      const Dim& d = in.dims[in.rank() - ns.size() + i];
      if (d.is_known() && ns[i].is_known() && d.size != ns[i].size)
        return FunctionResult::fail("`layer_norm` expects trailing size " + ns[i].to_string() + ", got shape " + in.to_string(), 1);
    }
  }
  return FunctionResult::ok(a[0]);
}

FunctionResult floor_div(Args a) {
  auto x = known_int(a[0]), y = known_int(a[1]);
  if (x && y) {
    auto r = const_binary(BinaryOp::FloorDiv, CV::of_int(*x), CV::of_int(*y));
    if (!r.value) return FunctionResult::fail(r.error, 1);
    return FunctionResult::ok(AbsValue::constant(*r.value));
  }
  return FunctionResult::ok(AbsValue::integer(Dim::unknown()));
}

std::vector<FunctionSchema> make_functions() {
  std::vector<FunctionSchema> f;
  auto un = [&](std::string_view n, std::string_view doc) {
    f.push_back({n, n, doc, {req("x", P::Tensor)}, unary});
  };
  un("relu", "max(x, 0)");
  f.push_back({"leaky_relu", "leaky_relu", "x where x > 0, else negative_slope * x",
               {req("x", P::Tensor), opt("negative_slope", P::Float, CV::of_float(0.01))}, unary});
  un("hardswish", "x * relu6(x + 3) / 6");
  un("log", "natural logarithm");
  f.push_back({"abs", "abs_", "absolute value", {req("x", P::Tensor)}, unary});
  un("relu6", "min(max(x, 0), 6)");
  f.push_back({"gelu", "gelu", "Gaussian error linear unit; approximate \"tanh\" for the tanh form",
               {req("x", P::Tensor), opt("approximate", P::Any, CV::of_str("none"))}, unary});
  un("silu", "x * sigmoid(x)");
  un("sigmoid", "logistic function");
  un("tanh", "hyperbolic tangent");
  un("sqrt", "square root");
  un("exp", "exponential");
  f.push_back({"softmax", "softmax", "softmax along `dim`", {req("x", P::Tensor), opt("dim", P::Int, CV::of_int(-1))},
               [](Args a) { return softmax_like("softmax", a); }});
  f.push_back({"log_softmax", "log_softmax", "log of softmax along `dim`",
               {req("x", P::Tensor), opt("dim", P::Int, CV::of_int(-1))},
               [](Args a) { return softmax_like("log_softmax", a); }});
  f.push_back({"flatten", "flatten", "flattens dimensions start_dim..end_dim into one",
               {req("x", P::Tensor), opt("start_dim", P::Int, CV::of_int(0)), opt("end_dim", P::Int, CV::of_int(-1))}, flatten});
  f.push_back({"reshape", "reshape", "new shape with the same number of elements; one entry may be -1; sizes may be listed one by one, `reshape(x, b, -1)`",
               {req("x", P::Tensor), req("shape", P::IntOrIntList)}, reshape, false, true});
  f.push_back({"permute", "permute", "reorders dimensions; `permute(x, 0, 2, 1)` also works",
               {req("x", P::Tensor), req("dims", P::IntOrIntList)}, permute, false, true});
  f.push_back({"transpose", "transpose", "swaps two dimensions",
               {req("x", P::Tensor), req("dim0", P::Int), req("dim1", P::Int)}, transpose});
  for (std::string_view n : {"concatenate", "cat"})
    f.push_back({n, n, "joins tensors along `dim`", {req("tensors", P::TensorList), opt("dim", P::Int, CV::of_int(0))}, cat});
  f.push_back({"repeat", "repeat", "tiles `t` n times along its first dimension", {req("t", P::Tensor), req("n", P::Int)}, repeat});
  f.push_back({"expand", "expand",
               "with one int, as `repeat`; with several sizes (or a list), PyTorch's expand: size-1 dimensions broadcast, "
               "-1 keeps a dimension, extra sizes add leading dimensions",
               {req("t", P::Tensor), req("sizes", P::IntOrIntList)}, expand, false, true});
  f.push_back({"matmul", "matmul", "matrix product with batch broadcasting", {req("a", P::Tensor), req("b", P::Tensor)}, matmul});
  f.push_back({"mean", "mean", "mean over `dim` (all when None)",
               {req("x", P::Tensor), opt("dim", P::OptionalIntOrIntList, CV::none()), opt("keepdim", P::Bool, CV::of_bool(false))},
               [](Args a) { return reduce("mean", a); }});
  f.push_back({"sum", "sum_", "sum over `dim` (all when None)",
               {req("x", P::Tensor), opt("dim", P::OptionalIntOrIntList, CV::none()), opt("keepdim", P::Bool, CV::of_bool(false))},
               [](Args a) { return reduce("sum", a); }});
  f.push_back({"adaptive_avg_pool2d", "adaptive_avg_pool2d", "average pooling to a fixed output size",
               {req("x", P::Tensor), req("output_size", P::IntOrIntList)}, adaptive_pool});
  for (std::string_view n : {"avg_pool2d", "max_pool2d"})
    f.push_back({n, n, "2-d pooling; stride None means kernel_size",
                 {req("x", P::Tensor), req("kernel_size", P::IntOrIntList), opt("stride", P::OptionalIntOrIntList, CV::none()),
                  opt("padding", P::IntOrIntList, CV::of_int(0))},
                 [n](Args a) { return pool(n, a); }});
  f.push_back({"dropout", "dropout", "zeroes elements with probability p, in training only",
               {req("x", P::Tensor), opt("p", P::Float, CV::of_float(0.5))}, unary});
  f.push_back({"squeeze", "squeeze", "removes size-1 dimensions (only `dim` when given)",
               {req("x", P::Tensor), opt("dim", P::OptionalInt, CV::none())}, squeeze});
  f.push_back({"unsqueeze", "unsqueeze", "inserts a size-1 dimension at `dim`", {req("x", P::Tensor), req("dim", P::Int)}, unsqueeze});
  f.push_back({"chunk", "chunk", "splits into `chunks` equal tensors along `dim`",
               {req("x", P::Tensor), req("chunks", P::Int), opt("dim", P::Int, CV::of_int(0))}, chunk});
  f.push_back({"layer_norm", "layer_norm", "normalizes over the trailing dimensions, without learned parameters",
               {req("x", P::Tensor), req("normalized_shape", P::IntOrIntList), opt("eps", P::Float, CV::of_float(1e-5))},
               layer_norm});
  f.push_back({"add", "add", "elementwise sum with broadcasting", {req("a", P::Any), req("b", P::Any)},
               [](Args a) { return binary("add", a); }});
  f.push_back({"multiply", "multiply", "elementwise product with broadcasting", {req("a", P::Any), req("b", P::Any)},
               [](Args a) { return binary("multiply", a); }});
  f.push_back({"subtract", "subtract", "elementwise difference with broadcasting", {req("a", P::Any), req("b", P::Any)},
               [](Args a) { return binary("subtract", a); }});
  f.push_back({"divide", "divide", "elementwise quotient with broadcasting", {req("a", P::Any), req("b", P::Any)},
               [](Args a) { return binary("divide", a); }});
  f.push_back({"maximum", "maximum", "elementwise maximum with broadcasting", {req("a", P::Tensor), req("b", P::Tensor)},
               [](Args a) { return binary("maximum", a); }});
  f.push_back({"minimum", "minimum", "elementwise minimum with broadcasting", {req("a", P::Tensor), req("b", P::Tensor)},
               [](Args a) { return binary("minimum", a); }});
  f.push_back({"pow", "pow_", "x to the power exponent, elementwise", {req("x", P::Tensor), req("exponent", P::Any)},
               [](Args a) { return binary("pow", a); }});
  f.push_back({"where", "where", "a where condition holds, else b (broadcasting)",
               {req("condition", P::Tensor), req("a", P::Any), req("b", P::Any)}, where});
  f.push_back({"stack", "stack", "joins tensors along a new dimension `dim`",
               {req("tensors", P::TensorList), opt("dim", P::Int, CV::of_int(0))}, stack});
  f.push_back({"max", "max_", "largest value over `dim` (all when None); values only",
               {req("x", P::Tensor), opt("dim", P::OptionalIntOrIntList, CV::none()), opt("keepdim", P::Bool, CV::of_bool(false))},
               [](Args a) { return reduce("max", a); }});
  f.push_back({"min", "min_", "smallest value over `dim` (all when None); values only",
               {req("x", P::Tensor), opt("dim", P::OptionalIntOrIntList, CV::none()), opt("keepdim", P::Bool, CV::of_bool(false))},
               [](Args a) { return reduce("min", a); }});
  f.push_back({"argmax", "argmax", "index of the largest value over `dim` (flattened when None)",
               {req("x", P::Tensor), opt("dim", P::OptionalInt, CV::none()), opt("keepdim", P::Bool, CV::of_bool(false))},
               [](Args a) { return reduce("argmax", a); }});
  f.push_back({"clamp", "clamp", "limits values to [min, max]",
               {req("x", P::Tensor), opt("min", P::OptionalFloat, CV::none()), opt("max", P::OptionalFloat, CV::none())}, unary});
  f.push_back({"linear", "linear", "x @ weight^T + bias, for layers that declare their own `param` weight",
               {req("x", P::Tensor), req("weight", P::Tensor), opt("bias", P::Any, CV::none())}, linear_fn});
  f.push_back({"conv2d", "conv2d", "2-d convolution with a declared `param` weight [out, in/groups, kh, kw]",
               {req("x", P::Tensor), req("weight", P::Tensor), opt("bias", P::Any, CV::none()),
                opt("stride", P::IntOrIntList, CV::of_int(1)), opt("padding", P::IntOrIntList, CV::of_int(0)),
                opt("dilation", P::IntOrIntList, CV::of_int(1)), opt("groups", P::Int, CV::of_int(1))},
               conv2d_fn});
  f.push_back({"ternarize", "ternarize", "alpha * t of a declared weight, with straight-through gradients",
               {req("w", P::Tensor), opt("threshold", P::Float, CV::of_float(0.7)), opt("scaling", P::Any, CV::of_str("per_channel")),
                opt("gradient_estimator", P::Any, CV::of_str("ste"))},
               unary});
  un("sign", "-1, 0 or +1 by the sign of each element (gradient zero)");
  f.push_back({"round", "round_", "rounds to the nearest integer, halves to even (gradient zero)", {req("x", P::Tensor)}, unary});
  un("stop_gradient", "x, with no gradient flowing back (`detach`)");
  f.push_back({"floor_div", "", "integer division rounding down (`//` is a comment)",
               {req("a", P::Int), req("b", P::Int)}, floor_div, true});
  return f;
}

}  // namespace

std::string_view param_kind_name(ParamKind k) {
  switch (k) {
    case P::Tensor: return "Tensor";
    case P::TensorList: return "list[Tensor]";
    case P::Int: return "int";
    case P::OptionalInt: return "int|None";
    case P::IntList: return "list[int]";
    case P::IntOrIntList: return "int|list[int]";
    case P::OptionalIntOrIntList: return "int|list[int]|None";
    case P::Float: return "float";
    case P::OptionalFloat: return "float|None";
    case P::Bool: return "bool";
    case P::Any: return "Tensor|float";
  }
  return "?";
}

std::span<const FunctionSchema> builtin_functions() {
  static const std::vector<FunctionSchema> fns = make_functions();
  return fns;
}

const FunctionSchema* find_builtin_method(std::string_view name) {
  // PyTorch's names for functions the language spells otherwise.
  if (name == "view") name = "reshape";
  const FunctionSchema* f = find_builtin_function(name);
  return f && !f->params.empty() && f->params[0].kind == ParamKind::Tensor ? f : nullptr;
}

const FunctionSchema* find_builtin_function(std::string_view name) {
  for (const auto& f : builtin_functions())
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace triton
