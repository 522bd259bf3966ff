// Unit tests of the lexer: token kinds and ranges, newline tracking, literal values, count
// suffixes, and that malformed input yields Error tokens plus exactly one diagnostic each.
#include <gtest/gtest.h>

#include "lex/lexer.h"

namespace triton {
namespace {

struct Lexed {
  SourceBuffer buffer;
  std::unique_ptr<DiagnosticEngine> diags;
  TokenList list;
  std::vector<Token> tokens;  // a copy of list.tokens, for brevity
};

Lexed lex_text(std::string text) {
  Lexed result{SourceBuffer("test.triton", std::move(text)), nullptr, {}};
  result.diags = std::make_unique<DiagnosticEngine>(result.buffer, nullptr);
  result.list = lex(result.buffer, *result.diags);
  result.tokens = result.list.tokens;
  return result;
}

std::vector<TokenKind> kinds(const Lexed& lexed) {
  std::vector<TokenKind> out;
  for (const Token& t : lexed.tokens) out.push_back(t.kind);
  return out;
}

TEST(Lexer, EmptyInputIsJustEndOfFile) {
  auto lexed = lex_text("");
  ASSERT_EQ(lexed.tokens.size(), 1u);
  EXPECT_EQ(lexed.tokens[0].kind, TokenKind::EndOfFile);
  EXPECT_FALSE(lexed.diags->has_errors());
}

TEST(Lexer, KeywordsIdentifiersAndPunctuation) {
  auto lexed = lex_text("model Net { layer fc: X[] -> ... }");
  EXPECT_EQ(kinds(lexed), (std::vector<TokenKind>{
                              TokenKind::KwModel, TokenKind::Identifier, TokenKind::LBrace,
                              TokenKind::KwLayer, TokenKind::Identifier, TokenKind::Colon,
                              TokenKind::Identifier, TokenKind::LBracket, TokenKind::RBracket,
                              TokenKind::Arrow, TokenKind::Ellipsis, TokenKind::RBrace,
                              TokenKind::EndOfFile}));
  EXPECT_EQ(lexed.buffer.slice(lexed.tokens[1].range), "Net");
  EXPECT_EQ(lexed.tokens[1].range, (SourceRange{6, 9}));
}

TEST(Lexer, BothSpellingsOfBooleansAreKeywords) {
  auto lexed = lex_text("true True false False None");
  EXPECT_EQ(kinds(lexed), (std::vector<TokenKind>{TokenKind::KwTrue, TokenKind::KwTrueCap,
                                                  TokenKind::KwFalse, TokenKind::KwFalseCap,
                                                  TokenKind::KwNone, TokenKind::EndOfFile}));
}

TEST(Lexer, OperatorsTakeTheLongestMatch) {
  auto lexed = lex_text("** * += -= *= /= == != <= >= < > = @ %");
  EXPECT_EQ(kinds(lexed), (std::vector<TokenKind>{
                              TokenKind::StarStar, TokenKind::Star, TokenKind::PlusAssign,
                              TokenKind::MinusAssign, TokenKind::StarAssign,
                              TokenKind::SlashAssign, TokenKind::EqualEqual, TokenKind::NotEqual,
                              TokenKind::LessEqual, TokenKind::GreaterEqual, TokenKind::Less,
                              TokenKind::Greater, TokenKind::Assign, TokenKind::At,
                              TokenKind::Percent, TokenKind::EndOfFile}));
}

TEST(Lexer, NewlineBeforeIsTrackedAcrossComments) {
  auto lexed = lex_text("a b // c\n d /* x\n y */ e /* z */ f # g\ng");
  ASSERT_EQ(lexed.tokens.size(), 7u);
  EXPECT_TRUE(lexed.tokens[0].newline_before);   // a: start of file
  EXPECT_FALSE(lexed.tokens[1].newline_before);  // b
  EXPECT_TRUE(lexed.tokens[2].newline_before);   // d: after a line comment
  EXPECT_TRUE(lexed.tokens[3].newline_before);   // e: a block comment held a line break
  EXPECT_FALSE(lexed.tokens[4].newline_before);  // f: a one-line block comment
  EXPECT_TRUE(lexed.tokens[5].newline_before);   // g: after a `#` comment
}

TEST(Lexer, ByteOrderMarkIsSkipped) {
  auto lexed = lex_text("\xEF\xBB\xBFmodel");
  EXPECT_EQ(kinds(lexed), (std::vector<TokenKind>{TokenKind::KwModel, TokenKind::EndOfFile}));
  EXPECT_FALSE(lexed.diags->has_errors());
}

TEST(Lexer, SlashSlashIsAlwaysAComment) {
  auto lexed = lex_text("a // b");
  EXPECT_EQ(kinds(lexed), (std::vector<TokenKind>{TokenKind::Identifier, TokenKind::EndOfFile}));
}

TEST(Lexer, NumbersAndCountSuffixes) {
  auto lexed = lex_text("10 0.001 1e-6 2.5E3 300M 16.8B 4K 2G 1.5K .5");
  const auto& t = lexed.tokens;
  ASSERT_EQ(t.size(), 11u);
  EXPECT_EQ(t[0].kind, TokenKind::Integer);
  EXPECT_EQ(t[0].int_value, 10);
  EXPECT_EQ(t[1].kind, TokenKind::Float);
  EXPECT_DOUBLE_EQ(t[1].float_value, 0.001);
  EXPECT_DOUBLE_EQ(t[2].float_value, 1e-6);
  EXPECT_DOUBLE_EQ(t[3].float_value, 2500.0);
  EXPECT_EQ(t[4].kind, TokenKind::Integer);
  EXPECT_EQ(t[4].int_value, 300'000'000);
  EXPECT_EQ(t[4].suffix, 'M');
  EXPECT_EQ(t[5].kind, TokenKind::Integer);
  EXPECT_EQ(t[5].int_value, 16'800'000'000);
  EXPECT_EQ(t[6].int_value, 4'000);
  EXPECT_EQ(t[7].int_value, 2'000'000'000);
  EXPECT_EQ(t[8].int_value, 1'500);
  EXPECT_EQ(t[9].kind, TokenKind::Float);
  EXPECT_DOUBLE_EQ(t[9].float_value, 0.5);
  EXPECT_FALSE(lexed.diags->has_errors());
}

TEST(Lexer, StringEscapesAreDecoded) {
  auto lexed = lex_text(R"("a\tb\n\"q\"\\ \u{41}\u{2603}")");
  ASSERT_EQ(lexed.tokens[0].kind, TokenKind::String);
  EXPECT_EQ(lexed.list.string_value(lexed.tokens[0]), "a\tb\n\"q\"\\ A\xE2\x98\x83");
}

struct BadInput {
  const char* text;
  DiagKind expected;
};

class LexerErrors : public ::testing::TestWithParam<BadInput> {};

TEST_P(LexerErrors, ReportsOneDiagnosticAndAnErrorToken) {
  auto lexed = lex_text(GetParam().text);
  ASSERT_EQ(lexed.diags->diagnostics().size(), 1u) << GetParam().text;
  EXPECT_EQ(lexed.diags->diagnostics()[0].kind, GetParam().expected) << GetParam().text;
  bool saw_error_token = false;
  for (const Token& t : lexed.tokens) saw_error_token = saw_error_token || t.is(TokenKind::Error);
  // An unterminated block comment swallows the rest of the file instead.
  if (GetParam().expected != DiagKind::unterminated_block_comment) {
    EXPECT_TRUE(saw_error_token);
  }
  EXPECT_EQ(lexed.tokens.back().kind, TokenKind::EndOfFile);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, LexerErrors,
    ::testing::Values(BadInput{"a $ b", DiagKind::stray_character},
                      BadInput{"'abc'", DiagKind::single_quoted_string},
                      BadInput{"\"abc\nx", DiagKind::unterminated_string},
                      BadInput{"\"abc", DiagKind::unterminated_string},
                      BadInput{R"("\q")", DiagKind::invalid_escape},
                      BadInput{R"("\u{110000}")", DiagKind::invalid_escape},
                      BadInput{"/* never closed", DiagKind::unterminated_block_comment},
                      BadInput{"1e", DiagKind::number_missing_exponent},
                      BadInput{"1e+", DiagKind::number_missing_exponent},
                      BadInput{"12abc", DiagKind::number_invalid_suffix},
                      BadInput{"1.2.3", DiagKind::number_extra_dot},
                      BadInput{"99999999999999999999", DiagKind::number_too_large},
                      BadInput{"1e999", DiagKind::number_too_large},
                      BadInput{"\xff", DiagKind::invalid_utf8}));

TEST(Lexer, FileSizeLimit) {
  SourceBuffer buffer("big.triton", std::string(100, ' '));
  DiagnosticEngine diags(buffer, nullptr);
  auto list = lex(buffer, diags, LexerLimits{64});
  ASSERT_EQ(list.tokens.size(), 1u);
  EXPECT_EQ(list.tokens[0].kind, TokenKind::EndOfFile);
  ASSERT_EQ(diags.diagnostics().size(), 1u);
  EXPECT_EQ(diags.diagnostics()[0].kind, DiagKind::file_too_large);
}

TEST(Lexer, DumpShowsPositionsKindsAndValues) {
  auto lexed = lex_text("x: 4K");
  EXPECT_EQ(dump_tokens(lexed.buffer, lexed.list),
            "1:1 Identifier \"x\" (line start)\n"
            "1:2 Colon \":\"\n"
            "1:4 Integer \"4K\" = 4000\n"
            "1:6 EndOfFile \"\"\n");
}

}  // namespace
}  // namespace triton
