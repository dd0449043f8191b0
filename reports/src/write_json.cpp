// `json` reporter: report.json, the whole run as JSON (schema racegate-run/1,
// documented in docs/report-schema.md).
//
// The document is nlohmann::json(run): object keys come out sorted, so the
// file is byte-for-byte stable for a given Run. Text that is not valid UTF-8
// (captured output) is written with U+FFFD in place of the bad bytes rather
// than failing the whole report.
#include <nlohmann/json.hpp>

#include "racegate/reports/reporter.h"

namespace racegate::reports {
namespace {

class JsonReporter final : public Reporter {
 public:
  static std::string description() {
    return "report.json: the whole run as JSON (schema racegate-run/1)";
  }
  [[nodiscard]] std::string file_name() const override { return "report.json"; }
  [[nodiscard]] std::string render(const Run& run, const ReportConfig& /*config*/) const override {
    const nlohmann::json doc = run;
    return doc.dump(2, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace) + "\n";
  }
};

}  // namespace

RG_REGISTER_REPORTER("json", JsonReporter);

}  // namespace racegate::reports
