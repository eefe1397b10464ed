// fltbridge.node: module registration and the JS surface.
//
// Everything JS sees is a plain function taking numbers, strings, bigints and Uint8Arrays;
// sessions, handles and port connections are integer ids. Results arrive as arrays of records
// through the callback given when a session or connection is opened:
//
//   { kind: 'io', request, status, win32, hresult, source, information: bigint, handle?, data? }
//                                                  (finalPath: data is the NT name, UTF-16LE)
//   { kind: 'send', request, hresult, win32, information: bigint, data }
//   { kind: 'events', data }                       one event batch (after FILTER_MESSAGE_HEADER)
//   { kind: 'port-error', status, win32, hresult } the port failed (driver unloaded, ...)
//   { kind: 'notice', message }                    shutdown diagnostics
//
// `source`: 0 the I/O status block, 1 the thread's last NTSTATUS (or a plain success of an API
// without a status block), 2 mapped from the Win32 error, 3 completed by the addon because the
// platform (Wine) never would.
//
// No C++ exception crosses into Node: node-addon-api's own exceptions are disabled
// (NAPI_DISABLE_CPP_EXCEPTIONS) and every entry point runs inside Guard(), which turns a
// std::exception (allocation failure, thread creation) into a JS error with code E_NATIVE.
#include <napi.h>

#include <exception>
#include <string>

#include "addon_data.h"
#include "blocking_runner.h"
#include "file_io.h"
#include "final_path.h"
#include "fltbridge_proto.h"
#include "iocp_pump.h"
#include "js_util.h"
#include "ntstatus_util.h"
#include "port_client.h"

namespace fltb {
namespace {

constexpr const char* kAddonVersion = "0.1.0";

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const std::exception& e) {
    return ThrowTyped(info.Env(), "E_NATIVE", std::string("native failure: ") + e.what());
  } catch (...) {
    return ThrowTyped(info.Env(), "E_NATIVE", "native failure");
  }
}

// version() -> { addon, napi, protocol, wine }
Napi::Value Version(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("addon", Napi::String::New(env, kAddonVersion));
  o.Set("napi", Napi::Number::New(env, NAPI_VERSION));
  o.Set("protocol", Napi::Number::New(env, FLTB_PROTOCOL_VERSION));
  const char* wine = WineVersion();
  o.Set("wine", wine != nullptr ? Napi::Value(Napi::String::New(env, wine)) : env.Null());
  return o;
}

// diagnostics() -> live native objects in the process (leak checks in tests).
Napi::Value Diagnostics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = GetAddonData(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("operations", Napi::Number::New(env, static_cast<double>(OperationsAlive())));
  o.Set("fileHandles", Napi::Number::New(env, static_cast<double>(FileHandlesAlive())));
  o.Set("pumpThreads", Napi::Number::New(env, static_cast<double>(PumpThreadsAlive())));
  o.Set("runnerThreads", Napi::Number::New(env, static_cast<double>(RunnerThreadsAlive())));
  o.Set("sessions", Napi::Number::New(env, static_cast<double>(data->sessions.Size())));
  o.Set("handles", Napi::Number::New(env, static_cast<double>(data->handles->Size())));
  o.Set("ports", Napi::Number::New(env, static_cast<double>(data->ports.Size())));
  return o;
}

void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitNtdllHelpers();
  env.SetInstanceData(new AddonData());
  Export(env, exports, "version", Guard<Version>);
  Export(env, exports, "diagnostics", Guard<Diagnostics>);
  Export(env, exports, "sessionOpen", Guard<SessionOpen>);
  Export(env, exports, "sessionRef", Guard<SessionRef>);
  Export(env, exports, "sessionClose", Guard<SessionClose>);
  Export(env, exports, "sessionCancel", Guard<SessionCancel>);
  Export(env, exports, "sessionStats", Guard<SessionStats>);
  Export(env, exports, "open", Guard<FileOpen>);
  Export(env, exports, "close", Guard<FileClose>);
  Export(env, exports, "read", Guard<FileRead>);
  Export(env, exports, "write", Guard<FileWrite>);
  Export(env, exports, "ioctl", Guard<FileIoctl>);
  Export(env, exports, "lock", Guard<FileLock>);
  Export(env, exports, "unlock", Guard<FileUnlock>);
  Export(env, exports, "setInformation", Guard<FileSetInformation>);
  Export(env, exports, "flush", Guard<FileFlush>);
  Export(env, exports, "handleInfo", Guard<FileInfo>);
  Export(env, exports, "finalPath", Guard<FinalPath>);
  Export(env, exports, "portConnect", Guard<PortConnect>);
  Export(env, exports, "portStart", Guard<PortStart>);
  Export(env, exports, "portSend", Guard<PortSend>);
  Export(env, exports, "portRef", Guard<PortRef>);
  Export(env, exports, "portClose", Guard<PortClose>);
  Export(env, exports, "portStats", Guard<PortStats>);
  return exports;
}

}  // namespace
}  // namespace fltb

static Napi::Object InitFltbridge(Napi::Env env, Napi::Object exports) {
  return fltb::Init(env, exports);
}

NODE_API_MODULE(fltbridge, InitFltbridge)
