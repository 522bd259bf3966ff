// The deterministic text form of the IR for `--emit=ir` and `--emit=ir-opt`: modules in
// dependency order, then the entry's parameter count. Only vectors are walked, never hash
// maps, so the same program always prints the same bytes.
#include "ir/printer.h"

#include <string>

namespace triton::ir {

namespace {

std::string value_name(ValueId v) { return "%" + std::to_string(v.index); }

class Printer {
 public:
  explicit Printer(std::string& out) : out_(out) {}

  void program(const Program& p) {
    out_ += "; triton IR of " + p.source_name + ", entry `" + p.entry_module().name + "`\n";
    if (p.channels_last) out_ += "; layout: channels-last\n";
    if (!p.float32_matmul_precision.empty()) out_ += "; float32 matmul precision: " + p.float32_matmul_precision + "\n";
    for (const auto& m : p.modules) module(m);
    LayerCost c = p.root.total();
    out_ += "\nparameters: " + std::to_string(c.params()) + " (ternary " + std::to_string(c.ternary_weights) +
            ", float " + std::to_string(c.float_params) + ")\n";
  }

 static std::string attributes_text(const Op& op) { return attributes(op); }

 private:
  void module(const Module& m) {
    static const char* kinds[] = {"model", "block", "layer"};
    out_ += "\nmodule " + m.name + " (" + kinds[static_cast<int>(m.kind)] + ") {\n";
    for (const auto& c : m.constants) {
      out_ += std::string("  ") + (c.is_parameter ? "param " : "const ") + c.name;
      if (!c.type.empty()) out_ += ": " + c.type;
      if (c.value) out_ += " = " + expr(m, *c.value);
      if (c.value && m.expr(*c.value).kind != ExprKind::Literal) out_ += "  ; = " + c.default_value.to_source();
      out_ += "\n";
    }
    for (const auto& s : m.submodules) submodule(m, s);
    for (const auto& t : m.tensors) {
      out_ += std::string("  ") + (t.is_state ? "state " : "tensor ") + t.name + " [";
      for (size_t i = 0; i < t.shape.size(); ++i) out_ += (i ? ", " : "") + expr(m, t.shape[i]);
      out_ += "] init " + ConstValue::of_str(t.init).to_source();
      for (const auto& [k, e] : t.options) out_ += " " + k + ": " + expr(m, e);
      if (t.condition) out_ += " if " + expr(m, *t.condition);
      out_ += "\n";
    }
    if (m.forward) function(*m.forward);
    out_ += "}\n";
  }

  void submodule(const Module& m, const Submodule& s) {
    out_ += "  layer " + s.name + " = ";
    switch (s.form) {
      case SubmoduleForm::Single: out_ += instance(m, s.instances[0]); break;
      case SubmoduleForm::Repeat:
        out_ += "repeat " + expr(m, *s.count) + " [" + instance(m, s.instances[0]) + ", then " +
                instance(m, s.instances[1]) + "]";
        break;
      case SubmoduleForm::List:
      case SubmoduleForm::Conditional:
        if (s.condition) out_ += "if " + expr(m, *s.condition) + " ";
        out_ += "sequential [";
        for (size_t i = 0; i < s.instances.size(); ++i) out_ += (i ? ", " : "") + instance(m, s.instances[i]);
        out_ += "]";
        if (s.has_else) {
          out_ += " else sequential [";
          for (size_t i = 0; i < s.else_instances.size(); ++i) out_ += (i ? ", " : "") + instance(m, s.else_instances[i]);
          out_ += "]";
        }
        break;
    }
    if (s.fold_norms) out_ += " fold_norms";
    out_ += "\n";
  }

  std::string instance(const Module& m, const Instance& inst) {
    std::string s = inst.type_name + "(";
    for (size_t i = 0; i < inst.attrs.size(); ++i)
      s += (i ? ", " : "") + inst.attrs[i].first + ": " + expr(m, inst.attrs[i].second);
    for (size_t i = 0; i < inst.children.size(); ++i) s += (i || !inst.attrs.empty() ? ", " : "") + instance(m, inst.children[i]);
    return s + ")";
  }

  std::string expr(const Module& m, ExprId id) {
    const ExprNode& e = m.expr(id);
    switch (e.kind) {
      case ExprKind::Literal: return e.literal.to_source();
      case ExprKind::Ref: return e.name;
      case ExprKind::Unary:
        return std::string(e.unary_op == ConstUnaryOp::Not ? "not " : (e.unary_op == ConstUnaryOp::Neg ? "-" : "+")) +
               expr(m, e.operands[0]);
      case ExprKind::Binary:
        return "(" + expr(m, e.operands[0]) + " " + std::string(spelling(e.binary_op)) + " " +
               expr(m, e.operands[1]) + ")";
      case ExprKind::Call: {
        std::string s = e.name + "(";
        for (size_t i = 0; i < e.operands.size(); ++i) s += (i ? ", " : "") + expr(m, e.operands[i]);
        return s + ")";
      }
      case ExprKind::List: {
        std::string s = "[";
        for (size_t i = 0; i < e.operands.size(); ++i) s += (i ? ", " : "") + expr(m, e.operands[i]);
        return s + "]";
      }
      case ExprKind::Conditional:
        return "(" + expr(m, e.operands[0]) + " if " + expr(m, e.operands[1]) + " else " + expr(m, e.operands[2]) + ")";
    }
    return "?";
  }

