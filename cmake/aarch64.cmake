# Toolchain file: cross-build Hedge for arm64 (Raspberry Pi 4 class, Debian 12)
# on a Debian 12 amd64 host with multiarch. Used by `make cross` (build-arm64/).
#
# Libraries come from Debian's :arm64 packages installed next to the native
# ones (/usr/lib/aarch64-linux-gnu, headers in /usr/include) plus a sysroot
# overlay for the -dev packages that are not multi-arch (libcdb-dev,
# libhttp-parser-dev), unpacked by cmake/install-cross-deps.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Sysroot overlay (default: build-arm64/sysroot beside this repo's cmake/).
if(NOT HEDGE_CROSS_OVERLAY)
  get_filename_component(HEDGE_CROSS_OVERLAY "${CMAKE_CURRENT_LIST_DIR}/../build-arm64/sysroot" ABSOLUTE)
endif()
set(HEDGE_CROSS_OVERLAY "${HEDGE_CROSS_OVERLAY}" CACHE PATH "arm64 sysroot overlay (cmake/install-cross-deps.sh)")
# try_compile projects re-read this file: hand them the same overlay.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HEDGE_CROSS_OVERLAY)

# find_path/find_library/find_package: overlay first, then the multiarch
# system dirs (<prefix>/lib/aarch64-linux-gnu via CMAKE_LIBRARY_ARCHITECTURE).
list(PREPEND CMAKE_PREFIX_PATH "${HEDGE_CROSS_OVERLAY}/usr")
list(REMOVE_DUPLICATES CMAKE_PREFIX_PATH)

# pkg-config: arm64 .pc files only (never the native x86_64 ones).
set(ENV{PKG_CONFIG_LIBDIR}
  "${HEDGE_CROSS_OVERLAY}/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest (and anything else CMake runs) starts arm64 binaries under qemu-user
# (no binfmt needed), with the arm64 loader and libc of libc6:arm64 (installed
# with the :arm64 -dev packages, same glibc as on the appliance).
# Not `-L /usr/aarch64-linux-gnu`: that takes ld-linux-aarch64.so.1 from
# libc6-arm64-cross (2.36-8cross1) while libc.so.6 still comes from libc6:arm64
# (2.36-9+deb12uN, /lib/aarch64-linux-gnu); a loader and libc from two glibc
# builds hang in pthread_create (docs/cross.md). `-L /` = host paths as they are.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static;-L;/)
