// Writes the generated Python module: one `nn.Module` class per module of the IR (in
// dependency order, so every class is defined before it is used), `Model = <entry>`, the
// MODEL_INFO/TRAINING/PERFORMANCE/OPTIMIZATION data and the `program.main` call. Constructor
// arguments keep the hyper-parameters and `params`; derived constants and attribute values
// are emitted as Python expressions of them. Every identifier comes from a NameAllocator and
// every string from py_string (python_writer.h).
//
// Forward bodies: a value used once, in the same region, with no source name is inlined
// into its use (`F.relu(self.fc1(x))`); named values become assignments. A source name is
// reused for a new value unless the old value is still needed later, in which case the
// allocator gives a fresh name.
#include "codegen/pytorch/pytorch_backend.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "codegen/pytorch/python_writer.h"

namespace triton::codegen {

namespace {

using namespace ir;

const std::set<std::string> kModuleAttrs = {
    "training", "forward", "parameters", "named_parameters", "buffers", "named_buffers", "children",
    "named_children", "modules", "named_modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "eval",
    "train", "apply", "type", "float", "half", "double", "bfloat16", "zero_grad", "register_buffer",
    "register_parameter", "register_module", "add_module", "extra_repr", "requires_grad_", "share_memory",
    "get_submodule", "get_parameter", "get_buffer", "dump_patches", "call_super_init", "xpu", "ipu", "mtia",
    "to_empty", "compile", "_modules", "_parameters", "_buffers", "_version"};

struct ModuleNames {
  std::string cls;
  std::map<std::string, std::string> params;  // source name -> Python keyword
};

// A Python expression with whether it needs parentheses as an operand.
struct PyExpr {
  // Python precedence: 0 conditional, 1 or, 2 and, 3 not, 4 comparisons, 6 + -,
  // 7 * / // % @, 8 unary - +, 9 **, 10 atoms (names, calls, subscripts, literals).
  std::string text;
  int prec = 10;
  PyExpr(std::string t, bool atomic) : text(std::move(t)), prec(atomic ? 10 : 0) {}
  PyExpr(std::string t, int p) : text(std::move(t)), prec(p) {}
  std::string operand() const { return prec == 10 ? text : "(" + text + ")"; }
  // As an operand of an operator of precedence `p`: parenthesized when it binds more
  // loosely, or equally on the right (`a - (b - c)`).
  std::string left(int p) const { return prec < p ? "(" + text + ")" : text; }
  std::string right(int p) const { return prec <= p ? "(" + text + ")" : text; }
};

// `a op b` in Python with the operator's precedence from ast/binary_ops.def (the scale of
// PyExpr), never chaining comparisons (`a < b < c` means something else in Python) or
// misreading `**`'s right associativity.
PyExpr binary_text(const PyExpr& a, BinaryOp op, const PyExpr& b) {
  const int p = precedence(op);
  const bool non_assoc = p == kComparisonPrecedence || op == BinaryOp::Pow;
  std::string l = non_assoc ? a.right(p) : a.left(p);
  return {l + " " + std::string(python_spelling(op)) + " " + b.right(p), p};
}


// A constant as Python, broken over lines when long (for the data dictionaries).
std::string pretty(const ConstValue& v, int depth) {
  std::string flat = py_value(v);
  if (flat.size() + depth * 4 <= 92 || !(v.is_map() || v.is_list())) return flat;
  std::string pad((depth + 1) * 4, ' '), end(depth * 4, ' ');
  std::string out = v.is_map() ? "{\n" : "[\n";
  if (v.is_map())
    for (const auto& [k, e] : v.as_map()) out += pad + py_string(k) + ": " + pretty(e, depth + 1) + ",\n";
  else
    for (const auto& e : v.as_list()) out += pad + pretty(e, depth + 1) + ",\n";
  return out + end + (v.is_map() ? "}" : "]");
}

class Emitter {
 public:
  explicit Emitter(const Program& p) : p_(p) {
    for (const char* n : {"torch", "nn", "F", "I", "L", "program", "Model", "MODEL_INFO", "TRAINING", "PERFORMANCE", "OPTIMIZATION"})
      globals_.reserve(n);
    for (const auto& m : p.modules) {
      ModuleNames names;
      names.cls = globals_.allocate(m.name);
      names_.push_back(names);
    }
    for (size_t i = 0; i < p.modules.size(); ++i) {
      NameAllocator locals = init_allocator();
      for (const auto& c : p.modules[i].constants)
        if (c.is_parameter) names_[i].params[c.name] = locals.allocate(c.name);
    }
  }

