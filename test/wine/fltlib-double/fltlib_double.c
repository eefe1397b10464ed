/*
 * fltlib_double.c: a test double of fltlib.dll's communication-port functions, for running the
 * real addon's port client under Wine (whose own fltlib has no ports). Built with mingw by
 * scripts/suites/70-wine.mjs into build/wine/double/fltlib.dll, loaded by a node.exe in the same
 * directory with WINEDLLOVERRIDES=fltlib=n. Never shipped.
 *
 * What stands in for the kernel:
 *   - The port is served by a Linux process (test/wine/port-server.ts) that speaks
 *     fltbridge_proto.h from the TypeScript model; the double reaches it over TCP (loopback),
 *     address in FLTBRIDGE_PORT_DOUBLE ("127.0.0.1:PORT").
 *   - The port handle the caller gets is the client end of a message-mode named pipe opened
 *     overlapped (unless FLT_PORT_FLAG_SYNC_HANDLE). FilterGetMessage is ReadFile on it, so its
 *     completions reach whatever I/O completion port the caller associated with the handle, by
 *     Wine's own I/O machinery, exactly as fltmgr's do on Windows. CancelIoEx and CloseHandle on
 *     the port handle are the real calls on a real handle.
 *   - A relay thread in this DLL reads event messages from the server and writes each as one
 *     pipe message: FILTER_MESSAGE_HEADER (ReplyLength 0, MessageId counting from 1) followed by
 *     the batch bytes. One pipe message is one FilterGetMessage completion.
 *   - FilterSendMessage sends the command over a second TCP connection and waits for the reply.
 *
 * What it does not emulate (said plainly, so nobody mistakes it for fltmgr):
 *   - no security descriptor or privilege check on connect (fltmgr checks the port's SD; the
 *     fltbridge port is admin/SYSTEM only);
 *   - no MaxConnections limit here (the server may refuse connections itself);
 *   - FltSendMessage on Windows blocks the sender until a FilterGetMessage is outstanding; here
 *     delivery is buffered (a 1 MiB pipe buffer and the TCP socket), with backpressure only when
 *     both are full;
 *   - when the server goes away, outstanding and later FilterGetMessage calls fail with
 *     STATUS_PIPE_BROKEN (after the messages already buffered are read), where fltmgr reports
 *     the port as disconnected; FilterSendMessage then returns the HRESULT of
 *     STATUS_PORT_DISCONNECTED, as fltlib does;
 *   - a port handle closed by the caller is noticed by the relay within about 200 ms (the server
 *     then sees the disconnect); fltmgr notices at once;
 *   - FilterReplyMessage is refused with E_NOTIMPL (fltbridge never replies to event messages),
 *     and FilterGetMessage without an OVERLAPPED on an overlapped handle waits on a private event.
 *
 * Wire format to the server (little-endian): frames of { u32 length, u32 type } + payload.
 *   1 CONNECT        client -> server  u32 nameBytes, name (UTF-16LE), u32 contextBytes, context
 *   2 CONNECT_REPLY  server -> client  i32 NTSTATUS, u32 connection id
 *   3 ATTACH         client -> server  u32 connection id (first frame of the event connection)
 *   4 SEND           client -> server  u32 output capacity, command bytes
 *   5 SEND_REPLY     server -> client  i32 NTSTATUS, reply bytes
 *   6 MESSAGE        server -> client  one event batch (on the event connection)
 */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ULONG WINAPI RtlNtStatusToDosError(LONG status);

#define DOUBLE_ENV "FLTBRIDGE_PORT_DOUBLE"
#define MAX_FRAME (1u << 20)
#define PIPE_BUFFER (1u << 20)
#define STATUS_PORT_DISCONNECTED_ ((LONG)0xC0000037L)
#define SYNC_HANDLE_FLAG 0x00000001u /* FLT_PORT_FLAG_SYNC_HANDLE */

enum {
  FRAME_CONNECT = 1,
  FRAME_CONNECT_REPLY = 2,
  FRAME_ATTACH = 3,
  FRAME_SEND = 4,
  FRAME_SEND_REPLY = 5,
  FRAME_MESSAGE = 6,
};

/* FILTER_MESSAGE_HEADER's layout (fltuserstructures.h): ULONG + ULONGLONG, 16 bytes on x64. */
typedef struct {
  ULONG ReplyLength;
  ULONGLONG MessageId;
} MessageHeader;

