// The typed intermediate representation between the checker and the backends.
//
// A `Program` holds one `Module` per model/block/layer declaration the entry model uses,
// in dependency order (a module comes after everything it instantiates). A module keeps
// what a backend needs to write a constructor and a forward:
//   - constants: constructor parameters (hyper-parameters, `params`) and derived constants,
//     each an expression tree (`ExprNode`) over the others, so backends emit them as
//     expressions and `Model(num_classes=100)` still works; each node also caches its value
//     under the file's defaults;
//   - submodules: layer instances with attribute expressions, repeats, tables, conditionals;
//   - tensors: declared `param`/`state` tensors;
//   - forward: SSA values and ops (`ops.def`) in regions; `if` ops own two regions.
// Besides the generic modules, `root` is the elaborated instance tree of the entry model
// under its default values: every leaf layer with concrete attributes, shapes and cost. It
// gives the parameter count and the summary.
// Ids are strong types (`ValueId`, `OpId`, ...): indexes into the owning vectors that cannot
// be mixed up.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "schema/builtins.h"
#include "schema/const_value.h"
#include "schema/shape.h"
#include "source/source_buffer.h"

namespace triton::ir {

template <class Tag>
struct Id {
  uint32_t index = UINT32_MAX;
  constexpr Id() = default;
  constexpr explicit Id(uint32_t i) : index(i) {}
  constexpr explicit Id(size_t i) : index(static_cast<uint32_t>(i)) {}
  bool valid() const { return index != UINT32_MAX; }
  friend auto operator<=>(Id, Id) = default;
};
using ValueId = Id<struct ValueTag>;
using OpId = Id<struct OpTag>;
using RegionId = Id<struct RegionTag>;
using ExprId = Id<struct ExprTag>;
using ModuleId = Id<struct ModuleTag>;

// ---- constant expressions (construction time) ------------------------------------------
enum class ExprKind { Literal, Ref, Unary, Binary, Call, List, Conditional };

struct ExprNode {
  ExprKind kind = ExprKind::Literal;
  ConstValue literal;          // Literal
  std::string name;            // Ref: a constant of the module; Call: a built-in function
  BinaryOp binary_op = BinaryOp::Add;
  ConstUnaryOp unary_op = ConstUnaryOp::Neg;
  std::vector<ExprId> operands;  // Unary 1, Binary 2, Call n, List n, Conditional (then, cond, else)
  ConstValue value;              // under the file's defaults
  SourceRange range;
};

// A hyper-parameter, a `params` entry or a derived constant.
struct ConstantDecl {
  std::string name;
  std::string type;           // "int", "float", ...; empty for an untyped hyper-parameter
  bool is_parameter = false;  // a constructor argument
  std::optional<ExprId> value;  // the default (parameters) or the definition; none = required
  ConstValue default_value;
  SourceRange range;
};

// One layer construction: a built-in layer or a user module, with keyword attributes.
struct Instance {
  std::string type_name;
  const LayerSchema* builtin = nullptr;
  std::optional<ModuleId> user;
  std::vector<std::pair<std::string, ExprId>> attrs;  // in the order they are passed
  std::vector<Instance> children;                     // Sequential
  SourceRange range;
};

enum class SubmoduleForm {
  Single,       // `layer fc: T { }`
  Repeat,       // `T[n]`: instances = {first, rest}; the rest are identical, `count` in all
  List,         // tables and `Sequential { }`: instances in order
  Conditional,  // `if (c) { ... }`: instances in order, absent when `condition` is false
                // (or `else_instances` in order, when an `else` was written)
};

struct Submodule {
  std::string name;
  SubmoduleForm form = SubmoduleForm::Single;
  std::vector<Instance> instances;
  std::optional<ExprId> count;      // Repeat
  std::optional<ExprId> condition;  // Conditional
  bool has_else = false;            // Conditional: `else` written; built from else_instances
  std::vector<Instance> else_instances;  // Conditional with `else`, in order
  // Set by batch-norm-folding on a sequence (List/Conditional) holding a convolution
  // directly followed by its batch norm: backends may run each such pair as one layer.
  bool fold_norms = false;
  SourceRange range;
};

struct TensorDecl {
  std::string name;
  bool is_state = false;
  std::vector<ExprId> shape;
  std::string init;  // "zeros", "ones", "normal", ...
  std::vector<std::pair<std::string, ExprId>> options;  // std, mean, value, ...
  std::optional<ExprId> condition;
  SourceRange range;
};

// ---- forward -----------------------------------------------------------------------------
struct ValueType {
  enum class Kind { Unknown, Tensor, Int, Float, Bool, Str, None, Tuple, Module };
  Kind kind = Kind::Unknown;
  Shape shape;  // Tensor: joined over every instantiation (a dimension that differs is `?`)
  std::string to_string() const;
};

struct InputAttrs { std::string name; uint32_t index = 0; };
struct ConstantAttrs { ConstValue value; };
struct ConstRefAttrs { std::string name; };
struct TensorRefAttrs { std::string name; };
struct LayerRefAttrs { std::string submodule; };
struct TrainingAttrs {};
// `running_mean = ...` in a forward: the `state` tensor `tensor` holds the operand from here
// on (later reads see it, and so does the next call).
struct AssignStateAttrs { std::string tensor; };
// Operands are the arguments in order; `arg_names[i]` is empty for a positional one.
struct CallLayerAttrs { std::string submodule; std::vector<std::string> arg_names; };
struct CallFunctionAttrs { const FunctionSchema* function = nullptr; std::vector<std::string> arg_names; };
// `layer` (a convolution or linear submodule) on the one operand, then the batch-norm
// submodule `norm` (empty: none) and the built-in activation function `activation` (empty:
// none), as one step: the passes batch-norm-folding and activation-fusion build it from a
// chain of calls, and backends may fold the norm into the layer's weights for inference.
struct CallFusedAttrs { std::string layer; std::string norm; std::string activation; };
// Any operator of ast/binary_ops.def but `is` and `is not`, which lower to `is_none` (the
// verifier checks).
struct BinaryAttrs { BinaryOp op = BinaryOp::Add; };
enum class UnaryKind { Neg, Plus, Not };
struct UnaryAttrs { UnaryKind op = UnaryKind::Neg; };
struct IsNoneAttrs { bool negated = false; };
struct MemberAttrs { std::string member; };
// Each part of `x[...]` is a value (one operand), a slice (up to three operands, the ones
// present), or `...`. Operand 0 is the indexed value.
struct IndexPart {
  enum class Kind { Value, Slice, Ellipsis };
  Kind kind = Kind::Value;
  bool has_lower = false, has_upper = false, has_step = false;
};
struct IndexAttrs { std::vector<IndexPart> parts; };
struct MakeTupleAttrs {};
struct MakeListAttrs {};
// `count` is how many names the unpacking has, so a size mismatch is caught once.
struct TupleGetAttrs { uint32_t index = 0; uint32_t count = 0; };
struct SelectAttrs {};
struct IfAttrs {};
struct YieldAttrs {};
struct ReturnAttrs {};

enum class OpKind {
#define IR_OP(kind, spelling, attrs) kind,
#include "ir/ops.def"
};
std::string_view op_spelling(OpKind kind);

using OpAttrs = std::variant<
#define IR_OP(kind, spelling, attrs) attrs,
#include "ir/ops.def"
    std::monostate>;

struct Op {
  OpKind kind;
  OpAttrs attrs;
  std::vector<ValueId> operands;
  std::vector<ValueId> results;
  std::vector<RegionId> regions;  // If: then, else
  SourceRange range;
  bool erased = false;  // set by passes; erased ops stay in the arena but leave their region
};

struct Value {
  ValueType type;
  std::string name_hint;  // the source variable it was assigned to, if any
  OpId def;
};

struct Region {
  std::vector<OpId> ops;
};

struct Function {
  std::vector<Value> values;
  std::vector<Op> ops;
  std::vector<Region> regions;
  RegionId body;
  std::vector<std::string> arg_names;
  std::vector<ValueType> arg_types;  // as declared
  std::optional<ValueType> return_type;

