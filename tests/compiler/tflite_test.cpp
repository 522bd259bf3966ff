// Unit tests of the TFLite backend's building blocks: the FlatBuffers builder (read back
// with a small reader written here from the FlatBuffers binary-format description: root
// offset, vtables, strings, vectors, alignment), the model serializer (file identifier,
// schema version, operator codes past 127), and the ONNX -> TFLite conversion on small
// hand-built graphs (filter layouts, per-channel quantization axes, transposes only at the
// edges of a convolution chain, the error for an operator without a lowering).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "codegen/onnx/onnx_model.h"
#include "codegen/tflite/flatbuffer_builder.h"
#include "codegen/tflite/tflite_backend.h"
#include "codegen/tflite/tflite_model.h"

namespace triton::codegen::tflite {
namespace {

// A read-only view of a FlatBuffer table.
class TableReader {
 public:
  TableReader(const std::string& buffer, uint32_t position) : buffer_(buffer), position_(position) {}

  static TableReader root(const std::string& buffer) { return {buffer, read<uint32_t>(buffer, 0)}; }

  template <typename T>
  static T read(const std::string& buffer, size_t at) {
    T value;
    std::memcpy(&value, buffer.data() + at, sizeof(T));
    return value;
  }

  // The field's absolute position, or 0 when the vtable leaves it out.
  uint32_t field(uint16_t id) const {
    const uint32_t vtable = position_ - read<int32_t>(buffer_, position_);
    const uint16_t vtable_size = read<uint16_t>(buffer_, vtable);
    if (4u + 2u * id >= vtable_size) return 0;
    const uint16_t offset = read<uint16_t>(buffer_, vtable + 4 + 2 * id);
    return offset == 0 ? 0 : position_ + offset;
  }
  template <typename T>
  T scalar(uint16_t id, T fallback) const {
    const uint32_t at = field(id);
    return at == 0 ? fallback : read<T>(buffer_, at);
  }
  uint32_t target(uint16_t id) const {
    const uint32_t at = field(id);
    return at + read<uint32_t>(buffer_, at);
  }
  std::string string(uint16_t id) const {
    const uint32_t at = target(id);
    return buffer_.substr(at + 4, read<uint32_t>(buffer_, at));
  }
  TableReader child(uint16_t id) const { return {buffer_, target(id)}; }
  uint32_t vector_length(uint16_t id) const { return read<uint32_t>(buffer_, target(id)); }
  uint32_t vector_data(uint16_t id) const { return target(id) + 4; }
  TableReader table_at(uint16_t id, uint32_t index) const {
    const uint32_t slot = vector_data(id) + 4 * index;
    return {buffer_, slot + read<uint32_t>(buffer_, slot)};
  }

