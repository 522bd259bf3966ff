// The elaborator, shared by the files that do its jobs (internal to the checker):
//   elaborate.cpp     the driver: instantiates the entry model, interprets its forward,
//                     and builds the IR's elaborated tree and value types from the result
//   instantiate.cpp   layers and blocks to instances with concrete, validated attributes
//                     (repetitions and tables unrolled, tensors sized)
//   infer_width.cpp   a stack's first input width left out, from the shape reaching it
//   interpret.cpp     abstract interpretation of `forward` bodies on shapes
// Elaboration is one object per run: `seen_` joins the values of every instantiation.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/checker_impl.h"

namespace triton::check_detail {

// The join of two abstract values seen at one IR value (a value kept where both agree).
AbsValue join(const AbsValue& a, const AbsValue& b);
// A value's truth when known: None is false, tensors and layers are true.
std::optional<bool> truth(const AbsValue& v);

class Elaborator {
 public:
  Elaborator(Checker& c, ir::Program& p) : c_(c), p_(p) {}

  void run();


 private:
  // ---- instantiate.cpp ----
  // Evaluates an attribute or constant expression, reporting a failure once.
  std::optional<ConstValue> eval(const ir::Module& m, ir::ExprId e, const Env& env);

  // `out_channels * expansion` as written, followed by `(24 * 0.3)` when it is a binary
  // operation, so a non-integral result shows both operands.
  std::string shown(const ir::Module& m, ir::ExprId e, const Env& env);

  // Elaboration materializes every layer; a program that expands to absurdly many (nested
  // repeats, blocks using the previous block twice) is reported once instead of exhausting
  // memory: the budget counts every instantiated layer, so memory stays proportional to it.
  static constexpr int64_t kMaxRepeat = 100'000;
  static constexpr int64_t kMaxLayers = 100'000;  // the message spells it

  bool budget_exhausted(SourceRange at);

  std::unique_ptr<LayerState> instantiate(ir::Instance& inst, ir::ModuleId owner, const Env& env, const std::string& path,
                                          bool allow_pending, bool poisoned = false);

  // Computes a user module's derived constants and instantiates its layers and tensors.
  void materialize(LayerState& st);

  // ---- infer_width.cpp ----
  // Fills a stack's missing first input width from the shape that reaches it.
  bool infer_width(LayerState& st, const AbsValue& in, SourceRange use);

  // ---- interpret.cpp ----
  AbsValue call(LayerState& st, const std::vector<AbsValue>& args, SourceRange use, const std::string& name);

  AbsValue call_user(LayerState& st, const std::vector<AbsValue>& args, SourceRange use, bool is_entry);

  struct Frame {
    LayerState& st;
    ir::Module& m;
    ir::Function& f;
    std::vector<std::optional<AbsValue>> vals;
    std::map<std::string, Dim> symbols;
  };

  bool match(Frame& fr, const Shape& declared, const Shape& actual, SourceRange use, const ast::ForwardParam& prm,
             const std::string& mod, bool is_return = false);

  const AbsValue& val(Frame& fr, ir::ValueId v);

  // Interprets a region; returns the returned value (body) or nothing.
  std::optional<AbsValue> region(Frame& fr, ir::RegionId r, const std::vector<AbsValue>& args);

  AbsValue binary(const ir::Op& op, const AbsValue& a, const AbsValue& b);

  AbsValue report_fn(const FunctionResult& r, SourceRange at, const std::string& name);

  // A tensor result past the size limit: reported once, then continues unranked.
  AbsValue checked_size(const AbsValue& v, SourceRange at);

  AbsValue function(Frame& fr, const ir::Op& op);

  AbsValue index(Frame& fr, const ir::Op& op);

  // ---- elaborate.cpp ----
  // The elaborated tree of the IR (parameter counts, summary) from an instantiated layer.
  ir::ElabNode to_node(const LayerState& st, const std::string& type);

  Checker& c_;
  ir::Program& p_;
  std::map<uint32_t, std::vector<std::optional<AbsValue>>> seen_;
  SourceRange last_return_;
  int depth_ = 0;
  int64_t layers_made_ = 0;
  bool budget_reported_ = false;
};

}  // namespace triton::check_detail
