// Delay-load hook for NODE.EXE (mingw builds; MSVC builds get cmake-js's own hook).
//
// The addon's Node-API imports come from a delay-import library made from node_api.def whose
// module name is NODE.EXE. When the first Node-API call resolves them, this hook answers the
// "load NODE.EXE" request with the module of the running executable, so the addon works in a
// host whose executable is not literally named node.exe (a renamed node.exe, an SEA binary,
// Electron). Without it a renamed host fails with "module not found".
#include <windows.h>

#include <delayimp.h>

#include <cwchar>

namespace {

bool IsNodeExe(const char* name) {
  return name != nullptr && _stricmp(name, "node.exe") == 0;
}

FARPROC WINAPI FltbridgeDelayLoadHook(unsigned int notification, PDelayLoadInfo info) {
  if (notification == dliNotePreLoadLibrary && info != nullptr && IsNodeExe(info->szDll)) {
    return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
  }
  return nullptr;
}

}  // namespace

// mingw-w64's delayimp.h declares the hook variable without const.
extern "C" {
PfnDliHook __pfnDliNotifyHook2 = FltbridgeDelayLoadHook;
}

// dlltool -y emits the NODE.EXE delay-import descriptor alone in section .text$2, and GNU ld
// neither terminates the descriptor table nor fills the PE's delay-import data directory. These
// 32 zero bytes sort right after it (.text$2 < .text$2zz) and end the table;
// cmake/pe-delay-directory.mjs then points the data directory at it after the link, so tools
// (dumpbin, llvm-readobj, the project's PE checks) see NODE.EXE as a delay-loaded import.
extern "C" {
__attribute__((section(".text$2zz"), used, aligned(16)))
const unsigned char fltbridge_delay_import_terminator[32] = {0};
}
