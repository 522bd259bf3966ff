// Unit tests of the ONNX backend's building blocks: the protobuf wire-format writer
// (varints, fixed32, length-delimited and packed fields against bytes worked out from the
// protobuf encoding spec), the sub-byte packing of ternary codes, the seeded ternarization,
// and the safetensors reader on good, truncated and hostile files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codegen/onnx/onnx_model.h"
#include "codegen/onnx/proto_writer.h"
#include "codegen/onnx/safetensors.h"
#include "codegen/onnx/weights.h"

namespace triton::codegen::onnx {
namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

TEST(ProtoWriter, EncodesVarintsAsTheSpecSays) {
  proto::Writer w;
  w.varint_field(1, 150);  // the spec's example: 08 96 01
  EXPECT_EQ(hex(w.bytes()), "089601");
  proto::Writer z;
  z.varint_field(2, 0);
  EXPECT_EQ(hex(z.bytes()), "1000");
  proto::Writer n;
  n.varint_field(1, -1);  // int64 -1: ten bytes, no zigzag
  EXPECT_EQ(hex(n.bytes()), "08ffffffffffffffffff01");
  proto::Writer big;
  big.varint_field(20, 300);  // field 20 needs a two-byte key: (20 << 3) | 0 = 160
  EXPECT_EQ(hex(big.bytes()), "a001ac02");
}

TEST(ProtoWriter, EncodesFloatsStringsAndNestedMessages) {
  proto::Writer w;
  w.float_field(2, 1.0f);  // key (2 << 3) | 5, then 0x3f800000 little endian
  EXPECT_EQ(hex(w.bytes()), "150000803f");
  proto::Writer s;
  s.bytes_field(2, "testing");  // the spec's example: 12 07 74 65 73 74 69 6e 67
  EXPECT_EQ(hex(s.bytes()), "120774657374696e67");
  proto::Writer inner;
  inner.varint_field(1, 150);
  proto::Writer outer;
  outer.message_field(3, inner);  // the spec's example: 1a 03 08 96 01
  EXPECT_EQ(hex(outer.bytes()), "1a03089601");
}

TEST(ProtoWriter, PacksRepeatedScalars) {
  proto::Writer w;
  const std::vector<int64_t> values = {3, 270, 86942};  // the spec's packed example
  w.packed_varints(4, values);
  EXPECT_EQ(hex(w.bytes()), "2206038e029ea705");
  proto::Writer f;
  const std::vector<float> floats = {1.0f, -2.0f};
  f.packed_floats(4, floats);
  EXPECT_EQ(hex(f.bytes()), "22080000803f000000c0");
}

TEST(OnnxTensor, PacksTernaryCodesFromTheLowBitsUp) {
  const std::vector<int8_t> codes = {-1, 0, 1, 1, 0};
  EXPECT_EQ(hex(Tensor::codes("w", DataType::Int8, {5}, codes).raw), "ff00010100");
  EXPECT_EQ(hex(Tensor::codes("w", DataType::Int4, {5}, codes).raw), "0f1100");  // 0xF | 0 << 4, ...
  EXPECT_EQ(hex(Tensor::codes("w", DataType::Int2, {5}, codes).raw), "5300");    // 11 00 01 01 -> 0x53
}

TEST(OnnxModel, SerializesTheFieldsOfOnnxProto) {
  Model m;
  m.ir_version = 10;
  m.opset = 21;
  m.producer_version = "0";
  m.graph.name = "g";
  const std::string bytes = serialize(m);
  // ModelProto.ir_version (1) = 10, producer_name (2) = "triton"
  EXPECT_EQ(hex(bytes.substr(0, 10)), "080a1206747269746f6e");
  EXPECT_NE(to_text(m).find("opset 21"), std::string::npos);
}

TEST(Ternarize, FollowsTheThresholdRuleOfTritonDslQuant) {
  // Row 0: mean|w| = 0.5, delta = 0.35: keeps 0.9 and -0.6, alpha = 0.75.
  // Row 1: all zero: no codes, alpha 0.
  const std::vector<float> w = {0.9f, -0.6f, 0.3f, 0.2f, 0, 0, 0, 0};
  const TernaryWeight t = ternarize(w, 2, 0.7, true);
  EXPECT_EQ(t.codes, (std::vector<int8_t>{1, -1, 0, 0, 0, 0, 0, 0}));
  ASSERT_EQ(t.scales.size(), 2u);
  EXPECT_FLOAT_EQ(t.scales[0], 0.75f);
  EXPECT_EQ(t.scales[1], 0.0f);
  const TernaryWeight layer = ternarize(w, 2, 0.7, false);  // one scale, repeated per channel
  EXPECT_EQ(layer.scales[0], layer.scales[1]);
}

TEST(WeightSource, DrawsTheSameValuesForTheSameSeedAndName) {
  WeightSource a(nullptr, 0), b(nullptr, 0), c(nullptr, 1);
  const auto x = a.floats("fc.weight", {4, 3}, InitSpec::uniform(0.5));
  EXPECT_EQ(x, b.floats("fc.weight", {4, 3}, InitSpec::uniform(0.5)));
  EXPECT_NE(x, c.floats("fc.weight", {4, 3}, InitSpec::uniform(0.5)));
  EXPECT_NE(x, a.floats("fc.bias", {4, 3}, InitSpec::uniform(0.5)));
  for (float v : x) EXPECT_TRUE(v >= -0.5f && v <= 0.5f);
}

// A safetensors file with the given JSON header and data bytes.
std::string file(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

TEST(SafeTensors, ReadsTensorsAndMetadata) {
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0\xff\x01", 10);
  std::string error;
  auto f = parse_safetensors(
      file(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
           R"("c\u0041":{"dtype":"I8","shape":[1,2],"data_offsets":[8,10]}})",
           data),
      &error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->metadata.at("format"), "pt");
  EXPECT_EQ(f->tensors.at("w").as_floats(), (std::vector<float>{1.0f, -2.0f}));
  const SafeTensor& c = f->tensors.at("cA");
  EXPECT_EQ(c.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c.data, std::string("\xff\x01", 2));
}

TEST(SafeTensors, RejectsMalformedFiles) {
  const std::string four(4, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"short", "1234"},
      {"header longer than the file", std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10)},
      {"not json", file("{\"w\":", four)},
      {"not an object", file("[1,2]", four)},
      {"trailing bytes", file("{} x", four)},
      {"unknown dtype", file(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", four)},
      {"offsets past the end", file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four)},
      {"size mismatch", file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four)},
      {"negative dim", file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four)},
      {"reversed offsets", file(R"({"w":{"dtype":"I8","shape":[0],"data_offsets":[4,0]}})", four)},
      {"huge offsets", file(R"({"w":{"dtype":"I8","shape":[1],"data_offsets":[99999999999999999999,0]}})", four)},
      {"overlap", file(R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"I8","shape":[2],"data_offsets":[1,3]}})", four)},
      {"duplicate", file(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}})", four)},
      {"missing fields", file(R"({"w":{"dtype":"F32"}})", four)},
      {"deep nesting", file(std::string(100, '[') + std::string(100, ']'), four)},
      {"unterminated string", file("{\"w", four)},
  };
  for (const auto& [what, bytes] : cases) {
    std::string error;
    EXPECT_FALSE(parse_safetensors(bytes, &error)) << what;
    EXPECT_FALSE(error.empty()) << what;
  }
}

TEST(WeightSource, ReportsMissingAndMismatchedTensors) {
  std::string error;
  auto f = parse_safetensors(file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')), &error);
  ASSERT_TRUE(f) << error;
  WeightSource missing(&*f, 0);
  missing.floats("v", {1}, {});
  EXPECT_NE(missing.error().find("no tensor `v`"), std::string::npos) << missing.error();
  WeightSource shape(&*f, 0);
  shape.floats("w", {2}, {});
  EXPECT_NE(shape.error().find("expected F32[2]"), std::string::npos) << shape.error();
}

}  // namespace
}  // namespace triton::codegen::onnx
