// The `quantization` section: model-wide quantization settings with per-layer overrides,
// applied to the ternary layers (TernaryLinear, TernaryConv1d, TernaryConv2d) as the
// attributes they already have, so training, every backend and the packed export see one
// setting per layer.
//
//   quantization {
//       weights: "ternary"            // "ternary_stochastic", "ttq", "int8", "int4", "float"
//       threshold: 0.7
//       scaling: "per_channel"        // "per_tensor"
//       activation_bits: 8            // 32
//       gradient_estimator: "ste"     // "clipped_ste"
//       float_layers: ["first", "last", "head"]
//       layers { fc1 { activation_bits: 32 } }
//   }
//
// Precedence: an attribute written on the layer itself wins over the section; a `layers`
// entry (and `float_layers`, which means `weights: "float"` and `activation_bits: 32`: the
// layer stays float through and through) wins over the model-wide keys.
// The defaults reach every ternary layer of every block the entry model uses; `layers`,
// `float_layers`, "first" and "last" name layers declared in the entry model itself
// ("first" and "last": its first and last ternary layers in declaration order).
#include <optional>

#include "check/checker_impl.h"
#include "diag/edit_distance.h"

namespace triton::check_detail {

namespace {

bool is_ternary_type(std::string_view type) {
  return type == "TernaryLinear" || type == "TernaryConv1d" || type == "TernaryConv2d";
}

// One `key: value` of the section, with where it was written.
struct Setting {
  std::string attr;  // the layer attribute it sets
  ConstValue value;  // the attribute's value
  SourceRange range;
};

const ast::MapEntry* find_entry(const ast::MapExpr& map, std::string_view key) {
  for (const auto& e : map.entries)
    if (e.key.name == key) return &e;
  return nullptr;
}

}  // namespace

// The layer attributes one map of the section sets (the model-wide keys, or one `layers`
// entry); reports values the layers do not take.
static std::vector<Setting> settings_of(const ConstValue& map, const ast::MapExpr& ast_map, DiagnosticEngine& diags) {
  std::vector<Setting> out;
  auto bad = [&](const ast::MapEntry& e, const std::string& key, const std::string& choices, const ConstValue& v) {
    diags.report(DiagKind::quantization_value, e.value->range, {key, choices, v.to_source()});
  };
  for (const auto& [key, v] : map.as_map()) {
    const ast::MapEntry* e = find_entry(ast_map, key);
    if (!e || v.is_none()) continue;
    const SourceRange range = e->value->range;
    if (key == "weights") {
      const std::string w = v.is_str() ? v.as_str() : "";
      if (w == "ttq" || w == "int8" || w == "int4") out.push_back({"quantization", ConstValue::of_str(w), range});
      else if (w == "ternary") out.push_back({"quantization", ConstValue::of_str("deterministic"), range});
      else if (w == "ternary_stochastic") out.push_back({"quantization", ConstValue::of_str("stochastic"), range});
      else if (w == "float") out.push_back({"quantization", ConstValue::of_str("none"), range});
      else bad(*e, key, "\"ternary\", \"ternary_stochastic\", \"ttq\", \"int8\", \"int4\" or \"float\"", v);
    } else if (key == "threshold") {
      if (v.is_number() && v.as_number() > 0.0 && v.as_number() < 1.0) out.push_back({"threshold", ConstValue::of_float(v.as_number()), range});
      else bad(*e, key, "a number between 0 and 1", v);
    } else if (key == "scaling") {
      const std::string s = v.is_str() ? v.as_str() : "";
      if (s == "per_channel") out.push_back({"scaling", v, range});
      else if (s == "per_tensor" || s == "per_layer") out.push_back({"scaling", ConstValue::of_str("per_layer"), range});
      else bad(*e, key, "\"per_channel\" or \"per_tensor\"", v);
    } else if (key == "activation_bits") {
      if (v.is_int() && (v.as_int() == 8 || v.as_int() == 32)) out.push_back({"activation_bits", v, range});
      else bad(*e, key, "8 or 32", v);
    } else if (key == "gradient_estimator") {
      const std::string s = v.is_str() ? v.as_str() : "";
      if (s == "ste" || s == "clipped_ste") out.push_back({"gradient_estimator", v, range});
      else bad(*e, key, "\"ste\" or \"clipped_ste\"", v);
    }
  }
  return out;
}

// Sets `settings` on `inst` (and its children) where the layer does not write the
// attribute itself; `written` holds what the declaration wrote, so a later, more specific
// setting may replace an earlier section default.
static void apply_to(ir::Module& m, ir::Instance& inst, const std::vector<Setting>& settings) {
  for (auto& child : inst.children) apply_to(m, child, settings);
  if (!inst.builtin || !is_ternary_type(inst.type_name)) return;
  for (const Setting& s : settings) {
    bool written = false;
    for (const auto& [name, e] : inst.attrs) written = written || name == s.attr;
    if (written) continue;
    ir::ExprNode lit;
    lit.kind = ir::ExprKind::Literal;
    lit.literal = s.value;
    lit.value = s.value;
    lit.range = s.range;
    inst.attrs.emplace_back(s.attr, m.add_expr(std::move(lit)));
  }
}

static void apply_to_submodule(ir::Module& m, ir::Submodule& sub, const std::vector<Setting>& settings) {
  for (auto& inst : sub.instances) apply_to(m, inst, settings);
  for (auto& inst : sub.else_instances) apply_to(m, inst, settings);
}

void Checker::apply_quantization(const ast::SectionItem& s, const ConstValue& section, ir::Program& program) {
  if (!s.body || !section.is_map()) return;
  ir::Module& entry = program.module(program.entry);
  // Layers of the entry model by name, and its first/last ternary layers.
  std::vector<std::string_view> names;
  std::vector<std::string> ternary;
  for (const auto& sub : entry.submodules) {
    names.push_back(sub.name);
    if (sub.form == ir::SubmoduleForm::Single && sub.instances[0].builtin && is_ternary_type(sub.instances[0].type_name))
      ternary.push_back(sub.name);
  }
  auto layer_named = [&](const std::string& name, SourceRange range) -> ir::Submodule* {
    for (auto& sub : entry.submodules)
      if (sub.name == name) return &sub;
    diags_.report(DiagKind::quantization_unknown_layer, range, {name, entry.name}).hint(did_you_mean(name, names));
    return nullptr;
  };
  using Override = std::pair<ir::Submodule*, std::vector<Setting>>;
  // Read in the order a section is usually written (model-wide keys, float_layers, layers),
  // so diagnostics come out in source order; applied most specific first below.
  const std::vector<Setting> defaults = settings_of(section, *s.body, diags_);
  std::vector<Override> float_overrides, layer_overrides;
  if (const ConstValue* floats = section.find("float_layers"); floats && floats->is_list()) {
    const ast::MapEntry* e = find_entry(*s.body, "float_layers");
    const auto* list = ast::dyn_cast<ast::ListExpr>(e->value.get());
    for (size_t i = 0; i < floats->as_list().size(); ++i) {
      const ConstValue& item = floats->as_list()[i];
      const SourceRange range = list && i < list->elements.size() ? list->elements[i]->range : e->value->range;
      std::string name = item.is_str() ? item.as_str() : "";
      if (name == "first" || name == "last") {
        if (ternary.empty()) {
          diags_.report(DiagKind::quantization_unknown_layer, range, {name + " ternary layer", entry.name});
          continue;
        }
        name = name == "first" ? ternary.front() : ternary.back();
      } else if (name.empty()) {
        diags_.report(DiagKind::quantization_value, range, {"float_layers", "a list of layer names, \"first\" or \"last\"", item.to_source()});
        continue;
      }
      if (ir::Submodule* sub = layer_named(name, range))
        float_overrides.emplace_back(sub, std::vector<Setting>{{"quantization", ConstValue::of_str("none"), range},
                                                               {"activation_bits", ConstValue::of_int(32), range}});
    }
  }
  if (const ConstValue* layers = section.find("layers"); layers && layers->is_map()) {
    const auto* ast_layers = ast::dyn_cast<ast::MapExpr>(find_entry(*s.body, "layers")->value.get());
    for (const auto& [name, body] : layers->as_map()) {
      const ast::MapEntry* e = ast_layers ? find_entry(*ast_layers, name) : nullptr;
      const auto* ast_body = e ? ast::dyn_cast<ast::MapExpr>(e->value.get()) : nullptr;
      if (!e) continue;
      if (!body.is_map() || !ast_body) {
        diags_.report(DiagKind::section_value_type, e->value->range, {name, "quantization.layers", "a map `{ ... }`", body.to_source()});
        continue;
      }
      ir::Submodule* sub = layer_named(name, e->key.range);
      std::vector<Setting> settings = settings_of(body, *ast_body, diags_);
      if (sub) layer_overrides.emplace_back(sub, std::move(settings));
    }
  }
  // A setting applied earlier counts as written for the later, less specific ones.
  for (auto& [sub, settings] : layer_overrides) apply_to_submodule(entry, *sub, settings);
  for (auto& [sub, settings] : float_overrides) apply_to_submodule(entry, *sub, settings);
  for (auto& m : program.modules)
    for (auto& sub : m.submodules) apply_to_submodule(m, sub, defaults);
}

}  // namespace triton::check_detail
