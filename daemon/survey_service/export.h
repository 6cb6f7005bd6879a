// Survey exports: coverage and indicators per unit, one sheet per level (省/市/县/乡镇/村), and the
// responses sheet; CSV (UTF-8 with BOM, one block per sheet) or XLSX (libxlsxwriter in
// constant-memory mode: each row goes to disk as it is written). Identifying columns (child id,
// birth date, masked phone) only when asked. Runs on the store thread (it reads as it writes).
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/org_store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/definition.h"

#include <cstdint>
#include <string>

namespace yuer::survey_service {

struct ExportRequest {
  std::int64_t round_id = 0;
  std::string unit;          // 12-digit code: that unit and everything below
  std::string format;        // csv | xlsx
  bool identifying = false;
  std::string path;          // file to write (the caller removes it)
};

// Writes the file. Fails with Error{"survey.not_found" | "survey.unknown_unit" | "survey.export", …}.
// Throws StoreError.
Result<void> write_export(store::SurveyStore& surveys, store::OrgStore& org, const survey::Survey* definition,
                          const ExportRequest& request);

}  // namespace yuer::survey_service
