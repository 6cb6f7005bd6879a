#include "daemon/org/csv.h"

#include <fmt/format.h>

#include <algorithm>

namespace yuer::org {

Result<std::vector<CsvRecord>> parse_csv(std::string_view text) {
  std::vector<CsvRecord> out;
  CsvRecord rec;
  std::string field;
  std::size_t line = 1;
  std::size_t row = 1;
  rec.row = row;
  rec.line = line;
  bool any = false;  // anything read for the current record (so a final record without a line end counts)

  auto end_record = [&] {
    rec.fields.push_back(std::move(field));
    field.clear();
    const bool blank = std::all_of(rec.fields.begin(), rec.fields.end(), [](const std::string& f) { return f.empty(); });
    if (!blank) out.push_back(std::move(rec));
    rec = CsvRecord{};
    rec.row = ++row;
    rec.line = line;
    any = false;
  };

  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    char c = text[i];
    if (c == '"' && field.empty() && (i == 0 || text[i - 1] == ',' || text[i - 1] == '\n' || text[i - 1] == '\r')) {
      // Quoted field: runs to the closing quote; "" is one quote.
      const std::size_t start_line = line;
      ++i;
      bool closed = false;
      while (i < n) {
        char q = text[i];
        if (q == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        if (q == '\n') ++line;
        field.push_back(q);
        ++i;
      }
      if (!closed)
        return Error{"csv.unterminated_quote", fmt::format("第 {} 行开始的引号没有结束（CSV 格式错误）", start_line)};
      any = true;
      if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
        return Error{"csv.bad_quote", fmt::format("第 {} 行：引号结束后只能是逗号或换行（CSV 格式错误）", line)};
      continue;
    }
    if (c == ',') {
      rec.fields.push_back(std::move(field));
      field.clear();
      any = true;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      end_record();
      continue;
    }
    field.push_back(c);
    any = true;
    ++i;
  }
  if (any || !field.empty()) end_record();
  return out;
}

}  // namespace yuer::org
