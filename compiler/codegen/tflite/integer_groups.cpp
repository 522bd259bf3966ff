// Implements find_integer_groups (integer_groups.h):
//   1. Index the node producing each value and the nodes reading it.
//   2. For each Conv or MatMul: its input must come from a DequantizeLinear of a
//      QuantizeLinear's output, its weight from a DequantizeLinear of an initializer; follow
//      its output through an optional Sub (MatMul only) to a QuantizeLinear, each value read
//      once.
//   3. An input DequantizeLinear is absorbed when every reader of it is a group's operator.
#include "codegen/tflite/integer_groups.h"

#include <string>
#include <vector>

namespace triton::codegen::tflite {

IntegerGroups find_integer_groups(const onnx::Graph& graph) {
  constexpr size_t kNone = IntegerGroup::kNone;
  std::map<std::string, size_t> producer;
  std::map<std::string, std::vector<size_t>> readers;
  std::set<std::string> initializers;
  for (const auto& t : graph.initializers) initializers.insert(t.name);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const auto& out : graph.nodes[i].outputs) producer[out] = i;
    for (const auto& in : graph.nodes[i].inputs) readers[in].push_back(i);
  }
  for (const auto& out : graph.outputs) readers[out.name].push_back(kNone);
  auto made_by = [&](const std::string& value, const char* op) {
    auto it = producer.find(value);
    return it != producer.end() && graph.nodes[it->second].op_type == op ? it->second : kNone;
  };
  auto only_reader = [&](const std::string& value, const char* op) {
    auto it = readers.find(value);
    if (it == readers.end() || it->second.size() != 1 || it->second[0] == kNone) return kNone;
    return graph.nodes[it->second[0]].op_type == op ? it->second[0] : kNone;
  };

  IntegerGroups groups;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const onnx::Node& n = graph.nodes[i];
    const bool conv = n.op_type == "Conv";
    if ((!conv && n.op_type != "MatMul") || n.inputs.size() < 2) continue;
    IntegerGroup g;
    g.input_dq = made_by(n.inputs[0], "DequantizeLinear");
    if (g.input_dq == kNone || made_by(graph.nodes[g.input_dq].inputs[0], "QuantizeLinear") == kNone) continue;
    g.weight_dq = made_by(n.inputs[1], "DequantizeLinear");
    if (g.weight_dq == kNone || !initializers.count(graph.nodes[g.weight_dq].inputs[0])) continue;
    if (conv && n.inputs.size() > 2) {
      g.bias_dq = made_by(n.inputs[2], "DequantizeLinear");
      if (g.bias_dq == kNone || !initializers.count(graph.nodes[g.bias_dq].inputs[0])) continue;
    }
    std::string y = n.outputs[0];
    if (!conv) {
      g.sub = only_reader(y, "Sub");
      if (g.sub != kNone) {
        if (!initializers.count(graph.nodes[g.sub].inputs[1]) || graph.nodes[g.sub].inputs[0] != y) continue;
        y = graph.nodes[g.sub].outputs[0];
      }
    }
    g.quantize = only_reader(y, "QuantizeLinear");
    if (g.quantize == kNone) continue;
    groups.at[i] = g;
    groups.absorbed.insert(g.quantize);
    if (g.sub != kNone) groups.absorbed.insert(g.sub);
  }
  for (const auto& [i, g] : groups.at) {
    const auto& rs = readers[graph.nodes[g.input_dq].outputs[0]];
    bool all = true;
    for (size_t r : rs) all = all && r != kNone && groups.at.count(r) && graph.nodes[r].inputs[0] == graph.nodes[g.input_dq].outputs[0];
    if (all) groups.absorbed.insert(g.input_dq);
  }
  return groups;
}

}  // namespace triton::codegen::tflite
