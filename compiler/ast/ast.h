// The abstract syntax tree: the parser's output and the checker's input.
//
// Design: three node families (Expr, Stmt, Item) each with an `enum class` kind generated from
// `ast_nodes.def`, so code switches over kinds and the compiler flags unhandled ones;
// `isa<T>`, `cast<T>` and `dyn_cast<T>` (LLVM style) move from a base to a concrete node.
// Declarations, layer specifications, types and attributes are plain structs because each
// has one shape. Every node has a `range` covering its whole text, and every name an
// `Identifier` with its own range, so any phase can point a caret at exactly what it means.
// Children are owned through unique_ptr; the tree is immutable after parsing (later phases
// keep their facts in side tables keyed by node address).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ast/binary_op.h"
#include "source/source_buffer.h"

namespace triton::ast {

enum class ExprKind : uint8_t {
#define EXPR_NODE(kind) kind,
#include "ast/ast_nodes.def"
};
enum class StmtKind : uint8_t {
#define STMT_NODE(kind) kind,
#include "ast/ast_nodes.def"
};
enum class ItemKind : uint8_t {
#define ITEM_NODE(kind) kind,
#include "ast/ast_nodes.def"
};

std::string_view kind_name(ExprKind kind);
std::string_view kind_name(StmtKind kind);
std::string_view kind_name(ItemKind kind);

struct Identifier {
  std::string name;
  SourceRange range;
  bool empty() const { return name.empty(); }
};

// ---- casting helpers ----------------------------------------------------------------------
template <class T, class Base>
bool isa(const Base* node) {
  return node != nullptr && node->kind == T::kKind;
}
template <class T, class Base>
T& cast(Base& node) {
  return static_cast<T&>(node);  // callers check the kind first (see isa)
}
template <class T, class Base>
const T& cast(const Base& node) {
  return static_cast<const T&>(node);
}
template <class T, class Base>
T* dyn_cast(Base* node) {
  return isa<T>(node) ? static_cast<T*>(node) : nullptr;
}
template <class T, class Base>
const T* dyn_cast(const Base* node) {
  return isa<T>(node) ? static_cast<const T*>(node) : nullptr;
}

// ---- expressions --------------------------------------------------------------------------
struct Expr {
  const ExprKind kind;
  SourceRange range;
  virtual ~Expr() = default;

 protected:
  Expr(ExprKind k, SourceRange r) : kind(k), range(r) {}
};
using ExprPtr = std::unique_ptr<Expr>;

// A number literal. Integers (no `.` and no exponent, after applying a count suffix that
// leaves a whole number) have is_integer set and int_value exact; float_value always holds
// the value as a double. `suffix` is 'K', 'M', 'B', 'G' or 0; `spelling` is the source text.
struct NumberExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Number;
  NumberExpr(SourceRange r) : Expr(kKind, r) {}
  bool is_integer = false;
  int64_t int_value = 0;
  double float_value = 0;
  char suffix = 0;
  std::string spelling;
};

struct StringExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::String;
  StringExpr(SourceRange r, std::string v) : Expr(kKind, r), value(std::move(v)) {}
  std::string value;  // escapes decoded
};

struct BoolExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Bool;
  BoolExpr(SourceRange r, bool v) : Expr(kKind, r), value(v) {}
  bool value;
};

struct NoneExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::None;
  explicit NoneExpr(SourceRange r) : Expr(kKind, r) {}
};

struct NameExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Name;
  NameExpr(SourceRange r, std::string n) : Expr(kKind, r), name(std::move(n)) {}
  std::string name;
};

enum class UnaryOp : uint8_t { Negate, Plus, Not };
std::string_view spelling(UnaryOp op);

struct UnaryExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Unary;
  UnaryExpr(SourceRange r) : Expr(kKind, r) {}
  UnaryOp op = UnaryOp::Negate;
  SourceRange op_range;
  ExprPtr operand;
};

