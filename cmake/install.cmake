# What `cmake --install build/<preset> --prefix P` puts in P: the covertree-bench binary, the
# library (libcovertree_bench.so), its public headers under include/covertree_bench/, and the
# CMake package that find_package(covertree_bench CONFIG) reads, with the imported target
# covertree_bench::covertree_bench (include path, cxx_std_20; its dependencies are linked into
# the shared library, so the package needs no find_dependency).
include(CMakePackageConfigHelpers)

set(CTB_CMAKE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/covertree_bench)

install(TARGETS covertree-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS covertree_bench EXPORT covertree_bench-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/covertree_bench
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(EXPORT covertree_bench-targets NAMESPACE covertree_bench::
  FILE covertree_bench-targets.cmake DESTINATION ${CTB_CMAKE_PACKAGE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/covertree_bench-config.cmake.in
  ${CMAKE_BINARY_DIR}/covertree_bench-config.cmake INSTALL_DESTINATION ${CTB_CMAKE_PACKAGE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/covertree_bench-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/covertree_bench-config.cmake
  ${CMAKE_BINARY_DIR}/covertree_bench-config-version.cmake DESTINATION ${CTB_CMAKE_PACKAGE_DIR})
