// `triton run` end to end through its library entry point: .npy in, .npy out, --bench, and
// clear errors for a missing model or bad arguments.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/npy.h"
#include "cli/run_command.h"
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
