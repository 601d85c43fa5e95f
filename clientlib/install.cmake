# Install rules for the client library, its headers, kennelctl, and a CMake package, so that an
# outside project can write:
#   find_package(Kennel REQUIRED)
#   target_link_libraries(app PRIVATE Kennel::Client)
# and #include <kennelclient.h> (the headers sit flat in include/kennel).
# The C library (clientlib/c) has its own export set, so a C program can use it without Qt:
#   find_package(Kennel REQUIRED COMPONENTS C)
#   target_link_libraries(app PRIVATE Kennel::C)      #include <kennel/kennel.h>
# and its pkg-config file, kennel.pc.
include(CMakePackageConfigHelpers)

set(KENNEL_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Kennel)

install(TARGETS KennelClient kennelctl
    EXPORT KennelTargets
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
)

# The public headers only: clientconnection.h is private to the library and kennelclient.h is
# written so that it never needs it.
install(FILES
    ${CMAKE_CURRENT_SOURCE_DIR}/protocol/frame.h
    ${CMAKE_CURRENT_SOURCE_DIR}/protocol/framecodec.h
    ${CMAKE_CURRENT_SOURCE_DIR}/protocol/monitorcodec.h
    ${CMAKE_CURRENT_SOURCE_DIR}/protocol/names.h
    ${CMAKE_CURRENT_SOURCE_DIR}/protocol/topiccodec.h
    ${CMAKE_CURRENT_SOURCE_DIR}/protocol/topicname.h
    ${CMAKE_CURRENT_SOURCE_DIR}/legacy/legacyframe.h
    ${CMAKE_CURRENT_SOURCE_DIR}/client/brokeraddress.h
    ${CMAKE_CURRENT_SOURCE_DIR}/client/kennelclient.h
    ${CMAKE_CURRENT_SOURCE_DIR}/client/kennelcalls.h
    ${CMAKE_CURRENT_SOURCE_DIR}/support/unixsignalwatcher.h
    ${CMAKE_CURRENT_BINARY_DIR}/kennel_export.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kennel
)

install(EXPORT KennelTargets
    NAMESPACE Kennel::
    DESTINATION ${KENNEL_CMAKE_INSTALL_DIR}
)

install(TARGETS kennel
    EXPORT KennelCTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
)
install(FILES
    ${CMAKE_CURRENT_SOURCE_DIR}/c/include/kennel/kennel.h
    ${CMAKE_CURRENT_SOURCE_DIR}/c/include/kennel/wire.h
    ${CMAKE_CURRENT_SOURCE_DIR}/c/include/kennel/export.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kennel
)
install(EXPORT KennelCTargets
    NAMESPACE Kennel::
    DESTINATION ${KENNEL_CMAKE_INSTALL_DIR}
)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/c/kennel.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(
    ${CMAKE_CURRENT_SOURCE_DIR}/KennelConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/KennelConfig.cmake
    INSTALL_DESTINATION ${KENNEL_CMAKE_INSTALL_DIR}
)
# The soname carries the major version only, so a consumer built against 0.x runs with any 0.y.
write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/KennelConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMajorVersion
)
install(FILES
    ${CMAKE_CURRENT_BINARY_DIR}/KennelConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/KennelConfigVersion.cmake
    DESTINATION ${KENNEL_CMAKE_INSTALL_DIR}
)
