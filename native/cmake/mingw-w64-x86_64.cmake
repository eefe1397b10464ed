# Cross-compiling the addon for win-x64 on Linux with mingw-w64.
#
# The posix thread model is required: the win32 model of GCC 12 has no std::mutex, which
# node-addon-api (and this addon) use. Pass this file to cmake-js with
#   --CDCMAKE_TOOLCHAIN_FILE=<absolute path to this file>
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(FLTBRIDGE_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${FLTBRIDGE_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${FLTBRIDGE_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${FLTBRIDGE_MINGW_TRIPLE}-windres)
set(CMAKE_DLLTOOL ${FLTBRIDGE_MINGW_TRIPLE}-dlltool)

set(CMAKE_FIND_ROOT_PATH /usr/${FLTBRIDGE_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
