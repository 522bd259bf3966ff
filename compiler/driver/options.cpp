// Implements `triton compile` option parsing. Flags take `--flag=value` or `--flag value`;
// an unknown flag gets a did-you-mean from the same list --help prints.
#include "driver/options.h"

#include <array>
#include <charconv>
#include <iostream>
#include <string_view>

#include "diag/edit_distance.h"

namespace triton::driver {

const char kCompileUsage[] =
    "usage: triton compile FILE [options]\n"
    "\n"
    "Compiles a .triton (or .tri) model file.\n"
    "\n"
    "options:\n"
    "  --output FILE, -o FILE   write the result to FILE (`-` for standard output); the file\n"
    "                           is replaced atomically\n"
    "  -O0 | -O1 | -O2 | -O3    optimization level (default -O2)\n"
    "  --backend NAME           pytorch (default), onnx, tflite or native\n"
    "  --emit KIND              print a stage instead of compiling: tokens, ast, ir, ir-opt,\n"
    "                           summary, onnx-text (the ONNX graph as text), tflite-text\n"
    "                           (the TFLite model as text)\n"
    "  --stop-after PHASE       stop after `parse` or `check` (exit status tells the result)\n"
    "  --model NAME             the entry model (default: the last `model` in the file)\n"
    "  --weights FILE           onnx, tflite: take the weights from FILE (safetensors, as\n"
    "                           written by the generated program's --export-weights) instead\n"
    "                           of each layer's initialization (seeded)\n"
    "  --weight-codes TYPE      onnx: store ternary codes as int4 (default, opset 21), int2\n"
    "                           (opset 25) or int8 (opset 17), or float32 for dequantized\n"
    "                           float weights (opset 17)\n"
    "  --verify                 run the IR verifier after lowering and after optimization\n"
    "  --verify-each            run the IR verifier after every pass\n"
    "  --print-after PASS       print the IR after PASS (repeatable; `all` for every pass)\n"
    "  --time-passes            print the time of each pass\n"
    "  --verbose                print the time of each phase\n"
    "\n"
    "testing:\n"
    "  --diagnostic-ids         append the registry id to each diagnostic, as ` [id]`\n"
    "  --error-limit N          stop after N errors (default 50)\n"
    "  --max-file-bytes N       reject larger files (default 67108864)\n"
    "  --max-nesting-depth N    reject deeper nesting (default 200)\n";

namespace {

constexpr std::array<std::string_view, 21> kFlags = {
    "--output", "-o", "-O0", "-O1", "-O2", "-O3", "--backend", "--emit", "--stop-after",
    "--model", "--weights", "--weight-codes", "--verify", "--verify-each", "--print-after", "--time-passes", "--verbose",
    "--diagnostic-ids", "--error-limit", "--max-file-bytes", "--max-nesting-depth"};

void usage_error(const std::string& message) {
  std::cerr << "triton: error: " << message << "\n";
}

bool parse_count(std::string_view flag, std::string_view text, uint32_t& out) {
  uint32_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size() || value == 0) {
    usage_error("`" + std::string(flag) + "` expects a positive integer, got `" +
                std::string(text) + "`");
    return false;
  }
  out = value;
  return true;
}

template <size_t N>
bool pick(std::string_view flag, std::string_view value,
          const std::array<std::string_view, N>& choices) {
  for (std::string_view choice : choices) {
    if (choice == value) return true;
  }
  std::string message = "invalid value `" + std::string(value) + "` for `" + std::string(flag) +
                        "`; expected one of";
  for (size_t i = 0; i < N; ++i) message += (i == 0 ? " `" : ", `") + std::string(choices[i]) + "`";
  usage_error(message);
  return false;
}

}  // namespace

