#include "port_client.h"

#include <fltuser.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "addon_data.h"
#include "fltbridge_proto.h"
#include "js_util.h"

namespace fltb {
namespace {

constexpr DWORD kPortShutdownDeadlineMs = 5000;
constexpr uint32_t kMaxSlots = 64;
constexpr HRESULT kHresultIoPending = static_cast<HRESULT>(0x800703E5u);

static_assert(sizeof(FILTER_MESSAGE_HEADER) == 16, "FILTER_MESSAGE_HEADER is 16 bytes on x64");

}  // namespace

// One outstanding FilterGetMessage: FILTER_MESSAGE_HEADER + room for one event batch.
class MessageSlot : public Operation {
 public:
  MessageSlot(std::weak_ptr<PortConnection> conn, HANDLE port, uint32_t payload_bytes)
      : Operation(0), conn_(std::move(conn)), port_(port),
        buffer_(sizeof(FILTER_MESSAGE_HEADER) + payload_bytes, '\0') {}

  // Issue FilterGetMessage; false (and the HRESULT) when it failed at once.
  bool Arm(Pump& pump, uint32_t* failed_hresult) {
    ResetOverlapped();
    armed_ = true;
    pump.Track(this, false);
    HRESULT hr = FilterGetMessage(port_, reinterpret_cast<PFILTER_MESSAGE_HEADER>(&buffer_[0]),
                                  static_cast<DWORD>(buffer_.size()), overlapped());
    // S_OK (the message was there) and ERROR_IO_PENDING both complete through the IOCP.
    if (hr == S_OK || hr == kHresultIoPending) return true;
    pump.Untrack(this);
    armed_ = false;
    *failed_hresult = static_cast<uint32_t>(hr);
    return false;
  }

  HANDLE CancelTarget() override { return nullptr; }  // cancelled all at once by CancelIoEx(port)

  void Completed(Pump& /*pump*/, DWORD bytes, bool /*posted*/, std::vector<Record>* out) override {
    armed_ = false;
    std::shared_ptr<PortConnection> conn = conn_.lock();
    if (!conn) return;
    uint32_t status = static_cast<uint32_t>(overlapped()->Internal);
    if (status != kStatusSuccess) {
      if (conn->closing.load()) return;  // our own CancelIoEx
      conn->Fail(status, HresultFromWin32(Win32FromNtStatus(status)), out);
      return;
    }
    const size_t header = sizeof(FILTER_MESSAGE_HEADER);
    size_t payload = 0;
    if (bytes > header) {
      payload = std::min<size_t>(bytes - header, buffer_.size() - header);
    } else if (buffer_.size() >= header + sizeof(FLTB_BATCH_HEADER)) {
      // A completion that reports no byte count: take the batch's own TotalBytes (the decoder
      // in JS validates everything anyway).
      FLTB_BATCH_HEADER batch;
      std::memcpy(&batch, &buffer_[header], sizeof(batch));
      if (batch.Magic == FLTB_MAGIC_BATCH) {
        payload = std::min<size_t>(batch.TotalBytes, buffer_.size() - header);
      }
    }
    Record r;
    r.kind = Record::Kind::kEvents;
    r.data.assign(&buffer_[header], payload);
    out->push_back(std::move(r));
    conn->messages++;
    conn->bytes += payload;
    conn->Rearm(this, out);
  }

  bool armed() const { return armed_.load(); }

 private:
  std::weak_ptr<PortConnection> conn_;
  HANDLE port_;
  std::string buffer_;
  std::atomic<bool> armed_{false};
};

// ---------------------------------------------------------------------------------------------

PortConnection::PortConnection(HANDLE port, std::shared_ptr<Pump> pump)
    : port_(port), pump_(std::move(pump)) {}

PortConnection::~PortConnection() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& slot : slots_) {
    // A slot still outstanding belongs to the kernel until it completes: never free it.
    if (slot->armed()) (void)slot.release();
  }
  if (!port_closed_.exchange(true)) CloseHandle(port_);
}