// `lhs op rhs`; `op` is any operator of ast/binary_ops.def the parser has a token for.
struct BinaryExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Binary;
  BinaryExpr(SourceRange r) : Expr(kKind, r) {}
  BinaryOp op = BinaryOp::Add;
  SourceRange op_range;
  ExprPtr lhs;
  ExprPtr rhs;
};

// `then_value if condition else else_value`
struct ConditionalExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Conditional;
  ConditionalExpr(SourceRange r) : Expr(kKind, r) {}
  ExprPtr then_value;
  ExprPtr condition;
  ExprPtr else_value;
};

// One call argument. `name` is empty for a positional argument; named ones are written
// `dim: 1` or `dim=1` (both mean the same; `equals_style` only records which was used).
struct Argument {
  Identifier name;
  ExprPtr value;
  SourceRange range;
  bool equals_style = false;
  bool is_named() const { return !name.empty(); }
};

struct CallExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Call;
  CallExpr(SourceRange r) : Expr(kKind, r) {}
  ExprPtr callee;  // usually a NameExpr (a layer, a built-in function) or a MemberExpr
  std::vector<Argument> args;
};

struct MemberExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Member;
  MemberExpr(SourceRange r) : Expr(kKind, r) {}
  ExprPtr object;
  Identifier member;
};

// `object[i0, i1, ...]`; each index may be any expression, a SliceExpr or an EllipsisExpr.
struct IndexExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Index;
  IndexExpr(SourceRange r) : Expr(kKind, r) {}
  ExprPtr object;
  std::vector<ExprPtr> indices;
};

// `lower:upper:step`, each part optional (null when omitted), as in Python.
struct SliceExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Slice;
  SliceExpr(SourceRange r) : Expr(kKind, r) {}
  ExprPtr lower;
  ExprPtr upper;
  ExprPtr step;
};

struct EllipsisExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Ellipsis;
  explicit EllipsisExpr(SourceRange r) : Expr(kKind, r) {}
};

struct ListExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::List;
  ListExpr(SourceRange r) : Expr(kKind, r) {}
  std::vector<ExprPtr> elements;
};

// `(a, b)`, `(a,)`, `()` or, in assignments and returns, a bare `a, b`.
struct TupleExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Tuple;
  TupleExpr(SourceRange r) : Expr(kKind, r) {}
  std::vector<ExprPtr> elements;
  bool parenthesized = false;
};

// `key: value`, or `key { ... }` as a shorthand for `key: { ... }`. Keys are identifiers
// (keywords allowed) or strings; `key.name` holds the text either way.
struct MapEntry {
  Identifier key;
  bool key_is_string = false;
  ExprPtr value;
  SourceRange range;
};

struct MapExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Map;
  MapExpr(SourceRange r) : Expr(kKind, r) {}
  std::vector<MapEntry> entries;  // in source order; duplicates are the checker's concern
};

// ---- types ----------------------------------------------------------------------------------
// `int`, `float`, `bool`, `str` (Named), `list[T]` (List), and `Tensor` / `TernaryTensor`
// with an optional shape `[batch, 3, 32, 32]` (Tensor). The parser accepts any identifier as
// a Named type; the checker decides which names are types.
enum class TypeKind : uint8_t { Named, List, Tensor };

struct TypeExpr {
  TypeKind kind = TypeKind::Named;
  SourceRange range;
  Identifier name;                       // "int", "list", "Tensor", "TernaryTensor", ...
  std::unique_ptr<TypeExpr> element;     // List only
  bool has_shape = false;                // Tensor: whether `[...]` was written
  std::vector<ExprPtr> dims;             // Tensor: integers, symbolic names or expressions
};
using TypeExprPtr = std::unique_ptr<TypeExpr>;

// ---- statements -------------------------------------------------------------------------
struct Stmt {
  const StmtKind kind;
  SourceRange range;
  virtual ~Stmt() = default;

 protected:
  Stmt(StmtKind k, SourceRange r) : kind(k), range(r) {}
};
using StmtPtr = std::unique_ptr<Stmt>;

