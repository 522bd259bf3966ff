// The `training`, `performance` and `optimization` sections: their values are evaluated
// like constants (they may name the model's constants; count suffixes are already numbers)
// and checked against the known keys below. An unknown key is a warning naming the closest
// known key, never a silent no-op; a value of the wrong kind is an error.
//
// The key tables are the one list of section keys: `triton --dump-sections=json` prints
// them (`dump_sections_json` below), and a Python test compares that with the keys the
// `triton_dsl` program reads, so a key accepted here is one the generated program acts on.
#include "check/sections.h"

#include <functional>
#include <sstream>

#include "check/checker_impl.h"
#include "diag/edit_distance.h"

namespace triton::check_detail {

namespace {

enum class K { Any, Int, Number, Bool, Str, Map, List, Recipes };

struct KeySpec {
  std::string_view name;
  K kind;
  std::vector<KeySpec> children;  // Map
};

const std::vector<KeySpec>& training_keys() {
  static const std::vector<KeySpec> keys = [] {
    std::vector<KeySpec> k = {
        {"optimizer", K::Str, {}},
        {"learning_rate", K::Number, {}},
        {"momentum", K::Number, {}},
        {"nesterov", K::Bool, {}},
        {"weight_decay", K::Number, {}},
        {"batch_size", K::Int, {}},
        {"epochs", K::Int, {}},
        {"dataset", K::Str, {}},
        {"seed", K::Int, {}},
        {"lr_schedule", K::Map,
         {{"type", K::Str, {}}, {"milestones", K::List, {}}, {"gamma", K::Number, {}}, {"step_size", K::Int, {}},
          {"warmup_epochs", K::Number, {}}, {"min_lr", K::Number, {}}, {"max_lr", K::Number, {}}, {"pct_start", K::Number, {}}}},
        {"augmentation", K::Map,
         {{"random_crop", K::Any, {}}, {"random_resized_crop", K::Any, {}}, {"random_horizontal_flip", K::Any, {}},
          {"color_jitter", K::Any, {}}, {"rand_augment", K::Any, {}}, {"mixup", K::Any, {}}, {"cutmix", K::Any, {}},
          {"normalize", K::Map, {{"mean", K::List, {}}, {"std", K::List, {}}}}}},
        {"loss", K::Str, {}},
        {"label_smoothing", K::Number, {}},
        {"gradient_estimator", K::Str, {}},
        {"mixed_precision", K::Any, {}},  // true, or "bf16"/"fp16"
        {"channels_last", K::Bool, {}},
        {"gpu_augmentation", K::Bool, {}},
        {"gradient_clipping", K::Number, {}},
        {"gradient_accumulation_steps", K::Int, {}},
        {"activation_checkpointing", K::Bool, {}},
        {"warmup_epochs", K::Number, {}},
        {"min_lr", K::Number, {}},
    };
    k.push_back({"recipes", K::Recipes, {}});
    return k;
  }();
  return keys;
}

const std::vector<KeySpec>& performance_keys() {
  static const std::vector<KeySpec> keys = {
      {"expected_accuracy", K::Number, {}}, {"top1_accuracy", K::Number, {}},   {"top5_accuracy", K::Number, {}},
      {"model_size_kb", K::Number, {}},     {"model_size_mb", K::Number, {}},   {"inference_time_ms", K::Number, {}},
      {"latency_ms", K::Number, {}},        {"throughput", K::Number, {}},      {"compression", K::Number, {}},
      {"macs", K::Number, {}},              {"flops", K::Number, {}},           {"attention_ops", K::Number, {}},
      {"fps", K::Number, {}},               {"training_time", K::Any, {}},      {"parameters", K::Number, {}},
      {"device", K::Str, {}},               {"batch_size", K::Int, {}},         {"expected_top5", K::Number, {}},
      {"inference_ms", K::Number, {}},      {"frames_per_second", K::Number, {}},
      {"throughput_images_per_second", K::Number, {}},                          {"training_minutes", K::Number, {}},
      {"training_hours", K::Number, {}},    {"training_days", K::Number, {}},
  };
  return keys;
}

// Only settings the generated program acts on (docs/language.md): `fuse_bn` folds batch
// norm into the packed export's convolutions (false keeps it as its own op), `pack_bits` is
// the packed export's default packing (2 or 1.6), `num_threads` the default thread count of
// latency measurements. Former hints that nothing read (`use_packed_weights`,
// `skip_zero_weights`, `quantize_first_last`, `target`) now get the unknown-key warning.
const std::vector<KeySpec>& optimization_keys() {
  static const std::vector<KeySpec> keys = {
      {"fuse_bn", K::Bool, {}}, {"pack_bits", K::Number, {}}, {"num_threads", K::Int, {}},
  };
  return keys;
}

// The `quantization` section (quantization.cpp applies it to the ternary layers); `layers`
// maps layer names to maps of the same keys, checked there.
const std::vector<KeySpec>& quantization_keys() {
  static const std::vector<KeySpec> keys = {
      {"weights", K::Str, {}},           {"threshold", K::Number, {}}, {"scaling", K::Str, {}},
      {"activation_bits", K::Int, {}},   {"gradient_estimator", K::Str, {}},
      {"float_layers", K::List, {}},     {"layers", K::Any, {}},
  };
  return keys;
}

std::string_view kind_text(K k) {
  switch (k) {
    case K::Int: return "an int";
    case K::Number: return "a number";
    case K::Bool: return "a bool";
    case K::Str: return "a string";
    case K::Map: case K::Recipes: return "a map `{ ... }`";
    case K::List: return "a list";
    case K::Any: return "a value";
  }
  return "a value";
}

bool fits(K k, const ConstValue& v) {
  switch (k) {
    case K::Int: return v.is_int();
    case K::Number: return v.is_number();
    case K::Bool: return v.is_bool();
    case K::Str: return v.is_str();
    case K::Map: case K::Recipes: return v.is_map();
    case K::List: return v.is_list();
    case K::Any: return true;
  }
  return true;
}

std::string_view kind_name(K k) {
  switch (k) {
    case K::Int: return "int";
    case K::Number: return "number";
    case K::Bool: return "bool";
    case K::Str: return "str";
    case K::Map: return "map";
    case K::Recipes: return "recipes";
    case K::List: return "list";
    case K::Any: return "any";
  }
  return "any";
}

// Keys are identifiers, so they need no JSON escaping. Order is the table's order.
void write_keys(std::ostringstream& out, const std::vector<KeySpec>& keys, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  out << "{";
  for (size_t i = 0; i < keys.size(); ++i) {
    out << (i ? ",\n" : "\n") << pad << "  \"" << keys[i].name << "\": {\"kind\": \"" << kind_name(keys[i].kind) << "\"";
    if (!keys[i].children.empty()) {
      out << ", \"keys\": ";
      write_keys(out, keys[i].children, indent + 2);
    }
    out << "}";
  }
  out << "\n" << pad << "}";
}

}  // namespace

ConstValue Checker::check_section(const ast::SectionItem& s, const ir::Module& m, const DeclInfo& info) {
  Env env;
  for (const auto& c : m.constants) env[c.name] = c.default_value;
  ir::Module scratch = m;  // section values lower into a scratch copy of the expressions
  std::string section(ast::spelling(s.section));
  std::function<ConstValue(const ast::Expr&)> value;
  std::function<ConstValue(const ast::MapExpr&, const std::vector<KeySpec>*, const std::string&)> map;
  value = [&](const ast::Expr& e) -> ConstValue {
    if (auto* mp = ast::dyn_cast<ast::MapExpr>(&e)) return map(*mp, nullptr, section);
    if (auto* l = ast::dyn_cast<ast::ListExpr>(&e)) {
      ConstList out;
      for (const auto& x : l->elements) out.push_back(value(*x));
      return ConstValue::of_list(std::move(out));
    }
    ExprId id = lower_const_expr(scratch, info, e);
    auto r = eval(scratch, id, env);
    if (!r.value) {
      if (!r.error.empty()) diags_.report(DiagKind::constant_error, e.range, {r.error});
      return ConstValue::none();
    }
    return *r.value;
  };
  map = [&](const ast::MapExpr& mp, const std::vector<KeySpec>* keys, const std::string& where) -> ConstValue {
    ConstMap out;
    for (const auto& entry : mp.entries) {
      const std::string& key = entry.key.name;
      const KeySpec* spec = nullptr;
      if (keys) {
        for (const auto& k : *keys)
          if (k.name == key) spec = &k;
        if (!spec) {
          std::vector<std::string_view> names;
          for (const auto& k : *keys) names.push_back(k.name);
          diags_.report(DiagKind::unknown_section_key, entry.key.range, {key, where}).hint(did_you_mean(key, names));
        }
      }
      bool dup = false;
      for (const auto& [k, v] : out) dup = dup || k == key;
      if (dup) {
        diags_.report(DiagKind::duplicate_attribute, entry.key.range, {key});
        continue;
      }
      ConstValue v;
      const auto* sub = ast::dyn_cast<ast::MapExpr>(entry.value.get());
      if (spec && spec->kind == K::Recipes && sub) {
        ConstMap recipes;
        for (const auto& r : sub->entries) {
          const auto* body = ast::dyn_cast<ast::MapExpr>(r.value.get());
          if (!body) {
            diags_.report(DiagKind::section_value_type, r.value->range, {r.key.name, where + ".recipes", "a map `{ ... }`", expr_text(r.value->range)});
            continue;
          }
          recipes.emplace_back(r.key.name, map(*body, &training_keys(), "recipes." + r.key.name));
        }
        v = ConstValue::of_map(std::move(recipes));
      } else if (sub) {
        v = map(*sub, spec && spec->kind == K::Map ? &spec->children : nullptr, key);
      } else {
        v = value(*entry.value);
      }
      if (spec && !v.is_none() && !fits(spec->kind, v))
        diags_.report(DiagKind::section_value_type, entry.value->range, {key, where, std::string(kind_text(spec->kind)), v.type_name() + " " + v.to_source()});
      out.emplace_back(key, std::move(v));
    }
    return ConstValue::of_map(std::move(out));
  };
  const std::vector<KeySpec>* keys = s.section == ast::SectionKind::Training       ? &training_keys()
                                     : s.section == ast::SectionKind::Performance  ? &performance_keys()
                                     : s.section == ast::SectionKind::Quantization ? &quantization_keys()
                                                                                   : &optimization_keys();
  if (!s.body) return ConstValue::of_map({});
  return map(*s.body, keys, section);
}

}  // namespace triton::check_detail

namespace triton {

std::string dump_sections_json() {
  std::ostringstream out;
  out << "{\n  \"training\": ";
  check_detail::write_keys(out, check_detail::training_keys(), 2);
  out << ",\n  \"performance\": ";
  check_detail::write_keys(out, check_detail::performance_keys(), 2);
  out << ",\n  \"optimization\": ";
  check_detail::write_keys(out, check_detail::optimization_keys(), 2);
  out << ",\n  \"quantization\": ";
  check_detail::write_keys(out, check_detail::quantization_keys(), 2);
  out << "\n}\n";
  return out.str();
}

}  // namespace triton