  const Op& op(OpId id) const { return ops[id.index]; }
  Op& op(OpId id) { return ops[id.index]; }
  const Value& value(ValueId id) const { return values[id.index]; }
  Value& value(ValueId id) { return values[id.index]; }
  const Region& region(RegionId id) const { return regions[id.index]; }
  Region& region(RegionId id) { return regions[id.index]; }
  // Appends an op to `region` with fresh results; returns its id.
  OpId append(RegionId region, OpKind kind, OpAttrs attrs, std::vector<ValueId> operands,
              size_t result_count, SourceRange range);
  RegionId new_region();
};

template <class A>
const A& attrs_of(const Op& op) { return std::get<A>(op.attrs); }

enum class ModuleKind { Model, Block, Layer };

struct Module {
  std::string name;
  ModuleKind kind = ModuleKind::Block;
  std::vector<ExprNode> exprs;
  std::vector<ConstantDecl> constants;  // parameters first, then derived, in source order
  std::vector<Submodule> submodules;
  std::vector<TensorDecl> tensors;
  std::optional<Function> forward;
  SourceRange range;

  const ExprNode& expr(ExprId id) const { return exprs[id.index]; }
  ExprId add_expr(ExprNode node) {
    exprs.push_back(std::move(node));
    return ExprId(exprs.size() - 1);
  }
  const ConstantDecl* find_constant(std::string_view n) const;
  const Submodule* find_submodule(std::string_view n) const;
  const TensorDecl* find_tensor(std::string_view n) const;
  // True when the expression reads no constant (`Ref`): its value is the same for every
  // instance, so the checker evaluates it once and the backends may emit the value.
  bool is_closed(ExprId id) const;

