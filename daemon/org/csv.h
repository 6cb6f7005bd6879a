// A small RFC 4180 CSV parser for the files coordinators hand in (organisation units, family
// rosters): comma-separated, CRLF or LF line ends, quoted fields that may hold commas, line breaks
// and doubled quotes. Input is UTF-8 text (see encoding.h); bytes are kept as they are.
#pragma once

#include "daemon/base/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::org {

struct CsvRecord {
  std::size_t row = 0;  // 1-based record number: the header is row 1 (what Excel shows when no field spans lines)
  std::size_t line = 0; // 1-based line of the text where the record starts
  std::vector<std::string> fields;
};

// Splits `text` into records. Records whose fields are all empty (blank lines, ",,,") are dropped
// but still counted, so row numbers match the spreadsheet. Fails with Error{"csv.unterminated_quote"
// | "csv.bad_quote", Chinese message naming the line} for a quote left open at the end or a quote
// closed and followed by anything but a comma or line end. A quote inside an unquoted field is
// kept as a character (what spreadsheet programs do).
Result<std::vector<CsvRecord>> parse_csv(std::string_view text);

}  // namespace yuer::org
