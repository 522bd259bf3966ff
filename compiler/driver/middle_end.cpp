// Wires check -> IR -> passes -> backend (see middle_end.h). A verifier failure is a
// compiler bug and becomes an internal error, never a silently wrong output.
#include "driver/middle_end.h"

#include <filesystem>
#include <iostream>

#include "check/checker.h"
#ifdef TRITON_HAVE_CODEGEN_ONNX
#include "codegen/onnx/onnx_backend.h"
#endif
#ifdef TRITON_HAVE_CODEGEN_TFLITE
#include "codegen/tflite/tflite_backend.h"
#endif
#include "codegen/pytorch/pytorch_backend.h"
#include "codegen/summary/summary.h"
#include "diag/internal_error.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"

#ifndef TRITON_VERSION
#define TRITON_VERSION "0.1.0"
#endif

namespace triton::driver {

namespace {

void verify_or_die(const ir::Program& program, const std::string& when) {
  auto errors = ir::verify(program);
  if (errors.empty()) return;
  std::string msg = "IR verification failed " + when + ":";
  for (const auto& e : errors) msg += "\n  " + e;
  internal_error(msg);
}

#ifdef TRITON_HAVE_CODEGEN_ONNX
// `--weights FILE` of the ONNX and TFLite backends, read into `weights` (left empty without
// the flag); false after printing the one-line error for a file that cannot be used.
bool read_weights(const CompileOptions& options, std::optional<codegen::onnx::SafeTensorsFile>& weights) {
  if (options.weights.empty()) return true;
  std::string error;
  weights = codegen::onnx::read_safetensors(options.weights, &error);
  if (weights) return true;
  std::cerr << "triton: error: cannot use the weights " << error << "\n";
  return false;
}

// `--backend onnx` (binary ModelProto, default FILE.onnx) and `--emit=onnx-text`.
int run_onnx_backend(CompileSession& session, const ir::Program& program) {
  const CompileOptions& options = session.options;
  std::optional<codegen::onnx::SafeTensorsFile> weights;
  if (!read_weights(options, weights)) return 1;
  codegen::OnnxOptions onnx_options;
  onnx_options.code_type = options.weight_codes == "int8"      ? codegen::onnx::DataType::Int8
                           : options.weight_codes == "int2"    ? codegen::onnx::DataType::Int2
                           : options.weight_codes == "float32" ? codegen::onnx::DataType::Float
                                                               : codegen::onnx::DataType::Int4;
  onnx_options.weights = weights ? &*weights : nullptr;
  onnx_options.producer_version = TRITON_VERSION;
  onnx_options.integer_lowering = options.opt_level >= 3;
  std::string error;
  auto model = timed(session.timer, "codegen", [&] { return codegen::emit_onnx(program, session.diags, onnx_options, &error); });
  if (!model) {
    if (!error.empty()) std::cerr << "triton: error: `" << options.weights << "`: " << error << "\n";
    return 1;
  }
  if (options.emit == Emit::OnnxText) return write_result(session, codegen::onnx::to_text(*model));
  std::filesystem::path out = std::filesystem::path(options.input).replace_extension(".onnx");
  return write_result(session, codegen::onnx::serialize(*model), out.string());
}
#endif

#ifdef TRITON_HAVE_CODEGEN_TFLITE
// `--backend tflite` (the FlatBuffer, default FILE.tflite) and `--emit=tflite-text`: the ONNX
// backend's graph with int8 codes, converted (see codegen/tflite/tflite_backend.h).
int run_tflite_backend(CompileSession& session, const ir::Program& program) {
  const CompileOptions& options = session.options;
  std::optional<codegen::onnx::SafeTensorsFile> weights;
  if (!read_weights(options, weights)) return 1;
  codegen::TfliteOptions tflite_options;
  tflite_options.weights = weights ? &*weights : nullptr;
  tflite_options.producer_version = TRITON_VERSION;
  tflite_options.integer_lowering = options.opt_level >= 3;
  std::string error;
  bool error_is_weights = false;
  auto model = timed(session.timer, "codegen", [&] {
    return codegen::emit_tflite(program, session.diags, tflite_options, &error, &error_is_weights);
  });
  if (!model) {
    if (error_is_weights) {
      std::cerr << "triton: error: `" << options.weights << "`: " << error << "\n";
    } else if (!error.empty()) {
      std::cerr << std::filesystem::path(options.input).filename().string() << ": error: " << error << "\n";
    }
    return 1;
  }
  if (options.emit == Emit::TfliteText) return write_result(session, codegen::tflite::to_text(*model));
  std::filesystem::path out = std::filesystem::path(options.input).replace_extension(".tflite");
  return write_result(session, codegen::tflite::serialize(*model), out.string());
}
#endif

}  // namespace

int run_middle_end(CompileSession& session) {
  const CompileOptions& options = session.options;
  CheckOptions check_options;
  check_options.model_name = options.model;
  // The file name only: generated files must not depend on where the compiler ran.
  check_options.source_name = std::filesystem::path(options.input).filename().string();
  auto program = timed(session.timer, "check", [&] { return check_program(session.file, session.diags, check_options); });
  if (!program) return 1;
  if (options.stop_after == StopAfter::Check) return 0;
  if (options.verify || options.verify_each) verify_or_die(*program, "after lowering");
  if (options.emit == Emit::Ir) return write_result(session, ir::print_program(*program));

  passes::PassOptions pass_options{options.print_after, options.verify_each, options.time_passes};
  auto report = timed(session.timer, "optimize", [&] {
    return passes::run_passes(*program, passes::pipeline_for_level(options.opt_level), pass_options, std::cout, std::cerr);
  });
  if (!report.ok) {
    std::string msg = "IR verification failed after pass `" + report.failed_pass + "`:";
    for (const auto& e : report.verifier_errors) msg += "\n  " + e;
    internal_error(msg);
  }
  if (options.verify) verify_or_die(*program, "after optimization");
  if (options.emit == Emit::IrOpt) return write_result(session, ir::print_program(*program));
  if (options.emit == Emit::Summary) return write_result(session, codegen::emit_summary(*program));
#ifdef TRITON_HAVE_CODEGEN_ONNX
  if (options.emit == Emit::OnnxText || options.backend == "onnx") return run_onnx_backend(session, *program);
#endif
#ifdef TRITON_HAVE_CODEGEN_TFLITE
  if (options.emit == Emit::TfliteText || options.backend == "tflite") return run_tflite_backend(session, *program);
#endif
  if (!options.weights.empty()) {
    std::cerr << "triton: error: `--weights` applies to `--backend onnx` and `--backend tflite` only\n";
    return 2;
  }
  if (options.backend != "pytorch") {
    std::cerr << "triton: error: the `" << options.backend
              << "` backend is not available yet; use `--backend pytorch`\n";
    return 2;
  }
  std::string text = timed(session.timer, "codegen", [&] { return codegen::emit_pytorch(*program); });
  std::filesystem::path out = std::filesystem::path(options.input).replace_extension(".py");
  return write_result(session, text, out.string());
}

}  // namespace triton::driver