  std::string run() {
    const Module& entry = p_.entry_module();
    for (size_t i = 0; i < p_.modules.size(); ++i) {
      w_.line("");
      w_.line("");
      module(i);
    }
    w_.blank(2);
    w_.line("Model = " + names_[p_.entry.index].cls);
    w_.blank();
    ConstMap info;
    info.emplace_back("name", ConstValue::of_str(entry.name));
    info.emplace_back("source", ConstValue::of_str(p_.source_name));
    ConstList inputs;
    for (const auto& in : p_.inputs) {
      ConstList dims;
      for (const Dim& d : in.shape.dims)
        dims.push_back(d.is_known() ? ConstValue::of_int(d.size) : ConstValue::of_str(d.kind == Dim::Kind::Symbol ? d.symbol : "?"));
      inputs.push_back(ConstValue::of_map({{"name", ConstValue::of_str(in.name)}, {"shape", ConstValue::of_list(dims)}}));
    }
    info.emplace_back("inputs", ConstValue::of_list(inputs));
    ConstMap hyper;
    for (const auto& c : entry.constants)
      if (c.is_parameter) hyper.emplace_back(names_[p_.entry.index].params[c.name], c.default_value);
    info.emplace_back("hyperparameters", ConstValue::of_map(hyper));
    info.emplace_back("parameters", ConstValue::of_int(p_.root.total().params()));
    if (!p_.float32_matmul_precision.empty())
      info.emplace_back("float32_matmul_precision", ConstValue::of_str(p_.float32_matmul_precision));
    w_.line("MODEL_INFO = " + pretty(ConstValue::of_map(info), 0));
    w_.line("TRAINING = " + pretty(p_.training, 0));
    w_.line("PERFORMANCE = " + pretty(p_.performance, 0));
    w_.line("OPTIMIZATION = " + pretty(p_.optimization, 0));
    w_.blank();
    w_.line("if __name__ == \"__main__\":");
    w_.indent();
    w_.line("program.main(Model, info=MODEL_INFO, training=TRAINING, performance=PERFORMANCE,");
    w_.line("             optimization=OPTIMIZATION, script=__file__)");
    w_.dedent();
    // The imports come last so that an import the body does not use can be marked as
    // deliberate (the contract fixes the import list; ruff would flag it as unused).
    const std::string& body = w_.text();
    auto used = [&](const std::string& prefix) {
      for (size_t at = body.find(prefix); at != std::string::npos; at = body.find(prefix, at + 1))
        if (at == 0 || !(std::isalnum(static_cast<unsigned char>(body[at - 1])) || body[at - 1] == '_' || body[at - 1] == '.')) return true;
      return false;
    };
    auto import = [&](const std::string& line, const std::string& prefix) {
      return line + (used(prefix) ? "" : "  # noqa: F401") + "\n";
    };
    std::string head = "\"\"\"" + escape_doc(entry.name) + ", compiled by `triton compile` from " + escape_doc(p_.source_name) +
                       ". Do not edit.\"\"\"\n";
    // The import block is fixed by the contract; whether `triton_dsl` sorts as first- or
    // third-party depends on where the file is checked, so isort's rule is off for it.
    head += "# isort: skip_file\n";
    head += import("import torch", "torch.");
    head += "from torch import nn\n\n";
    head += import("from triton_dsl import functional as F", "F.");
    head += import("from triton_dsl import init as I", "I.");
    head += import("from triton_dsl import layers as L", "L.");
    head += "from triton_dsl import program\n";
    return head + body;
  }

 private:
  static std::string escape_doc(const std::string& s) {
    std::string lit = py_string(s);
    return lit.substr(1, lit.size() - 2);
  }

  NameAllocator init_allocator() const {
    NameAllocator a({"self", "torch", "nn", "F", "I", "L", "program"});
    for (const auto& n : names_) a.reserve(n.cls);
    return a;
  }

  // ---- construction ----
  struct InitCtx {
    const Module* m;
    std::map<std::string, std::string> local;  // constant -> __init__ local
    std::map<std::string, std::string> types;   // constant -> "int"/"float"/...
  };

  std::string static_type(const InitCtx& c, ExprId id) {
    const ExprNode& e = c.m->expr(id);
    switch (e.kind) {
      case ExprKind::Literal: return e.literal.type_name();
      case ExprKind::Ref: {
        auto it = c.types.find(e.name);
        return it == c.types.end() ? "?" : it->second;
      }
      case ExprKind::Binary: {
        std::string a = static_type(c, e.operands[0]), b = static_type(c, e.operands[1]);
        if (is_comparison(e.binary_op)) return "bool";
        if (e.binary_op == BinaryOp::FloorDiv) return "int";
        if (a == "int" && b == "int") return "int";
        if ((a == "int" || a == "float") && (b == "int" || b == "float")) return "float";
        return "?";
      }
      case ExprKind::Call: return e.name == "float" ? "float" : (e.name == "min" || e.name == "max") ? static_type(c, e.operands[0]) : "int";
      default: return e.value.is_none() ? "?" : e.value.type_name();
    }
  }