typedef struct Conn {
  struct Conn *next;
  HANDLE client; /* handed to the caller as the port handle */
  HANDLE server; /* written by the relay thread */
  SOCKET control;
  SOCKET events;
  CRITICAL_SECTION send_lock;
  volatile LONG dead;
} Conn;

static CRITICAL_SECTION g_lock;
static Conn *g_conns; /* never freed: handles may be looked up after the connection ends */
static INIT_ONCE g_wsa_once = INIT_ONCE_STATIC_INIT;
static volatile LONG g_pipe_counter;

static HRESULT hr_from_status(LONG status) {
  return HRESULT_FROM_WIN32(RtlNtStatusToDosError(status));
}

static BOOL CALLBACK wsa_init(PINIT_ONCE once, PVOID param, PVOID *context) {
  WSADATA data;
  (void)once;
  (void)param;
  (void)context;
  return WSAStartup(MAKEWORD(2, 2), &data) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Sockets                                                                                   */

static BOOL send_all(SOCKET s, const void *data, size_t len) {
  const char *p = (const char *)data;
  while (len > 0) {
    int n = send(s, p, len > 0x40000000u ? 0x40000000 : (int)len, 0);
    if (n <= 0) return FALSE;
    p += n;
    len -= (size_t)n;
  }
  return TRUE;
}

static BOOL recv_all(SOCKET s, void *data, size_t len) {
  char *p = (char *)data;
  while (len > 0) {
    int n = recv(s, p, len > 0x40000000u ? 0x40000000 : (int)len, 0);
    if (n <= 0) return FALSE;
    p += n;
    len -= (size_t)n;
  }
  return TRUE;
}

static BOOL send_frame(SOCKET s, uint32_t type, const void *a, uint32_t alen, const void *b,
                       uint32_t blen) {
  uint32_t header[2];
  header[0] = alen + blen;
  header[1] = type;
  return send_all(s, header, sizeof(header)) && (alen == 0 || send_all(s, a, alen)) &&
         (blen == 0 || send_all(s, b, blen));
}

/* Reads one frame; *payload is malloc'ed (free it). */
static BOOL recv_frame(SOCKET s, uint32_t *type, char **payload, uint32_t *len) {
  uint32_t header[2];
  *payload = NULL;
  if (!recv_all(s, header, sizeof(header))) return FALSE;
  if (header[0] > MAX_FRAME) return FALSE;
  *type = header[1];
  *len = header[0];
  *payload = (char *)malloc(header[0] + 1);
  if (*payload == NULL) return FALSE;
  if (!recv_all(s, *payload, header[0])) {
    free(*payload);
    *payload = NULL;
    return FALSE;
  }
  return TRUE;
}

static SOCKET connect_server(void) {
  char address[128];
  char *colon;
  struct sockaddr_in sin;
  SOCKET s;
  int one = 1;
  DWORD n = GetEnvironmentVariableA(DOUBLE_ENV, address, sizeof(address));
  if (n == 0 || n >= sizeof(address)) return INVALID_SOCKET;
  colon = strrchr(address, ':');
  if (colon == NULL) return INVALID_SOCKET;
  *colon = '\0';
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons((u_short)atoi(colon + 1));
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return INVALID_SOCKET;
  s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) return INVALID_SOCKET;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
  if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Connections                                                                               */

static Conn *find_conn(HANDLE port) {
  Conn *c;
  EnterCriticalSection(&g_lock);
  for (c = g_conns; c != NULL; c = c->next) {
    if (c->client == port && !c->dead) break;
  }
  LeaveCriticalSection(&g_lock);
  return c;
}

/* The client end is gone when the server end of a connected pipe reports a broken pipe. */
static BOOL client_alive(Conn *c) {
  DWORD available = 0;
  if (PeekNamedPipe(c->server, NULL, 0, NULL, &available, NULL)) return TRUE;
  return GetLastError() != ERROR_BROKEN_PIPE && GetLastError() != ERROR_PIPE_NOT_CONNECTED &&
         GetLastError() != ERROR_NO_DATA;
}

static void teardown(Conn *c) {
  InterlockedExchange(&c->dead, 1);
  /* Closing the server end (without DisconnectNamedPipe) lets the client read what is already
     buffered, then fail with a broken pipe. */
  CloseHandle(c->server);
  c->server = NULL;
  shutdown(c->events, SD_BOTH);
  closesocket(c->events);
  c->events = INVALID_SOCKET;
  shutdown(c->control, SD_BOTH); /* wakes a FilterSendMessage waiting for a reply */
  EnterCriticalSection(&c->send_lock);
  closesocket(c->control);
  c->control = INVALID_SOCKET;
  LeaveCriticalSection(&c->send_lock);
}

static DWORD WINAPI relay_main(void *arg) {
  Conn *c = (Conn *)arg;
  ULONGLONG message_id = 0;
  OVERLAPPED ov;
  char *buffer = (char *)malloc(sizeof(MessageHeader) + MAX_FRAME);
  HANDLE event = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (buffer == NULL || event == NULL) goto done;
  for (;;) {
    fd_set readable;
    struct timeval tick;
    uint32_t header[2];
    MessageHeader *mh = (MessageHeader *)buffer;
    DWORD written = 0;
    int ready;
    FD_ZERO(&readable);
    FD_SET(c->events, &readable);
    tick.tv_sec = 0;
    tick.tv_usec = 200000;
    ready = select(0, &readable, NULL, NULL, &tick);
    if (ready == SOCKET_ERROR) break;
    if (ready == 0) {
      if (!client_alive(c)) break;
      continue;
    }
    if (!recv_all(c->events, header, sizeof(header)) || header[0] > MAX_FRAME) break;
    if (!recv_all(c->events, buffer + sizeof(MessageHeader), header[0])) break;
    if (header[1] != FRAME_MESSAGE) continue;
    mh->ReplyLength = 0;
    mh->MessageId = ++message_id;
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = event;
    ResetEvent(event);
    if (!WriteFile(c->server, buffer, (DWORD)(sizeof(MessageHeader) + header[0]), NULL, &ov)) {
      if (GetLastError() != ERROR_IO_PENDING) break;
      /* The pipe buffer is full: the reader is behind. Wait (backpressure). */
      if (!GetOverlappedResult(c->server, &ov, &written, TRUE)) break;
    }
  }
done:
  if (event != NULL) CloseHandle(event);
  free(buffer);
  teardown(c);
  return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Exports                                                                                   */

HRESULT WINAPI FilterConnectCommunicationPort(LPCWSTR name, DWORD options, LPCVOID context,
                                              WORD context_size, LPSECURITY_ATTRIBUTES sa,
                                              HANDLE *port) {
  SOCKET control = INVALID_SOCKET, events = INVALID_SOCKET;
  uint32_t name_bytes, prefix, type = 0, len = 0, id = 0;
  char *payload = NULL, *request = NULL;
  LONG status;
  WCHAR pipe_name[96];
  HANDLE server = INVALID_HANDLE_VALUE, client = INVALID_HANDLE_VALUE, thread;
  DWORD mode = PIPE_READMODE_MESSAGE;
  Conn *c;
  (void)sa;

  if (name == NULL || port == NULL) return E_INVALIDARG;
  *port = INVALID_HANDLE_VALUE;
  if (!InitOnceExecuteOnce(&g_wsa_once, wsa_init, NULL, NULL)) return E_FAIL;

  /* No server: the port does not exist, as when the driver is not loaded. */
  control = connect_server();
  if (control == INVALID_SOCKET) return HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND);

  name_bytes = (uint32_t)(wcslen(name) * sizeof(WCHAR));
  request = (char *)malloc(8 + name_bytes + context_size);
  if (request == NULL) goto fail_resources;
  memcpy(request, &name_bytes, 4);
  memcpy(request + 4, name, name_bytes);
  prefix = context_size;
  memcpy(request + 4 + name_bytes, &prefix, 4);
  if (context_size > 0) memcpy(request + 8 + name_bytes, context, context_size);
  if (!send_frame(control, FRAME_CONNECT, request, 8 + name_bytes + context_size, NULL, 0) ||
      !recv_frame(control, &type, &payload, &len) || type != FRAME_CONNECT_REPLY || len < 8) {
    free(request);
    free(payload);
    closesocket(control);
    return HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND);
  }
  free(request);
  memcpy(&status, payload, 4);
  memcpy(&id, payload + 4, 4);
  free(payload);
  if (status < 0) {
    closesocket(control);
    return hr_from_status(status); /* the connect notify refused the connection */
  }

  swprintf(pipe_name, sizeof(pipe_name) / sizeof(pipe_name[0]),
           L"\\\\.\\pipe\\fltbridge-double-%lu-%ld", (unsigned long)GetCurrentProcessId(),
           (long)InterlockedIncrement(&g_pipe_counter));
  server = CreateNamedPipeW(pipe_name,
                            PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT |
                                PIPE_REJECT_REMOTE_CLIENTS,
                            1, PIPE_BUFFER, PIPE_BUFFER, 0, NULL);
  if (server == INVALID_HANDLE_VALUE) goto fail_resources;
  client = CreateFileW(pipe_name, GENERIC_READ | FILE_WRITE_ATTRIBUTES, 0, NULL, OPEN_EXISTING,
                       (options & SYNC_HANDLE_FLAG) ? 0 : FILE_FLAG_OVERLAPPED, NULL);
  if (client == INVALID_HANDLE_VALUE) goto fail_resources;
  if (!SetNamedPipeHandleState(client, &mode, NULL, NULL)) goto fail_resources;

  events = connect_server();
  if (events == INVALID_SOCKET || !send_frame(events, FRAME_ATTACH, &id, 4, NULL, 0)) {
    goto fail_resources;
  }

  c = (Conn *)calloc(1, sizeof(*c));
  if (c == NULL) goto fail_resources;
  c->client = client;
  c->server = server;
  c->control = control;
  c->events = events;
  InitializeCriticalSection(&c->send_lock);
  thread = CreateThread(NULL, 0, relay_main, c, 0, NULL);
  if (thread == NULL) {
    DeleteCriticalSection(&c->send_lock);
    free(c);
    goto fail_resources;
  }
  CloseHandle(thread);
  EnterCriticalSection(&g_lock);
  c->next = g_conns;
  g_conns = c;
  LeaveCriticalSection(&g_lock);
  *port = client;
  return S_OK;

fail_resources:
  if (events != INVALID_SOCKET) closesocket(events);
  if (client != INVALID_HANDLE_VALUE) CloseHandle(client);
  if (server != INVALID_HANDLE_VALUE) CloseHandle(server);
  closesocket(control);
  return HRESULT_FROM_WIN32(ERROR_NOT_ENOUGH_MEMORY);
}