// `{ statements }`; range covers the braces.
struct StmtBlock {
  std::vector<StmtPtr> stmts;
  SourceRange range;
};

// `target = value`. The target is a NameExpr, a TupleExpr of targets (unpacking), a
// MemberExpr or an IndexExpr; the parser rejects anything else.
struct AssignStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::Assign;
  AssignStmt(SourceRange r) : Stmt(kKind, r) {}
  ExprPtr target;
  ExprPtr value;
};

// `target op= value` with op one of Add, Sub, Mul, Div.
struct AugAssignStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::AugAssign;
  AugAssignStmt(SourceRange r) : Stmt(kKind, r) {}
  ExprPtr target;
  BinaryOp op = BinaryOp::Add;
  SourceRange op_range;
  ExprPtr value;
};

// `if cond { } else { }`; `else if` is an IfStmt as the only statement of else_body.
struct IfStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::If;
  IfStmt(SourceRange r) : Stmt(kKind, r) {}
  ExprPtr condition;
  StmtBlock then_body;
  bool has_else = false;
  StmtBlock else_body;
};

// `for i in range(n) { }` / `range(start, stop[, step])`: a loop over a range known at
// compile time, unrolled by the checker. `for` is a word only at the start of a statement.
struct ForStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::For;
  ForStmt(SourceRange r) : Stmt(kKind, r) {}
  Identifier var;
  ExprPtr iterable;  // as written: a call of `range`
  StmtBlock body;
};

struct ReturnStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::Return;
  ReturnStmt(SourceRange r) : Stmt(kKind, r) {}
  ExprPtr value;  // null for a bare `return`; a TupleExpr for `return a, b`
};

struct ExprStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::ExprStmt;
  ExprStmt(SourceRange r) : Stmt(kKind, r) {}
  ExprPtr expr;
};

// ---- layer specifications -----------------------------------------------------------------
// `name: expr` inside a layer or tensor body.
struct Attribute {
  Identifier name;
  ExprPtr value;
  SourceRange range;
};

// What follows `layer name:` (and each child inside Sequential / if bodies):
//   Instance     Type { attrs }              (braces optional when there are no attributes)
//   Repeat       Type[count] { attrs }       n instances in sequence
//   Table        Type[] { rows; attrs }      one or more instances per row
//                Type[](col, ...) { ... }    with explicit column names
//   Conditional  if (cond) { children }      absent (None) when cond is false;
//                if (cond) Type { attrs }    a single child, same meaning;
//                ... else { children }       the else children when cond is false
//                ... else if (c2) ...        (an else branch that is itself a Conditional)
// A `Sequential { A {..} B {..} }` is an Instance of type Sequential whose body holds
// children instead of (or as well as) attributes; the checker decides which types may have
// children.
enum class LayerSpecKind : uint8_t { Instance, Repeat, Table, Conditional };

struct LayerSpec {
  LayerSpecKind kind = LayerSpecKind::Instance;
  SourceRange range;
  Identifier type_name;                   // empty for Conditional
  ExprPtr count;                          // Repeat
  bool has_columns = false;               // Table: `(col, ...)` was written
  std::vector<Identifier> columns;        // Table
  std::vector<std::unique_ptr<ListExpr>> rows;  // Table, in order
  ExprPtr condition;                      // Conditional
  std::vector<Attribute> attributes;      // in source order
  std::vector<std::unique_ptr<LayerSpec>> children;  // Sequential and Conditional bodies
  bool has_else = false;                             // Conditional: `else` was written
  std::vector<std::unique_ptr<LayerSpec>> else_children;  // Conditional: the `else` body
};
using LayerSpecPtr = std::unique_ptr<LayerSpec>;

// ---- items --------------------------------------------------------------------------------
struct Item {
  const ItemKind kind;
  SourceRange range;
  virtual ~Item() = default;

