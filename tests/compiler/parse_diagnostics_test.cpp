// Unit tests of what the parser stands on: the diagnostics engine (formatting, clang-style
// rendering, ordering, cascade suppression, the error limit), the registry, the shared
// did-you-mean helper, and source locations.
#include <gtest/gtest.h>

#include <sstream>

#include "diag/diagnostic.h"
#include "diag/edit_distance.h"
#include "diag/internal_error.h"
#include "source/source_buffer.h"

namespace triton {
namespace {

TEST(SourceBuffer, LineAndColumn) {
  SourceBuffer buffer("f.triton", "ab\ncd\r\n\nxyz");
  EXPECT_EQ(buffer.line_column(0).line, 1u);
  EXPECT_EQ(buffer.line_column(4).line, 2u);
  EXPECT_EQ(buffer.line_column(4).column, 2u);
  EXPECT_EQ(buffer.line_text(2), "cd");  // without the \r
  EXPECT_EQ(buffer.line_text(3), "");
  EXPECT_EQ(buffer.line_text(4), "xyz");
  EXPECT_EQ(buffer.line_column(buffer.size()).line, 4u);
  EXPECT_EQ(buffer.line_text(99), "");
}

TEST(Diagnostics, FormatMessage) {
  EXPECT_EQ(format_message("expected {0}, found {1}", {"`:`", "`x`"}), "expected `:`, found `x`");
  EXPECT_EQ(format_message("a {{b}} {0}", {"c"}), "a {b} c");
  EXPECT_EQ(format_message("{5} stays empty", {}), " stays empty");
}

TEST(Diagnostics, RegistryIsConsistent) {
  for (size_t i = 0; i < kDiagKindCount; ++i) {
    const auto kind = static_cast<DiagKind>(i);
    const std::string format(diag_format(kind));
    ASSERT_FALSE(format.empty()) << diag_id(kind);
    // House style: lowercase start, no trailing period.
    EXPECT_FALSE(std::isupper(static_cast<unsigned char>(format[0]))) << diag_id(kind);
    EXPECT_NE(format.back(), '.') << diag_id(kind);
    EXPECT_EQ(diag_kind_from_id(diag_id(kind)), kind);
  }
  EXPECT_EQ(diag_kind_from_id("no_such_kind"), std::nullopt);
}

TEST(Diagnostics, RendersClangStyle) {
  SourceBuffer buffer("net.triton", "model N {\n    x = fc(y)\n}\n");
  std::ostringstream out;
  DiagnosticEngine diags(buffer, &out);
  diags.report(DiagKind::expected_token, SourceRange{18, 23}, {"`:`", "`fc(y)`"})
      .hint("did you mean `z`?")
      .note(DiagKind::note_to_match, SourceRange{8, 9}, {"{"});
  EXPECT_EQ(out.str(),
            "net.triton:2:9: error: expected `:`, found `fc(y)`; did you mean `z`?\n"
            "    2 |     x = fc(y)\n"
            "      |         ^~~~~\n"
            "net.triton:1:9: note: to match this `{`\n"
            "    1 | model N {\n"
            "      |         ^\n");
  EXPECT_EQ(diags.error_count(), 1u);
}

TEST(Diagnostics, CaretsAlignUnderTabsAndUtf8) {
  SourceBuffer buffer("t.triton", "\t\xC3\xA9 $");
  DiagnosticEngine diags(buffer, nullptr);
  diags.report(DiagKind::stray_character, SourceRange{4, 5}, {"$"});
  const std::string text = diags.render(diags.diagnostics()[0]);
  EXPECT_NE(text.find("    1 |     \xC3\xA9 $\n      |       ^\n"), std::string::npos) << text;
}

TEST(Diagnostics, LongLinesAreCutAroundTheCaret) {
  const std::string line = std::string(300, 'a') + "$" + std::string(300, 'b');
  SourceBuffer buffer("long.triton", line);
  DiagnosticEngine diags(buffer, nullptr);
  diags.report(DiagKind::stray_character, SourceRange{300, 301}, {"$"});
  const std::string text = diags.render(diags.diagnostics()[0]);
  const size_t snippet = text.find("    1 | ...");
  ASSERT_NE(snippet, std::string::npos) << text;
  const size_t line_end = text.find('\n', snippet);
  const std::string shown = text.substr(snippet + 8, line_end - snippet - 8);
  EXPECT_LE(shown.size(), 126u);
  EXPECT_EQ(shown.substr(shown.size() - 3), "...");
  // The caret sits under the `$` of the shortened line.
  const size_t caret_line = line_end + 1;
  const size_t caret = text.find('^', caret_line) - (caret_line + 8);
  EXPECT_EQ(shown[caret], '$');
}

TEST(Diagnostics, WholeFileDiagnosticHasNoSnippet) {
  SourceBuffer buffer("empty.triton", "");
  DiagnosticEngine diags(buffer, nullptr);
  diags.report(DiagKind::no_declarations, std::nullopt, {"empty.triton"});
  EXPECT_EQ(diags.render(diags.diagnostics()[0]),
            "empty.triton: error: `empty.triton` declares no `model`, `block` or `layer`\n");
}

TEST(Diagnostics, ShowIdsForTests) {
  SourceBuffer buffer("f.triton", "x");
  DiagnosticEngine diags(buffer, nullptr, DiagnosticOptions{true, 50});
  diags.report(DiagKind::stray_character, SourceRange{0, 1}, {"x"});
  EXPECT_NE(diags.render(diags.diagnostics()[0]).find("[stray_character]"), std::string::npos);
}

TEST(Diagnostics, SecondErrorAtTheSameOffsetIsACascade) {
  SourceBuffer buffer("f.triton", "abc");
  DiagnosticEngine diags(buffer, nullptr);
  diags.report(DiagKind::stray_character, SourceRange{1, 2}, {"b"});
  diags.report(DiagKind::expected_expression, SourceRange{1, 2}, {"`b`"});
  diags.report(DiagKind::stray_character, SourceRange{2, 3}, {"c"});
  EXPECT_EQ(diags.error_count(), 2u);
}

TEST(Diagnostics, ErrorLimitStopsWithOneMessage) {
  SourceBuffer buffer("f.triton", "0123456789");
  DiagnosticEngine diags(buffer, nullptr, DiagnosticOptions{false, 3});
  for (uint32_t i = 0; i < 10; ++i) diags.report(DiagKind::stray_character, SourceRange{i, i + 1}, {"x"});
  ASSERT_EQ(diags.diagnostics().size(), 4u);
  EXPECT_EQ(diags.diagnostics().back().kind, DiagKind::too_many_errors);
  EXPECT_TRUE(diags.limit_reached());
}

TEST(Diagnostics, HeldDiagnosticsPrintInSourceOrder) {
  SourceBuffer buffer("f.triton", "ab\ncd\n");
  std::ostringstream out;
  DiagnosticEngine diags(buffer, &out);
  diags.hold();
  diags.report(DiagKind::stray_character, SourceRange{4, 5}, {"d"});
  diags.report(DiagKind::stray_character, SourceRange{0, 1}, {"a"});
  EXPECT_EQ(out.str(), "");
  diags.release();
  EXPECT_LT(out.str().find("f.triton:1:1"), out.str().find("f.triton:2:2"));
}

TEST(EditDistance, Basics) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("layer", "layr"), 1u);
  EXPECT_EQ(edit_distance("model", "modle"), 1u);  // a swap costs one
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(EditDistance, ClosestMatch) {
  const std::string_view candidates[] = {"training", "performance", "optimization"};
  EXPECT_EQ(closest_match("trainig", candidates), "training");
  EXPECT_EQ(closest_match("optimisation", candidates), "optimization");
  EXPECT_EQ(closest_match("TRAINING", candidates), "training");
  EXPECT_EQ(closest_match("metadata", candidates), std::nullopt);
  EXPECT_EQ(did_you_mean("perfomance", candidates), "did you mean `performance`?");
  EXPECT_EQ(did_you_mean("zzz", candidates), "");
}

TEST(InternalErrors, CarryOurSourceLocation) {
  try {
    internal_error("broken invariant");
    FAIL();
  } catch (const InternalError& error) {
    EXPECT_STREQ(error.what(), "broken invariant");
    EXPECT_NE(error.where().front(), '/');  // never an absolute path of the build machine
    EXPECT_NE(error.where().find("parse_diagnostics_test.cpp:"), std::string::npos);
  }
  EXPECT_THROW(check_invariant(false, "x"), InternalError);
  EXPECT_NO_THROW(check_invariant(true, "x"));
}

}  // namespace
}  // namespace triton
