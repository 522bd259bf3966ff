// Internal state of the checker, shared by its files:
//   check_decls.cpp     declarations, constants, layer specs, tensors, module order
//   lower_forward.cpp   `forward` bodies to IR ops, with flow-sensitive name resolution
//   elaborate.cpp       instantiation under default values and shape inference (the
//                       Elaborator of elaborator.h; its jobs in instantiate.cpp,
//                       infer_width.cpp and interpret.cpp)
//   sections.cpp        the known keys of training/performance/optimization
// Not part of the checker's interface (checker.h).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "check/checker.h"

namespace triton::check_detail {

using ir::ExprId;
using ir::ModuleId;

// Everything the checker knows about one declaration.
struct DeclInfo {
  const ast::Decl* decl = nullptr;
  bool shadows_builtin = false;
  // Names of the declaration, with where they were declared (for notes).
  std::map<std::string, SourceRange> constant_ranges;
  std::map<std::string, const ast::LayerItem*> layers;
  std::map<std::string, const ast::TensorItem*> tensors;
  const ast::ForwardItem* forward = nullptr;
  std::vector<std::string> used_modules;  // user declarations its layers instantiate
  std::optional<ModuleId> module;         // set once lowered
};

using Env = std::map<std::string, ConstValue>;

// How deep blocks may nest (a block whose layer is another block counts one level per
// block): instantiation and interpretation recurse once per level, so the limit keeps a
// chain of thousands of blocks from overflowing the stack.
constexpr size_t kMaxBlockNesting = 100;

// The width attributes a layer type threads through stacks and infers from its first input:
// its schema row's for a built-in, the block row's it declares for a user block.
std::vector<WidthAttrs> stack_widths(const ir::Program& p, const ir::Instance& inst);

// An instantiated layer during elaboration (see elaborate.cpp).
struct LayerState;
struct SubState {
  bool present = true;
  std::vector<std::unique_ptr<LayerState>> layers;  // run in order when called
};
struct LayerState {
  std::string path;
  std::string type_name;
  const LayerSchema* builtin = nullptr;
  AttrSet attrs;
  std::string pending_width;  // an input-width attribute to infer at the first call
  WidthDim pending_dim = WidthDim::Last;  // the input dimension it is read from
  ir::Instance* instance = nullptr;  // the IR instance, to record an inferred width
  ModuleId owner;                    // module whose expressions the instance's attrs use
  std::optional<ModuleId> user;
  Env env;
  std::vector<SubState> subs;             // by submodule index of the user module
  std::vector<std::unique_ptr<LayerState>> children;  // Sequential
  std::vector<ir::ElabNode> tensors;      // declared `param` tensors
  bool called = false;
  bool poisoned = false;  // its attributes were reported wrong: skip its shape checks
  Shape input, output;
  LayerCost cost;
  SourceRange range;
};

class Checker {
 public:
  Checker(const ast::File& file, DiagnosticEngine& diags, const CheckOptions& options)
      : file_(file), diags_(diags), options_(options) {}
  std::optional<ir::Program> run();

  // ---- check_decls.cpp ----
  void collect_decls();
  bool order_modules(const std::string& name, std::vector<std::string>& stack, std::vector<std::string>& order);
  void lower_decl(DeclInfo& info);
  ExprId lower_const_expr(ir::Module& m, const DeclInfo& info, const ast::Expr& e);
  void lower_layer(ir::Module& m, DeclInfo& info, const ast::LayerItem& item);
  std::optional<ir::Instance> lower_instance(ir::Module& m, const DeclInfo& info, const ast::LayerSpec& spec);
  void lower_tensor(ir::Module& m, const DeclInfo& info, const ast::TensorItem& item);
  void order_constants(ir::Module& m);
  ConstResult eval(const ir::Module& m, ExprId id, const Env& env);
  std::string expr_text(SourceRange r) const;
  // `shown` is the expression as a message shows it, backticks included.
  std::optional<ConstValue> coerce_to_type(const ConstValue& v, const std::string& type, const std::string& name,
                                           SourceRange range, const std::string& shown);

  // ---- lower_forward.cpp ----
  void lower_forward(ir::Module& m, const DeclInfo& info, const ast::ForwardItem& fwd);
  // Collects the file's `fn` declarations and checks each body once on its own; calls
  // inline them (muted: their diagnostics are the ones reported here).
  void check_functions();
  std::map<std::string, const ast::FnDecl*> functions_;

  // ---- elaborate.cpp ----
  void elaborate_entry(ir::Program& program);

  // ---- sections.cpp ----
  ConstValue check_section(const ast::SectionItem& s, const ir::Module& m, const DeclInfo& info);

  // ---- quantization.cpp ----
  // Applies the entry model's `quantization` section to the ternary layers' attributes.
  void apply_quantization(const ast::SectionItem& s, const ConstValue& section, ir::Program& program);

  // ---- shared ----
  // Reports once per (kind, range, message): elaboration visits a module per instance.
  bool first_report(DiagKind kind, SourceRange range, const std::string& message);
  std::optional<Shape> declared_shape(const ast::TypeExpr* type, const ir::Module& m, const Env& env);

  const ast::File& file_;
  DiagnosticEngine& diags_;
  const CheckOptions& options_;
  std::map<std::string, DeclInfo> decls_;
  std::vector<std::string> decl_order_;  // source order
  std::set<std::string> failed_;          // declarations left out (recursive, or using one)
  std::set<std::string> ordered_;         // declarations already in the module order
  std::map<std::string, size_t> nesting_;  // levels of blocks below and including each
  bool deep_walk_reported_ = false;
  ir::Program program_;
  std::set<std::tuple<int, uint32_t, uint32_t, std::string>> reported_;
};

}  // namespace triton::check_detail