std::optional<CompileOptions> parse_compile_options(const std::vector<std::string>& args) {
  CompileOptions options;
  bool have_input = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      if (const size_t eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    auto take_value = [&]() -> bool {
      if (has_inline_value) return true;
      if (i + 1 >= args.size()) {
        usage_error("`" + arg + "` needs a value");
        return false;
      }
      value = args[++i];
      return true;
    };
    if (arg == "--output" || arg == "-o") {
      if (!take_value()) return std::nullopt;
      options.output = value;
    } else if (arg.size() == 3 && arg[0] == '-' && arg[1] == 'O' && arg[2] >= '0' && arg[2] <= '3') {
      options.opt_level = arg[2] - '0';
    } else if (arg == "--backend") {
      if (!take_value()) return std::nullopt;
      if (!pick(arg, value, std::array<std::string_view, 4>{"pytorch", "onnx", "tflite", "native"})) {
        return std::nullopt;
      }
      options.backend = value;
    } else if (arg == "--emit") {
      if (!take_value()) return std::nullopt;
      if (!pick(arg, value,
                std::array<std::string_view, 7>{"tokens", "ast", "ir", "ir-opt", "summary", "onnx-text",
                                                "tflite-text"})) {
        return std::nullopt;
      }
      options.emit = value == "tokens" ? Emit::Tokens : value == "ast" ? Emit::Ast
                   : value == "ir"     ? Emit::Ir     : value == "ir-opt" ? Emit::IrOpt
                   : value == "summary" ? Emit::Summary                   : value == "onnx-text" ? Emit::OnnxText
                                                                          : Emit::TfliteText;
    } else if (arg == "--stop-after") {
      if (!take_value()) return std::nullopt;
      if (!pick(arg, value, std::array<std::string_view, 2>{"parse", "check"})) return std::nullopt;
      options.stop_after = value == "parse" ? StopAfter::Parse : StopAfter::Check;
    } else if (arg == "--model") {
      if (!take_value()) return std::nullopt;
      options.model = value;
    } else if (arg == "--weights") {
      if (!take_value()) return std::nullopt;
      options.weights = value;
    } else if (arg == "--weight-codes") {
      if (!take_value()) return std::nullopt;
      if (!pick(arg, value, std::array<std::string_view, 4>{"int4", "int2", "int8", "float32"})) return std::nullopt;
      options.weight_codes = value;
    } else if (arg == "--print-after") {
      if (!take_value()) return std::nullopt;
      options.print_after.push_back(value);
    } else if (arg == "--verify" && !has_inline_value) {
      options.verify = true;
    } else if (arg == "--verify-each" && !has_inline_value) {
      options.verify_each = true;
    } else if (arg == "--time-passes" && !has_inline_value) {
      options.time_passes = true;
    } else if (arg == "--verbose" && !has_inline_value) {
      options.verbose = true;
    } else if (arg == "--diagnostic-ids" && !has_inline_value) {
      options.show_diagnostic_ids = true;
    } else if (arg == "--error-limit") {
      if (!take_value() || !parse_count(arg, value, options.error_limit)) return std::nullopt;
    } else if (arg == "--max-file-bytes") {
      if (!take_value() || !parse_count(arg, value, options.max_file_bytes)) return std::nullopt;
    } else if (arg == "--max-nesting-depth") {
      if (!take_value() || !parse_count(arg, value, options.max_nesting_depth)) return std::nullopt;
    } else if (arg == "--debug-internal-error") {
      options.debug_internal_error = true;
    } else if (arg == "--debug-crash") {
      options.debug_crash = true;
    } else if (arg == "-" || arg.empty() || arg[0] != '-') {
      if (have_input) {
        usage_error("more than one input file (`" + options.input + "` and `" + arg + "`)");
        return std::nullopt;
      }
      options.input = arg;
      have_input = true;
    } else {
      std::string message = "unknown option `" + arg + "`";
      const std::string hint = did_you_mean(arg, kFlags);
      if (!hint.empty()) message += "; " + hint;
      usage_error(message + " (see `triton compile --help`)");
      return std::nullopt;
    }
  }
  if (!have_input) {
    usage_error("no input file; usage: triton compile FILE [options]");
    return std::nullopt;
  }
  return options;
}

}  // namespace triton::driver
