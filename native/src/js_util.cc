#include "js_util.h"

#include <cstdio>

namespace fltb {

Napi::Value ThrowTyped(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowPort(Napi::Env env, const std::string& message, uint32_t hresult) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, "E_PORT"));
  error.Set("hresult", Napi::Number::New(env, hresult));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

namespace {
bool Invalid(const Napi::CallbackInfo& info, const char* name, const char* what) {
  ThrowTyped(info.Env(), "E_INVALID_ARGUMENT", std::string(name) + " must be " + what);
  return false;
}
}  // namespace

bool ArgU32(const Napi::CallbackInfo& info, size_t index, const char* name, uint32_t* out) {
  Napi::Value v = info[index];
  if (!v.IsNumber()) return Invalid(info, name, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    return Invalid(info, name, "an unsigned 32-bit integer");
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ArgU64(const Napi::CallbackInfo& info, size_t index, const char* name, uint64_t* out) {
  Napi::Value v = info[index];
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t value = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Invalid(info, name, "an unsigned 64-bit integer");
    *out = value;
    return true;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
      return Invalid(info, name, "an unsigned safe integer or a bigint");
    }
    *out = static_cast<uint64_t>(d);
    return true;
  }
  return Invalid(info, name, "a bigint or a number");
}

bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out) {
  Napi::Value v = info[index];
  if (!v.IsBoolean()) return Invalid(info, name, "a boolean");
  *out = v.As<Napi::Boolean>().Value();
  return true;
}

bool ArgString16(const Napi::CallbackInfo& info, size_t index, const char* name,
                 std::u16string* out) {
  Napi::Value v = info[index];
  if (!v.IsString()) return Invalid(info, name, "a string");
  *out = v.As<Napi::String>().Utf16Value();
  if (out->find(u'\0') != std::u16string::npos) return Invalid(info, name, "free of NUL characters");
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  Napi::Value v = info[index];
  if (!v.IsString()) return Invalid(info, name, "a string");
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool ArgFunction(const Napi::CallbackInfo& info, size_t index, const char* name,
                 Napi::Function* out) {
  Napi::Value v = info[index];
  if (!v.IsFunction()) return Invalid(info, name, "a function");
  *out = v.As<Napi::Function>();
  return true;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name, bool optional,
              std::string* out) {
  Napi::Value v = info[index];
  if (optional && (v.IsNull() || v.IsUndefined())) {
    out->clear();
    return true;
  }
  if (!v.IsTypedArray()) return Invalid(info, name, "a Buffer or Uint8Array");
  Napi::TypedArray array = v.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) return Invalid(info, name, "a Uint8Array");
  Napi::Uint8Array bytes = array.As<Napi::Uint8Array>();
  out->assign(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
  return true;
}

std::string Hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08X", static_cast<unsigned>(value));
  return text;
}

}  // namespace fltb