  PyExpr init_expr(const InitCtx& c, ExprId id) {
    const ExprNode& e = c.m->expr(id);
    switch (e.kind) {
      case ExprKind::Literal: return {py_value(e.literal), true};
      case ExprKind::Ref: return {c.local.at(e.name), true};
      case ExprKind::Unary: {
        PyExpr a = init_expr(c, e.operands[0]);
        if (e.unary_op == ConstUnaryOp::Not) return {"not " + a.left(3), 3};
        return {std::string(e.unary_op == ConstUnaryOp::Neg ? "-" : "+") + a.left(8), 8};
      }
      case ExprKind::Binary: {
        PyExpr a = init_expr(c, e.operands[0]), b = init_expr(c, e.operands[1]);
        BinaryOp op = e.binary_op;
        // `/` of two ints is exact wherever the checker accepted it: integer division keeps an int.
        if (op == BinaryOp::Div && static_type(c, e.operands[0]) == "int" && static_type(c, e.operands[1]) == "int" &&
            (e.value.is_none() || e.value.is_int()))
          op = BinaryOp::FloorDiv;
        return binary_text(a, op, b);
      }
      case ExprKind::Call: {
        if (e.name == "floor_div") return binary_text(init_expr(c, e.operands[0]), BinaryOp::FloorDiv, init_expr(c, e.operands[1]));
        std::string s = e.name + "(";
        for (size_t i = 0; i < e.operands.size(); ++i) s += (i ? ", " : "") + init_expr(c, e.operands[i]).text;
        return {s + ")", true};
      }
      case ExprKind::List: {
        std::string s = "[";
        for (size_t i = 0; i < e.operands.size(); ++i) s += (i ? ", " : "") + init_expr(c, e.operands[i]).text;
        return {s + "]", true};
      }
      case ExprKind::Conditional:
        return {init_expr(c, e.operands[0]).right(0) + " if " + init_expr(c, e.operands[1]).right(0) + " else " +
                    init_expr(c, e.operands[2]).left(0),
                0};
    }
    return {"None", true};
  }

  // An attribute value, made an int where the callee requires one and the expression is float.
  std::string attr_value(const InitCtx& c, ExprId id, bool wants_int) {
    PyExpr e = init_expr(c, id);
    if (wants_int && static_type(c, id) == "float") return "int(" + e.text + ")";
    return e.text;
  }

  std::string instance(const InitCtx& c, const Instance& inst) {
    if (inst.builtin && inst.builtin->is_container) {
      std::vector<std::string> items;
      for (const auto& ch : inst.children) items.push_back(instance(c, ch));
      return call_text("nn.Sequential", items);
    }
    std::vector<std::string> args;
    // Keyword arguments in declaration order (the schema's or the block's `params`), however
    // the stack expansion ordered them.
    auto attrs = inst.attrs;
    auto rank = [&](const std::string& name) -> size_t {
      if (inst.builtin) {
        for (size_t i = 0; i < inst.builtin->attrs.size(); ++i)
          if (inst.builtin->attrs[i].name == name) return i;
      } else {
        const auto& cs = p_.module(*inst.user).constants;
        for (size_t i = 0; i < cs.size(); ++i)
          if (cs[i].name == name) return i;
      }
      return SIZE_MAX;
    };
    std::stable_sort(attrs.begin(), attrs.end(), [&](const auto& x, const auto& y) { return rank(x.first) < rank(y.first); });
    if (inst.builtin) {
      for (const auto& [k, e] : attrs) {
        const AttrSchema* a = inst.builtin->find_attr(k);
        args.push_back(k + "=" + attr_value(c, e, a && a->type == AttrType::Int));
      }
      return call_text("L." + inst.type_name, args);
    }
    const Module& um = p_.module(*inst.user);
    const ModuleNames& un = names_[inst.user->index];
    for (const auto& [k, e] : attrs) {
      const ConstantDecl* d = um.find_constant(k);
      args.push_back(un.params.at(k) + "=" + attr_value(c, e, d && d->type == "int"));
    }
    return call_text(un.cls, args);
  }

  static std::string call_text(const std::string& head, const std::vector<std::string>& args) {
    std::string s = head + "(";
    for (size_t i = 0; i < args.size(); ++i) s += (i ? ", " : "") + args[i];
    return s + ")";
  }

  void assign_call(const std::string& target, const std::string& head, const std::vector<std::string>& items, const std::string& suffix = "") {
    w_.statement(target + " = " + call_text(head, items) + suffix);
  }