HRESULT WINAPI FilterSendMessage(HANDLE port, LPVOID in, DWORD in_size, LPVOID out,
                                 DWORD out_size, LPDWORD returned) {
  Conn *c = find_conn(port);
  uint32_t capacity = out_size, type = 0, len = 0;
  char *payload = NULL;
  LONG status;
  DWORD copied = 0;
  if (returned != NULL) *returned = 0;
  if (c == NULL) return HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
  EnterCriticalSection(&c->send_lock);
  if (c->dead || c->control == INVALID_SOCKET ||
      !send_frame(c->control, FRAME_SEND, &capacity, 4, in, in_size) ||
      !recv_frame(c->control, &type, &payload, &len) || type != FRAME_SEND_REPLY || len < 4) {
    LeaveCriticalSection(&c->send_lock);
    free(payload);
    return hr_from_status(STATUS_PORT_DISCONNECTED_);
  }
  LeaveCriticalSection(&c->send_lock);
  memcpy(&status, payload, 4);
  copied = len - 4 < out_size ? len - 4 : out_size;
  if (copied > 0 && out != NULL) memcpy(out, payload + 4, copied);
  free(payload);
  if (returned != NULL) *returned = copied;
  return status < 0 ? hr_from_status(status) : S_OK;
}

HRESULT WINAPI FilterGetMessage(HANDLE port, PVOID message, DWORD size, LPOVERLAPPED overlapped) {
  OVERLAPPED local;
  DWORD got = 0;
  if (overlapped != NULL) {
    if (ReadFile(port, message, size, NULL, overlapped)) return S_OK;
    return HRESULT_FROM_WIN32(GetLastError());
  }
  memset(&local, 0, sizeof(local));
  local.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (local.hEvent == NULL) return HRESULT_FROM_WIN32(GetLastError());
  if (!ReadFile(port, message, size, NULL, &local) && GetLastError() != ERROR_IO_PENDING) {
    DWORD error = GetLastError();
    CloseHandle(local.hEvent);
    return HRESULT_FROM_WIN32(error);
  }
  if (!GetOverlappedResult(port, &local, &got, TRUE)) {
    DWORD error = GetLastError();
    CloseHandle(local.hEvent);
    return HRESULT_FROM_WIN32(error);
  }
  CloseHandle(local.hEvent);
  return S_OK;
}

HRESULT WINAPI FilterReplyMessage(HANDLE port, PVOID reply, DWORD size) {
  (void)port;
  (void)reply;
  (void)size;
  return E_NOTIMPL;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) InitializeCriticalSection(&g_lock);
  return TRUE;
}
