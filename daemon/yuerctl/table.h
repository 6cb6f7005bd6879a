// Plain-text tables for yuerctl's human output; widths count CJK characters as two columns.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::yuerctl {

// Columns a terminal uses for `s` (UTF-8): East Asian wide characters count 2, others 1.
std::size_t display_width(std::string_view s);

// Writes `header` and `rows` as left-aligned columns separated by two spaces.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

}  // namespace yuer::yuerctl
