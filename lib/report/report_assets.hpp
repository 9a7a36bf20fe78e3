#pragma once
// The report page's assets, compiled into the binary (lib/report/embed_report.cmake) so that
// `report` needs no files at run time and every page it writes is self-contained.

namespace ctb::report_detail {

extern const char* const kTemplateHtml;  // lib/report/template.html
extern const char* const kReportJs;      // lib/report/report.js
extern const char* const kChartJs;       // Debian libjs-chart.js: chart.min.js

}  // namespace ctb::report_detail