  // The derived constants the constructor must compute: those read by a layer's attributes,
  // repeat count or condition, by a tensor declaration, by `forward`, or by another needed
  // constant. One read only when the file was compiled (a `for` bound, unrolled) is not
  // written, so the constructor holds no unused variable.
  static std::set<std::string> constants_needed(const Module& m) {
    std::set<std::string> needed;
    std::vector<ExprId> work;
    auto instance = [&](auto&& self, const Instance& inst) -> void {
      for (const auto& [name, e] : inst.attrs) work.push_back(e);
      for (const auto& child : inst.children) self(self, child);
    };
    for (const auto& s : m.submodules) {
      for (const auto& inst : s.instances) instance(instance, inst);
      for (const auto& inst : s.else_instances) instance(instance, inst);
      if (s.count) work.push_back(*s.count);
      if (s.condition) work.push_back(*s.condition);
    }
    for (const auto& t : m.tensors) {
      for (ExprId e : t.shape) work.push_back(e);
      for (const auto& [name, e] : t.options) work.push_back(e);
      if (t.condition) work.push_back(*t.condition);
    }
    if (m.forward)
      for (const auto& op : m.forward->ops)
        if (!op.erased && op.kind == OpKind::ConstRef) needed.insert(attrs_of<ConstRefAttrs>(op).name);
    for (const auto& name : std::set<std::string>(needed))
      if (const ConstantDecl* c = m.find_constant(name); c && c->value) work.push_back(*c->value);
    while (!work.empty()) {
      const ExprNode& e = m.expr(work.back());
      work.pop_back();
      for (ExprId o : e.operands) work.push_back(o);
      if (e.kind != ExprKind::Ref || !needed.insert(e.name).second) continue;
      if (const ConstantDecl* c = m.find_constant(e.name); c && c->value) work.push_back(*c->value);
    }
    return needed;
  }

  void module(size_t index) {
    const Module& m = p_.modules[index];
    const ModuleNames& mn = names_[index];
    w_.line("class " + mn.cls + "(nn.Module):");
    w_.indent();
    static const char* kinds[] = {"model", "block", "layer"};
    w_.line("\"\"\"The `" + escape_doc(m.name) + "` " + kinds[static_cast<int>(m.kind)] + ".\"\"\"");
    w_.blank();
    NameAllocator locals = init_allocator();
    InitCtx c{&m, {}, {}};
    std::string sig = "def __init__(self";
    bool star = false;
    std::vector<std::string> late_defaults;  // `if b is None: b = a * 3`, first in the body
    for (const auto& k : m.constants) {
      if (!k.is_parameter) continue;
      std::string py = locals.allocate(k.name);
      c.local[k.name] = py;
      std::string type = k.type.empty() ? k.default_value.type_name() : k.type;
      if (type.rfind("list", 0) == 0) type = "list";
      if (type == "None" || type == "map") type = "";
      c.types[k.name] = type;
      if (!star) sig += ", *";
      star = true;
      // A default that reads no other parameter is emitted as the value the checker computed
      // (which it has checked): `1 / 0` or a huge product never reach the import. One that
      // reads another parameter (`b: a * 3`) cannot sit in the signature, where `a` is not
      // in scope: it defaults to None and is computed first thing in the body.
      if (k.value && !m.is_closed(*k.value)) {
        sig += ", " + py + (type.empty() ? "" : ": " + type + " | None") + " = None";
        late_defaults.push_back("if " + py + " is None:\n    " + py + " = " + init_expr(c, *k.value).text);
        continue;
      }
      sig += ", " + py + (type.empty() ? "" : ": " + type);
      if (k.value) sig += " = " + py_value(m.expr(*k.value).value);
    }
    w_.statement(sig + ") -> None:");
    w_.indent();
    w_.line("super().__init__()");
    for (const auto& text : late_defaults) w_.line(text);
    const std::set<std::string> needed = constants_needed(m);
    for (const auto& k : m.constants) {
      if (k.is_parameter || !needed.count(k.name)) continue;
      std::string py = locals.allocate(k.name);
      c.types[k.name] = k.type.empty() ? k.default_value.type_name() : k.type;
      std::string value = attr_value(c, *k.value, k.type == "int");
      c.local[k.name] = py;
      w_.line(py + " = " + value);
    }
    // `self.` attributes: layers and tensors first, then constants that forward reads.
    NameAllocator attrs(kModuleAttrs);
    self_.clear();
    for (const auto& s : m.submodules) self_["layer:" + s.name] = attrs.allocate(s.name);
    for (const auto& t : m.tensors) self_["tensor:" + t.name] = attrs.allocate(t.name);
    if (m.forward)
      for (const auto& op : m.forward->ops)
        if (op.kind == OpKind::ConstRef && !op.erased) {
          const std::string& n = attrs_of<ConstRefAttrs>(op).name;
          if (!self_.count("const:" + n)) {
            self_["const:" + n] = attrs.allocate(n);
            w_.line("self." + self_["const:" + n] + " = " + c.local.at(n));
          }
        }
    for (const auto& s : m.submodules) {
      std::string target = "self." + self_["layer:" + s.name];
      switch (s.form) {
        case SubmoduleForm::Single: w_.statement(target + " = " + instance(c, s.instances[0])); break;
        case SubmoduleForm::Repeat: {
          const ExprNode& count = m.expr(*s.count);
          std::vector<std::string> items{instance(c, s.instances[0])};
          if (count.kind == ExprKind::Literal && count.literal.is_int()) {
            for (int64_t i = 1; i < count.literal.as_int(); ++i) items.push_back(instance(c, s.instances[1]));
          } else {
            items.push_back("*(" + instance(c, s.instances[1]) + " for _ in range(" + init_expr(c, *s.count).left(6) + " - 1))");
          }
          assign_call(target, "nn.Sequential", items);
          break;
        }
        case SubmoduleForm::List:
        case SubmoduleForm::Conditional: {
          std::vector<std::string> items;
          for (const auto& inst : s.instances) items.push_back(instance(c, inst));
          std::string otherwise = "None";
          if (s.has_else) {
            std::vector<std::string> alt;
            for (const auto& inst : s.else_instances) alt.push_back(instance(c, inst));
            otherwise = call_text("nn.Sequential", alt);
          }
          std::string suffix = s.condition ? " if " + init_expr(c, *s.condition).right(0) + " else " + otherwise : "";
          assign_call(target, "nn.Sequential", items, suffix);
          break;
        }
      }
    }
    for (const auto& t : m.tensors) {
      std::string shape = "[";
      for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + attr_value(c, t.shape[i], true);
      shape += "]";
      std::string make = "I.tensor(" + shape + ", init=" + py_string(t.init);
      for (const auto& [k, e] : t.options) make += ", " + k + "=" + init_expr(c, e).text;
      make += ")";
      std::string cond = t.condition ? " if " + init_expr(c, *t.condition).right(0) + " else None" : "";
      const std::string& attr = self_["tensor:" + t.name];
      if (t.is_state) w_.statement("self.register_buffer(" + py_string(attr) + ", " + make + cond + ")");
      else if (t.condition) w_.statement("self." + attr + " = nn.Parameter(" + make + ")" + cond);
      else w_.statement("self." + attr + " = nn.Parameter(" + make + ")");
    }
    if (p_.channels_last && index == p_.entry.index) w_.line("self.to(memory_format=torch.channels_last)  # -O3 layout");
    w_.dedent();
    if (m.forward) {
      w_.blank();
      forward(m, *m.forward);
    }
    w_.dedent();
  }

