// `triton run` end to end through its library entry point: .npy in, .npy out, --bench, and
// clear errors for a missing model, bad arguments and .npy files that lie about their size.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/npy.h"
#include "cli/run_command.h"
#include "executor/engine.h"
#include "tpk_builder.h"

using namespace triton_rt;

namespace {

int call(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return run_command(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST(RunCommand, RunsAModelOnNpyFiles) {
  const std::string dir = TRITON_RT_TEST_TMP;
  test_support::TpkBuilder b;
  const auto x = b.value({1, 3}), y = b.value({1, 3});
  b.op(OpKind::kScalarAffine, {x}, y, {}, {2.0f, 1.0f});
  b.input(x);
  b.output(y);
  const auto bytes = b.bytes();
  std::ofstream(dir + "/affine.tpk", std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  Tensor in({2, 3});
  in.data = {0, 1, 2, 3, 4, 5};
  ASSERT_TRUE(write_npy(dir + "/x.npy", in).ok());
  EXPECT_EQ(call({dir + "/affine.tpk", "--input", dir + "/x.npy", "--output", dir + "/y.npy",
                  "--threads", "1", "--bench", "3"}),
            0);
  auto out = read_npy(dir + "/y.npy");
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(out.value().shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(out.value().data, (std::vector<float>{1, 3, 5, 7, 9, 11}));
}

TEST(RunCommand, ReportsErrors) {
  const std::string dir = TRITON_RT_TEST_TMP;
  EXPECT_EQ(call({dir + "/missing.tpk", "--input", dir + "/x.npy"}), 1);
  EXPECT_EQ(call({"--bogus"}), 2);
  EXPECT_EQ(call({}), 2);
}

namespace {

std::vector<std::uint8_t> npy_bytes(const std::string& shape, std::size_t data_bytes,
                                    const std::string& descr = "<f4") {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xFF);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  file.append(data_bytes, '\0');
  return std::vector<std::uint8_t>(file.begin(), file.end());
}

}  // namespace

TEST(Npy, HeadersAreCheckedAgainstTheFileBeforeAllocating) {
  // Each header claims more than its 64 data bytes, or nothing sensible at all; none may
  // allocate what it claims (3 GB and 313 GB here) or overflow counting it.
  for (const std::string shape : {"(1000000, 1, 28, 28)", "(100000000, 1, 28, 28)", "(17,)",
                                  "(-1, 1, 28, 28)", "(4611686018427387904, 4)",
                                  "(4611686018427387904, 4611686018427387904, 4)",
                                  "(99999999999999999999999,)", "(1, x)", "(1,,2)", "[1, 2]", ""}) {
    const auto bytes = npy_bytes(shape, 64);
    auto t = parse_npy(bytes, "x.npy");
    EXPECT_FALSE(t.ok()) << shape;
  }
  auto bad_dtype = parse_npy(npy_bytes("(2,)", 16, "|O"), "x.npy");
  ASSERT_FALSE(bad_dtype.ok());
  EXPECT_NE(bad_dtype.message().find("unsupported dtype"), std::string::npos) << bad_dtype.message();
  // What fits is read, zero-sized arrays included.
  auto fits = parse_npy(npy_bytes("(4, 4)", 64), "x.npy");
  ASSERT_TRUE(fits.ok()) << fits.message();
  EXPECT_EQ(fits.value().shape, (std::vector<std::int64_t>{4, 4}));
  auto empty = parse_npy(npy_bytes("(0, 3)", 0), "x.npy");
  ASSERT_TRUE(empty.ok()) << empty.message();
  EXPECT_EQ(empty.value().data.size(), 0u);
  auto scalar = parse_npy(npy_bytes("()", 8, "<f8"), "x.npy");
  ASSERT_TRUE(scalar.ok()) << scalar.message();
  EXPECT_EQ(scalar.value().data.size(), 1u);
}

TEST(Npy, OnlyRegularFilesAreRead) {
  const std::string dir = TRITON_RT_TEST_TMP;
  auto device = read_npy("/dev/zero");  // would grow without limit if read to its end
  ASSERT_FALSE(device.ok());
  EXPECT_NE(device.message().find("not a regular file"), std::string::npos) << device.message();
  auto directory = read_npy(dir);
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.message().find("directory"), std::string::npos) << directory.message();
  auto nul = read_npy(dir + std::string("/x.npy\0junk", 11));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.message().find("NUL"), std::string::npos) << nul.message();
  auto model = Engine::from_file(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.message().find("directory"), std::string::npos) << model.message();
}

TEST(RunCommand, RejectsBadCountsAndLyingInputs) {
  const std::string dir = TRITON_RT_TEST_TMP;
  test_support::TpkBuilder b;
  const auto x = b.value({1, 3}), y = b.value({1, 3});
  b.op(OpKind::kScalarAffine, {x}, y, {}, {2.0f, 1.0f});
  b.input(x);
  b.output(y);
  const auto model = b.bytes();
  std::ofstream(dir + "/affine2.tpk", std::ios::binary)
      .write(reinterpret_cast<const char*>(model.data()), static_cast<std::streamsize>(model.size()));
  const auto lying = npy_bytes("(1000000000, 3)", 24);
  std::ofstream(dir + "/lying.npy", std::ios::binary)
      .write(reinterpret_cast<const char*>(lying.data()), static_cast<std::streamsize>(lying.size()));
  Tensor in({2, 3});
  in.data = {0, 1, 2, 3, 4, 5};
  ASSERT_TRUE(write_npy(dir + "/x2.npy", in).ok());
  const std::string tpk = dir + "/affine2.tpk", npy = dir + "/x2.npy";
  EXPECT_EQ(call({tpk, "--input", dir + "/lying.npy"}), 1);
  EXPECT_EQ(call({tpk, "--input", "/dev/zero"}), 1);
  EXPECT_EQ(call({tpk, "--input", npy, "--threads", "-1"}), 2);
  EXPECT_EQ(call({tpk, "--input", npy, "--threads", "4x"}), 2);
  EXPECT_EQ(call({tpk, "--input", npy, "--threads", "99999999999"}), 2);
  EXPECT_EQ(call({tpk, "--input", npy, "--bench", "-2"}), 2);
  // More threads than the machine has: capped (with a note), and the run succeeds.
  EXPECT_EQ(call({tpk, "--input", npy, "--threads", "100000"}), 0);
}
