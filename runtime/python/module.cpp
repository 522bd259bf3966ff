// pybind11 module `triton_dsl._native`: the native engine over numpy buffers.
//
// Errors from the library (a returned Status) become ValueError (bad file, bad input) and
// inputs numpy cannot turn into float32 become TypeError, so Python callers never see a
// crash; the GIL is released while the graph runs, so Python threads sharing one engine run
// concurrently (the engine is safe to share, see executor/engine.h). The packing
// functions are exposed too, so Python tests can check that C++ and numpy produce the same
// bytes. Wrapped for users by python/triton_dsl/native.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "executor/engine.h"
#include "format/packing.h"

namespace py = pybind11;
using triton_rt::Engine;
using triton_rt::Tensor;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Argument `index` of run()/profile() as contiguous float32. Refuses what would only convert
// by accident or not at all: strings, bytes, object arrays (numpy would call float() on each
// element) and tensors that require grad (torch refuses to give their data to numpy).
Tensor to_tensor(const FloatArray& a);

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

FloatArray as_float_array(py::handle h, std::size_t index) {
  const std::string where = "input " + std::to_string(index);
  if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)) {
    throw py::type_error(where + " is a " + type_name(h) +
                         ", expected an array of numbers");
  }
  if (py::isinstance<py::array>(h)) {
    const py::dtype dt = py::reinterpret_borrow<py::array>(h).dtype();
    const char kind = dt.kind();
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
      throw py::type_error(where + " has dtype " + std::string(py::str(dt)) +
                           ", expected a numeric array (float32 preferred)");
    }
  }
  FloatArray a = FloatArray::ensure(h);
  if (!a) {
    // ensure() leaves numpy's exception set; report ours, naming the input and its type.
    PyErr_Clear();
    throw py::type_error(where + " of type " + type_name(h) +
                         " cannot be converted to a float32 array; pass a numpy array (or "
                         "call `.detach().numpy()` on a tensor)");
  }
  return a;
}

std::vector<Tensor> to_inputs(const py::args& args) {
  std::vector<Tensor> inputs;
  std::size_t index = 0;
  for (py::handle h : args) inputs.push_back(to_tensor(as_float_array(h, index++)));
  return inputs;
}

Tensor to_tensor(const FloatArray& a) {
  Tensor t;
  t.shape.assign(a.shape(), a.shape() + a.ndim());
  t.data.resize(a.size());
  if (a.size()) std::memcpy(t.data.data(), a.data(), sizeof(float) * a.size());
  return t;
}

py::array_t<float> to_array(const Tensor& t) {
  py::array_t<float> a(t.shape);
  if (!t.data.empty()) std::memcpy(a.mutable_data(), t.data.data(), sizeof(float) * t.data.size());
  return a;
}

std::unique_ptr<Engine> unwrap(triton_rt::Expected<std::unique_ptr<Engine>> e) {
  if (!e.ok()) throw py::value_error(e.message());
  std::unique_ptr<Engine> engine = std::move(e.value());
  if (const triton_rt::EngineInfo i = engine->info(); i.threads_capped) {
    const std::string note = "threads=" + std::to_string(i.requested_threads) + " capped to the " +
                             std::to_string(i.threads) + " hardware threads";
    if (PyErr_WarnEx(PyExc_RuntimeWarning, note.c_str(), 1) != 0) throw py::error_already_set();
  }
  return engine;
}

// The `threads` argument: None or 0 for every hardware thread, else a positive count
// (larger than the hardware threads is capped, with a warning); the rest is a ValueError.
triton_rt::EngineOptions options_from(const py::object& threads) {
  triton_rt::EngineOptions options;
  if (threads.is_none()) return options;
  if (py::isinstance<py::bool_>(threads) || !py::isinstance<py::int_>(threads)) {
    throw py::type_error("threads must be an int or None, got " +
                         type_name(threads));
  }
  const long long n = PyLong_AsLongLong(threads.ptr());
  if (n == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error("threads=" + std::string(py::str(threads)) + " is out of range");
  }
  constexpr long long kMaxThreads = 1 << 20;  // beyond this a count is a typo, not a request
  if (n < 0 || n > kMaxThreads) {
    throw py::value_error("threads must be 0 or None (all hardware threads) or a count up to " +
                          std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  }
  options.threads = static_cast<int>(n);
  return options;
}

// A load path as the file system will see it: a NUL byte would cut it short.
std::string checked_path(const py::object& path) {
  const std::string s = py::str(py::module_::import("os").attr("fspath")(path));
  if (s.find('\0') != std::string::npos) throw py::value_error("path contains a NUL byte");
  return s;
}

py::object run(const Engine& engine, py::args args) {
  std::vector<Tensor> inputs = to_inputs(args);
  triton_rt::Expected<std::vector<Tensor>> out = triton_rt::Status::error("not run");
  {
    py::gil_scoped_release release;
    out = engine.run(std::move(inputs));  // the converted copies are the run's to take
  }
  if (!out.ok()) throw py::value_error(out.message());
  if (out.value().size() == 1) return to_array(out.value()[0]);
  py::tuple result(out.value().size());
  for (std::size_t i = 0; i < out.value().size(); ++i) result[i] = to_array(out.value()[i]);
  return result;
}

py::list profile(const Engine& engine, py::args args) {
  std::vector<Tensor> inputs = to_inputs(args);
  std::vector<double> ms;
  triton_rt::Expected<std::vector<Tensor>> out = triton_rt::Status::error("not run");
  {
    py::gil_scoped_release release;
    out = engine.run(std::move(inputs), &ms);
  }
  if (!out.ok()) throw py::value_error(out.message());
  py::list rows;
  const auto& ops = engine.model().ops;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    rows.append(py::make_tuple(triton_rt::op_name(ops[i].kind), ms[i]));
  }
  return rows;
}