  // ---- forward ----
  struct FwdCtx {
    const Function* f = nullptr;
    std::vector<int> uses;
    std::vector<bool> inline_value;
    std::vector<std::string> name;   // Python name of a named value
    std::vector<int> def_pos, last_use;
    std::vector<std::vector<int>> use_pos;
    // Position spans of each `if`'s two branches: a use in one branch is never reached from
    // a definition in the other, so the two may share a variable.
    struct Span { int then_begin, then_end, else_begin, else_end; };
    std::vector<Span> spans;
    std::map<std::string, int> holder;  // Python name -> value index it holds
    NameAllocator alloc;
    std::map<uint32_t, uint32_t> region_of_value_use;  // value -> region of its single use
    std::map<uint32_t, std::string> preassigned;       // value -> the `if` result it becomes
    std::map<uint32_t, std::vector<ValueId>> unpacked; // tuple -> its elements, `a, b = t`
    std::set<uint32_t> unpack_elements;                // emitted by their tuple's statement
  };

  void number(FwdCtx& c, RegionId r, int& pos) {
    for (OpId id : c.f->region(r).ops) {
      const Op& op = c.f->op(id);
      if (op.erased) continue;
      int here = pos++;
      for (ValueId v : op.operands) {
        c.uses[v.index]++;
        c.last_use[v.index] = std::max(c.last_use[v.index], here);
        c.use_pos[v.index].push_back(here);
        c.region_of_value_use[v.index] = r.index;
      }
      if (op.kind == OpKind::If) {
        FwdCtx::Span span{};
        span.then_begin = pos;
        number(c, op.regions[0], pos);
        span.then_end = pos;
        span.else_begin = pos;
        number(c, op.regions[1], pos);
        span.else_end = pos;
        c.spans.push_back(span);
      }
      int end = pos++;
      for (ValueId v : op.results) c.def_pos[v.index] = op.kind == OpKind::If ? end : here;
    }
  }