 protected:
  Item(ItemKind k, SourceRange r) : kind(k), range(r) {}
};
using ItemPtr = std::unique_ptr<Item>;

// `name: value`: a hyper-parameter (a constructor argument of the generated module).
struct HyperParamItem : Item {
  static constexpr ItemKind kKind = ItemKind::HyperParam;
  HyperParamItem(SourceRange r) : Item(kKind, r) {}
  Identifier name;
  ExprPtr value;
};

// `name: type = value`: a derived constant evaluated at construction.
struct ConstantItem : Item {
  static constexpr ItemKind kKind = ItemKind::Constant;
  ConstantItem(SourceRange r) : Item(kKind, r) {}
  Identifier name;
  TypeExprPtr type;
  ExprPtr value;
};

struct ParamDecl {
  Identifier name;
  TypeExprPtr type;
  ExprPtr default_value;  // null when required
  SourceRange range;
};

// `params { name: type [= default] ... }`
struct ParamsItem : Item {
  static constexpr ItemKind kKind = ItemKind::Params;
  ParamsItem(SourceRange r) : Item(kKind, r) {}
  std::vector<ParamDecl> params;
};

// `layer name: <spec>`
struct LayerItem : Item {
  static constexpr ItemKind kKind = ItemKind::Layer;
  LayerItem(SourceRange r) : Item(kKind, r) {}
  Identifier name;
  LayerSpecPtr spec;
};

// `param name: [if (cond)] Tensor[shape] { attrs }` or the same with `state` (a buffer).
struct TensorItem : Item {
  static constexpr ItemKind kKind = ItemKind::Tensor;
  TensorItem(SourceRange r) : Item(kKind, r) {}
  bool is_state = false;
  SourceRange keyword_range;
  Identifier name;
  ExprPtr condition;  // null unless the `if (cond)` form was used
  TypeExprPtr type;
  std::vector<Attribute> attributes;
  ExprPtr scalar_value;  // `param gain: float = 1.0`: a scalar tensor with this initial value
};

struct ForwardParam {
  Identifier name;
  TypeExprPtr type;  // null when not annotated
  SourceRange range;
};

// `forward(params) -> ReturnType { body }`
struct ForwardItem : Item {
  static constexpr ItemKind kKind = ItemKind::Forward;
  ForwardItem(SourceRange r) : Item(kKind, r) {}
  SourceRange keyword_range;
  std::vector<ForwardParam> params;
  TypeExprPtr return_type;  // null when `-> Type` is omitted
  StmtBlock body;
};

enum class SectionKind : uint8_t { Training, Performance, Optimization, Quantization };
std::string_view spelling(SectionKind kind);

// `training { ... }` and friends; the body is a map in source order.
struct SectionItem : Item {
  static constexpr ItemKind kKind = ItemKind::Section;
  SectionItem(SourceRange r) : Item(kKind, r) {}
  SectionKind section = SectionKind::Training;
  Identifier name;
  std::unique_ptr<MapExpr> body;
};

// ---- declarations and the file ----------------------------------------------------------
enum class DeclKind : uint8_t { Model, Block, Layer };
std::string_view spelling(DeclKind kind);

// `model Name { items }`, `block Name { items }`, `layer Name { items }`.
struct Decl {
  DeclKind kind = DeclKind::Model;
  SourceRange range;
  SourceRange keyword_range;
  Identifier name;
  std::vector<ItemPtr> items;  // in source order
};

// `fn name(params) -> Type { body }`: a user function of tensors, inlined at each call.
// `fn` is a word only at the top level (it stays usable as a name elsewhere); the signature
// and body have the shape of a `forward`, whose node they reuse.
struct FnDecl {
  SourceRange range;
  SourceRange keyword_range;
  Identifier name;
  std::unique_ptr<ForwardItem> signature;
};

struct File {
  SourceRange range;
  std::vector<std::unique_ptr<Decl>> decls;  // in source order
  std::vector<std::unique_ptr<FnDecl>> functions;  // in source order
};

}  // namespace triton::ast
