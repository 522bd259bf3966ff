// What the fusion passes (batch-norm-folding, activation-fusion) agree on: which
// submodules a fused op may hold, which activations it may apply, and how many times each
// forward value is read. Kept in one header so the two passes cannot drift apart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ir/ir.h"

namespace triton::passes::fusion {

// The built-in type of submodule `name` when it is one plain layer (`layer n: T { ... }`,
// not a repetition, table, sequence or conditional); empty otherwise.
inline std::string_view single_builtin_type(const ir::Module& m, const std::string& name) {
  const ir::Submodule* s = m.find_submodule(name);
  if (!s || s->form != ir::SubmoduleForm::Single || s->instances.size() != 1) return {};
  const ir::Instance& inst = s->instances[0];
  if (!inst.builtin || inst.user) return {};
  return inst.type_name;
}

// Layers whose output channels are the rows of one weight matrix: a batch norm after
// them folds into those rows, and an activation after them into their write-back.
inline bool is_weighted_layer(std::string_view type) {
  return type == "TernaryConv2d" || type == "TernaryConv1d" || type == "Conv2d" || type == "TernaryLinear" ||
         type == "Linear";
}

// The batch norm that normalizes dimension 1 of a layer's output of the given rank.
inline bool norm_matches(std::string_view layer, std::string_view norm, size_t output_rank) {
  if (norm == "BatchNorm2d") return layer == "TernaryConv2d" || layer == "Conv2d";
  if (norm != "BatchNorm1d") return false;
  if (layer == "TernaryConv1d") return true;
  return (layer == "TernaryLinear" || layer == "Linear") && output_rank == 2;
}

// The activation function a built-in activation layer applies, with its default
// attributes; empty for layers that are not fusable activations.
inline std::string activation_of_layer(std::string_view type) {
  if (type == "ReLU") return "relu";
  if (type == "ReLU6") return "relu6";
  if (type == "SiLU") return "silu";
  if (type == "GELU") return "gelu";
  return {};
}

inline bool is_fusable_activation(std::string_view function) {
  return function == "relu" || function == "relu6" || function == "silu" || function == "gelu";
}

// Reads of every value by live ops, nested regions included.
inline std::vector<int> use_counts(const ir::Function& f) {
  std::vector<int> uses(f.values.size(), 0);
  for (const auto& op : f.ops)
    if (!op.erased)
      for (ir::ValueId v : op.operands) uses[v.index]++;
  return uses;
}

// The region each live op sits in (ops of erased or unreachable regions: invalid).
inline std::vector<ir::RegionId> region_of_ops(const ir::Function& f) {
  std::vector<ir::RegionId> where(f.ops.size());
  for (size_t r = 0; r < f.regions.size(); ++r)
    for (ir::OpId id : f.regions[r].ops) where[id.index] = ir::RegionId(r);
  return where;
}

}  // namespace triton::passes::fusion