  void forward(const Module& m, const Function& f) {
    FwdCtx c;
    c.f = &f;
    c.alloc = init_allocator();
    size_t n = f.values.size();
    c.uses.assign(n, 0);
    c.inline_value.assign(n, false);
    c.name.assign(n, "");
    c.def_pos.assign(n, -1);
    c.last_use.assign(n, -1);
    c.use_pos.assign(n, {});
    int pos = 0;
    number(c, f.body, pos);
    std::vector<uint32_t> region_of_def(n, UINT32_MAX);
    for (size_t r = 0; r < f.regions.size(); ++r)
      for (OpId id : f.regions[r].ops)
        for (ValueId v : f.op(id).results) region_of_def[v.index] = static_cast<uint32_t>(r);
    // A state the forward assigns is read into a variable where the source reads it:
    // inlined at a later use, `self.s` would already hold the new value.
    std::set<std::string> assigned_states;
    for (const auto& op : f.ops)
      if (!op.erased && op.kind == OpKind::AssignState) assigned_states.insert(attrs_of<AssignStateAttrs>(op).tensor);
    for (const auto& op : f.ops) {
      if (op.erased || op.results.size() != 1) continue;
      ValueId v = op.results[0];
      const bool stable_read = op.kind != OpKind::TensorRef || !assigned_states.count(attrs_of<TensorRefAttrs>(op).name);
      bool trivial = op.kind == OpKind::Constant || op.kind == OpKind::ConstRef || (op.kind == OpKind::TensorRef && stable_read) ||
                     op.kind == OpKind::LayerRef || op.kind == OpKind::Training;
      bool single = f.value(v).name_hint.empty() && c.uses[v.index] == 1 && region_of_def[v.index] == c.region_of_value_use[v.index] &&
                    op.kind != OpKind::Input && op.kind != OpKind::If && stable_read;
      c.inline_value[v.index] = trivial || single;
    }
    // `b, n, c = x.shape`: a tuple whose only uses are one `tuple_get` per element, all in
    // its region, is unpacked in one statement.
    std::map<uint32_t, std::vector<ValueId>> gets;
    for (const auto& op : f.ops)
      if (!op.erased && op.kind == OpKind::TupleGet) gets[op.operands[0].index].push_back(op.results[0]);
    for (auto& [tuple, elems] : gets) {
      uint32_t count = attrs_of<TupleGetAttrs>(f.op(f.value(elems[0]).def)).count;
      if (count < 2 || elems.size() != count || c.uses[tuple] != static_cast<int>(count)) continue;
      std::vector<ValueId> ordered(count);
      bool ok = true;
      for (ValueId e : elems) {
        const Op& g = f.op(f.value(e).def);
        uint32_t i = attrs_of<TupleGetAttrs>(g).index;
        ok = ok && i < count && !ordered[i].valid() && region_of_def[e.index] == region_of_def[tuple] && !c.inline_value[e.index];
        if (ok) ordered[i] = e;
      }
      if (!ok) continue;
      c.unpacked[tuple] = ordered;
      c.inline_value[tuple] = false;
      for (ValueId e : ordered) c.unpack_elements.insert(e.index);
    }
    std::string sig = "def forward(self";
    for (const auto& op : f.region(f.body).ops) {
      const Op& o = f.op(op);
      if (o.kind != OpKind::Input) continue;
      std::string py = c.alloc.allocate(attrs_of<InputAttrs>(o).name);
      c.name[o.results[0].index] = py;
      c.holder[py] = static_cast<int>(o.results[0].index);
      sig += ", " + py;
    }
    w_.line(sig + "):");
    w_.indent();
    size_t before = w_.text().size();
    // -O3 layout: 4-d inputs of the entry model enter in channels-last order, the order of
    // its parameters, so no convolution converts them on every call.
    if (p_.channels_last && &m == &p_.entry_module())
      for (const auto& op : f.region(f.body).ops) {
        const Op& o = f.op(op);
        if (o.kind != OpKind::Input || f.value(o.results[0]).type.shape.rank() != 4) continue;
        const std::string& py = c.name[o.results[0].index];
        w_.line(py + " = " + py + ".contiguous(memory_format=torch.channels_last)");
      }
    region(c, f.body);
    if (w_.text().size() == before) w_.line("pass");
    w_.dedent();
  }

  // Whether value `w` is still needed by a use reachable after position `p`.
  static bool live_after(const FwdCtx& c, int w, int p) {
    for (int u : c.use_pos[w]) {
      if (u <= p) continue;
      bool other_branch = false;
      for (const auto& s : c.spans)
        other_branch = other_branch || (p >= s.then_begin && p < s.then_end && u >= s.else_begin && u < s.else_end);
      if (!other_branch) return true;
    }
    return false;
  }

  // The Python name for a value about to be defined at `def_pos`.
  std::string name_for(FwdCtx& c, ValueId v) {
    if (auto it = c.preassigned.find(v.index); it != c.preassigned.end()) {
      c.name[v.index] = it->second;
      return it->second;
    }
    const std::string& hint = c.f->value(v).name_hint;
    std::string base = hint.empty() ? "t" : hint;
    // Reuse the variable of the same source name when its current value is dead by now.
    std::string py;
    for (const auto& [pyname, held] : c.holder) {
      if (c.f->value(ValueId(static_cast<size_t>(held))).name_hint == base && !live_after(c, held, c.def_pos[v.index]) && pyname.rfind(base, 0) == 0) {
        py = pyname;
        break;
      }
    }
    if (py.empty()) py = c.alloc.allocate(base);
    c.holder[py] = static_cast<int>(v.index);
    c.name[v.index] = py;
    return py;
  }