 private:
  const std::string& buffer_;
  uint32_t position_;
};

TEST(FlatBufferBuilder, WritesTablesThatReadBack) {
  FlatBufferBuilder b;
  const auto name = b.create_string("conv");
  const auto dims = b.create_scalar_vector(std::vector<int32_t>{1, 16, 16, 3});
  const auto wide = b.create_scalar_vector(std::vector<int64_t>{0, -5});
  const auto bytes = b.create_byte_vector(std::string("\x01\x02\x03", 3), 16);
  b.start_table();
  b.add_scalar<int8_t>(1, int8_t{9}, int8_t{0});
  b.add_offset(0, dims);
  b.add_offset(3, name);
  b.add_scalar<int32_t>(4, 7, 7);  // the default: left out
  b.add_offset(5, wide);
  b.add_offset(6, bytes);
  b.add_scalar<float>(7, 0.5f, 0.0f);
  const std::string buffer = b.finish(b.end_table(), "TEST");
  EXPECT_EQ(buffer.substr(4, 4), "TEST");
  const TableReader root = TableReader::root(buffer);
  EXPECT_EQ(root.scalar<int8_t>(1, 0), 9);
  EXPECT_EQ(root.field(4), 0u);
  EXPECT_EQ(root.field(2), 0u);
  EXPECT_EQ(root.field(40), 0u);
  EXPECT_EQ(root.string(3), "conv");
  EXPECT_EQ(buffer[root.target(3) + 4 + 4], '\0');  // strings end with a zero byte
  ASSERT_EQ(root.vector_length(0), 4u);
  EXPECT_EQ(TableReader::read<int32_t>(buffer, root.vector_data(0) + 4), 16);
  EXPECT_EQ(root.vector_data(5) % 8, 0u);
  EXPECT_EQ(TableReader::read<int64_t>(buffer, root.vector_data(5) + 8), -5);
  EXPECT_EQ(root.vector_data(6) % 16, 0u);  // force_align: 16, as TFLite buffers want
  EXPECT_EQ(buffer.substr(root.vector_data(6), 3), std::string("\x01\x02\x03", 3));
  EXPECT_EQ(root.scalar<float>(7, 0.0f), 0.5f);
  EXPECT_EQ(buffer.size() % 16, 0u);
}

TEST(TfliteModel, SerializesTheSchemaFields) {
  Model m;
  m.subgraph_name = "Tiny";
  m.tensors.push_back({"x", TensorType::Float32, {1, 4}, 0, std::nullopt});
  m.buffers.push_back(std::string(4, '\x01'));
  Quantization q{{0.5f, 0.25f}, {0, 0}, 0};
  m.tensors.push_back({"w.codes", TensorType::Int8, {2, 2}, 1, q});
  m.tensors.push_back({"y", TensorType::Float32, {1, 4}, 0, std::nullopt});
  m.operators.push_back({BuiltinOperator::Gelu, {0}, {2}, gelu_options(false)});
  m.operators.push_back({BuiltinOperator::Relu, {2}, {2}, {}});
  m.inputs = {0};
  m.outputs = {2};
  const std::string buffer = serialize(m);
  EXPECT_EQ(buffer.substr(4, 4), "TFL3");
  const TableReader model = TableReader::root(buffer);
  EXPECT_EQ(model.scalar<uint32_t>(0, 0), 3u);
  ASSERT_EQ(model.vector_length(1), 2u);
  const TableReader gelu = model.table_at(1, 0);
  EXPECT_EQ(gelu.scalar<int8_t>(0, 0), 127);  // codes past 126 live in builtin_code only
  EXPECT_EQ(gelu.scalar<int32_t>(3, 0), 150);
  EXPECT_EQ(model.table_at(1, 1).scalar<int8_t>(0, 0), 19);
  ASSERT_EQ(model.vector_length(4), 2u);  // the empty sentinel, then the codes
  EXPECT_EQ(model.table_at(4, 0).field(0), 0u);
  const TableReader subgraph = model.table_at(2, 0);
  EXPECT_EQ(subgraph.string(4), "Tiny");
  ASSERT_EQ(subgraph.vector_length(0), 3u);
  const TableReader codes = subgraph.table_at(0, 1);
  EXPECT_EQ(codes.scalar<int8_t>(1, -1), 9);  // INT8
  EXPECT_EQ(codes.scalar<uint32_t>(2, 0), 1u);
  const TableReader quantization = codes.child(4);
  ASSERT_EQ(quantization.vector_length(2), 2u);
  EXPECT_EQ(TableReader::read<float>(buffer, quantization.vector_data(2) + 4), 0.25f);
  ASSERT_EQ(quantization.vector_length(3), 2u);
  EXPECT_EQ(TableReader::read<int64_t>(buffer, quantization.vector_data(3)), 0);
  const TableReader first_op = subgraph.table_at(3, 0);
  EXPECT_EQ(first_op.scalar<uint8_t>(3, 0), 116);  // BuiltinOptions.GeluOptions
}

onnx::Tensor int8_codes(const std::string& name, std::vector<int64_t> dims) {
  std::vector<int8_t> values;
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  for (int64_t i = 0; i < count; ++i) values.push_back(static_cast<int8_t>(i % 3 - 1));
  return onnx::Tensor::codes(name, onnx::DataType::Int8, std::move(dims), values);
}

onnx::Node node(std::string op, std::vector<std::string> inputs, std::string output,
                std::vector<onnx::Attribute> attributes = {}) {
  return {std::move(op), output, std::move(inputs), {output}, std::move(attributes)};
}

// x [batch, 4, 8, 8] -> Conv 3x3 (4 -> 6) -> Relu -> depthwise Conv 3x3 (6 -> 6) -> output.
onnx::Model conv_chain() {
  onnx::Model m;
  m.graph.name = "Chain";
  m.graph.inputs.push_back({"x", onnx::DataType::Float, {{-1, "batch"}, {4, ""}, {8, ""}, {8, ""}}});
  m.graph.initializers.push_back(int8_codes("a.codes", {6, 4, 3, 3}));
  m.graph.initializers.push_back(onnx::Tensor::floats("a.scales", {6}, {1, 2, 3, 4, 5, 6}));
  m.graph.initializers.push_back(int8_codes("d.codes", {6, 1, 3, 3}));
  m.graph.initializers.push_back(onnx::Tensor::floats("d.scales", {6}, {1, 1, 1, 1, 1, 1}));
  const auto conv_attrs = [](int64_t group) {
    return std::vector<onnx::Attribute>{onnx::Attribute::of_int("group", group),
                                        onnx::Attribute::of_ints("kernel_shape", {3, 3}),
                                        onnx::Attribute::of_ints("pads", {1, 1, 1, 1})};
  };
  m.graph.nodes.push_back(node("DequantizeLinear", {"a.codes", "a.scales"}, "a.weight",
                               {onnx::Attribute::of_int("axis", 0)}));
  m.graph.nodes.push_back(node("Conv", {"x", "a.weight"}, "a/Conv:0", conv_attrs(1)));
  m.graph.nodes.push_back(node("Relu", {"a/Conv:0"}, "relu/Relu:0"));
  m.graph.nodes.push_back(node("DequantizeLinear", {"d.codes", "d.scales"}, "d.weight",
                               {onnx::Attribute::of_int("axis", 0)}));
  m.graph.nodes.push_back(node("Conv", {"relu/Relu:0", "d.weight"}, "d/Conv:0", conv_attrs(6)));
  m.graph.nodes.push_back(node("Identity", {"d/Conv:0"}, "output"));
  m.graph.outputs.push_back({"output", onnx::DataType::Float, {{-1, "batch"}, {6, ""}, {8, ""}, {8, ""}}});
  return m;
}

const Tensor* find_tensor(const Model& m, const std::string& name) {
  for (const Tensor& t : m.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(TfliteBackend, PermutesFiltersOnTheCodes) {
  std::string error;
  const auto model = convert_onnx_to_tflite(conv_chain(), "test", &error);
  ASSERT_TRUE(model) << error;
  const Tensor* regular = find_tensor(*model, "a.weight.codes/nhwc");
  ASSERT_NE(regular, nullptr);
  EXPECT_EQ(regular->shape, (std::vector<int32_t>{6, 3, 3, 4}));  // OHWI
  ASSERT_TRUE(regular->quantization);
  EXPECT_EQ(regular->quantization->quantized_dimension, 0);
  EXPECT_EQ(regular->quantization->scale.size(), 6u);
  // OIHW element [o=0, i=1, h=0, w=0] (flat index 9) is OHWI element [0, 0, 0, 1].
  EXPECT_EQ(static_cast<int8_t>(model->buffers[regular->buffer][1]), 9 % 3 - 1);
  const Tensor* depthwise = find_tensor(*model, "d.weight.codes/permuted");
  ASSERT_NE(depthwise, nullptr);
  EXPECT_EQ(depthwise->shape, (std::vector<int32_t>{1, 3, 3, 6}));
  EXPECT_EQ(depthwise->quantization->quantized_dimension, 3);
}

TEST(TfliteBackend, TransposesOnlyAtTheEdgesOfAConvChain) {
  std::string error;
  const auto model = convert_onnx_to_tflite(conv_chain(), "test", &error);
  ASSERT_TRUE(model) << error;
  std::vector<BuiltinOperator> ops;
  for (const Operator& op : model->operators) {
    if (op.op != BuiltinOperator::Dequantize) ops.push_back(op.op);
  }
  EXPECT_EQ(ops, (std::vector<BuiltinOperator>{BuiltinOperator::Transpose, BuiltinOperator::Conv2d,
                                                BuiltinOperator::Relu, BuiltinOperator::DepthwiseConv2d,
                                                BuiltinOperator::Transpose}));
  EXPECT_EQ(model->tensors[model->inputs[0]].shape, (std::vector<int32_t>{1, 4, 8, 8}));
  EXPECT_EQ(model->tensors[model->outputs[0]].shape, (std::vector<int32_t>{1, 6, 8, 8}));
  EXPECT_EQ(model->tensors[model->outputs[0]].name, "output");
}

TEST(TfliteBackend, NamesAnOperatorWithoutALowering) {
  onnx::Model m = conv_chain();
  m.graph.nodes.insert(m.graph.nodes.begin() + 2, node("Hardmax", {"a/Conv:0"}, "head/Hardmax:0"));
  m.graph.nodes[2].name = "head/Hardmax";
  std::string error;
  EXPECT_FALSE(convert_onnx_to_tflite(m, "test", &error));
  EXPECT_EQ(error, "the TFLite backend cannot lower `Hardmax` in `head`");
}

}  // namespace
}  // namespace triton::codegen::tflite
