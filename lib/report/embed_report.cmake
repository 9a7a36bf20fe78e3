# Compiles the report page's template and script, and Chart.js from Debian's libjs-chart.js,
# into the report module, so pages open offline with everything inlined.
set(CTB_CHARTJS_PATH /usr/share/javascript/chart.js/chart.min.js CACHE FILEPATH
  "Chart.js (Debian package libjs-chart.js), inlined into every report page")

function(ctb_embed_report target)
  set(dir ${CMAKE_CURRENT_SOURCE_DIR}/report)
  if(NOT EXISTS ${CTB_CHARTJS_PATH})
    message(FATAL_ERROR "${CTB_CHARTJS_PATH} not found: install Debian's libjs-chart.js "
      "(scripts/setup.sh does)")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    ${dir}/template.html ${dir}/report.js ${dir}/report_assets.cpp.in ${CTB_CHARTJS_PATH})
  file(READ ${dir}/template.html CTB_REPORT_TEMPLATE)
  file(READ ${dir}/report.js CTB_REPORT_JS)
  file(READ ${CTB_CHARTJS_PATH} CTB_CHARTJS)
  foreach(var CTB_REPORT_TEMPLATE CTB_REPORT_JS CTB_CHARTJS)
    string(FIND "${${var}}" ")ctb_asset\"" hit)
    if(NOT hit EQUAL -1)
      message(FATAL_ERROR "${var} contains the raw-string delimiter )ctb_asset\"")
    endif()
  endforeach()
  configure_file(${dir}/report_assets.cpp.in ${CMAKE_CURRENT_BINARY_DIR}/report/report_assets.cpp
    @ONLY)
  target_sources(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/report/report_assets.cpp)
endfunction()