  // Name -> index of `submodules`, for find_submodule: every name in every forward is looked
  // up, so a linear scan made checking a 10,000-layer model quadratic. Built lazily and
  // rebuilt whenever the list has grown (submodules are only ever appended).
  mutable std::unordered_map<std::string, size_t> submodule_index_;
  mutable size_t submodule_indexed_count_ = 0;
};

// One node of the elaborated instance tree (see the file comment).
struct ElabNode {
  std::string path;       // `stages.0.conv1`
  std::string type_name;  // `TernaryConv2d`, a user module name, `param`, `Sequential`
  bool is_leaf = false;   // a built-in layer or a param tensor: it owns parameters
  std::optional<AttrSet> attrs;
  bool called = false;
  Shape input, output;
  LayerCost cost;
  std::vector<ElabNode> children;

  LayerCost total() const;  // own cost plus children's
};

struct ModelInput {
  std::string name;
  Shape shape;
};

struct Program {
  std::string source_name;  // file name as given, for the generated module's docstring
  std::vector<Module> modules;
  ModuleId entry;
  std::vector<ModelInput> inputs;
  ConstValue training = ConstValue::of_map({});
  ConstValue performance = ConstValue::of_map({});
  ConstValue optimization = ConstValue::of_map({});
  // -O3 (channels-last-layout): the generated module keeps 4-d parameters and the entry
  // model's 4-d inputs in channels-last memory order, which convolution kernels prefer.
  bool channels_last = false;
  // -O3 (float32-precision): `torch.set_float32_matmul_precision` for the program's runs;
  // empty: PyTorch's default.
  std::string float32_matmul_precision;
  ElabNode root;

  const Module& module(ModuleId id) const { return modules[id.index]; }
  Module& module(ModuleId id) { return modules[id.index]; }
  const Module& entry_module() const { return modules[entry.index]; }
  std::optional<ModuleId> find_module(std::string_view name) const;
};

}  // namespace triton::ir