  PyExpr value(FwdCtx& c, ValueId v) {
    if (c.inline_value[v.index]) return op_expr(c, c.f->op(c.f->value(v).def));
    return {c.name[v.index], true};
  }

  PyExpr op_expr(FwdCtx& c, const Op& op) {
    auto arg = [&](size_t i) { return value(c, op.operands[i]); };
    switch (op.kind) {
      case OpKind::Input: return {c.name[op.results[0].index], true};
      case OpKind::Constant: return {py_value(attrs_of<ConstantAttrs>(op).value), true};
      case OpKind::ConstRef: return {"self." + self_.at("const:" + attrs_of<ConstRefAttrs>(op).name), true};
      case OpKind::TensorRef: return {"self." + self_.at("tensor:" + attrs_of<TensorRefAttrs>(op).name), true};
      case OpKind::LayerRef: return {"self." + self_.at("layer:" + attrs_of<LayerRefAttrs>(op).submodule), true};
      case OpKind::Training: return {"self.training", true};
      case OpKind::CallLayer: {
        std::string s = "self." + self_.at("layer:" + attrs_of<CallLayerAttrs>(op).submodule) + "(";
        for (size_t i = 0; i < op.operands.size(); ++i) s += (i ? ", " : "") + arg(i).text;
        return {s + ")", true};
      }
      case OpKind::CallFunction: {
        const auto& a = attrs_of<CallFunctionAttrs>(op);
        if (a.function->python_name.empty()) return binary_text(arg(0), BinaryOp::FloorDiv, arg(1));
        std::string s = "F." + std::string(a.function->python_name) + "(";
        for (size_t i = 0; i < op.operands.size(); ++i)
          s += (i ? ", " : "") + (a.arg_names[i].empty() ? "" : a.arg_names[i] + "=") + arg(i).text;
        if (a.function->name == "dropout") s += ", training=self.training";
        return {s + ")", true};
      }
      case OpKind::CallFused: {
        const auto& a = attrs_of<CallFusedAttrs>(op);
        std::string s = "F.fused(self." + self_.at("layer:" + a.layer) + ", " + arg(0).text;
        if (!a.norm.empty()) s += ", norm=self." + self_.at("layer:" + a.norm);
        if (!a.activation.empty()) s += ", activation=" + py_string(a.activation);
        return {s + ")", true};
      }
      case OpKind::Binary: {
        BinaryOp k = attrs_of<BinaryAttrs>(op).op;
        using VK = ValueType::Kind;
        if (k == BinaryOp::Div && c.f->value(op.operands[0]).type.kind == VK::Int && c.f->value(op.operands[1]).type.kind == VK::Int)
          k = BinaryOp::FloorDiv;
        return binary_text(arg(0), k, arg(1));
      }
      case OpKind::Unary: {
        auto k = attrs_of<UnaryAttrs>(op).op;
        if (k == UnaryKind::Not) return {"not " + arg(0).left(3), 3};
        return {(k == UnaryKind::Neg ? "-" : "+") + arg(0).left(8), 8};
      }
      case OpKind::IsNone: return {arg(0).right(4) + (attrs_of<IsNoneAttrs>(op).negated ? " is not None" : " is None"), 4};
      case OpKind::Member: return {arg(0).operand() + "." + attrs_of<MemberAttrs>(op).member, true};
      case OpKind::Index: {
        const auto& a = attrs_of<IndexAttrs>(op);
        size_t next = 1;
        std::string s = arg(0).operand() + "[";
        for (size_t i = 0; i < a.parts.size(); ++i) {
          const auto& p = a.parts[i];
          s += i ? ", " : "";
          if (p.kind == IndexPart::Kind::Ellipsis) s += "...";
          else if (p.kind == IndexPart::Kind::Value) s += arg(next++).text;
          else {
            if (p.has_lower) s += arg(next++).text;
            s += ":";
            if (p.has_upper) s += arg(next++).text;
            if (p.has_step) s += ":" + arg(next++).text;
          }
        }
        if (a.parts.empty()) s += "()";
        return {s + "]", true};
      }
      case OpKind::MakeTuple:
      case OpKind::MakeList: {
        bool list = op.kind == OpKind::MakeList;
        std::string s = list ? "[" : "(";
        for (size_t i = 0; i < op.operands.size(); ++i) s += (i ? ", " : "") + arg(i).text;
        if (!list && op.operands.size() == 1) s += ",";
        return {s + (list ? "]" : ")"), true};
      }
      case OpKind::TupleGet: return {arg(0).operand() + "[" + std::to_string(attrs_of<TupleGetAttrs>(op).index) + "]", true};
      case OpKind::Select: return {arg(1).right(0) + " if " + arg(0).right(0) + " else " + arg(2).left(0), 0};
      default: return {"None", true};
    }
  }