py::dict info(const Engine& engine) {
  const triton_rt::EngineInfo i = engine.info();
  py::dict d;
  d["format_version"] = i.format_version;
  d["bits"] = i.base3 ? "1.6" : "2";
  d["file_bytes"] = i.file_bytes;
  d["ops"] = i.ops;
  d["values"] = i.values;
  d["tensors"] = i.tensors;
  d["ternary_weights"] = i.ternary_weights;
  d["ternary_nonzeros"] = i.ternary_nonzeros;
  d["float_values"] = i.float_values;
  d["threads"] = i.threads;
  d["requested_threads"] = i.requested_threads;
  d["threads_capped"] = i.threads_capped;
  d["isa"] = i.isa;
  d["gemv_kernel"] = i.gemv_kernel;
  d["gemm_kernel"] = i.gemm_kernel;
  d["conv_kernel"] = i.conv_kernel;
  d["depthwise_kernel"] = i.depthwise_kernel;
  d["float_gemm_kernel"] = i.float_gemm_kernel;
  d["int8_conv_kernel"] = i.int8_conv_kernel;
  d["int8_depthwise_kernel"] = i.int8_depthwise_kernel;
  d["int8_handoffs"] = i.int8_handoffs;
  d["residual_adds"] = i.residual_adds;
  d["batch_chunk"] = i.batch_chunk;
  d["input_shapes"] = i.input_shapes;
  d["output_shapes"] = i.output_shapes;
  d["op_kinds"] = i.op_kinds;
  return d;
}

py::bytes encode(const py::array_t<std::int8_t, py::array::c_style | py::array::forcecast>& codes,
                 bool base3) {
  if (codes.ndim() != 2) throw py::value_error("codes must be 2-D [rows, cols]");
  std::span<const std::int8_t> span(codes.data(), codes.size());
  for (std::int8_t c : span) {
    if (c < -1 || c > 1) throw py::value_error("codes must be in {-1, 0, 1}");
  }
  const auto bytes = base3 ? triton_rt::format::encode_t3(span, codes.shape(0), codes.shape(1))
                           : triton_rt::format::encode_t2(span, codes.shape(0), codes.shape(1));
  return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

py::array_t<std::int8_t> decode(const py::bytes& packed, std::int64_t rows, std::int64_t cols,
                                bool base3) {
  const std::string s = packed;
  std::span<const std::uint8_t> span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  auto codes = base3 ? triton_rt::format::decode_t3(span, rows, cols)
                     : triton_rt::format::decode_t2(span, rows, cols);
  if (!codes.ok()) throw py::value_error(codes.message());
  py::array_t<std::int8_t> out({rows, cols});
  if (!codes.value().empty()) std::memcpy(out.mutable_data(), codes.value().data(), codes.value().size());
  return out;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "Native packed-ternary inference engine of Triton DSL";
  py::class_<Engine>(m, "Engine")
      .def("run", &run, "Runs the model on float32 arrays (one per graph input)")
      .def("info", &info, "Facts about the loaded model and the selected kernels")
      .def("profile", &profile, "Runs once; returns (op kind, milliseconds) per op");
  m.def(
      "load",
      [](const py::object& path, const py::object& threads) {
        const triton_rt::EngineOptions options = options_from(threads);
        return unwrap(Engine::from_file(checked_path(path), options));
      },
      py::arg("path"), py::arg("threads") = py::none());
  m.def(
      "load_bytes",
      [](const py::bytes& data, const py::object& threads) {
        const triton_rt::EngineOptions options = options_from(threads);
        const std::string s = data;
        return unwrap(Engine::from_bytes(
            std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()), options));
      },
      py::arg("data"), py::arg("threads") = py::none());
  m.def("encode_t2", [](const py::array& c) { return encode(c, false); });
  m.def("encode_t3", [](const py::array& c) { return encode(c, true); });
  m.def("decode_t2", [](const py::bytes& b, std::int64_t r, std::int64_t c) { return decode(b, r, c, false); });
  m.def("decode_t3", [](const py::bytes& b, std::int64_t r, std::int64_t c) { return decode(b, r, c, true); });
  m.def("detected_isa", [] { return triton_rt::kernels::isa_name(triton_rt::kernels::detected_isa()); });
  m.def("selected_isa", [] { return triton_rt::kernels::isa_name(triton_rt::kernels::selected_isa()); });
}
