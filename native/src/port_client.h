// The client side of the filter communication port \FltBridgePort.
//
// Connect: FilterConnectCommunicationPort with the connection context JS built (FLTB_CONNECT_CONTEXT,
// carrying the protocol version), options 0 so the handle is overlapped. Commands:
// FilterSendMessage on a runner thread (never the JS thread), the reply delivered as a "send"
// record. Events: a dedicated pump thread per connection waits on an IOCP the port handle is
// associated with, with several overlapped FilterGetMessage calls outstanding ("slots"); each
// completed message (an event batch after the FILTER_MESSAGE_HEADER) is handed to JS in an
// "events" record and the slot is issued again. When JS falls behind (bytes queued for it pass a
// limit) slots are parked instead of re-issued, so the driver's bounded queue, not this process,
// absorbs the burst (and counts drops exactly). The TSFN is unref'd until JS listens.
//
// Close: cancel the outstanding calls (CancelIoEx), wait for their completions, close the port
// handle on the pump thread, stop and join the thread. A driver that unloads mid-stream completes
// the outstanding calls with an error: one "port-error" record, then nothing is re-issued.
#pragma once

#include <windows.h>

#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "iocp_pump.h"

namespace fltb {

class MessageSlot;

class PortConnection : public std::enable_shared_from_this<PortConnection> {
 public:
  PortConnection(HANDLE port, std::shared_ptr<Pump> pump);
  ~PortConnection();
  PortConnection(const PortConnection&) = delete;
  PortConnection& operator=(const PortConnection&) = delete;

  HANDLE port() const { return port_; }
  Pump& pump() { return *pump_; }
  const std::shared_ptr<Pump>& pump_ptr() const { return pump_; }

  // JS thread: create and issue `count` slots of `bytes` (after the message header).
  bool Start(uint32_t count, uint32_t bytes, uint32_t* failed_hresult);
  // Pump thread: a slot's message was handed over; issue it again, or park it.
  void Rearm(MessageSlot* slot, std::vector<Record>* out);
  // Pump thread: a slot failed (not because we cancelled it).
  void Fail(uint32_t status, uint32_t hresult, std::vector<Record>* out);
  // Pump thread (wake packet): re-issue parked slots.
  void Resume();
  // JS thread, after a batch was handed to JS.
  void Drained(size_t queued_bytes);
  // JS thread: stop re-issuing and cancel what is outstanding.
  void BeginClose();
  // Pump thread, at exit: close the port handle (unless I/O may still use it).
  void ClosePort(size_t leaked);

  std::atomic<bool> closing{false};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> parks{0};

  size_t Armed() const;
  size_t Parked() const;

  static constexpr size_t kBacklogLimit = 64u << 20;  // bytes queued for JS before parking
  static constexpr size_t kResumeBelow = 16u << 20;

 private:
  HANDLE port_;
  std::atomic<bool> port_closed_{false};
  std::shared_ptr<Pump> pump_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MessageSlot>> slots_;
  std::vector<MessageSlot*> parked_;
};

Napi::Value PortConnect(const Napi::CallbackInfo& info);
Napi::Value PortStart(const Napi::CallbackInfo& info);
Napi::Value PortSend(const Napi::CallbackInfo& info);
Napi::Value PortRef(const Napi::CallbackInfo& info);
Napi::Value PortClose(const Napi::CallbackInfo& info);
Napi::Value PortStats(const Napi::CallbackInfo& info);

}  // namespace fltb