  void region(FwdCtx& c, RegionId r) {
    for (OpId id : c.f->region(r).ops) {
      const Op& op = c.f->op(id);
      if (op.erased) continue;
      switch (op.kind) {
        case OpKind::Input: break;
        case OpKind::Return: w_.line("return " + value(c, op.operands[0]).text); break;
        case OpKind::Yield: break;
        case OpKind::AssignState:
          // A new tensor, not an in-place copy: a value read from the state before the
          // update keeps what it read. Detached: a state is not trained.
          w_.line("self." + self_.at("tensor:" + attrs_of<AssignStateAttrs>(op).tensor) + " = " +
                  value(c, op.operands[0]).operand() + ".detach()");
          break;
        case OpKind::If: {
          std::vector<std::string> names;
          // The results' variables are only assigned at the end of each branch: inside
          // the branches the variables still hold what they held before the `if`.
          auto before_if = c.holder;
          for (ValueId v : op.results) names.push_back(name_for(c, v));
          c.holder = before_if;
          // A value computed in a branch only to become the `if`'s result is assigned to the
          // result's variable directly (`identity = self.shortcut(x)`).
          for (RegionId sub : op.regions) {
            const Op& y = c.f->op(c.f->region(sub).ops.back());
            for (size_t i = 0; i < y.operands.size(); ++i) {
              ValueId v = y.operands[i];
              const Op& d = c.f->op(c.f->value(v).def);
              bool local = false;
              for (OpId sid : c.f->region(sub).ops) local = local || sid == c.f->value(v).def;
              if (local && c.uses[v.index] == 1 && !c.inline_value[v.index] && (d.results.size() == 1 || d.kind == OpKind::If))
                c.preassigned[v.index] = names[i];
            }
          }
          w_.line("if " + value(c, op.operands[0]).text + ":");
          for (size_t b = 0; b < 2; ++b) {
            if (b == 1) {
              // Skip an else branch that assigns nothing.
              bool any = false;
              for (OpId sid : c.f->region(op.regions[1]).ops) any = any || (!c.f->op(sid).erased && c.f->op(sid).kind != OpKind::Yield);
              const Op& y = c.f->op(c.f->region(op.regions[1]).ops.back());
              for (size_t i = 0; i < y.operands.size(); ++i) any = any || value(c, y.operands[i]).text != names[i];
              if (!any) break;
              w_.line("else:");
            }
            w_.indent();
            size_t before = w_.text().size();
            region(c, op.regions[b]);
            const Op& y = c.f->op(c.f->region(op.regions[b]).ops.back());
            // The branch's results move into the `if`'s variables all at once when one move
            // would overwrite another's source.
            std::vector<std::pair<std::string, std::string>> moves;
            for (size_t i = 0; i < y.operands.size(); ++i) {
              std::string v = value(c, y.operands[i]).text;
              if (v != names[i]) moves.emplace_back(names[i], v);
            }
            bool clash = false;
            for (const auto& [t, src] : moves)
              for (const auto& [t2, src2] : moves) clash = clash || (t != t2 && src2 == t);
            if (clash) {
              std::string lhs, rhs;
              for (const auto& [t, src] : moves) {
                lhs += (lhs.empty() ? "" : ", ") + t;
                rhs += (rhs.empty() ? "" : ", ") + src;
              }
              w_.line(lhs + " = " + rhs);
            } else {
              for (const auto& [t, src] : moves) w_.line(t + " = " + src);
            }
            if (w_.text().size() == before) w_.line("pass");
            w_.dedent();
          }
          for (size_t i = 0; i < op.results.size(); ++i) c.holder[names[i]] = static_cast<int>(op.results[i].index);
          break;
        }
        default: {
          if (op.results.empty()) break;
          ValueId v = op.results[0];
          if (c.inline_value[v.index] || c.unpack_elements.count(v.index)) break;
          std::string text = op_expr(c, op).text;
          if (auto it = c.unpacked.find(v.index); it != c.unpacked.end()) {
            std::string targets;
            for (ValueId e : it->second) targets += (targets.empty() ? "" : ", ") + name_for(c, e);
            w_.line(targets + " = " + text);
            break;
          }
          if (c.uses[v.index] == 0 && c.f->value(v).name_hint.empty()) {
            w_.line(text);
            break;
          }
          w_.line(name_for(c, v) + " = " + text);
        }
      }
    }
  }

  const Program& p_;
  PythonWriter w_;
  NameAllocator globals_;
  std::vector<ModuleNames> names_;
  std::map<std::string, std::string> self_;
};

}  // namespace

std::string emit_pytorch(const Program& program) { return Emitter(program).run(); }

}  // namespace triton::codegen