  void function(const Function& f) {
    out_ += "  forward(";
    for (size_t i = 0; i < f.arg_names.size(); ++i)
      out_ += (i ? ", " : "") + f.arg_names[i] + ": " + f.arg_types[i].to_string();
    out_ += ")";
    if (f.return_type) out_ += " -> " + f.return_type->to_string();
    out_ += " {\n";
    region(f, f.body, 2);
    out_ += "  }\n";
  }

  void region(const Function& f, RegionId r, int depth) {
    for (OpId id : f.region(r).ops) {
      const Op& op = f.op(id);
      if (op.erased) continue;
      std::string ind(2 * depth, ' ');
      out_ += ind;
      for (size_t i = 0; i < op.results.size(); ++i) out_ += (i ? ", " : "") + value_name(op.results[i]);
      if (!op.results.empty()) out_ += " = ";
      out_ += std::string(op_spelling(op.kind));
      out_ += attributes(op);
      for (size_t i = 0; i < op.operands.size(); ++i) out_ += (i ? ", " : " ") + value_name(op.operands[i]);
      if (!op.results.empty()) {
        out_ += " :";
        for (ValueId v : op.results) out_ += " " + f.value(v).type.to_string();
      }
      if (op.kind == OpKind::If) {
        out_ += " {\n";
        region(f, op.regions[0], depth + 1);
        out_ += ind + "} else {\n";
        region(f, op.regions[1], depth + 1);
        out_ += ind + "}";
      }
      out_ += "\n";
    }
  }

  static std::string names(const std::vector<std::string>& arg_names) {
    bool any = false;
    for (const auto& n : arg_names) any = any || !n.empty();
    if (!any) return "";
    std::string s = " (";
    for (size_t i = 0; i < arg_names.size(); ++i) s += (i ? ", " : "") + (arg_names[i].empty() ? "_" : arg_names[i]);
    return s + ")";
  }

  static std::string attributes(const Op& op) {
    return std::visit(
        [&](const auto& a) -> std::string {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, InputAttrs>) return " " + a.name;
          else if constexpr (std::is_same_v<A, ConstantAttrs>) return " " + a.value.to_source();
          else if constexpr (std::is_same_v<A, ConstRefAttrs>) return " " + a.name;
          else if constexpr (std::is_same_v<A, TensorRefAttrs>) return " " + a.name;
          else if constexpr (std::is_same_v<A, LayerRefAttrs>) return " " + a.submodule;
          else if constexpr (std::is_same_v<A, AssignStateAttrs>) return " " + a.tensor;
          else if constexpr (std::is_same_v<A, CallLayerAttrs>) return " " + a.submodule + names(a.arg_names);
          else if constexpr (std::is_same_v<A, CallFunctionAttrs>) return " " + std::string(a.function->name) + names(a.arg_names);
          else if constexpr (std::is_same_v<A, CallFusedAttrs>)
            return " " + a.layer + (a.norm.empty() ? "" : " norm=" + a.norm) + (a.activation.empty() ? "" : " activation=" + a.activation);
          else if constexpr (std::is_same_v<A, BinaryAttrs>) return " " + std::string(ir_name(a.op));
          else if constexpr (std::is_same_v<A, UnaryAttrs>) return std::string(a.op == UnaryKind::Not ? " not" : (a.op == UnaryKind::Neg ? " neg" : " plus"));
          else if constexpr (std::is_same_v<A, IsNoneAttrs>) return a.negated ? " not" : "";
          else if constexpr (std::is_same_v<A, MemberAttrs>) return " " + a.member;
          else if constexpr (std::is_same_v<A, IndexAttrs>) {
            std::string s = " [";
            for (size_t i = 0; i < a.parts.size(); ++i) {
              const auto& p = a.parts[i];
              s += i ? ", " : "";
              if (p.kind == IndexPart::Kind::Value) s += "v";
              else if (p.kind == IndexPart::Kind::Ellipsis) s += "...";
              else s += std::string(p.has_lower ? "v" : "") + ":" + (p.has_upper ? "v" : "") + (p.has_step ? ":v" : "");
            }
            return s + "]";
          } else if constexpr (std::is_same_v<A, TupleGetAttrs>) return " " + std::to_string(a.index);
          else return "";
        },
        op.attrs);
  }

  std::string& out_;
};

}  // namespace

std::string op_attributes(const Op& op) { return Printer::attributes_text(op); }

std::string print_program(const Program& program) {
  std::string out;
  Printer(out).program(program);
  return out;
}

}  // namespace triton::ir
