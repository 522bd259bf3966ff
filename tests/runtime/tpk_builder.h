// A small in-test writer of `.tpk` images, written from docs/packed-format.md
// independently of the Python exporter, so the loader tests can build valid files and
// then damage them precisely.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "format/layout.h"
#include "format/model.h"
#include "format/packing.h"

namespace triton_rt::test_support {

class TpkBuilder {
 public:
  std::uint32_t value(std::vector<std::int64_t> dims) {
    values_.push_back(std::move(dims));
    return static_cast<std::uint32_t>(values_.size() - 1);
  }
  std::uint32_t float_tensor(std::vector<std::int64_t> dims, std::vector<float> data) {
    Tensor t{0, dims, {}};
    t.payload.resize(4 * data.size());
    std::memcpy(t.payload.data(), data.data(), t.payload.size());
    tensors_.push_back(std::move(t));
    return static_cast<std::uint32_t>(tensors_.size() - 1);
  }
  std::uint32_t ternary_tensor(const std::vector<std::int8_t>& codes, std::int64_t rows,
                               std::int64_t cols, const std::vector<float>& scales, bool base3) {
    Tensor t{base3 ? 2u : 1u, {rows, cols}, {}};
    t.payload = base3 ? format::encode_t3(codes, rows, cols) : format::encode_t2(codes, rows, cols);
    const std::size_t at = t.payload.size();
    t.payload.resize(at + 4 * scales.size());
    std::memcpy(t.payload.data() + at, scales.data(), 4 * scales.size());
    if (base3) base3_ = true;
    tensors_.push_back(std::move(t));
    return static_cast<std::uint32_t>(tensors_.size() - 1);
  }
  void op(OpKind kind, std::vector<std::uint32_t> inputs, std::uint32_t output,
          std::vector<std::int32_t> ints = {}, std::vector<float> floats = {},
          std::vector<std::uint32_t> tensors = {}, Activation act = Activation::kNone) {
    ops_.push_back({kind, act, std::move(inputs), output, std::move(ints), std::move(floats),
                    std::move(tensors)});
  }
  void input(std::uint32_t v) { inputs_.push_back(v); }
  // The header's version; by default 2 when an op carries an activation scale, else 1,
  // as the exporter writes it.
  void version(std::uint32_t v) { version_ = v; }
  void output(std::uint32_t v) { outputs_.push_back(v); }

  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> values, tensors, ops, io, data;
    for (const auto& dims : values_) {
      format::ValueRecord r{};
      r.rank = static_cast<std::uint32_t>(dims.size());
      r.flags = 1;
      for (std::size_t i = 0; i < dims.size(); ++i) r.dims[i] = dims[i];
      append(values, &r, sizeof r);
    }
    for (const Tensor& t : tensors_) {
      format::TensorRecord r{};
      r.kind = t.kind;
      r.rank = static_cast<std::uint32_t>(t.dims.size());
      for (std::size_t i = 0; i < t.dims.size(); ++i) r.dims[i] = t.dims[i];
      r.offset = data.size();
      r.size = t.payload.size();
      append(tensors, &r, sizeof r);
      append(data, t.payload.data(), t.payload.size());
      data.resize((data.size() + 63) / 64 * 64, 0);
    }
    for (const Op& o : ops_) {
      format::OpHeader h{};
      h.kind = static_cast<std::uint32_t>(o.kind);
      h.fused_activation = static_cast<std::uint32_t>(o.act);
      h.input_count = static_cast<std::uint32_t>(o.inputs.size());
      h.output_count = 1;
      h.int_count = static_cast<std::uint32_t>(o.ints.size());
      h.float_count = static_cast<std::uint32_t>(o.floats.size());
      h.tensor_count = static_cast<std::uint32_t>(o.tensors.size());
      h.record_size = 32 + 4 * (h.input_count + 1 + h.int_count + h.float_count + h.tensor_count);
      append(ops, &h, sizeof h);
      append(ops, o.inputs.data(), 4 * o.inputs.size());
      append(ops, &o.output, 4);
      append(ops, o.ints.data(), 4 * o.ints.size());
      append(ops, o.floats.data(), 4 * o.floats.size());
      append(ops, o.tensors.data(), 4 * o.tensors.size());
    }
    append(io, inputs_.data(), 4 * inputs_.size());
    append(io, outputs_.data(), 4 * outputs_.size());

    format::FileHeader h{};
    std::memcpy(h.magic, format::kMagic, 8);
    bool activation_scale = false;
    for (const Op& o : ops_) {
      activation_scale |= (o.kind == OpKind::kLinear || o.kind == OpKind::kConv2d) && !o.floats.empty();
    }
    h.version = version_ != 0 ? version_ : activation_scale ? format::kVersionActivationScale : 1;
    h.flags = base3_ ? format::kFlagBase3 : 0;
    h.value_count = static_cast<std::uint32_t>(values_.size());
    h.tensor_count = static_cast<std::uint32_t>(tensors_.size());
    h.op_count = static_cast<std::uint32_t>(ops_.size());
    h.input_count = static_cast<std::uint32_t>(inputs_.size());
    h.output_count = static_cast<std::uint32_t>(outputs_.size());
    std::uint64_t at = sizeof h;
    h.values = {at, values.size()};
    at += values.size();
    h.tensors = {at, tensors.size()};
    at += tensors.size();
    h.ops = {at, ops.size()};
    at += ops.size();
    h.io = {at, io.size()};
    at = (at + io.size() + 63) / 64 * 64;
    h.data = {at, data.size()};
    h.file_size = at + data.size();
    std::vector<std::uint8_t> out;
    append(out, &h, sizeof h);
    append(out, values.data(), values.size());
    append(out, tensors.data(), tensors.size());
    append(out, ops.data(), ops.size());
    append(out, io.data(), io.size());
    out.resize(at, 0);
    append(out, data.data(), data.size());
    return out;
  }

 private:
  struct Tensor {
    std::uint32_t kind;
    std::vector<std::int64_t> dims;
    std::vector<std::uint8_t> payload;
  };
  struct Op {
    OpKind kind;
    Activation act;
    std::vector<std::uint32_t> inputs;
    std::uint32_t output;
    std::vector<std::int32_t> ints;
    std::vector<float> floats;
    std::vector<std::uint32_t> tensors;
  };
  std::uint32_t version_ = 0;
  static void append(std::vector<std::uint8_t>& v, const void* p, std::size_t n) {
    if (n == 0) return;
    const std::size_t at = v.size();
    v.resize(at + n);
    std::memcpy(v.data() + at, p, n);
  }
  std::vector<std::vector<std::int64_t>> values_;
  std::vector<Tensor> tensors_;
  std::vector<Op> ops_;
  std::vector<std::uint32_t> inputs_, outputs_;
  bool base3_ = false;
};

}  // namespace triton_rt::test_support