bool PortConnection::Start(uint32_t count, uint32_t bytes, uint32_t* failed_hresult) {
  std::weak_ptr<PortConnection> self = weak_from_this();
  for (uint32_t i = 0; i < count; ++i) {
    auto slot = std::make_unique<MessageSlot>(self, port_, bytes);
    MessageSlot* raw = slot.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      slots_.push_back(std::move(slot));
    }
    if (!raw->Arm(*pump_, failed_hresult)) return false;
  }
  return true;
}

void PortConnection::Rearm(MessageSlot* slot, std::vector<Record>* out) {
  if (closing.load() || failed.load()) return;
  if (pump_->QueuedBytes() > kBacklogLimit) {
    std::lock_guard<std::mutex> lock(mu_);
    parked_.push_back(slot);
    parks++;
    return;
  }
  uint32_t hr = 0;
  if (!slot->Arm(*pump_, &hr)) Fail(0, hr, out);
}

void PortConnection::Resume() {
  std::vector<MessageSlot*> parked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    parked.swap(parked_);
  }
  std::vector<Record> out;
  for (MessageSlot* slot : parked) {
    if (closing.load() || failed.load()) break;
    uint32_t hr = 0;
    if (!slot->Arm(*pump_, &hr)) Fail(0, hr, &out);
  }
  pump_->Deliver(&out);
}

void PortConnection::Drained(size_t queued_bytes) {
  if (queued_bytes >= kResumeBelow) return;
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    any = !parked_.empty();
  }
  if (any) pump_->PostWake();
}

void PortConnection::Fail(uint32_t status, uint32_t hresult, std::vector<Record>* out) {
  if (failed.exchange(true)) return;
  Record r;
  r.kind = Record::Kind::kPortError;
  r.status = status;
  r.hresult = hresult;
  r.win32 = status != 0 ? Win32FromNtStatus(status) : Win32FromHresult(hresult);
  r.source = StatusSource::kIoStatusBlock;
  out->push_back(std::move(r));
}

void PortConnection::BeginClose() {
  closing = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    parked_.clear();
  }
  if (!port_closed_.load()) CancelIoEx(port_, nullptr);
  pump_->CancelBlocking();
}

void PortConnection::ClosePort(size_t leaked) {
  // With I/O that never completed, the handle may still be in use: leave it open (it goes with
  // the process) rather than let the value be reused under that I/O.
  if (leaked > 0) return;
  if (!port_closed_.exchange(true)) CloseHandle(port_);
}

size_t PortConnection::Armed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(),
                                           [](const auto& s) { return s->armed(); }));
}

size_t PortConnection::Parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size();
}

// ---------------------------------------------------------------------------------------------
// FilterSendMessage on the runner

namespace {

class SendOp : public Operation {
 public:
  SendOp(uint32_t request, std::shared_ptr<PortConnection> conn)
      : Operation(request), conn_(std::move(conn)) {}

  void Run(bool cancelled) {
    if (cancelled) {
      hresult_ = HresultFromWin32(ERROR_OPERATION_ABORTED);
      return;
    }
    DWORD returned = 0;
    HRESULT hr = FilterSendMessage(conn_->port(), input.empty() ? nullptr : &input[0],
                                   static_cast<DWORD>(input.size()),
                                   output.empty() ? nullptr : &output[0],
                                   static_cast<DWORD>(output.size()), &returned);
    hresult_ = static_cast<uint32_t>(hr);
    returned_ = std::min<size_t>(returned, output.size());
  }

  void Completed(Pump&, DWORD, bool, std::vector<Record>* out) override {
    Record r;
    r.kind = Record::Kind::kSend;
    r.request = request();
    r.hresult = hresult_;
    r.win32 = Win32FromHresult(hresult_);
    r.source = StatusSource::kFromWin32;
    r.information = returned_;
    r.has_data = true;
    r.data.assign(output.data(), SUCCEEDED(static_cast<HRESULT>(hresult_)) ? returned_ : 0);
    out->push_back(std::move(r));
    conn_.reset();
  }

