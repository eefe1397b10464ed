// Small helpers at the Node-API boundary: typed errors (a JS Error with a stable `code`, which
// src/backends/windows turns into the library's typed errors) and argument readers that throw
// E_INVALID_ARGUMENT instead of crashing. C++ exceptions are disabled (NAPI_DISABLE_CPP_EXCEPTIONS):
// every failure here sets a pending JS exception and the caller returns at once.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace fltb {

// Throw `new Error(message)` with `code` (E_INVALID_ARGUMENT, E_UNKNOWN_HANDLE, E_HANDLE_CLOSED,
// E_PORT, E_DISPOSED, E_NATIVE) and, for E_PORT, `hresult`. Returns undefined for `return`.
Napi::Value ThrowTyped(Napi::Env env, const char* code, const std::string& message);
Napi::Value ThrowPort(Napi::Env env, const std::string& message, uint32_t hresult);

// Argument readers: return false after throwing E_INVALID_ARGUMENT.
bool ArgU32(const Napi::CallbackInfo& info, size_t index, const char* name, uint32_t* out);
bool ArgU64(const Napi::CallbackInfo& info, size_t index, const char* name, uint64_t* out);
bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out);
bool ArgString16(const Napi::CallbackInfo& info, size_t index, const char* name, std::u16string* out);
bool ArgString(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out);
bool ArgFunction(const Napi::CallbackInfo& info, size_t index, const char* name, Napi::Function* out);
// A Buffer/Uint8Array argument (null/undefined allowed when `optional`); its bytes are copied.
bool ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name, bool optional,
              std::string* out);

std::string Hex32(uint32_t value);

}  // namespace fltb
