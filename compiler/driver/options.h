// The command line of `triton compile`: one struct that holds every option, and the parser
// that fills it. Usage errors (unknown flag, missing value, bad value) are reported as
// `triton: error: ...` and exit with status 2, apart from diagnostics about the source file
// (status 1), following the convention of argparse and most Unix tools.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace triton::driver {

enum class Emit { Default, Tokens, Ast, Ir, IrOpt, Summary, OnnxText, TfliteText };
enum class StopAfter { None, Parse, Check };

struct CompileOptions {
  std::string input;
  std::string output;              // empty: the backend's default; "-": standard output
  int opt_level = 2;               // -O0 .. -O3
  std::string backend = "pytorch"; // pytorch | onnx | tflite | native
  Emit emit = Emit::Default;
  StopAfter stop_after = StopAfter::None;
  bool verify = false;             // run the IR verifier after lowering and at the end
  bool verify_each = false;        // run the IR verifier after every pass
  bool verbose = false;            // print each phase's time on stderr
  bool time_passes = false;        // print each pass's time on stderr
  std::string model;               // entry model; empty: the last `model` in the file
  std::string weights;             // --backend onnx|tflite: a safetensors file of trained weights
  std::string weight_codes = "int4";  // --backend onnx: how ternary codes are stored
  std::vector<std::string> print_after;  // pass names, or "all"

  // Testing aids (documented in --help under "testing").
  bool show_diagnostic_ids = false;
  uint32_t error_limit = 50;
  uint32_t max_file_bytes = 64u << 20;
  uint32_t max_nesting_depth = 200;
  bool debug_internal_error = false;  // raise an internal error after parsing
  bool debug_crash = false;           // crash after parsing (tests the crash handler)
};

// Parses the arguments after `compile`. On a usage error prints it and returns nullopt.
std::optional<CompileOptions> parse_compile_options(const std::vector<std::string>& args);

extern const char kCompileUsage[];

}  // namespace triton::driver