  std::string input;
  std::string output;

 private:
  std::shared_ptr<PortConnection> conn_;
  uint32_t hresult_ = 0;
  size_t returned_ = 0;
};

bool GetPort(const Napi::CallbackInfo& info, size_t index, std::shared_ptr<PortConnection>* out) {
  uint32_t id = 0;
  if (!ArgU32(info, index, "connection", &id)) return false;
  switch (GetAddonData(info.Env())->ports.Find(id, out)) {
    case Lookup::kLive:
      if (!(*out)->closing.load()) return true;
      [[fallthrough]];
    case Lookup::kClosed:
      ThrowTyped(info.Env(), "E_DISPOSED", "port connection " + std::to_string(id) + " is closed");
      return false;
    case Lookup::kUnknown:
    default:
      ThrowTyped(info.Env(), "E_INVALID_ARGUMENT", "unknown port connection " + std::to_string(id));
      return false;
  }
}

}  // namespace

// portConnect(name, context, callback(records)) -> connection id. Throws E_PORT with `hresult`.
Napi::Value PortConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::u16string name;
  std::string context;
  Napi::Function callback;
  if (!ArgString16(info, 0, "name", &name) || !ArgBytes(info, 1, "context", true, &context) ||
      !ArgFunction(info, 2, "callback", &callback)) {
    return env.Undefined();
  }
  if (context.size() > 0xFFFF) {
    return ThrowTyped(env, "E_INVALID_ARGUMENT", "the connection context is limited to 65535 bytes");
  }
  HANDLE port = nullptr;
  HRESULT hr = FilterConnectCommunicationPort(
      reinterpret_cast<LPCWSTR>(name.c_str()), 0, context.empty() ? nullptr : context.data(),
      static_cast<WORD>(context.size()), nullptr, &port);
  if (FAILED(hr)) {
    return ThrowPort(env, "FilterConnectCommunicationPort failed with HRESULT " +
                              Hex32(static_cast<uint32_t>(hr)),
                     static_cast<uint32_t>(hr));
  }
  std::string error;
  std::shared_ptr<Pump> pump = Pump::Create(env, callback, "fltbridge-port", &error);
  if (!pump) {
    CloseHandle(port);
    return ThrowTyped(env, "E_NATIVE", error);
  }
  DWORD assoc_error = 0;
  auto conn = std::make_shared<PortConnection>(port, pump);
  if (!pump->Associate(port, &assoc_error)) {
    conn->BeginClose();
    (void)pump->Shutdown(env, 0, [conn](size_t leaked) { conn->ClosePort(leaked); });
    return ThrowPort(env, "CreateIoCompletionPort on the port handle failed with Win32 error " +
                              std::to_string(assoc_error),
                     HresultFromWin32(assoc_error));
  }
  std::weak_ptr<PortConnection> weak = conn;
  pump->SetWakeHandler([weak] {
    if (auto c = weak.lock()) c->Resume();
  });
  pump->SetDrainedHandler([weak](size_t queued) {
    if (auto c = weak.lock()) c->Drained(queued);
  });
  uint32_t id = GetAddonData(env)->ports.Insert(conn);
  return Napi::Number::New(env, id);
}

// portStart(connection, slots, slotBytes): issue the overlapped FilterGetMessage calls.
Napi::Value PortStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<PortConnection> conn;
  uint32_t count = 0, bytes = 0;
  if (!GetPort(info, 0, &conn) || !ArgU32(info, 1, "slots", &count) ||
      !ArgU32(info, 2, "slotBytes", &bytes)) {
    return env.Undefined();
  }
  if (count == 0 || count > kMaxSlots) {
    return ThrowTyped(env, "E_INVALID_ARGUMENT", "slots must be 1.." + std::to_string(kMaxSlots));
  }
  if (bytes < sizeof(FLTB_BATCH_HEADER) || bytes > 16u * FLTB_MAX_BATCH_BYTES) {
    return ThrowTyped(env, "E_INVALID_ARGUMENT", "slotBytes is out of range");
  }
  uint32_t hr = 0;
  if (!conn->Start(count, bytes, &hr)) {
    return ThrowPort(env, "FilterGetMessage failed with HRESULT " + Hex32(hr), hr);
  }
  return env.Undefined();
}

