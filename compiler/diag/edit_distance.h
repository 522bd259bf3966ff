// Edit distance and "did you mean" suggestions, shared by every phase that rejects a name
// (keywords, sections, attributes, layers, configuration keys) so that they all suggest the
// same way.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace triton {

// Damerau-Levenshtein distance (optimal string alignment: a swap of two neighbours costs 1),
// case-sensitive.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo: distance
// at most max(1, word.size() / 3), or an exact case-insensitive match. Ties go to the
// earliest candidate, so callers control preference by order.
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

// "did you mean `x`?" when there is a close candidate, else an empty string.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace triton