// portSend(connection, request, input, outputBytes): FilterSendMessage on a runner thread.
Napi::Value PortSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<PortConnection> conn;
  uint32_t request = 0, output_bytes = 0;
  std::string input;
  if (!GetPort(info, 0, &conn) || !ArgU32(info, 1, "request", &request) ||
      !ArgBytes(info, 2, "input", false, &input) ||
      !ArgU32(info, 3, "outputBytes", &output_bytes)) {
    return env.Undefined();
  }
  if (input.size() > FLTB_MAX_COMMAND_BYTES || output_bytes > FLTB_MAX_REPLY_BYTES * 16u) {
    return ThrowTyped(env, "E_INVALID_ARGUMENT", "command or reply size is out of range");
  }
  auto* op = new SendOp(request, conn);
  op->input = std::move(input);
  op->output.assign(output_bytes, '\0');
  Pump& pump = conn->pump();
  pump.Track(op, true);
  pump.RunBlocking(op, [](Operation* o, bool cancelled) { static_cast<SendOp*>(o)->Run(cancelled); });
  return env.Undefined();
}

// portRef(connection, ref): keep the event loop alive while someone listens.
Napi::Value PortRef(const Napi::CallbackInfo& info) {
  std::shared_ptr<PortConnection> conn;
  bool ref = false;
  if (!GetPort(info, 0, &conn) || !ArgBool(info, 1, "ref", &ref)) return info.Env().Undefined();
  conn->pump().Ref(info.Env(), ref);
  return info.Env().Undefined();
}

// portClose(connection) -> Promise<{ leaked }>.
Napi::Value PortClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = 0;
  if (!ArgU32(info, 0, "connection", &id)) return env.Undefined();
  AddonData* data = GetAddonData(env);
  std::shared_ptr<PortConnection> conn = data->ports.Remove(id);
  if (!conn) {
    if (data->ports.Find(id, nullptr) == Lookup::kUnknown) {
      return ThrowTyped(env, "E_INVALID_ARGUMENT", "unknown port connection " + std::to_string(id));
    }
    auto deferred = Napi::Promise::Deferred::New(env);
    Napi::Object result = Napi::Object::New(env);
    result.Set("leaked", Napi::Number::New(env, 0));
    deferred.Resolve(result);
    return deferred.Promise();
  }
  conn->BeginClose();
  std::shared_ptr<Pump> pump = conn->pump_ptr();
  return pump->Shutdown(env, kPortShutdownDeadlineMs,
                        [conn](size_t leaked) { conn->ClosePort(leaked); });
}

// portStats(connection) -> { messages, bytes, armed, parked, parks, queuedBytes, failed }
Napi::Value PortStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = 0;
  if (!ArgU32(info, 0, "connection", &id)) return env.Undefined();
  std::shared_ptr<PortConnection> conn;
  if (GetAddonData(env)->ports.Find(id, &conn) != Lookup::kLive) {
    return ThrowTyped(env, "E_DISPOSED", "port connection " + std::to_string(id) + " is closed");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("messages", Napi::Number::New(env, static_cast<double>(conn->messages.load())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(conn->bytes.load())));
  o.Set("armed", Napi::Number::New(env, static_cast<double>(conn->Armed())));
  o.Set("parked", Napi::Number::New(env, static_cast<double>(conn->Parked())));
  o.Set("parks", Napi::Number::New(env, static_cast<double>(conn->parks.load())));
  o.Set("queuedBytes", Napi::Number::New(env, static_cast<double>(conn->pump().QueuedBytes())));
  o.Set("failed", Napi::Boolean::New(env, conn->failed.load()));
  return o;
}

}  // namespace fltb
